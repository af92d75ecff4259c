"""Objects as files under a directory; the dev server serves them under /media/ (with Range support).

Writes go to a temporary file in the same directory and are renamed into place, so a reader sees either
nothing or the whole object. Metadata lives in a JSON sidecar written before the object becomes visible.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from .base import ObjectInfo, ObjectNotFound, StorageUnavailable

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class LocalStore:
    serves_media = True

    def __init__(self, root: str | os.PathLike, public_base_url: str) -> None:
        self.root = Path(root).resolve()
        self.public_base_url = public_base_url.rstrip("/")

    def path(self, key: str) -> Path:
        if not _SAFE_KEY.match(key) or ".." in key:
            raise ValueError(f"unsafe object key {key!r}")
        return self.root / key

    def _meta_path(self, key: str) -> Path:
        p = self.path(key)
        return p.with_name(p.name + ".meta.json")

    def head(self, key: str) -> ObjectInfo | None:
        try:
            p = self.path(key)
        except ValueError:
            return None
        try:
            size = p.stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageUnavailable(str(exc)) from exc
        try:
            meta = json.loads(self._meta_path(key).read_text())
        except (OSError, ValueError):
            meta = {}
        return ObjectInfo(key, size, meta.pop("content_type", "application/octet-stream"), meta)

    def _atomic_write(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> None:
        try:
            self._atomic_write(self._meta_path(key), json.dumps({**metadata, "content_type": content_type}).encode())
            self._atomic_write(self.path(key), data)
        except OSError as exc:
            raise StorageUnavailable(str(exc)) from exc

    def put_if_absent(self, key: str, data: bytes, content_type: str) -> bool:
        target = self.path(key)
        try:
            self._atomic_write(self._meta_path(key), json.dumps({"content_type": content_type}).encode())
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            try:
                os.link(tmp, target)  # fails if the target exists: the first writer wins
                return True
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp)
        except OSError as exc:
            raise StorageUnavailable(str(exc)) from exc

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, ValueError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageUnavailable(str(exc)) from exc

    def delete(self, key: str) -> None:
        for p in (self.path(key), self._meta_path(key)):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
        # Empty directories are removed too: left behind, every later listing of the prefix walks them
        # (found by the load test: enrollment slowed down as deleted voices piled up).
        parent = self.path(key).parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def list_keys(self, prefix: str, limit: int = 1000) -> list[str]:
        base = self.path(prefix.rstrip("/"))
        # os.walk skips what vanishes under it: another process deleting a voice removes emptied
        # directories while this one lists (rglob raised FileNotFoundError there: a 500 in the soak)
        found = [Path(top, name) for top, _dirs, names in os.walk(base) for name in names
                 if not name.startswith(".tmp-") and not name.endswith(".meta.json")]
        return sorted(p.relative_to(self.root).as_posix() for p in found)[:limit]

    def url(self, key: str) -> tuple[str, int | None]:
        return f"{self.public_base_url}/media/{key}", None

    def ping(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise StorageUnavailable(f"{self.root} is not writable")
        except OSError as exc:
            raise StorageUnavailable(str(exc)) from exc
