"""tritonclient wrapper: timeouts, bounded retries on transient failures, cached readiness.

gRPC by default (smaller framing, one connection), HTTP selectable. Clients are per thread: the HTTP client is
gevent-based and cannot be shared across threads. `sleep` and `clock` are injected so retry and readiness
logic is testable without waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from inference.client import MODEL_NAME, make_inputs, waveform
from .. import deadline

log = logging.getLogger(__name__)


class InferenceUnavailable(Exception):
    """The endpoint cannot be reached or is not ready (retry later)."""


class InferenceTimeout(Exception):
    """The endpoint did not answer within the request timeout."""


class InferenceRejected(Exception):
    """The model refused the request as invalid (not retried)."""


class InferenceFailed(Exception):
    """The model failed on this request (after retries)."""


@dataclass(frozen=True)
class SynthesisInput:
    text: str
    reference_wav: np.ndarray | None = None
    reference_text: str | None = None
    mode: str | None = None
    instruct_text: str | None = None
    speed: float | None = None
    seed: int | None = None
    voice_key: str | None = None
    request_id: str = ""  # the API request id, so Triton's logs and traces line up with ours


_TRANSIENT = ("UNAVAILABLE", "connection", "Connection", "refused", "reset", "not healthy", "Broken pipe",
              "failed to connect", "503", "502", "RESOURCE_EXHAUSTED")
_TIMEOUT = ("DEADLINE_EXCEEDED", "timed out", "Timeout", "timeout")
_INVALID = ("INVALID_ARG", "400")


def classify(exc: BaseException) -> str:
    """transient | timeout | invalid | failed, from a tritonclient or socket exception."""
    status = ""
    if hasattr(exc, "status"):
        try:
            status = str(exc.status() or "")
        except Exception:  # noqa: BLE001 - status() of some errors raises
            status = ""
    text = f"{status} {exc}"
    if isinstance(exc, (ConnectionError, OSError)) and not isinstance(exc, TimeoutError):
        return "transient"
    if isinstance(exc, TimeoutError) or any(t in text for t in _TIMEOUT):
        return "timeout"
    if any(t in status for t in _INVALID):
        return "invalid"
    if any(t in text for t in _TRANSIENT):
        return "transient"
    return "failed"


class TritonEndpoint:
    def __init__(self, url: str, *, protocol: str = "grpc", model: str = MODEL_NAME, connect_timeout_s: float = 2.0,
                 request_timeout_s: float = 25.0, retries: int = 2, backoff_s: float = 0.2,
                 ready_cache_s: float = 1.0, sleep=time.sleep, clock=time.monotonic) -> None:
        self.url, self.protocol, self.model = url, protocol, model
        self.connect_timeout_s, self.request_timeout_s = connect_timeout_s, request_timeout_s
        self.retries, self.backoff_s = retries, backoff_s
        self.ready_cache_s = ready_cache_s
        self._sleep, self._clock = sleep, clock
        self._local = threading.local()
        self._ready_at = -1e9
        self._ready = False

    @classmethod
    def from_settings(cls, settings) -> "TritonEndpoint":
        return cls(settings.triton_url, protocol=settings.triton_protocol, model=settings.triton_model,
                   connect_timeout_s=settings.triton_connect_timeout_s,
                   request_timeout_s=settings.triton_request_timeout_s, retries=settings.triton_retries)

    @property
    def _module(self):
        if self.protocol == "http":
            import tritonclient.http as module
        else:
            import tritonclient.grpc as module
        return module

    def _client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            module = self._module
            if self.protocol == "http":
                client = module.InferenceServerClient(self.url, connection_timeout=self.connect_timeout_s,
                                                      network_timeout=self.request_timeout_s)
            else:
                client = module.InferenceServerClient(self.url)
            self._local.client = client
        return client

    def _drop_client(self) -> None:
        client = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass

    def is_ready(self, use_cache: bool = True) -> bool:
        now = self._clock()
        if use_cache and now - self._ready_at < self.ready_cache_s:
            return self._ready
        try:
            client = self._client()
            if self.protocol == "grpc":
                ready = client.is_model_ready(self.model, client_timeout=self.connect_timeout_s)
            else:
                ready = client.is_model_ready(self.model)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            log.debug("readiness check failed: %s", exc)
            self._drop_client()
            ready = False
        self._ready, self._ready_at = bool(ready), now
        return self._ready

    def synthesize(self, item: SynthesisInput) -> np.ndarray:
        """24 kHz float32 samples, or one of the Inference* exceptions."""
        inputs = make_inputs(self._module, item.text, reference_wav=item.reference_wav,
                             reference_text=item.reference_text, mode=item.mode, instruct_text=item.instruct_text,
                             speed=item.speed, seed=item.seed, voice_key=item.voice_key)
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(deadline.cap(self.backoff_s * (2 ** (attempt - 1))))
            timeout_s = deadline.cap(self.request_timeout_s)  # never past the request's deadline
            if timeout_s <= 0.05:
                if last is not None and classify(last) == "transient":
                    break
                raise InferenceTimeout("no time left in the request's deadline")
            try:
                client = self._client()
                if self.protocol == "grpc":
                    result = client.infer(self.model, inputs, client_timeout=timeout_s,
                                          request_id=item.request_id)
                else:
                    result = client.infer(self.model, inputs, request_id=item.request_id)
                self._ready, self._ready_at = True, self._clock()
                return waveform(result)
            except Exception as exc:  # noqa: BLE001 - classified below
                kind = classify(exc)
                last = exc
                log.warning("inference attempt %d failed (%s): %s", attempt + 1, kind, exc)
                if kind == "invalid":
                    raise InferenceRejected(str(exc)) from exc
                if kind == "timeout":
                    self._drop_client()
                    raise InferenceTimeout(str(exc)) from exc
                if kind == "transient":
                    self._drop_client()
                    self._ready, self._ready_at = False, self._clock()
                    continue
                # "failed": the model raised; one retry at most, it is likely deterministic
                if attempt >= 1:
                    break
        if last is not None and classify(last) == "transient":
            raise InferenceUnavailable(str(last)) from last
        raise InferenceFailed(str(last)) from last
