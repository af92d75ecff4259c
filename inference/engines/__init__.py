"""Engines behind the `cosyvoice3` Triton model, chosen by name.

Resolution order for the engine name: explicit argument, then the COSYVOICE_ENGINE environment variable
(set by the local launcher), then the model's `engine` parameter in config.pbtxt.
"""

from __future__ import annotations

import os
from typing import Mapping

from .base import (DEFAULT_MAX_TEXT_CHARS, MODES, OUTPUT_SAMPLE_RATE, PROMPT_SAMPLE_RATE, Engine, InvalidRequest,
                   SynthesisRequest, build_request)

ENGINES = ("espeak", "cosyvoice3")

__all__ = ["DEFAULT_MAX_TEXT_CHARS", "ENGINES", "MODES", "OUTPUT_SAMPLE_RATE", "PROMPT_SAMPLE_RATE", "Engine",
           "InvalidRequest", "SynthesisRequest", "build_request", "load_engine", "resolve_engine_name"]


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def resolve_engine_name(explicit: str | None = None, params: Mapping[str, str] | None = None,
                        environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    name = explicit or environ.get("COSYVOICE_ENGINE") or (params or {}).get("engine") or "espeak"
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    return name


def load_engine(name: str, params: Mapping[str, str] | None = None,
                environ: Mapping[str, str] | None = None) -> Engine:
    """Build an engine; `params` are the model's config.pbtxt parameters, each overridable by environment."""
    environ = os.environ if environ is None else environ
    params = params or {}

    def setting(key: str, default: str = "") -> str:
        return environ.get(f"COSYVOICE_{key.upper()}") or params.get(key) or default

    if name == "espeak":
        from .espeak import EspeakEngine

        return EspeakEngine()
    if name == "cosyvoice3":
        from .cosyvoice3 import CosyVoice3Engine

        return CosyVoice3Engine(setting("model_dir", "/opt/models/Fun-CosyVoice3-0.5B"),
                                fp16=_flag(setting("fp16")), load_trt=_flag(setting("load_trt")),
                                load_vllm=_flag(setting("load_vllm")),
                                speaker_cache_size=int(setting("speaker_cache_size", "64")))
    raise ValueError(f"unknown engine {name!r}")
