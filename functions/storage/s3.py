"""S3 or Tencent COS (S3-compatible: endpoint https://cos.<region>.myqcloud.com, bucket name-APPID) via boto3.

PutObject is atomic: the object appears only when the upload completed. URLs are presigned GETs with an
expiry, or plain URLs under a CDN base when one is configured. The client is injected for tests.
"""

from __future__ import annotations

from typing import Any

from .base import ObjectInfo, ObjectNotFound, StorageUnavailable


def _errors():
    import botocore.exceptions as be

    return (be.EndpointConnectionError, be.ConnectTimeoutError, be.ReadTimeoutError, be.ConnectionClosedError,
            be.ClientError, be.NoCredentialsError, be.BotoCoreError)


class S3Store:
    serves_media = False

    def __init__(self, client: Any, bucket: str, *, prefix: str = "", url_expires_s: int = 3600,
                 cdn_base_url: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url_expires_s = url_expires_s
        self.cdn_base_url = cdn_base_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings) -> "S3Store":
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"},
                        s3={"addressing_style": settings.s3_addressing_style}, signature_version="s3v4")
        client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url or None,
                              region_name=settings.s3_region or None, config=config)
        return cls(client, settings.s3_bucket, prefix=settings.s3_prefix, url_expires_s=settings.url_expires_s,
                   cdn_base_url=settings.cdn_base_url)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def head(self, key: str) -> ObjectInfo | None:
        try:
            r = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except _errors() as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageUnavailable(f"head {key}: {exc}") from exc
        return ObjectInfo(key, int(r.get("ContentLength", 0)), r.get("ContentType", ""), dict(r.get("Metadata", {})))

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type,
                                   Metadata={k: str(v) for k, v in metadata.items()},
                                   CacheControl="public, max-age=31536000, immutable")
        except _errors() as exc:
            raise StorageUnavailable(f"put {key}: {exc}") from exc

    def put_if_absent(self, key: str, data: bytes, content_type: str) -> bool:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type,
                                   IfNoneMatch="*")  # S3 conditional write: 412 when the key exists
            return True
        except _errors() as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                return False
            raise StorageUnavailable(f"put {key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except _errors() as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise ObjectNotFound(key) from None
            raise StorageUnavailable(f"get {key}: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except _errors() as exc:
            raise StorageUnavailable(f"delete {key}: {exc}") from exc

    def list_keys(self, prefix: str, limit: int = 1000) -> list[str]:
        keys: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                        Prefix=self._key(prefix))
            for page in pages:
                for item in page.get("Contents", []):
                    keys.append(item["Key"][len(self.prefix):])
                    if len(keys) >= limit:
                        return keys
        except _errors() as exc:
            raise StorageUnavailable(f"list {prefix}: {exc}") from exc
        return keys

    def url(self, key: str) -> tuple[str, int | None]:
        if self.cdn_base_url:
            return f"{self.cdn_base_url}/{self._key(key)}", None
        url = self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self._key(key)},
                                                 ExpiresIn=self.url_expires_s)
        return url, self.url_expires_s

    def ping(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except _errors() as exc:
            raise StorageUnavailable(f"bucket {self.bucket}: {exc}") from exc
