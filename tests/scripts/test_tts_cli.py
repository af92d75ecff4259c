"""The operator CLI against the `make run` stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, str(REPO / "scripts" / "tts_cli.py")]


def run(base, *args, cwd=None):
    return subprocess.run([*CLI, "--base-url", base, *args], capture_output=True, text=True, timeout=180, cwd=cwd)


def test_enroll_say_and_batch(dev_stack, tmp_path):
    enrolled = run(dev_stack, "enroll", str(REPO / "examples" / "prompt_zh.wav"), "--consent", "self", "--name", "示例",
                   "--prompt-text", "希望你以后能够做的比我还好呦。")
    assert enrolled.returncode == 0, enrolled.stderr
    voice = json.loads(enrolled.stdout)["voice_id"]
    said = run(dev_stack, "say", "命令行合成的一句话。", "--voice", voice, "--out", str(tmp_path / "one.mp3"))
    assert said.returncode == 0, said.stderr
    with av.open(str(tmp_path / "one.mp3")) as f:
        assert f.streams.audio[0].codec_context.name.startswith("mp3")
    phrases = tmp_path / "phrases.txt"
    phrases.write_text("第一句。\n第二句。\n\n第三句。\n", encoding="utf-8")
    batch = run(dev_stack, "batch", str(phrases), "--voice", voice, "--out-dir", str(tmp_path / "out"),
                "--format", "wav")
    assert batch.returncode == 0, batch.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0001.wav", "0002.wav", "0003.wav"]
    assert "3/3" in batch.stderr and "failed 0" in batch.stderr  # the progress bar
    urls = run(dev_stack, "batch", str(phrases))
    assert urls.returncode == 0 and len(urls.stdout.strip().splitlines()) == 3


def test_errors_are_reported(dev_stack):
    bad = run(dev_stack, "say", "你好", "--voice", "v_doesnotexist00000000000")
    assert bad.returncode == 1 and "voice_not_found" in bad.stderr


def test_say_stream_writes_and_pipes_audio_as_it_arrives(dev_stack, tmp_path):
    text = "流式合成的第一句。这是第二句。"
    saved = run(dev_stack, "say", text, "--stream", "--out", str(tmp_path / "s.wav"))
    assert saved.returncode == 0, saved.stderr
    assert "first audio after" in saved.stderr and f"[0] {text}" in saved.stderr and "stored:" in saved.stdout
    with av.open(str(tmp_path / "s.wav")) as f:
        seconds = sum(frame.samples for frame in f.decode(audio=0)) / 24000
    piped = subprocess.run([*CLI, "--base-url", dev_stack, "say", text, "--stream"], capture_output=True,
                           timeout=180)
    assert piped.returncode == 0 and abs(len(piped.stdout) / 48000 - seconds) < 0.01  # raw s16le on stdout
