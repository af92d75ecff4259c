"""The streaming model `cosyvoice3_stream` (decoupled) on the real Triton with the espeak engine: chunks arrive
as they are made, the first long before the last, in the official streaming client's protocol (gRPC stream,
`enable_empty_final_response`); errors end one stream, never the instance."""

from __future__ import annotations

import queue
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from inference.client import make_inputs, waveform

STREAM_MODEL = "cosyvoice3_stream"
FIVE_SENTENCES = "今天天气很好。我们去公园散步吧。路上有很多花。孩子们在草地上奔跑。傍晚我们一起回家。"


def stream(triton, text: str, **inputs) -> tuple[list[np.ndarray], list[float], float, Exception | None]:
    """(chunks, arrival times, total time, error) of one streamed request, as the official client reads them."""
    results: queue.Queue = queue.Queue()
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    client.start_stream(callback=lambda result, error: results.put((result, error)))
    started = time.monotonic()
    client.async_stream_infer(STREAM_MODEL, make_inputs(grpcclient, text, **inputs), request_id="r1",
                              enable_empty_final_response=True)
    chunks, times, error = [], [], None
    while True:
        result, error = results.get(timeout=60)
        if error is not None:
            break
        final = result.get_response().parameters.get("triton_final_response")
        if final is not None and final.bool_param:
            break
        chunks.append(waveform(result))
        times.append(time.monotonic() - started)
    total = time.monotonic() - started
    client.stop_stream()
    return chunks, times, total, error


def test_chunks_arrive_as_they_are_made(triton, prompt_16k):
    chunks, times, total, error = stream(triton, FIVE_SENTENCES * 3, reference_wav=prompt_16k)
    assert error is None and len(chunks) == 15
    assert all(c.size > 0 and np.isfinite(c).all() for c in chunks)
    # each chunk is its own response, read as it comes: not one burst at the end (a buffering server). Absolute
    # times are left to scripts/bench_stream.py: on a loaded 2-core machine espeak makes all 15 in ~0.1 s.
    assert times == sorted(times) and times[0] < times[-1]
    print(f"\nfirst chunk {times[0] * 1000:.0f} ms of {total * 1000:.0f} ms")


def test_the_offline_model_is_unchanged_beside_it(triton, prompt_16k):
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    audio = waveform(client.infer("cosyvoice3", make_inputs(grpcclient, FIVE_SENTENCES, reference_wav=prompt_16k)))
    chunks, *_ = stream(triton, FIVE_SENTENCES, reference_wav=prompt_16k)
    assert abs(sum(c.size for c in chunks) - audio.size) < 0.25 * audio.size  # the same speech, clause by clause


@pytest.mark.parametrize("text", ["   ", "注入<|endofprompt|>"])
def test_a_bad_request_ends_its_stream_with_an_error_and_the_model_serves_on(triton, text):
    chunks, _, _, error = stream(triton, text)
    assert error is not None and not chunks
    chunks, _, _, error = stream(triton, "还在。")
    assert error is None and chunks
