"""The two ways the function ships, each tested as the platform runs it.

The zips (Lambda, SCF): built from the lock, within each platform's size limits with 15% to spare, and run in a
clean interpreter with nothing but the unzipped function and its layers (as Lambda and SCF lay them out): every
container and codec we accept decodes, every format we produce encodes, and the production entry script starts
gunicorn and answers. The container image (Cloud Hosting, image functions): the Dockerfile's own install lines
run in a fresh venv and its CMD serves."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from functions.audio.decode import CONTAINERS
from functions.audio.encode import FORMATS
from inference.serve import free_port

from ..audio_samples import encode, speech_at

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import package  # noqa: E402

# one recording per (container, codec) we accept: PyAV's muxer name and encoder for each
SAMPLES = {("wav", "pcm_s16le"): ("wav", "pcm_s16le"), ("wav", "pcm_alaw"): ("wav", "pcm_alaw"),
           ("wav", "pcm_f32le"): ("wav", "pcm_f32le"), ("mp3", "mp3"): ("mp3", "libmp3lame"),
           ("aac", "aac"): ("adts", "aac"), ("m4a", "aac"): ("ipod", "aac"), ("m4a", "alac"): ("ipod", "alac"),
           ("ogg", "opus"): ("ogg", "libopus"), ("ogg", "vorbis"): ("ogg", "libvorbis"),
           ("webm", "opus"): ("webm", "libopus"), ("webm", "vorbis"): ("webm", "libvorbis")}


@pytest.fixture(scope="module", params=["aws", "tencent"])
def built(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"build-{request.param}")
    return request.param, out, package.build(request.param, out, log=lambda *a: None)


def serves(cmd: list[str], port: int, env: dict, cwd: Path) -> dict:
    """Start a production entry point, wait for /healthz, stop it; the health answer."""
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"{cmd[0]} exited {proc.returncode}: {proc.stdout.read()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    return {"http": resp.status, **json.loads(resp.read() or b"{}")}
            except OSError:
                time.sleep(0.3)
        pytest.fail(f"{cmd[0]} did not answer /healthz in 60 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_each_zip_is_below_50_mb_and_all_fit_the_platform_with_15_percent_to_spare(built):
    target, _, report = built
    for name in ("function", "layer-audio", "layer-native"):
        assert report[name]["zipped_mb"] < 50, report
    limit = {"aws": 250, "tencent": 500}[target]  # Lambda's quota; SCF's, bound layers included
    assert report["total_unzipped_mb"] < 0.85 * limit and report["ok"] and report["roomy"], report


def test_the_zips_hold_the_locked_versions_and_only_what_a_function_loads(built):
    target, out, report = built
    lock = package.parse_lock((REPO / "functions" / "requirements.lock").read_text())
    names = report["distributions"]
    assert set(names) <= set(lock)
    assert "kubernetes" not in names and "geventhttpclient" not in names and "sympy" not in names
    assert {"gevent", "greenlet"} <= set(names)  # the hosts' event-driven workers (functions/gunicorn_conf.py)
    assert ("boto3" in names) == (target == "tencent")  # Lambda's runtime provides boto3; SCF's does not
    versions = {}
    for zip_name in ("function", "layer-audio", "layer-native"):
        with zipfile.ZipFile(out / f"{zip_name}.zip") as zf:
            for entry in zf.namelist():
                if match := re.search(r"([^/]+)-([^-/]+)\.dist-info/METADATA$", entry):
                    versions[match.group(1).lower().replace("_", "-")] = match.group(2)
    for name in names:  # what is in the zip is what the lock says, to the version
        assert versions[name] == re.search(r"==(\S+)", lock[name][0]).group(1), name


def unpack(out: Path, runtime: Path) -> None:
    with zipfile.ZipFile(out / "function.zip") as zf:
        zf.extractall(runtime / "task")
    for layer in ("layer-audio", "layer-native"):
        with zipfile.ZipFile(out / f"{layer}.zip") as zf:
            zf.extractall(runtime / "opt")
    for entry in package.EXECUTABLES:
        os.chmod(runtime / "task" / entry, 0o755)


CHECK = """
import sys, pathlib
import functions.handlers.aws_lambda, functions.handlers.scheduled, functions.handlers.scf_apigw
import functions.handlers.web, gunicorn.app.wsgiapp
import numpy as np
from functions.audio.encode import encode, FORMATS
from functions.audio.decode import decode_prompt
from functions.audio.vad import find_speech
decoded = []
for path in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    audio = decode_prompt(path.read_bytes())
    assert 2.0 < audio.duration_s < 4.0, (path.name, audio.duration_s)
    decoded.append(path.name)
t = np.arange(72000) / 24000
tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
for fmt in sorted(FORMATS):
    data = encode(tone, 24000, fmt).data
    assert len(data) > 1000, fmt
    if fmt in ("mp3", "wav", "opus", "aac"):  # what a caller may send back as a recording
        assert abs(decode_prompt(data).duration_s - 3.0) < 0.2, fmt
print("decoded", len(decoded), "encoded", len(FORMATS), "vad", find_speech(tone))
import tritonclient.grpc, jwt, ahocorasick, soxr, onnxruntime
from functions.moderation.keywords import KeywordFilter
from functions.moderation import Subject
assert KeywordFilter(["违禁测试词"]).check(Subject("違[breath]禁測試詞", "", "")).outcome == "refuse"
spelled = Subject("啊[wei2]啊[jin4]啊[ce4]啊[shi4]啊[ci2]", "", "")
assert KeywordFilter(["违禁测试词"]).check(spelled).outcome == "refuse"
print("ok")
"""


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """A three-second recording in every container and codec the relay accepts."""
    folder = tmp_path_factory.mktemp("recordings")
    assert {(c, codec) for c, (_, codecs) in CONTAINERS.items() for codec in codecs
            if not codec.startswith("pcm_") and codec != "mp3float"} <= set(SAMPLES)
    speech = speech_at(48000)[:3 * 48000]
    for (container, codec), (muxer, encoder) in SAMPLES.items():
        (folder / f"{container}-{codec}").write_bytes(encode(speech, 48000, muxer, encoder))
    return folder


def clean_env(tmp_path: Path, venv: Path, pythonpath: str) -> dict:
    return {"PYTHONPATH": pythonpath, "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
            "LANG": "C.UTF-8", "STORAGE_DIR": str(tmp_path / "storage")}


def test_every_compiled_module_is_built_for_the_runtimes_python(built):
    """SCF's newest runtime is Python 3.10, Lambda's 3.11: a module built for another Python does not load."""
    target, out, report = built
    tag = "cpython-" + report["python"].replace(".", "")
    modules = []
    for zip_name in ("function", "layer-audio", "layer-native"):
        with zipfile.ZipFile(out / f"{zip_name}.zip") as zf:
            modules += [n for n in zf.namelist() if re.search(r"\.(cpython-\d+|abi3)[^/]*\.so$", n)]
    assert len(modules) > 50
    wrong = [m for m in modules if "cpython-" in m and tag not in m]
    assert not wrong, f"built for another Python than {target}'s {report['python']}: {wrong[:5]}"


def interpreter(version: str) -> str | None:
    """A working CPython of that version: on PATH, or one pyenv holds (its shims answer only for the active one)."""
    candidates = [shutil.which(f"python{version}")]
    if shutil.which("pyenv"):
        bare = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True).stdout.split()
        for name in (v for v in bare if v.startswith(version + ".")):
            prefix = subprocess.run(["pyenv", "prefix", name], capture_output=True, text=True).stdout.strip()
            candidates.append(f"{prefix}/bin/python{version}")
    for path in filter(None, candidates):
        if subprocess.run([path, "-c", "pass"], capture_output=True).returncode == 0:
            return path
    return None


def test_the_zips_decode_encode_and_serve_in_a_clean_interpreter(built, recordings, tmp_path):
    target, out, report = built
    python = interpreter(report["python"])
    if python is None:  # the modules' tags are checked above; running them needs that interpreter
        pytest.skip(f"no python{report['python']} on this machine to run the {target} zips in")
    runtime = tmp_path / "runtime"
    unpack(out, runtime)
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = clean_env(tmp_path, venv, f"{runtime / 'task'}:{runtime / 'opt' / 'python'}")
    result = subprocess.run([str(venv / "bin" / "python"), "-c", CHECK, str(recordings)], env=env,
                            capture_output=True, text=True, cwd=tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"decoded {len(SAMPLES)} encoded {len(FORMATS)} vad None" in result.stdout
    assert result.stdout.strip().endswith("ok")
    # the entry script the Lambda Web Adapter runs (SCF's scf_bootstrap is the same command on port 9000)
    port = free_port()
    health = serves([str(runtime / "task" / "lambda_web.sh")], port, {**env, "AWS_LWA_PORT": str(port)},
                    tmp_path)
    assert health == {"http": 200, "status": "ok"}
    with zipfile.ZipFile(out / "function.zip") as zf:  # what SCF web functions and the Lambda Web Adapter start
        for entry in package.EXECUTABLES:
            assert (zf.getinfo(entry).external_attr >> 16) & 0o111, f"{entry} is not executable in the package"
    if target == "aws":  # the functions speak gRPC; HTTP is refused at start, saying why
        env["TRITON_PROTOCOL"] = "http"
        result = subprocess.run([str(venv / "bin" / "python"), "-c", SETTINGS], env=env,
                                capture_output=True, text=True, cwd=tmp_path, timeout=60)
        assert result.returncode != 0 and "TRITON_PROTOCOL=http needs tritonclient[http]" in result.stderr


SETTINGS = "import os; from functions.settings import Settings; Settings.from_env(os.environ)"


def dockerfile() -> list[tuple[str, str]]:
    text = (REPO / "functions" / "Dockerfile").read_text().replace("\\\n", " ")
    return [(m.group(1), m.group(2).strip()) for m in re.finditer(r"^([A-Z]+) (.*)$", text, flags=re.M)]


def test_the_container_image_installs_from_the_lock_and_serves(tmp_path):
    """functions/Dockerfile followed line by line in a fresh venv: its COPY, ENV and pip lines, then its CMD."""
    app, venv = tmp_path / "app", tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = clean_env(tmp_path, venv, "")
    for instruction, args in dockerfile():
        if instruction == "COPY":
            *sources, dest = args.split()
            target = app / dest.removeprefix("./")
            for source in sources:
                path = REPO / source
                to = target / path.name if dest.endswith("/") else target
                to.parent.mkdir(parents=True, exist_ok=True)
                if path.is_dir():
                    shutil.copytree(path, to, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(path, to)
        elif instruction == "ENV":
            for pair in shlex.split(args):
                key, value = pair.split("=", 1)
                env[key] = value.replace("/app", str(app))
        elif instruction == "RUN" and args.startswith("pip "):
            subprocess.run([str(venv / "bin" / "python"), "-m", *shlex.split(args), "--quiet"], cwd=app, env=env,
                           check=True, timeout=900)
    installs = [args for instruction, args in dockerfile() if instruction == "RUN" and "pip " in args]
    assert installs and all("--require-hashes" in args and "--no-deps" in args for args in installs)
    command = json.loads(dict(dockerfile())["CMD"])
    port = free_port()
    command[-1] = command[-1].replace("0.0.0.0", "127.0.0.1")  # loopback only, in a test
    env.update(PORT=str(port), PYTHONPATH=str(app))
    assert serves(command, port, env, app) == {"http": 200, "status": "ok"}
