"""The output formats' table (functions/audio/formats.py) is what every part serves: each row encodes to a file
that probes as its container and codec, carries the AIGC label the way the row says, is served as the row's media
type and stored under its extension; each endpoint takes exactly the formats the table offers it; the OpenAPI
description states the table's formats and the inference contract's bounds, which both halves enforce. A wrong
row fails here (the last tests plant some)."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import av
import mutagen
import mutagen.id3
import mutagen.wave
import numpy as np
import pytest
import yaml

from functions.audio import encode as encoding
from functions.audio import formats
from functions.audio.label import (LABEL_BESIDE, LABEL_ID3, LABEL_ID3_PREFIX, LABEL_VORBIS, LABEL_WAV_CHUNK,
                                   AigcLabel)
from functions.audio.pcm import pcm16
from functions.errors import ApiError
from functions.settings import Settings
from functions.tts.cache_key import is_media_key, object_key
from functions.tts.request import RequestLimits, build_request
from inference import contract
from inference.engines import InvalidRequest
from inference.engines import build_request as model_request
from tests.support import client_for

TONE = (0.2 * np.sin(np.arange(24000) / 7)).astype(np.float32)  # one second at 24 kHz
LABEL = AigcLabel("某某科技有限公司", "f" * 64, "某某小程序", "f" * 64)
TASK = "ab" * 32
# What a file that probes as each of FFmpeg's demuxers is served as: written here, independently of the table
MEDIA_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
               "s16le": "audio/pcm"}
DEMUXERS = {"adts": "aac"}  # FFmpeg reads what its adts muxer writes with its aac demuxer
SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[2] / "functions" / "openapi.yaml").read_text("utf-8"))
ROWS = [pytest.param(row, id=row.name) for row in formats.TABLE]


def _parameters(media_type: str) -> tuple[str, dict]:
    base, *params = media_type.split(";")
    return base, dict(p.split("=", 1) for p in params)


def check_file(row) -> None:
    """The row's file: probed (no hint) as its container, decoded as its codec, served as its media type."""
    audio = encoding.encode(TONE, contract.OUTPUT_SAMPLE_RATE, row.name)
    assert (audio.format, audio.content_type) == (row.name, row.media_type)
    base, params = _parameters(row.media_type)
    if row.writer == formats.RAW:  # no container: the media type's parameters say how to read it
        assert (params["rate"], params["channels"]) == (str(contract.OUTPUT_SAMPLE_RATE), "1")
        opened = av.open(io.BytesIO(audio.data), format=params["encoding"],
                         options={"sample_rate": params["rate"], "ch_layout": "mono"})
        codec = f"pcm_{params['encoding']}"
    else:
        assert params == {}
        opened = av.open(io.BytesIO(audio.data))
        codec = row.codec
    with opened as f:
        stream = f.streams.audio[0]
        assert f.format.name == DEMUXERS.get(row.container, row.container or params["encoding"])
        assert stream.codec_context.codec.id == av.Codec(codec, "w").id
        assert stream.codec_context.layout.nb_channels == 1
        frames = list(f.decode(audio=0))
    assert MEDIA_TYPES[f.format.name] == base
    seconds = sum(frame.samples for frame in frames) / frames[0].sample_rate
    assert abs(seconds - 1.0) < 0.1, seconds  # the speech itself (codecs add a little priming)
    if row.writer == formats.RAW:
        assert audio.data == pcm16(TONE).tobytes()


def label_in(way: str, data: bytes) -> dict | None:
    """The label read back by mutagen, where `way` (functions/audio/label.py) says it is; None if it is not."""
    f = io.BytesIO(data)
    try:
        if way == LABEL_ID3_PREFIX:  # a tag before the first frame
            return json.loads(str(mutagen.id3.ID3(f)["TXXX:AIGC"])) if data[:3] == b"ID3" else None
        if way == LABEL_WAV_CHUNK:
            return json.loads(str(mutagen.wave.WAVE(f).tags["TXXX:AIGC"]))
        tags = mutagen.File(f).tags
        return json.loads(str(tags["TXXX:AIGC"] if way == LABEL_ID3 else tags["AIGC"][0]))
    except (KeyError, TypeError, AttributeError, mutagen.MutagenError):
        return None


def check_label(row) -> None:
    labelled = encoding.encode(TONE, contract.OUTPUT_SAMPLE_RATE, row.name, label=LABEL).data
    if row.label == LABEL_BESIDE:  # nothing in the bytes: the X-AIGC header and the task's JSON carry it
        assert labelled == encoding.encode(TONE, contract.OUTPUT_SAMPLE_RATE, row.name).data
    else:
        assert label_in(row.label, labelled) == LABEL.fields()


def check_stream(row) -> None:
    """Streamed in pieces, the same kind of file, with the row's media type."""
    encoder = encoding.StreamEncoder(row.name, contract.OUTPUT_SAMPLE_RATE, label=LABEL)
    pcm = pcm16(TONE).tobytes()
    data = encoder.feed(pcm[:10000]) + encoder.feed(pcm[10000:]) + encoder.close()
    assert encoder.content_type == row.media_type
    if row.label != LABEL_BESIDE:
        assert label_in(row.label, data) == LABEL.fields()


@pytest.mark.parametrize("row", ROWS)
def test_every_row_encodes_to_its_container_codec_and_media_type(row):
    check_file(row)


@pytest.mark.parametrize("row", ROWS)
def test_every_row_carries_the_label_where_it_says(row):
    check_label(row)
    check_stream(row)


@pytest.mark.parametrize("row", ROWS)
def test_every_row_is_stored_under_its_extension(row):
    key = object_key(TASK, row.name)
    assert key == f"tts/ab/{TASK}.{row.extension}" and is_media_key(key)


def test_the_table_names_each_format_and_extension_once():
    assert formats.NAMES == tuple(row.name for row in formats.TABLE) and len(set(formats.NAMES)) == len(formats.TABLE)
    assert len(set(formats.EXTENSIONS)) == len(formats.TABLE)
    assert dict(encoding.FORMATS) == {row.name: row.media_type for row in formats.TABLE}
    assert formats.FILE_FORMATS == ("mp3", "wav", "pcm") and set(formats.SPEECH_FORMATS) == set(formats.NAMES)
    for name in ("ogg", "MP3", "vtt", ""):
        with pytest.raises(KeyError):
            formats.get(name)
        with pytest.raises(ValueError):
            encoding.encode(TONE, contract.OUTPUT_SAMPLE_RATE, name)
    for ext in ("ogg", "MP3", "m4a", "json", ""):
        assert not is_media_key(f"tts/ab/{TASK}.{ext}")
    assert is_media_key(f"tts/ab/{TASK}.vtt")  # the subtitles beside the audio


LIMITS = RequestLimits(max_text_chars=200, max_long_text_chars=5000, max_instruct_chars=100, max_body_bytes=10**6,
                       max_prompt_bytes=10**6)


def parsed(**fields):
    return build_request({"text": "你好", "voice_id": "default", **fields}, None, LIMITS)


def refusal(**fields) -> str | None:
    try:
        parsed(**fields)
        return None
    except ApiError as exc:
        return exc.code


@pytest.mark.parametrize("row", ROWS)
def test_v1_tts_takes_exactly_the_file_formats(row):
    assert refusal(format=row.name) == (None if row.file else "invalid_format")
    if row.file:
        assert parsed(format=row.name).format == row.name
    assert parsed().format == formats.DEFAULT_FORMAT
    assert refusal(format="MP3") == refusal(format="ogg") == refusal(format="") == "invalid_format"


@pytest.mark.parametrize("row", ROWS)
def test_both_endpoints_serve_what_the_table_offers_as_its_media_type(unit_app, row):
    client = client_for(unit_app())
    r = client.post("/v1/audio/speech", json={"model": "cosyvoice3", "input": "你好", "response_format": row.name})
    assert r.status_code == 200 and r.headers["Content-Type"] == row.media_type and r.data  # read to its end
    r = client.post("/v1/tts", json={"text": "你好", "voice_id": "default", "format": row.name})
    if not row.file:
        assert (r.status_code, r.json["error"]["code"]) == (400, "invalid_format")
        return
    assert r.status_code == 200 and r.json["format"] == row.name
    assert r.json["audio_url"].split("?")[0].endswith(f"/{r.json['task_id']}.{row.extension}")


@pytest.mark.parametrize("fmt", ["ogg", "MP3", "m4a", ""])
def test_the_speech_endpoint_takes_exactly_the_tables_formats(unit_app, fmt):
    r = client_for(unit_app()).post("/v1/audio/speech", json={"model": "m", "input": "你好", "response_format": fmt})
    assert (r.status_code, r.json["error"]["code"]) == (400, "invalid_format")
    assert r.json["error"]["message"].endswith(" " + ", ".join(formats.SPEECH_FORMATS))  # what it lists is the table


# -- the OpenAPI description (written by functions/text/patterns.py) --------------------------------------------

def test_the_description_states_the_tables_formats_and_the_contracts_bounds():
    schemas = SCHEMA["components"]["schemas"]
    options, speech = schemas["TtsOptions"]["properties"], SCHEMA["paths"]["/v1/audio/speech"]["post"]
    body = speech["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert options["format"]["enum"] == list(formats.FILE_FORMATS) == schemas["TtsDone"]["properties"]["format"]["enum"]
    assert body["response_format"]["enum"] == list(formats.SPEECH_FORMATS)
    assert options["format"]["default"] == body["response_format"]["default"] == formats.DEFAULT_FORMAT
    for speed in (options["speed"], body["speed"]):
        assert (speed["minimum"], speed["maximum"]) == (contract.MIN_SPEED, contract.MAX_SPEED)
    assert (options["seed"]["minimum"], options["seed"]["maximum"]) == (contract.MIN_SEED, contract.MAX_SEED)
    media = SCHEMA["paths"]["/media/tts/{shard}/{name}"]["get"]
    name = next(p for p in media["parameters"] if p["name"] == "name")["schema"]["pattern"]
    assert name == f"^[0-9a-f]{{64}}\\.(?:{'|'.join(formats.EXTENSIONS)}|vtt)$"
    served = {_parameters(row.media_type)[0] for row in formats.TABLE}
    assert served <= set(media["responses"]["200"]["content"])
    assert {_parameters(row.media_type)[0] for row in formats.TABLE if row.speech} <= \
        set(speech["responses"]["200"]["content"])


# -- the request bounds: one set, in the inference contract, enforced by both halves -----------------------------

@pytest.mark.parametrize("field, low, high, code", [
    ("speed", contract.MIN_SPEED, contract.MAX_SPEED, "invalid_speed"),
    ("seed", contract.MIN_SEED, contract.MAX_SEED, "invalid_seed"),
])
def test_the_relay_takes_the_contracts_bounds_and_nothing_beyond(field, low, high, code):
    step = 0.01 if isinstance(low, float) else 1
    assert refusal(**{field: low}) is None and refusal(**{field: high}) is None
    assert refusal(**{field: low - step}) == refusal(**{field: high + step}) == code


def test_the_model_takes_the_contracts_bounds_and_nothing_beyond():
    for speed in (contract.MIN_SPEED, contract.MAX_SPEED):
        assert model_request(text="a", speed=speed).speed == speed
    for speed in (contract.MIN_SPEED - 0.01, contract.MAX_SPEED + 0.01):
        with pytest.raises(InvalidRequest, match="speed"):
            model_request(text="a", speed=speed)
    assert model_request(text="a", seed=contract.MAX_SEED).seed == contract.MAX_SEED
    with pytest.raises(InvalidRequest, match="seed"):
        model_request(text="a", seed=contract.MIN_SEED - 1)
    with pytest.raises(InvalidRequest, match="instruct_text"):
        model_request(text="a", instruct_text="x" * (contract.MAX_INSTRUCT_CHARS + 1))


def test_the_relays_default_limits_are_within_the_models():
    s = Settings()
    assert s.max_text_chars <= s.max_long_text_chars and s.max_text_chars <= contract.DEFAULT_MAX_TEXT_CHARS
    assert s.max_instruct_chars <= contract.MAX_INSTRUCT_CHARS and s.max_prompt_s <= contract.MAX_PROMPT_SECONDS


# -- a wrong row fails -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, change, check", [
    ("wav", {"media_type": "audio/mpeg"}, check_file),
    ("opus", {"media_type": "audio/opus"}, check_file),
    ("opus", {"container": "webm"}, check_file),  # opus in WebM, served as audio/ogg
    ("mp3", {"container": "adts", "codec": "aac"}, check_file),  # AAC served as audio/mpeg
    ("aac", {"label": LABEL_VORBIS}, check_label),  # ADTS has no Vorbis comments: the label would be lost
])
def test_a_planted_wrong_row_fails(monkeypatch, name, change, check):
    wrong = replace(formats.get(name), **change)
    monkeypatch.setitem(formats.BY_NAME, name, wrong)
    with pytest.raises(AssertionError):
        check(wrong)
    with pytest.raises(ValueError):
        replace(formats.get("pcm"), container="wav")  # a row that contradicts itself is refused at once


DISCONNECT = """
import gc, sys
sys.path.insert(0, ".")
from tests.support import AppFactory, FakeEndpoint, client_for
factory = AppFactory({"storage_dir": sys.argv[1], "worker_threads": 0})
app = factory(endpoint=FakeEndpoint(), aigc_cue="none")
for i, fmt in enumerate(["mp3", "aac", "opus", "flac", "wav"]):
    r = client_for(app).post("/v1/audio/speech", json={"model": "cosyvoice3", "voice": "default",
                             "input": f"第{i}句话，读到一半就走了。" * 3, "response_format": fmt}, buffered=False)
    assert r.status_code == 200, r.status_code
    next(iter(r.response))  # the first bytes, then the caller goes away
    r.close()
    gc.collect()
print("alive")
"""


def test_a_caller_who_leaves_mid_stream_never_crashes_the_process(tmp_path):
    """An encoder abandoned with its reader is released, never left for the garbage collector (PyAV crashes the
    whole process freeing an open encoder): run in a child process, whose death would be the failure."""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", DISCONNECT, str(tmp_path)], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert (done.returncode, done.stdout.strip()) == (0, "alive"), done.stderr[-2000:]
