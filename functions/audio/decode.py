"""Prompt audio: whatever the mini program recorder writes, to 16 kHz mono float32, with bounds.

Never trust a header or a file name: the container is identified from its first bytes, only the demuxer for
that container and a whitelist of audio codecs are allowed (ffmpeg's probing and playlist demuxers are never
reached), the declared duration is checked before decoding, and decoding stops as soon as the sample count,
the CPU time or the error budget is exceeded. Raw PCM (s16le) is taken only when the caller declares it,
with its rate and channel count.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import av
import numpy as np

from ..errors import ApiError

TARGET_RATE = 16000
MAX_CHANNELS = 8

# container -> (ffmpeg demuxer, allowed codecs)
CONTAINERS = {
    "wav": ("wav", {"pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_f64le", "pcm_u8", "pcm_alaw",
                    "pcm_mulaw"}),
    "mp3": ("mp3", {"mp3", "mp3float"}),
    "aac": ("aac", {"aac"}),
    "m4a": ("mp4", {"aac", "alac"}),
    "ogg": ("ogg", {"opus", "vorbis"}),
    "webm": ("matroska", {"opus", "vorbis"}),
}
FORMAT_ALIASES = {"wav": "wav", "wave": "wav", "mp3": "mp3", "mpeg": "mp3", "aac": "aac", "adts": "aac",
                  "m4a": "m4a", "mp4": "m4a", "ogg": "ogg", "opus": "ogg", "webm": "webm", "pcm": "pcm",
                  "s16le": "pcm"}

av.logging.set_level(av.logging.PANIC)  # decode errors are reported to the caller, not spilled to stderr


@dataclass(frozen=True)
class DecodeLimits:
    max_bytes: int = 8 * 1024 * 1024
    min_seconds: float = 1.0
    max_seconds: float = 30.0
    min_rate: int = 16000
    timeout_s: float = 3.0

    @classmethod
    def from_settings(cls, settings) -> "DecodeLimits":
        return cls(max_bytes=settings.max_prompt_bytes, min_seconds=settings.min_prompt_s,
                   max_seconds=settings.max_prompt_s, min_rate=settings.min_prompt_rate,
                   timeout_s=settings.decode_timeout_s)


@dataclass(frozen=True)
class PromptAudio:
    samples: np.ndarray  # float32, 16 kHz mono
    source_format: str
    source_rate: int
    source_channels: int

    @property
    def duration_s(self) -> float:
        return self.samples.size / TARGET_RATE


def _err(code: str, case: str | None = None, **params) -> ApiError:
    return ApiError(code, case=case, **params)


def sniff(data: bytes) -> str | None:
    """The container named by the first bytes, or None."""
    head = data[:12]
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        layer = (head[1] >> 1) & 0x03
        return "aac" if layer == 0 else ("mp3" if layer == 1 else None)
    return None


def normalize_format(declared: str | None) -> str | None:
    if declared is None:
        return None
    value = declared.strip().lower().rsplit("/", 1)[-1].lstrip(".")
    if value.startswith("x-"):
        value = value[2:]
    if value not in FORMAT_ALIASES:
        raise _err("unsupported_format", formats=", ".join(sorted(set(FORMAT_ALIASES.values()))))
    return FORMAT_ALIASES[value]


def decode_prompt(data: bytes, declared_format: str | None = None, *, pcm_rate: int | None = None,
                  pcm_channels: int = 1, limits: DecodeLimits = DecodeLimits()) -> PromptAudio:
    if len(data) > limits.max_bytes:  # before any parsing
        raise _err("audio_too_large", max_mb=limits.max_bytes // (1024 * 1024))
    if not data:
        raise _err("audio_empty")
    declared = normalize_format(declared_format)
    if declared == "pcm":
        audio = _decode_pcm(data, pcm_rate, pcm_channels, limits)
    else:
        container = sniff(data)
        if container is None:
            raise _err("unsupported_media", "unrecognized")
        audio = _decode_container(data, container, limits)
    _check_content(audio, limits)
    return audio


def _decode_pcm(data: bytes, rate: int | None, channels: int, limits: DecodeLimits) -> PromptAudio:
    if not rate:
        raise _err("pcm_rate_required")
    if channels not in (1, 2):
        raise _err("invalid_channels", "pcm")
    _check_rate(int(rate), limits)
    if len(data) % (2 * channels):
        raise _err("audio_corrupt", "pcm_length")
    if len(data) / (2 * channels * rate) > limits.max_seconds + 0.5:
        raise _err("audio_too_long", max_seconds=limits.max_seconds)
    pcm = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    mono = pcm.reshape(-1, channels).mean(axis=1)
    if rate != TARGET_RATE:
        import soxr

        mono = soxr.resample(mono, rate, TARGET_RATE)
    return PromptAudio(np.clip(mono, -1, 1).astype(np.float32), "pcm", int(rate), channels)


def _check_rate(rate: int, limits: DecodeLimits) -> None:
    if rate < limits.min_rate:
        raise _err("sample_rate_too_low", rate=rate, min_rate=limits.min_rate)


_STREAMING_SIZES = (0, 0xFFFFFFFF)  # "unknown length" placeholders written by streaming recorders


def _check_wav_chunks(data: bytes) -> None:
    """A WAV whose data chunk claims more bytes than the file holds is truncated or forged: refuse it."""
    offset = 12
    for _ in range(64):
        if offset + 8 > len(data):
            return
        chunk, size = data[offset:offset + 4], int.from_bytes(data[offset + 4:offset + 8], "little")
        if chunk == b"data":
            available = len(data) - offset - 8
            if size not in _STREAMING_SIZES and size > available + 1:
                raise _err("audio_corrupt", "wav_length")
            return
        offset += 8 + size + (size & 1)


def _decode_container(data: bytes, container_name: str, limits: DecodeLimits) -> PromptAudio:
    demuxer, codecs = CONTAINERS[container_name]
    if container_name == "wav" and data[:4] == b"RIFF":
        _check_wav_chunks(data)
    # The decoding thread's own CPU time, not the wall clock: under load a valid recording must not run out of
    # time because other requests had the CPU (the same bytes always get the same answer).
    started = time.thread_time()
    max_samples = int((limits.max_seconds + 0.5) * TARGET_RATE)
    try:
        container = av.open(io.BytesIO(data), mode="r", format=demuxer,
                            options={"probesize": "1000000", "analyzeduration": "2000000"})
    except (av.FFmpegError, ValueError, OSError):
        raise _err("audio_corrupt") from None
    try:
        streams = container.streams.audio
        if not streams:
            raise _err("unsupported_media", "no_audio")
        stream = streams[0]
        ctx = stream.codec_context
        if ctx is None:  # found by fuzzing: a stream whose codec FFmpeg cannot identify
            raise _err("unsupported_codec", "unknown", container=container_name)
        if ctx.name not in codecs:
            raise _err("unsupported_codec", container=container_name, codec=ctx.name)
        rate = int(ctx.sample_rate or 0)
        channels = int(ctx.channels or 0)
        if rate <= 0 or channels <= 0 or channels > MAX_CHANNELS:
            raise _err("audio_corrupt", "parameters")
        _check_rate(rate, limits)
        if container.duration is not None and container.duration / 1e6 > limits.max_seconds * 1.5 + 1:
            raise _err("audio_too_long", max_seconds=limits.max_seconds)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=TARGET_RATE)
        chunks: list[np.ndarray] = []
        total = 0
        errors = 0
        for packet in container.demux(stream):
            if time.thread_time() - started > limits.timeout_s:
                raise _err("audio_decode_timeout")
            try:
                frames = packet.decode()
            except av.FFmpegError:
                errors += 1
                if errors > 3:
                    raise _err("audio_corrupt", "truncated") from None
                continue
            for frame in frames:
                if frame.sample_rate != rate:
                    raise _err("audio_corrupt", "rate_changed")
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1)
                    total += arr.size
                    if total > max_samples:
                        raise _err("audio_too_long", max_seconds=limits.max_seconds)
                    chunks.append(arr)
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    except (av.FFmpegError, ValueError, MemoryError, AttributeError, TypeError, IndexError, OverflowError):
        # FFmpeg and PyAV on a hostile file fail in many ways: each is a corrupt file, never a crash
        raise _err("audio_corrupt") from None
    finally:
        container.close()
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if samples.size > max_samples:
        raise _err("audio_too_long", max_seconds=limits.max_seconds)
    return PromptAudio(np.clip(samples, -1, 1), container_name, rate, channels)


def _check_content(audio: PromptAudio, limits: DecodeLimits) -> None:
    if audio.duration_s < limits.min_seconds:
        raise _err("audio_too_short", seconds=audio.duration_s, min_seconds=limits.min_seconds)
    if audio.duration_s > limits.max_seconds + 0.5:
        raise _err("audio_too_long", max_seconds=limits.max_seconds)
    samples = audio.samples
    if not np.isfinite(samples).all():
        raise _err("audio_corrupt", "samples")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms < 0.003 or float(np.abs(samples).max()) < 0.01:  # about -50 dBFS
        raise _err("audio_silent")
