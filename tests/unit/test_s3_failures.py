"""S3 failures without an answer (timeouts, refused connections) are the storage being unavailable (503), never
an AttributeError on a response that does not exist (a bare 500)."""

from __future__ import annotations

import botocore.exceptions as be
import pytest

from functions.storage.base import ObjectNotFound, StorageUnavailable
from functions.storage.s3 import S3Store

NO_ANSWER = [be.ReadTimeoutError(endpoint_url="https://cos.example"),
             be.ConnectTimeoutError(endpoint_url="https://cos.example"),
             be.EndpointConnectionError(endpoint_url="https://cos.example"),
             be.ConnectionClosedError(endpoint_url="https://cos.example")]


class Failing:
    def __init__(self, exc):
        self.exc = exc

    def __getattr__(self, name):
        def call(**kwargs):
            raise self.exc
        return call


def not_found():
    return be.ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")


@pytest.mark.parametrize("exc", NO_ANSWER, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("call", ["head", "get", "put_if_absent", "delete"])
def test_a_failure_without_an_answer_is_storage_unavailable(exc, call):
    store = S3Store(Failing(exc), "bucket")
    args = {"head": ("k",), "get": ("k",), "put_if_absent": ("k", b"x", "text/plain"), "delete": ("k",)}[call]
    with pytest.raises(StorageUnavailable):
        getattr(store, call)(*args)


def test_a_missing_object_is_still_missing():
    store = S3Store(Failing(not_found()), "bucket")
    assert store.head("k") is None
    with pytest.raises(ObjectNotFound):
        store.get("k")
