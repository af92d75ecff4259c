"""The README's first-ten-minutes snippets, run as printed against the `make run` stack (only its address
changes): the curl, the OpenAI SDK snippet (development mode takes the documented local key), the CLI; and
the same snippets where docs/ repeats them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
README = (REPO / "README.md").read_text(encoding="utf-8")
DOCS = {p.name: p.read_text(encoding="utf-8") for p in (REPO / "docs").glob("*.md")}
DOCUMENTED = "http://127.0.0.1:8080"


def snippet(starts: str, text: str = README) -> str:
    """The indented code block whose first line starts with `starts` (continuation lines joined as printed)."""
    for block in re.findall(r"(?:^(?: {4}| {6,7}).*\n)+", text, flags=re.M):
        lines = block.splitlines()
        indent = len(lines[0]) - len(lines[0].lstrip())
        code = "\n".join(line[indent:] for line in lines)
        if code.startswith(starts):
            return code
    raise AssertionError(f"no README snippet starts with {starts!r}")


def test_the_quick_start_curl(dev_stack, tmp_path):
    command = "\n".join(line for line in snippet("curl -s -X POST").splitlines() if not line.startswith("#"))
    out = subprocess.run(["bash", "-c", command.replace(DOCUMENTED, dev_stack)], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    body = json.loads(out.stdout)
    assert body["status"] == "done" and body["audio_url"].startswith(dev_stack), out.stdout + out.stderr


def test_the_streaming_curl(dev_stack, tmp_path):
    command = "\n".join(line for line in snippet("curl -sN -X POST").splitlines() if not line.startswith("#"))
    out = subprocess.run(["bash", "-c", command.replace(DOCUMENTED, dev_stack)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    pcm = (tmp_path / "hello.pcm").read_bytes()
    assert out.returncode == 0 and len(pcm) > 48000 and len(pcm) % 2 == 0, out.stderr  # > 1 s of s16le


def test_the_openai_snippet(dev_stack, tmp_path):
    code = snippet("from openai import OpenAI").replace(DOCUMENTED, dev_stack)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    audio = (tmp_path / "hello.mp3").read_bytes()
    assert audio[:3] == b"ID3" or audio[0] == 0xFF


def test_a_wrong_key_stays_refused_even_locally(dev_stack):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"{dev_stack}/v1/voices", headers={"Authorization": "Bearer not-the-local-key"})
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("a wrong key was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401


def test_the_cli_line(dev_stack, tmp_path):
    import os

    command = snippet(".venv/bin/python scripts/tts_cli.py say")
    out = subprocess.run(["bash", "-c", command.replace(".venv/bin/python", sys.executable).replace(
        "--out hello.mp3", f"--out {tmp_path / 'hello.mp3'}")], cwd=REPO, capture_output=True, text=True,
        timeout=120, env=dict(os.environ, TTS_BASE_URL=dev_stack))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "hello.mp3").stat().st_size > 1000


def test_docs_repeat_the_snippets_unchanged():
    assert snippet("from openai import OpenAI", DOCS["api.md"]) == snippet("from openai import OpenAI")


def test_the_lock_upgrade_line():
    """The upgrade line as printed, on this checkout (its locks put back as they were, times included)."""
    import os

    command = snippet("make lock UPGRADE=")
    locks = [p for p in REPO.rglob("requirements*.lock") if ".venv" not in p.parts]
    backup = {p: p.read_bytes() for p in locks}
    saved = {p: p.stat() for p in locks}
    try:
        out = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=600,
                             env=dict(os.environ, MAKEFLAGS=""))
    finally:
        for path, data in backup.items():
            path.write_bytes(data)
            os.utime(path, ns=(saved[path].st_atime_ns, saved[path].st_mtime_ns))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "[7/7]" in out.stdout and ("~ redis" in out.stdout or "unchanged" in out.stdout), out.stdout
