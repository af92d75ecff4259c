#!/usr/bin/env python
"""Build the cloud-function zips for a target runtime (Linux x86_64; CPython 3.11 for Lambda, 3.10 for SCF), from
the function's lock.

Three zips, each below the platforms' 50 MB direct-upload limit, together well within what a function and its
layers may hold unzipped (Lambda: 250 MB; SCF: 500 MB, layers included):

- `function.zip`: our code (`functions/` and the small modules of `inference/` it imports) and the
  pure-Python dependencies;
- `layer-audio.zip`: PyAV (FFmpeg);
- `layer-native.zip`: the other compiled dependencies (numpy, onnxruntime, soxr, grpcio, ...).

Every version and hash comes from `functions/requirements.lock` (`--hosted`: `requirements-hosted.lock`, which
adds DashScope's SDK) and `functions/requirements-nodeps.lock`, wheels for manylinux2014 (glibc 2.17: Lambda's
python3.11 runs on Amazon Linux 2, glibc 2.26), so the same zips come out on any machine and any day. Left out,
with whatever only they need: what a function never loads (the Kubernetes client: the endpoint controller for
clusters, which run the container image; tritonclient's HTTP client: the functions speak gRPC, and
TRITON_PROTOCOL=http is refused at start where it is missing; onnxruntime's model tooling and numpy's build
tools) and, on AWS, boto3 (the runtime provides it). Debug sections of the shared libraries are removed (GNU
`strip --strip-debug`: the code is untouched; PyAV's modules ship 30 MB of them). Layers use the `python/`
prefix both Lambda and SCF expect. The container image (`functions/Dockerfile`) installs from the same locks.

    python scripts/package.py [--target aws|tencent] [--hosted] [--out build]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCKS = REPO / "functions"
LIMIT_ZIP_MB = 50
# unzipped, function and layers together: Lambda's quota, and SCF's "code size before compression, bound layers
# included" (its quota page); the build must stay 15% below, so a release that grows does not break a deploy
LIMIT_UNZIPPED_MB = {"aws": 250, "tencent": 500}
HEADROOM = 0.15
TARGET_PLATFORM = "manylinux2014_x86_64"
PYTHON = {"aws": "3.11", "tencent": "3.10"}  # the runtimes: Lambda's python3.11, SCF's newest (Python3.10)
NEVER_LOADED = {"kubernetes", "sympy", "coloredlogs",
                "geventhttpclient", "aiohttp"}  # tritonclient's HTTP client: the functions speak gRPC
RUNTIME_PROVIDES = {"aws": {"boto3"}, "tencent": set()}
AUDIO = {"av"}
DROP_DIRS = {"__pycache__", "tests"}
# subpackages nothing imports at run time: numpy's build tools, onnxruntime's model tooling
DROP_SUBPACKAGES = ("numpy/f2py", "numpy/distutils", "onnxruntime/transformers", "onnxruntime/quantization",
                    "onnxruntime/tools", "onnxruntime/datasets")
DROP_SUFFIXES = (".pyi", ".pyc", ".pxd", ".pyx")
EXECUTABLES = ("scf_bootstrap", "lambda_web.sh")


def parse_lock(text: str) -> dict[str, tuple[str, set[str]]]:
    """name -> (the entry's requirement lines, with hashes; the names it is required by). Entries required by
    the project itself (`pyproject.toml`) are roots."""
    entries = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9._-]+)==", block)
        if not match:
            continue
        via = re.search(r"# via (.*)", block)
        parents = {p.strip().split(" ")[0].lower() for p in via.group(1).split(",")} if via else set()
        entries[match.group(1).lower()] = (block.split("    # via")[0].rstrip(), parents)
    return entries


def deployed(entries: dict[str, tuple[str, set[str]]], leave_out: set[str]) -> list[str]:
    """The names to install: everything reachable from the project's own requirements without passing through a
    package left out."""
    keep: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, (_, parents) in entries.items():
            if name in keep or name in leave_out:
                continue
            if "pyproject.toml" in parents or parents & keep:
                keep.add(name)
                changed = True
    return sorted(keep)


def requirements_file(target: str, hosted: bool, directory: Path) -> tuple[Path, list[str]]:
    lock = LOCKS / ("requirements-hosted.lock" if hosted else "requirements.lock")
    entries = parse_lock(lock.read_text())
    names = deployed(entries, NEVER_LOADED | RUNTIME_PROVIDES[target])
    path = directory / "requirements.txt"
    path.write_text("\n".join(entries[n][0] for n in names) + "\n" + (LOCKS / "requirements-nodeps.lock").read_text())
    return path, names


def pip_install(requirements: Path, target: Path, python: str) -> None:
    """Exactly the locked wheels for the target platform and Python, whatever this machine is."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(target),
           "--platform", TARGET_PLATFORM, "--python-version", python, "--implementation", "cp",
           "--only-binary=:all:", "--require-hashes", "--no-deps", "-r", str(requirements)]
    subprocess.run(cmd, check=True)


def distributions(site: Path) -> dict[str, tuple[bool, list[Path]]]:
    """name -> (pure Python?, its files), from each wheel's RECORD."""
    found = {}
    for info in site.glob("*.dist-info"):
        name = info.name.split("-")[0].lower().replace("_", "-")
        pure = "Root-Is-Purelib: true" in (info / "WHEEL").read_text()
        files = [site / line.split(",")[0] for line in (info / "RECORD").read_text().splitlines() if line]
        found[name] = (pure, [f for f in files if f.exists()])
    return found


def split_layers(site: Path, function_dir: Path, audio_dir: Path, native_dir: Path) -> None:
    """Move each distribution to its zip: PyAV to the audio layer, compiled ones to the native layer, pure Python
    to the function."""
    for name, (pure, files) in distributions(site).items():
        dest = audio_dir if name in AUDIO else function_dir if pure else native_dir
        for path in files:
            target = dest / path.relative_to(site)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)  # copied: a namespace package's __init__ is in several RECORDs


def _is_elf(path: Path) -> bool:
    with path.open("rb") as f:  # the magic only: most files are Python sources
        return f.read(4) == b"\x7fELF"


def strip_debug(root: Path, log=print) -> int:
    """Remove debug sections from every ELF file (bytes saved). The loaded code and symbols stay as they are."""
    strip = shutil.which("strip")
    if strip is None:
        log("  warning: no GNU strip (binutils) here: shared libraries keep their debug sections (larger zips)")
        return 0
    saved = 0
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and _is_elf(path):
            before = path.stat().st_size
            subprocess.run([strip, "--strip-debug", str(path)], check=True)
            saved += before - path.stat().st_size
    return saved


def prune(root: Path, silero_model: str = "silero_vad.onnx") -> None:
    for sub in DROP_SUBPACKAGES:
        shutil.rmtree(root / sub, ignore_errors=True)
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if not path.exists():
            continue
        if path.is_dir() and path.name in DROP_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and (path.suffix in DROP_SUFFIXES or
                                 (path.parent.name == "data" and path.parent.parent.name == "silero_vad"
                                  and path.name != silero_model)):  # the one model functions/audio/vad.py loads
            path.unlink()


def zip_dir(source: Path, out: Path, prefix: str = "") -> tuple[float, float]:
    """Zip `source` (files under `prefix/` in the archive); (zipped MB, unzipped MB)."""
    unzipped = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                arc = str(Path(prefix) / path.relative_to(source)) if prefix else str(path.relative_to(source))
                info = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))  # the same bytes on any day
                info.external_attr = (0o755 if path.name in EXECUTABLES or ".so" in path.name else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
                unzipped += path.stat().st_size
    return out.stat().st_size / 2**20, unzipped / 2**20


def copy_code(dest: Path) -> None:
    shutil.copytree(REPO / "functions", dest / "functions",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.lock", "Dockerfile"))
    (dest / "inference").mkdir()
    for name in ("__init__.py", "client.py", "contract.py"):  # the request builder and shared constants
        shutil.copy2(REPO / "inference" / name, dest / "inference" / name)
    shutil.copytree(REPO / "inference" / "assets", dest / "inference" / "assets")  # the built-in voice
    for name in EXECUTABLES:  # at the package root: SCF web functions start scf_bootstrap, the Lambda Web
        shutil.copy2(REPO / "functions" / name, dest / name)  # Adapter (streaming function URL) lambda_web.sh


def build(target: str, out: Path, *, hosted: bool = False, log=print) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {}
    with tempfile.TemporaryDirectory(prefix="package-") as tmp:
        tmp_path = Path(tmp)
        site, function_dir = tmp_path / "site", tmp_path / "function"
        audio_dir, native_dir = tmp_path / "audio", tmp_path / "native"
        requirements, names = requirements_file(target, hosted, tmp_path)
        log(f"[1/4] {len(names)} locked distributions for {target} ({TARGET_PLATFORM}, CPython {PYTHON[target]}) ...")
        pip_install(requirements, site, PYTHON[target])
        log("[2/4] splitting: function (pure Python), layer-audio (PyAV), layer-native (compiled) ...")
        for directory in (function_dir, audio_dir, native_dir):
            directory.mkdir()
        split_layers(site, function_dir, audio_dir, native_dir)
        copy_code(function_dir)
        log("[3/4] removing debug sections, tests and type stubs ...")
        saved = sum(strip_debug(d, log) for d in (audio_dir, native_dir, function_dir))
        for directory in (function_dir, audio_dir, native_dir):
            prune(directory)
        log(f"  {saved / 2**20:.1f} MB of debug sections removed")
        log("[4/4] zipping ...")
        for name, source, prefix in (("function", function_dir, ""), ("layer-audio", audio_dir, "python"),
                                     ("layer-native", native_dir, "python")):
            zipped, unzipped = zip_dir(source, out / f"{name}.zip", prefix)
            report[name] = {"zipped_mb": round(zipped, 1), "unzipped_mb": round(unzipped, 1)}
    total = sum(r["unzipped_mb"] for r in report.values())
    limit = LIMIT_UNZIPPED_MB[target]
    ok = all(r["zipped_mb"] < LIMIT_ZIP_MB for r in report.values()) and total < limit
    roomy = ok and total < limit * (1 - HEADROOM)
    for name, r in report.items():
        log(f"  {name}.zip: {r['zipped_mb']} MB zipped, {r['unzipped_mb']} MB unzipped "
            f"(limit {LIMIT_ZIP_MB} MB zipped)")
    verdict = "ok" if roomy else "fits, but closer than that: the container image has room" if ok else "TOO LARGE"
    log(f"  total unzipped {total:.1f} MB of {limit} MB for function + layers: {100 * (1 - total / limit):.0f}% "
        f"headroom (at least {HEADROOM:.0%} wanted): {verdict}")
    report.update(total_unzipped_mb=round(total, 1), limit_mb=limit, headroom=round(1 - total / limit, 3),
                  ok=ok, roomy=roomy, distributions=names, python=PYTHON[target])
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", choices=["aws", "tencent"], default="aws")
    ap.add_argument("--hosted", action="store_true", help="include DashScope's SDK (HOSTED_ENGINE=dashscope)")
    ap.add_argument("--out", type=Path, default=REPO / "build")
    args = ap.parse_args()
    report = build(args.target, args.out / args.target, hosted=args.hosted)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
