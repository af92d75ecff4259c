"""The production engine: the official CosyVoice3 package (`cosyvoice.cli.cosyvoice.AutoModel`).

Facts it respects (checked against the official code):
- every inference method is a generator of {'tts_speech': float32 tensor [1, T]}, one item per text segment
  when stream=False; the segments are concatenated here. `speed` only works when not streaming, and this
  engine never streams.
- `prompt_wav` must be a file path, so reference audio is written to a temporary 16 kHz wav for the call.
- CosyVoice3 needs `<|endofprompt|>` in prompt text + tts text: zero-shot in `prompt_text`, instruct2 in
  `instruct_text`. Without it the LLM thread dies and the caller hangs (stream) or sees an unrelated error, so
  the markers are applied and checked before every call.
- the official frontend skips normalization and sentence splitting for any text containing `<|` and `|>`, so
  the marker must never go into the tts text (as the official cross-lingual examples put it): numbers would
  reach the model as digits and a long text would be one segment. Cross-lingual is therefore
  `inference_instruct2(text, "You are a helpful assistant.<|endofprompt|>", prompt_wav)`, which gives the LLM
  the same tokens (no prompt text, no prompt speech tokens) with the text normalized and split.
- `add_zero_shot_spk(prompt_text, prompt_wav, spk_id)` keeps a speaker's prompt features; later calls pass
  `prompt_wav=''` and `zero_shot_spk_id`. Those features include the prompt text, so the cache is keyed by
  voice key, mode and prompt text together, bounded (LRU), and evicted entries leave `frontend.spk2info`.
- the model runs its LLM in a background thread per call and fails under concurrent calls on one object:
  calls are serialized by a lock (Triton scales with more model instances, each with its own model).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import wave
from collections import OrderedDict
from typing import Any, Callable, Iterator

import numpy as np

from .base import PROMPT_SAMPLE_RATE, InvalidRequest, SynthesisRequest, to_output

log = logging.getLogger(__name__)

SYSTEM_PROMPT = "You are a helpful assistant."
END_OF_PROMPT = "<|endofprompt|>"


def zero_shot_prompt(transcript: str) -> str:
    return f"{SYSTEM_PROMPT}{END_OF_PROMPT}{transcript}"


def instruct_prompt(instruct: str) -> str:
    return f"{SYSTEM_PROMPT} {instruct}{END_OF_PROMPT}"


def cross_lingual_prompt() -> str:
    """instruct2's prompt without an instruction: the voice only, as cross-lingual."""
    return f"{SYSTEM_PROMPT}{END_OF_PROMPT}"


def official_model_factory(model_dir: str, **options: Any):
    from cosyvoice.cli.cosyvoice import AutoModel  # the official package; only in the GPU image

    return AutoModel(model_dir=model_dir, **options)


def official_seed(seed: int) -> None:
    from cosyvoice.utils.common import set_all_random_seed

    set_all_random_seed(seed)


def write_prompt_wav(samples: np.ndarray, path: str) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(PROMPT_SAMPLE_RATE)
        w.writeframes(pcm.tobytes())


def to_numpy(chunk: Any) -> np.ndarray:
    """A yielded `tts_speech` tensor [1, T] (torch on the GPU) as float32 [T]."""
    if hasattr(chunk, "detach"):
        chunk = chunk.detach()
    if hasattr(chunk, "cpu"):
        chunk = chunk.cpu()
    if hasattr(chunk, "numpy"):
        chunk = chunk.numpy()
    return np.asarray(chunk, dtype=np.float32).reshape(-1)


class CosyVoice3Engine:
    name = "cosyvoice3"
    clones_voice = True

    def __init__(self, model_dir: str, *, fp16: bool = False, load_trt: bool = False, load_vllm: bool = False,
                 speaker_cache_size: int = 64, model_factory: Callable[..., Any] = official_model_factory,
                 seed_everything: Callable[[int], None] = official_seed) -> None:
        if speaker_cache_size < 1:
            raise ValueError("speaker_cache_size must be at least 1")
        options = {"fp16": fp16, "load_trt": load_trt, "load_vllm": load_vllm}
        log.info("loading CosyVoice3 from %s with %s", model_dir, options)
        self.model = model_factory(model_dir, **options)
        self.sample_rate = int(self.model.sample_rate)
        self.speaker_cache_size = speaker_cache_size
        self._speakers: OrderedDict[str, None] = OrderedDict()
        self._key_audio: OrderedDict[str, str] = OrderedDict()
        self._seed = seed_everything
        self._lock = threading.Lock()
        self.stats = {"speaker_hits": 0, "speaker_misses": 0, "speaker_evictions": 0}

    # -- speaker-feature cache --------------------------------------------------------------------------
    @staticmethod
    def speaker_id(voice_key: str, audio_digest: str, mode: str, prompt_text: str) -> str:
        """The cache entry of one speaker: bound to the audio its features came from, not only to the key a
        caller names, so a wrong or colliding key can never select another speaker's features."""
        digest = hashlib.sha256(f"{audio_digest}\0{mode}\0{prompt_text}".encode()).hexdigest()
        return f"{voice_key}:{digest}"

    def _audio_digest(self, voice_key: str, reference_wav: np.ndarray | None) -> str:
        """sha256 of the audio sent with the key (remembered for later keyed requests without audio)."""
        if reference_wav is None:
            digest = self._key_audio.get(voice_key)
            if digest is None:
                raise InvalidRequest("voice_key is not cached on this instance; send reference_wav with it")
            return digest
        digest = hashlib.sha256(np.ascontiguousarray(reference_wav, dtype="<f4").tobytes()).hexdigest()
        self._key_audio[voice_key] = digest
        self._key_audio.move_to_end(voice_key)
        while len(self._key_audio) > 4 * self.speaker_cache_size:
            self._key_audio.popitem(last=False)
        return digest

    def _cached_speaker(self, spk_id: str) -> bool:
        if spk_id in self._speakers:
            self._speakers.move_to_end(spk_id)
            self.stats["speaker_hits"] += 1
            return True
        return False

    def _remember_speaker(self, spk_id: str, prompt_text: str, wav_path: str) -> None:
        if not self.model.add_zero_shot_spk(prompt_text, wav_path, spk_id):
            raise RuntimeError("add_zero_shot_spk failed")
        self.stats["speaker_misses"] += 1
        self._speakers[spk_id] = None
        while len(self._speakers) > self.speaker_cache_size:
            old, _ = self._speakers.popitem(last=False)
            self.model.frontend.spk2info.pop(old, None)
            self.stats["speaker_evictions"] += 1

    # -- synthesis ----------------------------------------------------------------------------------------
    def _plan(self, request: SynthesisRequest) -> tuple[str, str, Callable[..., Any]]:
        """(tts_text, prompt_text, method) with the CosyVoice3 markers applied for the request's mode."""
        m = self.model
        if request.mode == "zero_shot":
            return request.text, zero_shot_prompt(request.reference_text), m.inference_zero_shot
        if request.mode == "instruct":
            return request.text, instruct_prompt(request.instruct_text), m.inference_instruct2
        # Cross-lingual: instruct2 with nothing to instruct (the tts text stays free of markers, so the
        # frontend normalizes and splits it as in the other modes).
        return request.text, cross_lingual_prompt(), m.inference_instruct2

    def synthesize(self, request: SynthesisRequest) -> np.ndarray:
        chunks = list(self._generate(request, stream=False))
        return to_output(np.concatenate(chunks) if chunks else np.zeros(0, np.float32), self.sample_rate)

    def stream(self, request: SynthesisRequest) -> Iterator[np.ndarray]:
        """The official streaming (`stream=True`: chunks of about a second, the first well before the end). Speed
        only works without streaming (the official code ignores it when streaming), so a request with a speed
        streams segment by segment instead."""
        for chunk in self._generate(request, stream=request.speed == 1.0):
            yield to_output(chunk, self.sample_rate)

    def _generate(self, request: SynthesisRequest, *, stream: bool) -> Iterator[np.ndarray]:
        """The model's chunks as float32 arrays at the model's rate (one per segment when not streaming)."""
        tts_text, prompt_text, method = self._plan(request)
        if END_OF_PROMPT not in prompt_text or "<|" in tts_text:  # would hang the model / skip normalization
            raise RuntimeError("internal: CosyVoice3 prompt marker misplaced")
        with self._lock, tempfile.TemporaryDirectory(prefix="cv3-") as tmp:
            wav_path = ""
            if request.reference_wav is not None:
                wav_path = os.path.join(tmp, "prompt.wav")
                write_prompt_wav(request.reference_wav, wav_path)
            spk_id = ""
            if request.voice_key:
                audio = self._audio_digest(request.voice_key, request.reference_wav)
                spk_id = self.speaker_id(request.voice_key, audio, request.mode, prompt_text)
                if not self._cached_speaker(spk_id):
                    if not wav_path:
                        raise InvalidRequest("voice_key is not cached on this instance; send reference_wav with it")
                    self._remember_speaker(spk_id, prompt_text, wav_path)
            elif not wav_path:
                raise InvalidRequest("reference_wav or voice_key is required for the cosyvoice3 engine")
            if request.seed is not None:
                self._seed(request.seed)
            prompt_wav = "" if spk_id else wav_path
            args = (tts_text, "" if spk_id and request.mode == "zero_shot" else prompt_text, prompt_wav)
            for item in method(*args, zero_shot_spk_id=spk_id, stream=stream, speed=request.speed):
                yield to_numpy(item["tts_speech"])
