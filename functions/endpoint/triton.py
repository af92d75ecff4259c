"""tritonclient wrapper: timeouts, bounded retries on transient failures, cached readiness.

gRPC by default (smaller framing, one connection), HTTP selectable. Clients are per thread: the HTTP client is
gevent-based and cannot be shared across threads. `sleep` and `clock` are injected so retry and readiness
logic is testable without waiting.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from inference.client import MODEL_NAME, STREAM_MODEL_NAME, make_inputs, waveform
from .. import deadline

log = logging.getLogger(__name__)


IDLE_STREAM_CLIENTS = 8


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
    def __init__(self, url: str, *, protocol: str = "grpc", model: str = MODEL_NAME,
                 stream_model: str = STREAM_MODEL_NAME, connect_timeout_s: float = 2.0,
                 request_timeout_s: float = 25.0, retries: int = 2, backoff_s: float = 0.2,
                 ready_cache_s: float = 1.0, sleep=time.sleep, clock=time.monotonic) -> None:
        self.url, self.protocol, self.model, self.stream_model = url, protocol, model, stream_model
        self.connect_timeout_s, self.request_timeout_s = connect_timeout_s, request_timeout_s
        self.retries, self.backoff_s = retries, backoff_s
        self.ready_cache_s = ready_cache_s
        self._sleep, self._clock = sleep, clock
        self._local = threading.local()
        self._idle: list = []  # stream clients between streams
        self._idle_lock = threading.Lock()
        self._ready_at = -1e9
        self._ready = False

    @classmethod
    def from_settings(cls, settings) -> "TritonEndpoint":
        return cls(settings.triton_url, protocol=settings.triton_protocol, model=settings.triton_model,
                   stream_model=settings.triton_stream_model,
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

    def _inputs(self, module, item: SynthesisInput) -> list:
        return make_inputs(module, item.text, reference_wav=item.reference_wav, reference_text=item.reference_text,
                           mode=item.mode, instruct_text=item.instruct_text, speed=item.speed, seed=item.seed,
                           voice_key=item.voice_key)

    def synthesize(self, item: SynthesisInput) -> np.ndarray:
        """24 kHz float32 samples, or one of the Inference* exceptions."""
        inputs = self._inputs(self._module, item)
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

    def stream(self, item: SynthesisInput, *, chunk_timeout_s: float | None = None) -> Iterator[np.ndarray]:
        """24 kHz float32 chunks as the streaming model (decoupled) makes them, over a gRPC stream in the
        official streaming client's protocol. Transient failures before the first chunk are retried like
        `synthesize`; after it, any failure ends the stream with one of the Inference* exceptions (the chunks
        already yielded cannot be taken back). Each chunk may take `chunk_timeout_s` (the request timeout).
        Over HTTP, which has no streams, the whole waveform comes as one chunk."""
        if self.protocol != "grpc":
            yield self.synthesize(item)
            return
        wait_s = chunk_timeout_s or self.request_timeout_s
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff_s * (2 ** (attempt - 1)))
            sent = 0
            try:
                for chunk in self._stream_once(item, wait_s):
                    sent += 1
                    yield chunk
                return
            except _StreamError as exc:
                last = exc.cause
                kind = classify(last)
                log.warning("stream attempt %d failed (%s) after %d chunks: %s", attempt + 1, kind, sent, last)
                if sent or kind != "transient":
                    raise _inference_error(kind, last) from last
                self._ready, self._ready_at = False, self._clock()
                with self._idle_lock:  # their connections may have died with the server
                    stale, self._idle = self._idle, []
                for client in stale:
                    self._release_stream_client(client, clean=False)  # (idle: nothing to cancel anyway)
        raise InferenceUnavailable(str(last)) from last

    def _stream_once(self, item: SynthesisInput, wait_s: float) -> Iterator[np.ndarray]:
        import tritonclient.grpc as grpcclient

        results: queue.Queue = queue.Queue()
        client = self._stream_client(grpcclient)
        clean = False
        try:
            client.start_stream(callback=lambda result, error: results.put((result, error)))
            try:
                client.async_stream_infer(self.stream_model, self._inputs(grpcclient, item),
                                          request_id=item.request_id, enable_empty_final_response=True)
            except Exception as exc:  # noqa: BLE001 - the stream broke; its cause went to the callback
                try:
                    cause = results.get(timeout=1.0)[1]
                except queue.Empty:
                    cause = None
                raise _StreamError(cause or exc) from exc
            while True:
                try:
                    result, error = results.get(timeout=max(0.05, wait_s))
                except queue.Empty:
                    raise _StreamError(TimeoutError(f"no chunk within {wait_s:.0f}s")) from None
                if error is not None:
                    raise _StreamError(error)
                self._ready, self._ready_at = True, self._clock()
                final = result.get_response().parameters.get("triton_final_response")
                if final is not None and final.bool_param:
                    clean = True
                    return
                yield waveform(result)
        except _StreamError:
            raise
        except Exception as exc:  # noqa: BLE001 - connection failures from start_stream
            raise _StreamError(exc) from exc
        finally:
            self._release_stream_client(client, clean)

    def _stream_client(self, module):
        """An idle client (its connection already open) or a new one: a gRPC client carries one stream at a
        time, and opening a channel costs milliseconds a stream's first chunk should not wait for."""
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        return module.InferenceServerClient(self.url)

    def _release_stream_client(self, client, clean: bool) -> None:
        """Back to the idle pool after a clean stream; otherwise closed, in the background and never by
        cancelling: Triton 2.51's gRPC server can crash (signal 11) on a cancelled request
        (triton-inference-server/server#8034, #7368), which took the whole server down in our tests. The
        abandoned request runs to its end on the server; closing waits for that, off the caller's thread."""
        if clean:
            try:
                client.stop_stream()
                with self._idle_lock:
                    if len(self._idle) < IDLE_STREAM_CLIENTS:
                        self._idle.append(client)
                        return
            except Exception:  # noqa: BLE001 - a broken client: closed below
                pass

        def close() -> None:
            try:
                client.close()  # stop_stream() without cancelling, then the channel
            except Exception:  # noqa: BLE001 - already broken
                pass

        threading.Thread(target=close, daemon=True, name="triton-stream-close").start()


class _StreamError(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _inference_error(kind: str, exc: BaseException) -> Exception:
    if kind == "invalid":
        return InferenceRejected(str(exc))
    if kind == "timeout":
        return InferenceTimeout(str(exc))
    if kind == "transient":
        return InferenceUnavailable(str(exc))
    return InferenceFailed(str(exc))
