"""A CPU speech engine for development and tests: espeak-ng from the `espeakng-loader` wheel, through ctypes.

It speaks the text (Mandarin, Cantonese when the instruction asks for 粤语/广东话, English) and honours speed,
but it does NOT clone voices: the reference audio is validated and then ignored. Output is resampled from
espeak's native rate to 24 kHz so callers see the same format as the CosyVoice3 engine.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from dataclasses import replace
from typing import Iterator

import numpy as np

from .base import SynthesisRequest, to_output

log = logging.getLogger(__name__)

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ESPEAK_RATE = 1
_DEFAULT_WPM = 175
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CANTONESE_HINTS = ("粤语", "粵語", "广东话", "廣東話", "cantonese")
_CLAUSE_END = re.compile(r"(?<=[，。！？；：,.!?;:])\s*")


def clauses(text: str) -> list[str]:
    """The text cut after each clause mark (the marks stay with their clause); never an empty clause."""
    return [c for c in (part.strip() for part in _CLAUSE_END.split(text)) if any(ch.isalnum() for ch in c)] or [text]

# libespeak-ng keeps global state: one initialisation and one synthesis at a time per process.
_lock = threading.Lock()
_lib = None
_native_rate = 0


def _load():
    global _lib, _native_rate
    if _lib is None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                     espeakng_loader.get_data_path().encode(), 0)
        if rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise")
        _native_rate, _lib = rate, lib
    return _lib


def pick_voice(text: str, instruct_text: str = "") -> str:
    """espeak-ng voice for this text: Cantonese on request, Mandarin for Chinese script, else English."""
    wanted = instruct_text.lower()
    if any(h in wanted for h in _CANTONESE_HINTS):
        return "yue"
    return "cmn" if _CJK.search(text) else "en"


class EspeakEngine:
    name = "espeak"
    clones_voice = False

    def __init__(self) -> None:
        with _lock:
            _load()
        log.warning("espeak engine loaded: development voice only, it does NOT clone the reference voice")

    def stream(self, request: SynthesisRequest) -> Iterator[np.ndarray]:
        """Clause by clause (espeak-ng has no streaming of its own): the first clause plays while the rest is
        still being synthesized, as the model's streams do."""
        for clause in clauses(request.text):
            yield self.synthesize(replace(request, text=clause))

    def synthesize(self, request: SynthesisRequest) -> np.ndarray:
        chunks: list[np.ndarray] = []

        @_CALLBACK
        def on_audio(samples, count, _events):
            if count > 0:
                # a copy of the bytes, not np.ctypeslib.as_array(samples, shape=(count,)): that makes a ctypes
                # array type per distinct length, which ctypes caches for good (the stubs grew ~1 MB/min)
                chunks.append(np.frombuffer(ctypes.string_at(samples, count * 2), dtype=np.int16))
            return 0

        data = request.text.encode("utf-8") + b"\0"
        rate = max(80, min(450, round(_DEFAULT_WPM * request.speed)))
        with _lock:
            lib = _load()
            lib.espeak_SetSynthCallback(on_audio)
            if lib.espeak_SetVoiceByName(pick_voice(request.text, request.instruct_text).encode()) != 0:
                raise RuntimeError("espeak-ng voice not available")
            lib.espeak_SetParameter(_ESPEAK_RATE, rate, 0)
            err = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
        if err != 0:
            raise RuntimeError(f"espeak-ng synthesis failed with code {err}")
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        return to_output(pcm.astype(np.float32) / 32768.0, _native_rate)
