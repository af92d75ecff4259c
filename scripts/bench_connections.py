#!/usr/bin/env python
"""Does the production host stay responsive while thousands of connections sit open?

Starts the production shape (a local Triton with the espeak engine, the relay under gunicorn with
functions/gunicorn_conf.py, API keys on), then holds at once: idle WebSockets (upgraded with a key, never a
message), connections whose headers trickle in, authenticated POST /v1/tts/stream whose bodies trickle in, and
streams that are never read. Meanwhile a third caller asks for /healthz and for a cached /v1/tts over and over; printed:
its p50/p99 while the load is held, how many of the held connections the server kept or refused, and the
server's memory (RSS of all its processes). Writes a PNG of the third caller's latencies over time.

    python scripts/bench_connections.py                       # 1000 idle sockets, 100+100 trickles, 100 unread
    python scripts/bench_connections.py --idle-ws 50 --seconds 20 --worker-class gthread   # today's default, small
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from functions.auth.api_keys import digest  # noqa: E402
from tests.support.servers import start_gunicorn_stack  # noqa: E402

KEY = "bench-connections-key"
CACHED = {"text": "你好，欢迎使用。", "voice_id": "default", "format": "mp3"}
LONG = "今天天气很好，我们一起去公园散步吧。" * 30


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (gunicorn's master and workers)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            pass
    return total / 1024


def timed_get(url: str, *, data: bytes | None = None, headers: dict | None = None, timeout: float = 30) -> float:
    started = time.monotonic()
    try:
        request = urllib.request.Request(url, data=data, headers=headers or {})
        with urllib.request.urlopen(request, timeout=timeout) as r:
            r.read()
    except (urllib.error.URLError, TimeoutError, OSError):
        return float("inf")
    return time.monotonic() - started


class Holder:
    """The held connections, all in one event loop."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.open = {"idle_ws": 0, "trickle_headers": 0, "trickle_body": 0, "unread": 0}
        self.refused = dict.fromkeys(self.open, 0)
        self.closed_by_server = dict.fromkeys(self.open, 0)
        self.stop = asyncio.Event()

    async def _connect(self, kind: str):
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 10)
        except (OSError, asyncio.TimeoutError):
            self.refused[kind] += 1
            return None
        self.open[kind] += 1
        return reader, writer

    async def _hold(self, kind: str, reader, writer, trickle: bytes = b"") -> None:
        """Keep the connection until the end (sending `trickle` a byte every 2 s); count a server close."""
        try:
            while not self.stop.is_set():
                if trickle:
                    writer.write(trickle[:1])
                    trickle = trickle[1:] or b"x"
                    await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(65536) if kind != "unread" else asyncio.sleep(2), 2)
                    if kind != "unread" and data == b"":
                        self.closed_by_server[kind] += 1
                        return
                except asyncio.TimeoutError:
                    pass
        except (ConnectionError, OSError):
            self.closed_by_server[kind] += 1
        finally:
            self.open[kind] -= 1
            writer.close()

    async def idle_ws(self) -> None:
        conn = await self._connect("idle_ws")
        if conn:
            key = base64.b64encode(os.urandom(16)).decode()
            conn[1].write((f"GET /v1/tts/ws HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                           f"Authorization: Bearer {KEY}\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            await self._hold("idle_ws", *conn)

    async def trickle_headers(self) -> None:
        conn = await self._connect("trickle_headers")
        if conn:
            head = f"GET /healthz HTTP/1.1\r\nHost: {self.host}\r\nX-Slow: ".encode()
            await self._hold("trickle_headers", *conn, trickle=head)

    async def trickle_body(self) -> None:
        conn = await self._connect("trickle_body")
        if conn:
            conn[1].write((f"POST /v1/tts/stream HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {KEY}\r\n"
                           "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n").encode())
            await self._hold("trickle_body", *conn, trickle=b'{"text": "')

    async def unread(self, i: int) -> None:
        conn = await self._connect("unread")
        if conn:
            body = json.dumps({"text": f"{i}。{LONG}", "voice_id": "default"}).encode()
            conn[1].write((f"POST /v1/tts/stream HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {KEY}\r\n"
                           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
            await self._hold("unread", *conn)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--idle-ws", type=int, default=1000)
    ap.add_argument("--trickle-headers", type=int, default=100)
    ap.add_argument("--trickle-body", type=int, default=100)
    ap.add_argument("--unread", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=30.0, help="how long the load is held while measuring")
    ap.add_argument("--worker-class", default="", help="override GUNICORN_WORKER_CLASS (e.g. gthread, gevent)")
    ap.add_argument("--out", type=Path, default=Path("artifacts/bench_connections.png"), help="the PNG")
    args = ap.parse_args()

    # production auth; rate limits and connection caps off (one caller, one address holds them all here)
    env = {"API_KEYS": f"bench:{digest(KEY)}", "MAX_CONNECTIONS": "0", "MAX_CONNECTIONS_PER_ADDRESS": "0",
           "MAX_CONNECTIONS_PER_IDENTITY": "0"}
    if args.worker_class:
        env["GUNICORN_WORKER_CLASS"] = args.worker_class
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_gunicorn_stack(Path(tmp), **env)
        base = next(stack)
        try:
            return run(base, args)
        finally:
            next(stack, None)


def server_pid(base: str) -> int | None:
    """The process listening on the server's port, found by its socket's inode (gunicorn renames its command
    line, and doing so overwrites its environment)."""
    port = int(base.rsplit(":", 1)[1])
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in list(f)[1:]:
                    cols = line.split()
                    if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "0A":  # LISTEN
                        inodes.add(f"socket:[{cols[9]}]")
        except OSError:
            continue
    owners = []
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd")):
                owners.append(pid)
        except OSError:
            continue
    return min(owners) if owners else None  # the master (its workers share the socket and are its children)


def run(base: str, args) -> int:
    auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    body = json.dumps(CACHED).encode()
    first = timed_get(base + "/v1/tts", data=body, headers=auth)
    print(f"cache filled in {first:.2f}s; server {base}", flush=True)
    pid = server_pid(base)
    host, port = base.removeprefix("http://").split(":")
    holder = Holder(host, int(port))
    samples: list[tuple[float, str, float]] = []
    loop = asyncio.new_event_loop()

    async def load() -> None:
        tasks = [asyncio.ensure_future(holder.idle_ws()) for _ in range(args.idle_ws)]
        tasks += [asyncio.ensure_future(holder.trickle_headers()) for _ in range(args.trickle_headers)]
        tasks += [asyncio.ensure_future(holder.trickle_body()) for _ in range(args.trickle_body)]
        tasks += [asyncio.ensure_future(holder.unread(i)) for i in range(args.unread)]
        await holder.stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(load(),), daemon=True)
    thread.start()
    started = time.monotonic()
    peak_rss = 0.0
    while time.monotonic() - started < args.seconds:
        at = time.monotonic() - started
        samples.append((at, "healthz", timed_get(base + "/healthz")))
        samples.append((at, "cache hit", timed_get(base + "/v1/tts", data=body, headers=auth)))
        if pid:
            peak_rss = max(peak_rss, rss_mb(pid))
        if len(samples) % 20 == 2:  # progress about every 2 s
            print(f"{at:5.1f}s held {sum(holder.open.values()):5d} {holder.open}; healthz {samples[-2][2]:.3f}s, "
                  f"cache hit {samples[-1][2]:.3f}s", flush=True)
        time.sleep(0.2)
    held_at_end = dict(holder.open)
    loop.call_soon_threadsafe(holder.stop.set)
    thread.join(30)
    report = {"held_at_end": held_at_end, "refused": holder.refused, "closed_by_server": holder.closed_by_server,
              "server_rss_mb_peak": round(peak_rss, 1)}
    for name in ("healthz", "cache hit"):
        lat = sorted(s[2] for s in samples if s[1] == name)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        report[name] = {"n": len(lat), "p50_s": round(statistics.median(lat), 4), "p99_s": round(p99, 4),
                        "failed": sum(1 for v in lat if v == float("inf"))}
    print(json.dumps(report, indent=2))
    plot(samples, args.out, report)
    return 0


def plot(samples, png: Path, report: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for name in ("healthz", "cache hit"):
        pts = [(at, min(v, 30)) for at, n, v in samples if n == name]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], ".", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("seconds into the load")
    ax.set_ylabel("third caller latency (s)")
    held = sum(report["held_at_end"].values())
    ax.set_title(f"held {held} connections; server RSS {report['server_rss_mb_peak']} MB")
    ax.legend()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(png)
    print(f"plot: {png}")


if __name__ == "__main__":
    raise SystemExit(main())
