"""The lock files are the only source of versions: each matches what pyproject.toml asks for (a requirement
changed without `make lock` fails here), pins every package it installs with hashes, agrees with the function's
lock wherever both pin a package (the tests test what ships), and every install reads them and nothing else."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import lock  # noqa: E402

LOCKS = {lk.path: lk for lk in lock.LOCKS}


def entries(path: str) -> dict[str, str]:
    """name -> the whole entry (its pin, its hashes, its annotation)."""
    text = (REPO / path).read_text()
    return {canonicalize_name(block.split("==")[0]): block
            for block in re.split(r"\n(?=[A-Za-z0-9])", text) if re.match(r"[A-Za-z0-9._-]+==", block)}


@pytest.mark.parametrize("path", LOCKS)
def test_each_lock_was_made_from_the_current_pyproject(path):
    header = next(ln for ln in (REPO / path).read_text().splitlines() if ln.startswith(lock.DIGEST_PREFIX))
    assert header.removeprefix(lock.DIGEST_PREFIX) == lock.digest(LOCKS[path]), \
        f"{path} is older than pyproject.toml: run `make lock`"


@pytest.mark.parametrize("path", LOCKS)
def test_every_requirement_is_pinned_to_a_version_it_allows_with_hashes(path):
    pinned = {name: re.match(r"[^=]+==([^\s\\;]+)", entry).group(1) for name, entry in entries(path).items()}
    for name, entry in entries(path).items():
        assert "--hash=sha256:" in entry, f"{name} in {path} has no hash"
    for line in lock.inputs(LOCKS[path]):
        req = Requirement(line)
        if req.marker and not req.marker.evaluate({"python_version": LOCKS[path].python, "sys_platform": "linux",
                                                    "platform_machine": "x86_64"}):
            continue
        name = canonicalize_name(req.name)
        assert name in pinned, f"{path} does not pin {req.name} (pyproject.toml asks for it): run `make lock`"
        assert req.specifier.contains(pinned[name], prereleases=True), \
            f"{path} pins {name}=={pinned[name]}, which {line!r} does not allow: run `make lock`"


def test_the_development_venv_tests_the_versions_the_function_ships():
    shipped = entries("functions/requirements-hosted.lock")
    for other in ("tests/requirements.lock", "tests/official/requirements.lock", "inference/requirements.lock"):
        for name, entry in entries(other).items():
            if name in shipped:
                assert entry.split("\n")[0] == shipped[name].split("\n")[0], f"{other} and the function differ: {name}"


def test_a_changed_requirement_is_noticed(tmp_path):
    project = lock.pyproject()
    functions = LOCKS["functions/requirements.lock"]
    before = lock.digest(functions, project)
    project["project"]["optional-dependencies"]["functions"].append("six>=1")
    assert lock.digest(functions, project) != before
    # ... and so is a changed requirement of the lock it is constrained by
    assert lock.digest(LOCKS["tests/requirements.lock"], project) != lock.digest(LOCKS["tests/requirements.lock"])


def test_every_install_reads_only_the_locks():
    makefile = (REPO / "Makefile").read_text()
    installs = re.findall(r"pip install[^\n]*", makefile) + re.findall(r"PIP_\w+ := [^\n]*", makefile)
    assert installs
    for line in installs:
        assert "--require-hashes" in line or "--no-deps" in line and " -e ." in line, line
    assert not re.search(r"pip install (?!.*(--require-hashes|-e \.))", makefile)
    assert "--upgrade pip" not in makefile  # the pip Python ships: not whatever is newest today
    dockerfile = (REPO / "functions" / "Dockerfile").read_text()
    assert all("--require-hashes" in ln for ln in re.findall(r"pip install[^\n]*", dockerfile))
    package = (REPO / "scripts" / "package.py").read_text()
    assert '"--require-hashes", "--no-deps"' in package


def test_the_changes_are_reported():
    assert lock.changes({"av": "14.2.0", "six": "1.0"}, {"av": "15.0.0", "numpy": "1.26.4"}) == [
        "  + numpy 1.26.4", "  - six 1.0", "  ~ av 14.2.0 -> 15.0.0"]


def test_the_locks_resolve_again_to_themselves():
    """`make lock-check`: uv resolves every lock again from pyproject.toml (pins preferred) into a scratch folder;
    the result must be byte for byte the committed lock."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "lock.py"), "--check"], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "every lock follows from pyproject.toml" in result.stdout
