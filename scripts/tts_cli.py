#!/usr/bin/env python
"""Command-line client for operators (standard library only).

    tts_cli.py enroll recording.m4a --consent self --name 妈妈 --prompt-text "录音里说的话"
    tts_cli.py say "你好" --voice v_xxx [--format wav] [--out hello.wav]
    tts_cli.py say --file article.txt --voice v_xxx --out article.mp3      # long texts: polls the job
    tts_cli.py say "你好" --stream --out - | ffplay -f s16le -ar 24000 -ch_layout mono -nodisp -  # as it is made
    tts_cli.py batch phrases.txt --voice v_xxx --out-dir audio/             # one phrase per line, progress bar

Server and key: --base-url / TTS_BASE_URL (default http://127.0.0.1:8080, the `make run` stack) and
--api-key / TTS_API_KEY. Queued jobs are polled with the server's retry_after_s; 429 and 503 answers are
retried after their Retry-After, and every wait is announced on stderr (how long, and why).
"""

from __future__ import annotations

import argparse
import base64
import json
import mimetypes
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path


class ApiError(Exception):
    def __init__(self, status: int, body: dict) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"{status} {error.get('code', '')}: {error.get('message', body)}")
        self.status, self.code = status, error.get("code")


class Client:
    def __init__(self, base_url: str, api_key: str = "", *, max_waits: int = 60, sleep=time.sleep,
                 say=None) -> None:
        self.base, self.api_key, self.max_waits, self._sleep = base_url.rstrip("/"), api_key, max_waits, sleep
        self._say = say or (lambda message: print(message, file=sys.stderr, flush=True))

    def _request(self, method: str, path: str, data: bytes | None = None, content_type: str | None = None):
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if content_type:
            headers["Content-Type"] = content_type
        url = path if path.startswith("http") else self.base + path
        for _ in range(self.max_waits):
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - the operator's server
                    raw = resp.read()
                    kind = resp.headers.get("Content-Type", "")
                    return resp.status, (json.loads(raw) if kind.startswith("application/json") else raw)
            except urllib.error.HTTPError as exc:
                body = json.loads(exc.read() or b"{}") if exc.headers.get("Content-Type", "").startswith(
                    "application/json") else {}
                if exc.code in (429, 503) and exc.headers.get("Retry-After"):
                    wait = min(60, int(exc.headers["Retry-After"]))
                    reason = (body.get("error") or {}).get("message") or f"HTTP {exc.code}"
                    self._say(f"waiting {wait} s (Retry-After) before retrying: {reason}")
                    self._sleep(wait)
                    continue
                raise ApiError(exc.code, body) from None
        raise ApiError(429, {"error": {"code": "gave_up", "message": "still limited after retries"}})

    def _multipart(self, fields: dict, file_field: str, path: Path) -> tuple[bytes, str]:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            if value is not None:
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                             .encode())
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
                     f'filename="{path.name}"\r\nContent-Type: {kind}\r\n\r\n'.encode() + path.read_bytes() + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return b"".join(parts), f"multipart/form-data; boundary={boundary}"

    def enroll(self, path: Path, name: str | None = None, prompt_text: str | None = None,
               consent: str | None = None) -> dict:
        body, kind = self._multipart({"name": name, "prompt_text": prompt_text, "consent": consent}, "audio", path)
        return self._request("POST", "/v1/voices", body, kind)[1]

    def synthesize(self, text: str, voice: str, fmt: str = "mp3", **options) -> dict:
        payload = {"text": text, "voice_id": voice, "format": fmt,
                   **{k: v for k, v in options.items() if v is not None}}
        status, body = self._request("POST", "/v1/tts", json.dumps(payload, ensure_ascii=False).encode(),
                                     "application/json")
        while status == 202 or body.get("status") in ("queued", "running"):
            done = body.get("progress") or {}
            self._say(f"job {body.get('status')} ({done.get('done', 0)}/{done.get('total', 1)}): "
                      f"polling again in {body.get('retry_after_s', 2)} s")
            self._sleep(body.get("retry_after_s", 2))
            status, body = self._request("GET", body["poll_url"])
        if body.get("status") == "failed":
            raise ApiError(200, {"error": body.get("error", {})})
        return body

    def stream(self, text: str, voice: str, **options):
        """POST /v1/tts/stream as SSE: yields (event, data) as they arrive; audio as s16le 24 kHz bytes."""
        payload = {"text": text, "voice_id": voice, **{k: v for k, v in options.items() if v is not None}}
        headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.base + "/v1/tts/stream?stream_format=sse", method="POST", headers=headers,
                                     data=json.dumps(payload, ensure_ascii=False).encode())
        try:
            resp = urllib.request.urlopen(req, timeout=120)  # noqa: S310 - the operator's server
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, json.loads(exc.read() or b"{}")) from None
        with resp:
            kind = resp.headers.get("Content-Type", "")
            if kind.startswith("application/json"):  # a sleeping endpoint: the request became a job
                yield "queued", json.loads(resp.read())
                return
            event = ""
            for raw in resp:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    yield event, (base64.b64decode(data["audio"]) if event == "audio" else data)

    def download(self, url: str) -> bytes:
        return self._request("GET", url)[1]


def progress(done: int, total: int, failed: int, width: int = 30) -> None:
    filled = int(width * done / max(1, total))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  failed {failed}")
    sys.stderr.flush()


def say_streamed(client: Client, text: str, args) -> int:
    """Write s16le 24 kHz mono as it arrives (`--out -`: to stdout, for a player), a .wav file when --out ends
    in .wav; subtitles and the final URL go to stderr and stdout."""
    to_stdout = args.out is None or str(args.out) == "-"
    sink = sys.stdout.buffer if to_stdout else open(args.out, "wb")  # noqa: SIM115 - closed below
    wav = not to_stdout and args.out.suffix.lower() == ".wav"
    if wav:
        sink.write(b"\x00" * 44)  # the header, written once the length is known
    started, first, size = time.monotonic(), None, 0
    try:
        for event, data in client.stream(text, args.voice, instruct=args.instruct, speed=args.speed):
            if event == "audio":
                if first is None:
                    first = time.monotonic() - started
                    print(f"first audio after {first * 1000:.0f} ms", file=sys.stderr)
                sink.write(data)
                sink.flush()
                size += len(data)
            elif event == "segment":
                print(f"[{data['index']}] {data['text']}", file=sys.stderr)
            elif event == "error":
                raise ApiError(data.get("status", 500), {"error": data})
            elif event == "queued":
                print(f"the endpoint is starting: poll {data['poll_url']}", file=sys.stderr)
                return 2
            elif event == "done":
                print(f"{size / 48000:.2f} s in {time.monotonic() - started:.2f} s; stored: {data['audio_url']}",
                      file=sys.stderr if to_stdout else sys.stdout)
        if wav:
            import struct

            sink.seek(0)
            sink.write(b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt " +
                       struct.pack("<IHHIIHH", 16, 1, 1, 24000, 48000, 2, 16) + b"data" + struct.pack("<I", size))
        return 0
    finally:
        if not to_stdout:
            sink.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", default=os.environ.get("TTS_BASE_URL", "http://127.0.0.1:8080"),
                    help="the API (TTS_BASE_URL; default: the `make run` stack)")
    ap.add_argument("--api-key", default=os.environ.get("TTS_API_KEY", ""),
                    help="an API key (TTS_API_KEY); not needed against `make run` from this machine")
    sub = ap.add_subparsers(dest="command", required=True)
    enroll = sub.add_parser("enroll", help="enroll a recording as a voice; prints its voice_id")
    enroll.add_argument("file", type=Path, help="the recording (m4a, aac, mp3, wav; 3-30 s of speech)")
    enroll.add_argument("--name", help="a name to show for the voice")
    enroll.add_argument("--prompt-text", help="what the recording says (better cloning: zero-shot)")
    enroll.add_argument("--consent", required=True, choices=["self", "authorized"],
                        help="whose voice it is: self (your own), authorized (its owner gave you separate consent)")
    say = sub.add_parser("say", help="synthesize one text (or a text file); prints the audio URL")
    say.add_argument("text", nargs="?", help="the text to speak")
    say.add_argument("--file", type=Path, help="read the text from this file (long texts become a job)")
    batch = sub.add_parser("batch", help="synthesize every line of a file, with a progress bar")
    batch.add_argument("phrases", type=Path, help="one phrase per line")
    batch.add_argument("--out-dir", type=Path, help="save each result as NNNN.<format> here")
    for p in (say, batch):
        p.add_argument("--voice", default="default", help="a voice_id from `enroll`, or default (built-in)")
        p.add_argument("--format", default="mp3", choices=["mp3", "wav", "pcm"])
        p.add_argument("--instruct", help="a preset (四川话, 温柔, ...: GET /v1/presets) or a style text")
        p.add_argument("--speed", type=float, help="0.5-2.0")
    say.add_argument("--out", type=Path, help="save the audio here instead of printing its URL")
    say.add_argument("--stream", action="store_true",
                     help="receive the audio as it is made: raw s16le 24 kHz (--out - or no --out: stdout), or "
                          "a .wav file")
    args = ap.parse_args(argv)
    client = Client(args.base_url, args.api_key)
    try:
        if args.command == "enroll":
            voice = client.enroll(args.file, args.name, args.prompt_text, args.consent)
            print(json.dumps(voice, ensure_ascii=False, indent=2))
            return 0
        if args.command == "say":
            text = args.file.read_text(encoding="utf-8") if args.file else args.text
            if not text:
                ap.error("give a text or --file")
            if args.stream:
                return say_streamed(client, text, args)
            result = client.synthesize(text, args.voice, args.format, instruct=args.instruct, speed=args.speed)
            if args.out:
                args.out.write_bytes(client.download(result["audio_url"]))
                print(f"{args.out} ({result['duration_s']} s)")
            else:
                print(result["audio_url"])
            return 0
        phrases = [line.strip() for line in args.phrases.read_text(encoding="utf-8").splitlines() if line.strip()]
        failed = 0
        if args.out_dir:
            args.out_dir.mkdir(parents=True, exist_ok=True)
        progress(0, len(phrases), 0)
        for i, phrase in enumerate(phrases, 1):
            try:
                result = client.synthesize(phrase, args.voice, args.format, instruct=args.instruct, speed=args.speed)
                if args.out_dir:
                    (args.out_dir / f"{i:04d}.{args.format}").write_bytes(client.download(result["audio_url"]))
                else:
                    sys.stdout.write(f"{i}\t{result['audio_url']}\n")
            except ApiError as exc:
                failed += 1
                sys.stderr.write(f"\nline {i}: {exc}\n")
            progress(i, len(phrases), failed)
        sys.stderr.write("\n")
        return 1 if failed else 0
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
