"""schemathesis hooks for fuzzing this API (loaded by tests/fuzz/schemathesis.toml).

A schema can say what a request looks like, not what makes bytes a recording of a human voice: schema-valid
random bytes are rightly refused (`audio_corrupt`, `no_speech`). So in every case that claims to be valid
(positive mode), the recording fields carry a real recording, declared as what it is (a WAV file: generated
`pcm` declarations are dropped with it); everything else stays generated. Negative cases are left alone.

The multipart forms state two rules in words that the JSON form states as schema conditionals (a fuzzer cannot
evaluate conditionals over a binary part): mode instruct needs instruct, mode zero_shot needs prompt_text. A
valid multipart case that breaks one of them is made to keep it, as the JSON form's generator would.
"""

from __future__ import annotations

import base64
from pathlib import Path

import schemathesis

RECORDING = (Path(__file__).resolve().parents[2] / "examples" / "prompt_zh.wav").read_bytes()
DECLARATIONS = {"/v1/voices": ("format", "sample_rate", "channels"),
                "/v1/tts": ("prompt_format", "prompt_sample_rate", "prompt_channels"),
                "/v1/tts/stream": ("prompt_format", "prompt_sample_rate", "prompt_channels")}
NEEDS = {"instruct": "instruct", "zero_shot": "prompt_text"}


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    body = case.body
    if meta is None or not meta.generation.mode.is_positive or not isinstance(body, dict):
        return case
    recorded = False
    for field in ("prompt_audio_base64", "audio_base64"):
        if field in body:
            body[field], recorded = base64.b64encode(RECORDING).decode(), True
    if "audio" in body:
        body["audio"], recorded = RECORDING, True
        needed = NEEDS.get(body.get("mode"))
        if needed and not str(body.get(needed) or "").strip():
            body.pop("mode")
    if recorded:
        for field in DECLARATIONS.get(case.operation.path, ()):
            body.pop(field, None)
    return case
