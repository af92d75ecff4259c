"""Object storage: the source of truth for finished audio. Local directory by default, S3 / Tencent COS."""

from __future__ import annotations

from .base import ObjectInfo, ObjectNotFound, ObjectStore, StorageUnavailable


def build_storage(settings) -> ObjectStore:
    if settings.storage == "s3":
        from .s3 import S3Store

        return S3Store.from_settings(settings)
    from .local import LocalStore

    return LocalStore(settings.storage_dir, settings.public_base_url)


__all__ = ["ObjectInfo", "ObjectNotFound", "ObjectStore", "StorageUnavailable", "build_storage"]
