"""Prompt decoding: every recorder format is accepted; every class of bad audio gets its own code, fast."""

from __future__ import annotations

import struct
import time

import numpy as np
import pytest

from functions.audio.decode import DecodeLimits, decode_prompt, sniff
from functions.errors import ApiError

from ...audio_samples import encode, recorder_files, speech_at


@pytest.mark.parametrize("name", list(recorder_files()))
def test_recorder_formats_decode_to_16k_mono(name):
    data, extra = recorder_files()[name]
    audio = decode_prompt(data, extra.get("prompt_format"), pcm_rate=int(extra.get("prompt_sample_rate", 0)) or None)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    reference = speech_at(16000).size / 16000
    assert abs(audio.duration_s - reference) < 0.15, (audio.duration_s, reference)
    assert np.abs(audio.samples).max() > 0.1


DEFAULT_LIMITS = DecodeLimits()


def code_of(data: bytes, fmt=None, limits=DEFAULT_LIMITS, **kw) -> tuple[str, int]:
    started = time.monotonic()
    with pytest.raises(ApiError) as err:
        decode_prompt(data, fmt, limits=limits, **kw)
    assert time.monotonic() - started < 1.0, "refusal must be quick"
    return err.value.code, err.value.status


def wav_header(data_size: int, rate: int = 16000) -> bytes:
    return (b"RIFF" + struct.pack("<I", (36 + data_size) & 0xFFFFFFFF) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", data_size))


def test_png_named_wav_is_unsupported_media():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000
    assert code_of(png, "wav") == ("unsupported_media", 415)


def test_wav_header_followed_by_a_script_is_refused():
    script = wav_header(4000) + b"#!/bin/sh\nrm -rf / --no-preserve-root\n" * 100
    assert code_of(script, "wav") == ("audio_corrupt", 400)  # the header's data size is not what follows


def test_wav_claiming_4gb_is_refused_cheaply():
    lying = wav_header(0xFFFFFF00) + (np.random.default_rng(1).standard_normal(16000) * 3000).astype("<i2").tobytes()
    assert code_of(lying, "wav") == ("audio_corrupt", 400)


def test_truncated_wav_is_refused():
    wav = recorder_files()["wav_16k_mono"][0]
    assert code_of(wav[: len(wav) // 2]) == ("audio_corrupt", 400)


def test_truncated_mp3_is_refused():
    mp3 = recorder_files()["mp3_16k"][0]
    assert code_of(mp3[: len(mp3) // 12]) == ("audio_too_short", 400)  # what is left decodes, but is too short


def test_garbage_after_mp3_magic_is_refused():
    assert code_of(b"ID3" + bytes(range(256)) * 40) == ("audio_corrupt", 400)


def test_too_large_is_refused_before_decoding():
    assert code_of(b"RIFF" + b"\0" * 2000, limits=DecodeLimits(max_bytes=1000)) == ("audio_too_large", 413)


def test_low_sample_rate_is_refused():
    data = encode(speech_at(8000), 8000, "wav", "pcm_s16le")
    assert code_of(data) == ("sample_rate_too_low", 400)


def test_silence_is_refused():
    data = encode(np.zeros(32000, np.float32), 16000, "wav", "pcm_s16le")
    assert code_of(data) == ("audio_silent", 400)


def test_too_short_and_too_long():
    short = encode(speech_at(16000)[:8000], 16000, "wav", "pcm_s16le")
    assert code_of(short) == ("audio_too_short", 400)
    long = encode(np.tile(speech_at(16000), 12), 16000, "wav", "pcm_s16le")
    assert code_of(long) == ("audio_too_long", 400)


def test_raw_pcm_needs_a_declared_rate_and_valid_length():
    pcm = (speech_at(16000) * 20000).astype("<i2").tobytes()
    assert code_of(pcm, "pcm") == ("pcm_rate_required", 400)
    assert code_of(pcm + b"\0", "pcm", pcm_rate=16000) == ("audio_corrupt", 400)
    assert code_of(pcm, "pcm", pcm_rate=8000) == ("sample_rate_too_low", 400)


def test_undeclared_raw_pcm_is_unknown_media():
    pcm = (speech_at(16000) * 20000).astype("<i2").tobytes()
    assert code_of(pcm)[1] == 415


def test_unknown_declared_format_and_empty():
    assert code_of(b"abc", "silk") == ("unsupported_format", 415)
    assert code_of(b"") == ("audio_empty", 400)


def test_sniff_ignores_names():
    files = recorder_files()
    assert sniff(files["aac_adts_44k"][0]) == "aac"
    assert sniff(files["m4a_48k_stereo"][0]) == "m4a"
    assert sniff(files["mp3_16k"][0]) == "mp3"
    assert sniff(files["wav_16k_mono"][0]) == "wav"
    assert sniff(b"<html>") is None
