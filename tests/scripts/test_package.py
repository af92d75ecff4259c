"""The function artifacts: within the platforms' size limits, and importable in a clean interpreter of the
target Python with nothing but the unzipped function and its layers (as Lambda and SCF lay them out)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import package  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    return out, package.build("aws", out, log=lambda *a: None)


def test_each_zip_is_below_50_mb_and_all_fit_lambda(built):
    _, report = built
    for name in ("function", "layer-audio", "layer-native"):
        assert report[name]["zipped_mb"] < 50, report
    assert report["total_unzipped_mb"] < 250 and report["ok"]


def test_imports_and_decodes_in_a_clean_venv(built, tmp_path):
    out, _ = built
    runtime = tmp_path / "runtime"
    with zipfile.ZipFile(out / "function.zip") as zf:
        zf.extractall(runtime / "task")
    for layer in ("layer-audio", "layer-native"):
        with zipfile.ZipFile(out / f"{layer}.zip") as zf:
            zf.extractall(runtime / "opt")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    code = """
import functions.handlers.aws_lambda, functions.handlers.scheduled, functions.handlers.scf_apigw
import functions.handlers.web
import numpy as np, io, av
from functions.audio.encode import encode
from functions.audio.decode import decode_prompt
from functions.audio.vad import find_speech
t = np.arange(48000) / 16000
tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
mp3 = encode(tone, 16000, "mp3").data
print("decoded", round(decode_prompt(mp3, "mp3").duration_s, 1), "vad", find_speech(tone))
import tritonclient.grpc, jwt, ahocorasick, soxr, onnxruntime
from functions.moderation.keywords import KeywordFilter
from functions.moderation import Subject
assert KeywordFilter(["违禁测试词"]).check(Subject("違[breath]禁測試詞", "", "")).outcome == "refuse"
spelled = Subject("啊[wei2]啊[jin4]啊[ce4]啊[shi4]啊[ci2]", "", "")
assert KeywordFilter(["违禁测试词"]).check(spelled).outcome == "refuse"
print("ok")
"""
    env = {"PYTHONPATH": f"{runtime / 'task'}:{runtime / 'opt' / 'python'}", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    result = subprocess.run([str(venv / "bin" / "python"), "-c", code], env=env,
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "decoded 3.0 vad None" in result.stdout and result.stdout.strip().endswith("ok")
    with zipfile.ZipFile(out / "function.zip") as zf:  # what SCF web functions and the Lambda Web Adapter start
        for entry in ("scf_bootstrap", "lambda_web.sh"):
            assert (zf.getinfo(entry).external_attr >> 16) & 0o111, f"{entry} is not executable in the package"
