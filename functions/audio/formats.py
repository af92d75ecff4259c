"""The output formats, one row each: the name a request gives, the stored file's extension, the media type it is
served as, how the samples become it, where its AIGC label goes, and which endpoints offer it.

Everything that knows a format reads this table: request parsing (functions/tts/request.py), the OpenAI-compatible
endpoint, the encoder (functions/audio/encode.py), the cache key (functions/tts/cache_key.py) and the OpenAPI
description (its enums are written by functions/text/patterns.py). Adding a format is adding a row, and for a new
kind of writer, its code in encode.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.contract import OUTPUT_SAMPLE_RATE

from .label import LABEL_BESIDE, LABEL_ID3, LABEL_ID3_PREFIX, LABEL_VORBIS, LABEL_WAV_CHUNK, LABEL_WAYS, MUXER_LABELS

# How the samples (s16 mono) become the file: as they are (no container), RIFF/WAVE (whole files by FFmpeg's wav
# muxer, streams behind an open-ended header encode.py writes), or an FFmpeg muxer and encoder through PyAV.
RAW, WAV, AV = "raw", "wav", "av"


@dataclass(frozen=True)
class OutputFormat:
    name: str  # what a request says (`format`, `response_format`)
    extension: str  # of the stored object (tts/<shard>/<task id>.<extension>)
    media_type: str  # the Content-Type of the file and of its stream
    writer: str  # RAW, WAV or AV
    container: str | None  # the FFmpeg muxer (WAV, AV)
    codec: str | None  # the FFmpeg encoder (WAV, AV)
    label: str  # where the AIGC implicit label goes (functions/audio/label.py)
    file: bool  # offered by POST /v1/tts (and its stream's cache fill, and the WebSocket)
    speech: bool  # offered by POST /v1/audio/speech
    bitrate: int | None = None  # a fixed bit rate; None: the encoder's default
    caller_bitrate: bool = False  # the caller's bit rate instead (the MP3_BITRATE setting)
    options: tuple[tuple[str, str], ...] = ()  # the encoder's options

    def __post_init__(self) -> None:
        consistent = (self.writer in (RAW, WAV, AV), self.label in LABEL_WAYS,
                      (self.container is None) == (self.codec is None) == (self.writer == RAW),
                      self.label not in MUXER_LABELS or self.writer == AV,  # only a muxer writes its metadata
                      (self.label == LABEL_WAV_CHUNK) == (self.writer == WAV),
                      (self.label == LABEL_BESIDE) == (self.writer == RAW))
        if not all(consistent):
            raise ValueError(f"inconsistent output format {self!r}")


# pcm is little-endian s16 at 24 kHz mono: not audio/L16, which RFC 2586 defines as big-endian
_PCM = f"audio/pcm;rate={OUTPUT_SAMPLE_RATE};channels=1;encoding=s16le"
# LAME's algorithm quality 7 (of 0-9): half the encode time of the default at the same constant bitrate, and no
# audible difference for 24 kHz speech (measured: 82 -> 41 ms for 11 s of audio).
_LAME = (("compression_level", "7"),)

TABLE: tuple[OutputFormat, ...] = (
    OutputFormat("mp3", "mp3", "audio/mpeg", AV, "mp3", "libmp3lame", LABEL_ID3, file=True, speech=True,
                 caller_bitrate=True, options=_LAME),
    OutputFormat("wav", "wav", "audio/wav", WAV, "wav", "pcm_s16le", LABEL_WAV_CHUNK, file=True, speech=True),
    OutputFormat("pcm", "pcm", _PCM, RAW, None, None, LABEL_BESIDE, file=True, speech=True),
    OutputFormat("opus", "opus", "audio/ogg", AV, "ogg", "libopus", LABEL_VORBIS, file=False, speech=True,
                 bitrate=48000),
    OutputFormat("aac", "aac", "audio/aac", AV, "adts", "aac", LABEL_ID3_PREFIX, file=False, speech=True),
    OutputFormat("flac", "flac", "audio/flac", AV, "flac", "flac", LABEL_VORBIS, file=False, speech=True),
)
BY_NAME = {f.name: f for f in TABLE}
DEFAULT_FORMAT = "mp3"  # what a request without a format gets
NAMES = tuple(BY_NAME)  # every format (what a stored task may be)
FILE_FORMATS = tuple(f.name for f in TABLE if f.file)  # POST /v1/tts `format`
SPEECH_FORMATS = tuple(f.name for f in TABLE if f.speech)  # POST /v1/audio/speech `response_format`
EXTENSIONS = tuple(f.extension for f in TABLE)
MEDIA_TYPES = {f.name: f.media_type for f in TABLE}
if len(BY_NAME) != len(TABLE) or len(set(EXTENSIONS)) != len(TABLE) or \
        DEFAULT_FORMAT not in set(FILE_FORMATS) & set(SPEECH_FORMATS):
    raise ValueError("output formats: a name or an extension twice, or a default an endpoint does not offer")


def get(name: str) -> OutputFormat:
    """The row of a format (KeyError for a name that is none)."""
    return BY_NAME[name]
