"""S3 or Tencent COS (S3-compatible: endpoint https://cos.<region>.myqcloud.com, bucket name-APPID) via boto3.

PutObject is atomic: the object appears only when the upload completed. URLs are presigned GETs with an
expiry, or plain URLs under a CDN base when one is configured. The client is injected for tests.

On a request's path every call is bounded by what is left of the request's deadline: it runs on a small pool
and is abandoned (StorageUnavailable, a 503) when the time is up, however long botocore would keep waiting on
a stalled endpoint. When the pool is full of stalled calls, further calls fail at once instead of piling up.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from .. import deadline
from .base import ObjectInfo, ObjectNotFound, StorageUnavailable

POOL_SIZE = 16


def _errors():
    import botocore.exceptions as be

    return (be.EndpointConnectionError, be.ConnectTimeoutError, be.ReadTimeoutError, be.ConnectionClosedError,
            be.ClientError, be.NoCredentialsError, be.BotoCoreError)


def _code(exc: Exception) -> str:
    """The S3 error code of a failure; "" for failures without an answer (a timeout's `response` is None)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3Store:
    serves_media = False

    def __init__(self, client: Any, bucket: str, *, prefix: str = "", url_expires_s: int = 3600,
                 cdn_base_url: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url_expires_s = url_expires_s
        self.cdn_base_url = cdn_base_url.rstrip("/")
        self._pool = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="s3")
        self._slots = threading.BoundedSemaphore(POOL_SIZE)

    def _call(self, what: str, fn, **kwargs):
        """`fn(**kwargs)`, within the request's deadline when there is one."""
        budget = deadline.remaining()
        if budget is None:
            return fn(**kwargs)
        if budget <= 0:
            raise StorageUnavailable(f"{what}: no time left in the request's deadline")
        if not self._slots.acquire(blocking=False):
            raise StorageUnavailable(f"{what}: {POOL_SIZE} storage calls already stalled")

        def run():
            try:
                return fn(**kwargs)
            finally:
                self._slots.release()

        try:
            return self._pool.submit(run).result(timeout=budget)
        except FutureTimeout:
            raise StorageUnavailable(f"{what}: no answer within {budget:.1f}s") from None

    @classmethod
    def from_settings(cls, settings) -> "S3Store":
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"},
                        s3={"addressing_style": settings.s3_addressing_style}, signature_version="s3v4")
        client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url or None,
                              region_name=settings.s3_region or None, config=config)
        return cls(client, settings.s3_bucket, prefix=settings.s3_prefix, url_expires_s=settings.url_expires_s,
                   cdn_base_url=settings.cdn_base_url)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def head(self, key: str) -> ObjectInfo | None:
        try:
            r = self._call("head", self.client.head_object, Bucket=self.bucket, Key=self._key(key))
        except _errors() as exc:
            code = _code(exc)
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageUnavailable(f"head {key}: {exc}") from exc
        return ObjectInfo(key, int(r.get("ContentLength", 0)), r.get("ContentType", ""), dict(r.get("Metadata", {})))

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> None:
        try:
            self._call("put", self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data,
                       ContentType=content_type, Metadata={k: str(v) for k, v in metadata.items()},
                       CacheControl="public, max-age=31536000, immutable")
        except _errors() as exc:
            raise StorageUnavailable(f"put {key}: {exc}") from exc

    def put_if_absent(self, key: str, data: bytes, content_type: str) -> bool:
        try:
            self._call("put", self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data,
                       ContentType=content_type, IfNoneMatch="*")  # S3 conditional write: 412 when it exists
            return True
        except _errors() as exc:
            code = _code(exc)
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                return False
            raise StorageUnavailable(f"put {key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            return self._call("get", lambda **kw: self.client.get_object(**kw)["Body"].read(), Bucket=self.bucket,
                              Key=self._key(key))
        except _errors() as exc:
            code = _code(exc)
            if code in ("404", "NoSuchKey", "NotFound"):
                raise ObjectNotFound(key) from None
            raise StorageUnavailable(f"get {key}: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self._call("delete", self.client.delete_object, Bucket=self.bucket, Key=self._key(key))
        except _errors() as exc:
            raise StorageUnavailable(f"delete {key}: {exc}") from exc

    def list_keys(self, prefix: str, limit: int = 1000) -> list[str]:
        def listing(**kw) -> list[str]:
            keys: list[str] = []
            for page in self.client.get_paginator("list_objects_v2").paginate(**kw):
                for item in page.get("Contents", []):
                    keys.append(item["Key"][len(self.prefix):])
                    if len(keys) >= limit:
                        return keys
            return keys

        try:
            return self._call("list", listing, Bucket=self.bucket, Prefix=self._key(prefix))
        except _errors() as exc:
            raise StorageUnavailable(f"list {prefix}: {exc}") from exc

    def url(self, key: str) -> tuple[str, int | None]:
        if self.cdn_base_url:
            return f"{self.cdn_base_url}/{self._key(key)}", None
        url = self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self._key(key)},
                                                 ExpiresIn=self.url_expires_s)
        return url, self.url_expires_s

    def ping(self) -> None:
        try:
            self._call("ping", self.client.head_bucket, Bucket=self.bucket)
        except _errors() as exc:
            raise StorageUnavailable(f"bucket {self.bucket}: {exc}") from exc
