"""STAND-IN for the official CosyVoice3 model object: NOT the real model, no weights, no speech.

The engine runs on the official code itself in `tests/official` (`make test-official`, its own 4 GB venv).
This small class stays for what that tier cannot show: load options that need a GPU (fp16, TensorRT, vLLM), a
model with another output rate (resampling), and exact call assertions inside `make test`.
It mirrors what the official `cosyvoice.cli.cosyvoice.CosyVoice3` does at its boundary (checked
against the official code): the method signatures, generators of {'tts_speech': tensor [1, T]} with one item
per text segment when stream=False, `prompt_wav` accepted only as a path to a >= 16 kHz file, the
`<|endofprompt|>` assertion, and `add_zero_shot_spk` storing features in `frontend.spk2info`.
"""

from __future__ import annotations

import re
import wave
from types import SimpleNamespace

import numpy as np


class StandInTensor:
    """Just enough of torch.Tensor for the engine: .cpu(), .numpy(), .shape."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = array

    @property
    def shape(self):
        return self._array.shape

    def cpu(self):
        return self

    def numpy(self):
        return self._array


class StandInCosyVoice3:
    SAMPLES_PER_CHAR = 2400  # 0.1 s per character at 24 kHz, so lengths are predictable

    def __init__(self, model_dir: str, load_trt=False, load_vllm=False, fp16=False, trt_concurrent=1,
                 sample_rate: int = 24000):
        self.model_dir = model_dir
        self.options = {"load_trt": load_trt, "load_vllm": load_vllm, "fp16": fp16}
        self.sample_rate = sample_rate
        self.frontend = SimpleNamespace(spk2info={})
        self.calls: list[tuple] = []
        self.feature_extractions = 0

    # official: prompt_wav is read with a file loader several times; a tensor or file object fails
    def _read_prompt(self, prompt_wav) -> np.ndarray:
        if not isinstance(prompt_wav, str):
            raise TypeError("prompt_wav must be a path")
        with wave.open(prompt_wav, "rb") as w:
            assert w.getframerate() >= 16000, "prompt wav sample rate must be >= 16 kHz"
            self.feature_extractions += 1
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")

    def add_zero_shot_spk(self, prompt_text, prompt_wav, zero_shot_spk_id):
        assert zero_shot_spk_id != ""
        self.frontend.spk2info[zero_shot_spk_id] = {"prompt_text": prompt_text,
                                                   "prompt_speech": self._read_prompt(prompt_wav)}
        return True

    def _generate(self, method, tts_text, prompt_text, prompt_wav, zero_shot_spk_id, speed, drops_prompt_text):
        if zero_shot_spk_id:
            info = self.frontend.spk2info[zero_shot_spk_id]  # KeyError like the official frontend
            prompt_text = "" if drops_prompt_text else info["prompt_text"]
        else:
            self._read_prompt(prompt_wav)
        if drops_prompt_text:
            prompt_text = ""
        assert "<|endofprompt|>" in prompt_text + tts_text, "<|endofprompt|> not detected in CosyVoice3 text"
        self.calls.append((method, tts_text, prompt_text, prompt_wav, zero_shot_spk_id, speed))
        spoken = tts_text.split("<|endofprompt|>")[-1]
        for segment in filter(None, re.split(r"(?<=[。！？.!?])", spoken)):
            n = int(len(segment) * self.SAMPLES_PER_CHAR / speed * self.sample_rate / 24000)
            yield {"tts_speech": StandInTensor(np.full((1, n), 0.1, dtype=np.float32))}

    def inference_zero_shot(self, tts_text, prompt_text, prompt_wav, zero_shot_spk_id="", stream=False, speed=1.0,
                            text_frontend=True):
        return self._generate("zero_shot", tts_text, prompt_text, prompt_wav, zero_shot_spk_id, speed, False)

    def inference_cross_lingual(self, tts_text, prompt_wav, zero_shot_spk_id="", stream=False, speed=1.0,
                                text_frontend=True):
        return self._generate("cross_lingual", tts_text, "", prompt_wav, zero_shot_spk_id, speed, True)

    def inference_instruct2(self, tts_text, instruct_text, prompt_wav, zero_shot_spk_id="", stream=False, speed=1.0,
                            text_frontend=True):
        return self._generate("instruct2", tts_text, instruct_text, prompt_wav, zero_shot_spk_id, speed, False)
