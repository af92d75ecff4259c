"""What the relay (functions/) and the inference side agree on: the model's name, its audio rates and modes, and
the bounds of a request's values.

Both halves import this one module (it is packaged with the functions, which import nothing else of the GPU
side but `client.py`), so a constant can never differ between the request the relay builds and the model
that answers it.
"""

from __future__ import annotations

from pathlib import Path

MODEL_NAME = "cosyvoice3"  # the Triton model (inference/model_repository/cosyvoice3)
STREAM_MODEL_NAME = "cosyvoice3_stream"  # its decoupled, streaming form (one response per audio chunk)
OUTPUT_NAME = "waveform"
OUTPUT_SAMPLE_RATE = 24000  # what CosyVoice3 generates
PROMPT_SAMPLE_RATE = 16000  # what its frontend takes the reference recording at
MODES = ("zero_shot", "cross_lingual", "instruct")
# Request bounds. Both halves refuse a value outside them: the relay with its own codes (invalid_speed,
# invalid_seed), the model with INVALID_ARG (inference/engines/base.py).
MIN_SPEED, MAX_SPEED = 0.5, 2.0
MIN_SEED, MAX_SEED = 0, 2**31 - 1  # the model takes any seed from MIN_SEED up (an INT64); the relay stops at MAX_SEED
# The model's own limits; the relay's settings (MAX_TEXT_CHARS per segment, MAX_INSTRUCT_CHARS, MAX_PROMPT_S)
# stay within them.
DEFAULT_MAX_TEXT_CHARS = 4000  # target and reference text (the model's `max_text_chars` parameter may differ)
MAX_INSTRUCT_CHARS = 200
MAX_PROMPT_SECONDS = 30.0  # the reference recording
MAX_VOICE_KEY_CHARS = 128
# The built-in voice: the relay's `voice_id: "default"`, and the model's voice for a request that brings none
# (a client of the official model may send `target_text` alone).
DEFAULT_VOICE_WAV = Path(__file__).resolve().parent / "assets" / "default_voice.wav"  # 16 kHz mono s16
DEFAULT_VOICE_TRANSCRIPT = "希望你以后能够做的比我还好呦。"


def default_mode(instruct_text: str | None, reference_text: str | None) -> str:
    """The mode a request without one gets: a style asks for instruct, a transcript for zero-shot cloning,
    neither for cross-lingual (the voice without its words)."""
    return "instruct" if instruct_text else ("zero_shot" if reference_text else "cross_lingual")
