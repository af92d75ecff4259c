#!/usr/bin/env python
"""Refresh the lock files: every dependency group resolved to exact versions with hashes, for CPython 3.11 on
Linux x86_64, and what changed since the last lock printed.

    make lock                        # = .venv/bin/python scripts/lock.py
    make lock UPGRADE=av             # move one package to its newest allowed release, keep every other pin
    make lock UPGRADE=all            # re-resolve everything

Without UPGRADE the current pins are kept wherever `pyproject.toml` still allows them (uv reads the existing
lock as its preference), so a change to one group's requirements moves only what it must. The installs read
only the locks (`pip install --require-hashes --no-deps`); `tests/unit/test_locks.py` fails when a lock no
longer matches `pyproject.toml`.

Each lock is resolved under the one before it as a constraint, so a package pinned in two locks has the same
version in both: the deployed function (`functions/requirements.lock`) first, for the oldest C library and the
oldest Python among its targets (Lambda's python3.11 runs on Amazon Linux 2, glibc 2.26; manylinux2014 wheels,
glibc 2.17, run on it and on SCF, whose newest runtime is Python 3.10); then the development venv, which
therefore tests the versions the function ships.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = "3.11"
FUNCTION_PLATFORM = "x86_64-manylinux_2_17"  # the deployed function: Lambda (AL2) and SCF
# the oldest Python the function runs on: SCF's newest runtime is Python 3.10 (Lambda's is 3.11), so the
# function's versions are ones that run on both (they are installed on 3.11 as they are)
FUNCTION_PYTHON = "3.10"
DEV_PLATFORM = "x86_64-manylinux_2_35"  # development machines, CI, containers: nvidia-pytriton needs glibc 2.35
DIGEST_PREFIX = "# inputs-sha256: "


@dataclass(frozen=True)
class Lock:
    path: str
    extras: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # requirement files besides pyproject's extras
    no_deps: str = ""  # a [tool.relay.no-deps] list, resolved without dependencies
    platform: str = DEV_PLATFORM
    constraint: str = ""  # an earlier lock whose pins this one keeps
    build: bool = False  # also pin [build-system].requires (the editable install builds without isolation)
    python: str = PYTHON


LOCKS = (
    Lock("functions/requirements.lock", extras=("functions",), platform=FUNCTION_PLATFORM, python=FUNCTION_PYTHON),
    Lock("functions/requirements-hosted.lock", extras=("functions", "hosted"), platform=FUNCTION_PLATFORM,
         python=FUNCTION_PYTHON, constraint="functions/requirements.lock"),
    Lock("functions/requirements-nodeps.lock", no_deps="functions", platform=FUNCTION_PLATFORM,
         python=FUNCTION_PYTHON),
    Lock("tests/requirements.lock", extras=("functions", "inference", "hosted", "dev"),
         constraint="functions/requirements-hosted.lock", build=True),
    Lock("inference/requirements.lock", extras=("inference",), constraint="tests/requirements.lock"),
    Lock("tests/official/requirements.lock", extras=("functions", "inference", "dev"),
         files=("tests/official/requirements.txt",), constraint="functions/requirements-hosted.lock", build=True),
    # (under the function's lock, not the dev one: hydra-core wants antlr4 4.9, the dev tools 4.13)
    Lock("tests/official/requirements-nodeps.lock", no_deps="official"),
)


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def inputs(lock: Lock, project: dict | None = None) -> list[str]:
    """The requirement lines a lock is resolved from, in a fixed order."""
    project = project or pyproject()
    if lock.no_deps:
        return sorted(project["tool"]["relay"]["no-deps"][lock.no_deps])
    lines = [req for extra in lock.extras for req in project["project"]["optional-dependencies"][extra]]
    for name in lock.files:
        lines += [ln.split("#")[0].strip() for ln in (REPO / name).read_text().splitlines()]
    if lock.build:
        lines += project["build-system"]["requires"]
    return sorted({ln for ln in lines if ln})


def digest(lock: Lock, project: dict | None = None) -> str:
    """What a lock was made from: its inputs, its platform and its constraint's own inputs."""
    parent = next((lk for lk in LOCKS if lk.path == lock.constraint), None)
    data = {"inputs": inputs(lock, project), "platform": lock.platform, "python": lock.python,
            "constraint": digest(parent, project) if parent else ""}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def pins(path: Path) -> dict[str, str]:
    """name -> version of a lock file (empty when there is none yet)."""
    if not path.exists():
        return {}
    found = re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", path.read_text(), flags=re.M)
    return {name.lower(): version for name, version in found}


def torch_source() -> list[str]:
    """Where the official tier's CPU build of torch comes from: pip's own find-links when this machine has
    them (a wheel cache), else PyTorch's CPU index."""
    configured = os.environ.get("PIP_FIND_LINKS") or subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.find-links"], capture_output=True, text=True
    ).stdout.strip()
    if configured:
        return [arg for link in configured.split() for arg in ("--find-links", link)]
    return ["--extra-index-url", "https://download.pytorch.org/whl/cpu", "--index-strategy", "unsafe-best-match"]


def compile_lock(lock: Lock, upgrade: str, out: Path | None = None) -> None:
    out = out or REPO / lock.path
    with tempfile.NamedTemporaryFile("w", suffix=".in", delete=False) as tmp:
        tmp.write("\n".join(inputs(lock)) + "\n")
    cmd = ["uv", "pip", "compile", tmp.name, "--quiet", "--generate-hashes", "--no-header", "--annotation-style",
           "line", "--python-version", lock.python, "--python-platform", lock.platform, "-o", str(out)]
    if lock.no_deps:
        cmd.append("--no-deps")
    if lock.constraint:
        cmd += ["--constraint", lock.constraint]
    if lock.platform == FUNCTION_PLATFORM:
        cmd += ["--only-binary", ":all:"]  # built for another machine: no sdist may be compiled here
    if "tests/official/requirements.txt" in lock.files:
        cmd += torch_source()
    if upgrade == "all":
        cmd.append("--upgrade")
    elif upgrade:
        cmd += ["--upgrade-package", upgrade]
    try:
        subprocess.run(cmd, check=True, cwd=REPO)  # relative paths: the annotations name the same files anywhere
    finally:
        os.unlink(tmp.name)
    body = out.read_text().replace(f"-r {tmp.name}", "pyproject.toml")  # the temporary file's name varies
    out.write_text(f"# Generated by `make lock` (scripts/lock.py) from pyproject.toml: edit that, not this.\n"
                   f"# CPython {lock.python}, {lock.platform}.\n{DIGEST_PREFIX}{digest(lock)}\n{body}")


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    lines = [f"  + {n} {after[n]}" for n in sorted(after.keys() - before.keys())]
    lines += [f"  - {n} {before[n]}" for n in sorted(before.keys() - after.keys())]
    lines += [f"  ~ {n} {before[n]} -> {after[n]}" for n in sorted(before.keys() & after.keys())
              if before[n] != after[n]]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upgrade", default=os.environ.get("UPGRADE", ""),
                    help="a package name to move to its newest allowed release, or 'all'")
    ap.add_argument("--check", action="store_true",
                    help="resolve again into a scratch folder and fail where a lock would change (writes nothing)")
    args = ap.parse_args()
    if args.check:
        return check()
    for i, lock in enumerate(LOCKS, 1):
        print(f"[{i}/{len(LOCKS)}] {lock.path} ...", flush=True)
        before = pins(REPO / lock.path)
        compile_lock(lock, args.upgrade)
        diff = changes(before, pins(REPO / lock.path))
        print("\n".join(diff) if diff else "  unchanged", flush=True)
    return 0


def check() -> int:
    """Each lock made again from pyproject.toml, its current pins preferred: any difference is a lock that no
    longer follows from its inputs (or a release withdrawn from the index)."""
    stale = []
    with tempfile.TemporaryDirectory(prefix="lock-check-") as tmp:
        for i, lock in enumerate(LOCKS, 1):
            print(f"[{i}/{len(LOCKS)}] {lock.path} ...", flush=True)
            scratch = Path(tmp) / lock.path.replace("/", "_")
            scratch.write_text((REPO / lock.path).read_text())
            compile_lock(lock, "", scratch)
            if scratch.read_text() != (REPO / lock.path).read_text():
                stale.append(lock.path)
                print("\n".join(changes(pins(REPO / lock.path), pins(scratch))) or "  (annotations or hashes)")
    print("stale: " + ", ".join(stale) + " (run `make lock`)" if stale else "every lock follows from pyproject.toml")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
