#!/usr/bin/env python
"""Build the cloud-function artifacts for a target runtime (Linux x86_64, CPython 3.11), nothing for the GPU.

Three zips, each below the platforms' 50 MB direct-upload limit, together within Lambda's 250 MB unzipped
limit for a function and its layers (SCF allows 500 MB):

- `function.zip`: our code (`functions/` and the small modules of `inference/` it imports) and the
  pure-Python dependencies;
- `layer-audio.zip`: PyAV (FFmpeg);
- `layer-native.zip`: the other compiled dependencies (numpy, onnxruntime, soxr, grpcio, ...).

Layers use the `python/` prefix both Lambda and SCF layers expect. Wheels are fetched for the target platform
(`pip --platform manylinux_2_28_x86_64 --only-binary=:all:`), so this works from any machine. Files the
runtime never needs are left out: tests, type stubs, caches, sympy/mpmath (onnxruntime tooling only), the
unused silero-vad models, and boto3 on AWS (the runtime provides it).

    python scripts/package.py [--target aws|tencent] [--out build]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIMIT_ZIP_MB = 50
LIMIT_UNZIPPED_MB = {"aws": 250, "tencent": 500}

PURE = ["werkzeug>=3.0", "serverless-wsgi>=3.0", "redis>=5", "pyjwt>=2.8",
        "tencentcloud-sdk-python-common>=3.0.1000", "tencentcloud-sdk-python-asr>=3.0.1000",
        "tencentcloud-sdk-python-tms>=3.0.1000", "tencentcloud-sdk-python-cvm>=3.0.1000", "pypinyin>=0.50",
        "confusable-homoglyphs>=3.2"]
AUDIO = ["av>=12"]
NATIVE = ["soxr>=0.3", "onnxruntime>=1.16.3,<1.17", "tritonclient[grpc]>=2.40", "pyahocorasick>=2.0", "numpy>=1.24,<2",
          "opencc>=1.1.9"]
BOTO = ["boto3>=1.34"]
DROP_DIRS = {"__pycache__", "tests", "sympy", "mpmath", "coloredlogs", "humanfriendly", "isympy"}
DROP_SUFFIXES = (".pyi", ".pyc", ".pxd", ".pyx")


def pip_install(requirements: list[str], target: Path) -> None:
    """Wheels for the target platform, whatever this machine is."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(target),
           "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",  # Lambda 3.11: glibc 2.34
           "--python-version", "3.11", "--implementation", "cp",
           "--only-binary=:all:", *requirements]
    subprocess.run(cmd, check=True)


def prune(root: Path, *, keep_only: set[str] | None = None, drop: set[str] = frozenset()) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if not path.exists():
            continue
        top = path.relative_to(root).parts[0]
        name = top.split("-")[0].lower()
        if (keep_only is not None and name not in keep_only and not top.endswith(".so")) or name in drop:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        elif path.is_dir() and path.name in DROP_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in DROP_SUFFIXES:
            path.unlink()


EXECUTABLES = ("scf_bootstrap", "lambda_web.sh")


def zip_dir(source: Path, out: Path, prefix: str = "") -> tuple[float, float]:
    """Zip `source` (files under `prefix/` in the archive); (zipped MB, unzipped MB)."""
    unzipped = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                arc = str(Path(prefix) / path.relative_to(source)) if prefix else str(path.relative_to(source))
                info = zipfile.ZipInfo(arc)
                info.external_attr = (0o755 if path.name in EXECUTABLES else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
                unzipped += path.stat().st_size
    return out.stat().st_size / 2**20, unzipped / 2**20


def copy_code(dest: Path) -> None:
    shutil.copytree(REPO / "functions", dest / "functions",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / "inference").mkdir()
    for name in ("__init__.py", "client.py", "contract.py"):  # the request builder and shared constants
        shutil.copy2(REPO / "inference" / name, dest / "inference" / name)
    shutil.copytree(REPO / "inference" / "assets", dest / "inference" / "assets")  # the built-in voice
    for name in EXECUTABLES:  # at the package root: SCF web functions start scf_bootstrap, the Lambda Web
        shutil.copy2(REPO / "functions" / name, dest / name)  # Adapter (streaming function URL) lambda_web.sh


def build(target: str, out: Path, log=print) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    report = {}
    with tempfile.TemporaryDirectory(prefix="package-") as tmp:
        tmp_path = Path(tmp)
        function_dir, audio_dir, native_dir = tmp_path / "function", tmp_path / "audio", tmp_path / "native"
        log(f"[1/4] pure-Python dependencies for {target} ...")
        pip_install(PURE + (BOTO if target == "tencent" else []), function_dir)
        compiled = sorted({p.relative_to(function_dir).parts[0] for p in function_dir.rglob("*.so")})
        if compiled:  # optional speedups (markupsafe, charset_normalizer), built for the target platform
            log(f"  small compiled speedups in the function zip: {', '.join(compiled)}")
        prune(function_dir)
        copy_code(function_dir)
        log("[2/4] audio layer (PyAV) ...")
        pip_install(AUDIO, audio_dir)
        prune(audio_dir)
        log("[3/4] native layer (numpy, onnxruntime, soxr, grpcio, ...) ...")
        pip_install(NATIVE, native_dir)
        pip_install(["--no-deps", "silero-vad==6.2.3"], native_dir)
        for extra in (native_dir / "silero_vad" / "data").glob("*"):
            if extra.name != "silero_vad.onnx":  # the one model functions/audio/vad.py loads
                extra.unlink()
        # whatever the function zip already has need not be in the layer too
        already = {p.name.split("-")[0].lower() for p in function_dir.iterdir()} - {"functions", "inference"}
        prune(native_dir, drop=already)
        log("[4/4] zipping ...")
        for name, source, prefix in (("function", function_dir, ""), ("layer-audio", audio_dir, "python"),
                                     ("layer-native", native_dir, "python")):
            zipped, unzipped = zip_dir(source, out / f"{name}.zip", prefix)
            report[name] = {"zipped_mb": round(zipped, 1), "unzipped_mb": round(unzipped, 1)}
    total = sum(r["unzipped_mb"] for r in report.values())
    ok = all(r["zipped_mb"] < LIMIT_ZIP_MB for r in report.values()) and total < LIMIT_UNZIPPED_MB[target]
    for name, r in report.items():
        log(f"  {name}.zip: {r['zipped_mb']} MB zipped, {r['unzipped_mb']} MB unzipped "
            f"(limit {LIMIT_ZIP_MB} MB zipped)")
    log(f"  total unzipped {total:.1f} MB (limit {LIMIT_UNZIPPED_MB[target]} MB for function + layers): "
        f"{'ok' if ok else 'OVER THE LIMIT'}")
    report["total_unzipped_mb"] = round(total, 1)
    report["ok"] = ok
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", choices=["aws", "tencent"], default="aws")
    ap.add_argument("--out", type=Path, default=REPO / "build")
    args = ap.parse_args()
    report = build(args.target, args.out / args.target)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
