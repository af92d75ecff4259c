"""The OpenAPI description is the server's truth: its generated patterns are the validators' rules, and what a
schema can say about a request is what the server does with it (null, types, empty values, voice ids, forms,
optional routes). The fuzzing test (tests/functions/api/test_api_schema_fuzz.py) checks the same from outside."""

from __future__ import annotations

import io
import json
import re
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from functions.audio.decode import normalize_format
from functions.errors import ApiError
from functions.multipart import MAX_PARTS, parse_form
from functions.text import patterns
from functions.text.normalize import normalize_spoken_text, normalize_text
from tests.support import ALICE_KEY, client_for

SERVED = Path(__file__).resolve().parents[2] / "functions" / "openapi.yaml"
SCHEMA = yaml.safe_load(SERVED.read_text("utf-8"))
SPOKEN = re.compile(patterns.spoken_text())
PLAIN = re.compile(patterns.plain_text())
FORMAT = re.compile(patterns.audio_format())
FORM = "multipart/form-data; boundary=XB"
# derandomize: every run draws the same examples (a failure is reproducible, never a flake); the cases a run
# once found are pinned with @example
FAST = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def test_the_served_patterns_are_the_validators_rules(tmp_path):
    schemas = SCHEMA["components"]["schemas"]
    for name, build in patterns.SCHEMAS.items():
        assert schemas[name]["pattern"] == build(), f"{name}: run `python -m functions.text.patterns`"
    # and the output formats and request bounds it writes (tests/unit/test_formats.py reads them back)
    copy = tmp_path / "openapi.yaml"
    copy.write_bytes(SERVED.read_bytes())
    patterns.write_schema(copy)
    assert copy.read_bytes() == SERVED.read_bytes(), "run `python -m functions.text.patterns`"


def spoken(text: str) -> str | None:
    """The server's refusal code for a text, or None when it takes it."""
    try:
        normalize_spoken_text(text, max_chars=10**6, keep_newlines=True)
        return None
    except ApiError as exc:
        return exc.code


@FAST
@given(st.from_regex(patterns.spoken_text(), fullmatch=True))
@example("你\u3164好")
def test_every_text_the_pattern_allows_is_taken(text):
    assert spoken(text) is None, text


@FAST
@given(st.text(max_size=40))
@example("<\u00ad|")  # a control token behind a soft hyphen
@example("\u3164")  # a Hangul filler alone: nothing visible
def test_a_text_the_server_refuses_is_outside_the_pattern(text):
    if spoken(text) is not None:
        assert not SPOKEN.fullmatch(text), text


@FAST
@given(st.text(max_size=40))
@example("<\u00ad|")  # found once: the pattern took it, the server removes the soft hyphen, sees `<|` and refuses
@example("|\u2060>")
@example("a\U0010fffe")
def test_a_plain_text_the_server_refuses_is_outside_the_pattern(text):
    try:
        normalize_text(text, field="instruct", max_chars=10**6, required=False)
        taken = True
    except ApiError as exc:
        assert exc.code == "instruct_invalid_chars", (text, exc.code)
        taken = False
    assert taken == bool(PLAIN.fullmatch(text)), text


@pytest.mark.parametrize("text, code", [
    ("你好\x07", "text_invalid_chars"), ("a\u202eb", "text_invalid_chars"),
    ("<|endofprompt|>你好", "text_invalid_chars"),
    ("[breath]", "text_required"), ("  \u200b ", "text_required"), ("你好[", "invalid_markup"),
    ("<strong>你好", "invalid_markup"), ("你[xyz]", "invalid_markup"), ("好[breath][breath][breath]", "invalid_markup"),
    ("[h]好", "invalid_markup"),
])
def test_each_refusal_a_pattern_can_express_is_in_it(text, code):
    assert spoken(text) == code
    assert not SPOKEN.fullmatch(text)


@pytest.mark.parametrize("text", ["你好，欢迎使用语音合成。", "她[h][ào]干净", "我[HH][AH0][L]你", "你好[breath]呀",
                                  "<strong>重要</strong>的事", "第一段\n第二段", "Hello, world! 123"])
def test_ordinary_texts_and_markup_match(text):
    assert spoken(text) is None and SPOKEN.fullmatch(text)


# -- invisible and refused code points: the schema names each one as the server treats it -----------------------

EVERY = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)  # every Unicode scalar value
SCHEMA_CLASSES = {"refused": re.compile(f"[{patterns._REFUSED}]"), "removed": re.compile(f"[{patterns._IGNORABLE}]"),
                  "space": re.compile(f"[{patterns._SPACE}]")}


def schema_class(ch: str) -> str:
    return next((name for name, cls in SCHEMA_CLASSES.items() if cls.fullmatch(ch)), "kept")


def server_class(ch: str) -> str:
    """What the normalizer does with one character between two letters."""
    try:
        out = normalize_text(f"a{ch}b", field="instruct", max_chars=10)
    except ApiError as exc:
        assert exc.code == "instruct_invalid_chars", (hex(ord(ch)), exc.code)
        return "refused"
    return {"ab": "removed", "a b": "space"}.get(out, "kept")


def named_code_points() -> str:
    """Every code point the schema's classes name, and every one the server's own rules single out (controls,
    private use, bidi controls, its invisible list, whitespace), with what NFC turns into one of them."""
    from functions.text.normalize import IGNORABLE, _BIDI

    named = set()
    for cls in (*SCHEMA_CLASSES.values(), IGNORABLE, re.compile(r"\s")):
        named.update(cls.findall(EVERY))
    named.update(ch for ch in EVERY if unicodedata.category(ch) in ("Cc", "Co") or ch in _BIDI)
    named.update(ch for ch in EVERY if unicodedata.normalize("NFC", ch) != ch
                 and any(c in named for c in unicodedata.normalize("NFC", ch)))
    return "".join(sorted(named))


def test_every_code_point_the_schema_or_the_server_names_is_treated_alike():
    """Refused, removed (soft hyphens, joiners, variation selectors, fillers such as U+3164), whitespace: the
    schema's class of each code point is what the server does with it, for every code point either names."""
    named = named_code_points()
    assert "\u3164" in named and "\u00ad" in named and "\U000e0001" in named and "\ue000" in named
    differ = [(hex(ord(ch)), schema_class(ch), server_class(ch)) for ch in named
              if schema_class(ch) != server_class(ch)]
    assert differ == [], differ[:20]


def test_every_invisible_code_point_the_schema_names_is_removed_from_texts():
    invisible = SCHEMA_CLASSES["removed"].findall(EVERY)
    assert len(invisible) > 4000 and "\u3164" in invisible
    wrong = []
    for ch in invisible:
        taken, alone = spoken(f"你{ch}好"), spoken(ch)
        if (taken, alone) != (None, "text_required") or normalize_spoken_text(f"你{ch}好")[0] != "你好":
            wrong.append((hex(ord(ch)), taken, alone))
        if not SPOKEN.fullmatch(f"你{ch}好") or SPOKEN.fullmatch(ch) or not PLAIN.fullmatch(f"a{ch}b"):
            wrong.append((hex(ord(ch)), "schema"))
    assert wrong == [], wrong[:20]


def test_every_code_point_the_schema_refuses_is_refused_in_every_text():
    refused = SCHEMA_CLASSES["refused"].findall(EVERY)
    wrong = []
    for ch in refused:
        if spoken(f"你{ch}好") != "text_invalid_chars" or SPOKEN.fullmatch(f"你{ch}好") or PLAIN.fullmatch(ch):
            wrong.append(hex(ord(ch)))
    assert wrong == [], wrong[:20]


@pytest.mark.parametrize("text", ["<\u00ad|", "<\u200b\u2060|endofprompt|>", "|\u00ad>", "<\ufe0f\u3164|",
                                  "说<\U000e0001|话", "a|\u200d>b"])
def test_a_control_token_hidden_by_invisible_characters_is_refused_by_both(unit_app, text):
    """Found once: `<` soft hyphen `|` matched PlainText, while the server removes the soft hyphen, sees `<|`
    (what the model would be sent) and refuses. The server is right; the schema refuses it too."""
    with pytest.raises(ApiError) as refused:
        normalize_text(text, field="instruct")
    assert refused.value.code == "instruct_invalid_chars"
    assert not PLAIN.fullmatch(text) and not SPOKEN.fullmatch(text)
    r = post_json(unit_app(), "/v1/tts", {"text": "你好", "voice_id": "default", "instruct": text})
    assert (r.status_code, r.json["error"]["code"]) == (400, "instruct_invalid_chars")


@pytest.mark.parametrize("text", ["<\u00ad>", "|\u00ad|", "<\u0338|", "a<b|c>d", "\u00ad<", "|\u00ad"])
def test_angle_brackets_and_bars_that_form_no_control_token_are_taken_by_both(text):
    assert normalize_text(text, field="instruct") is not None and PLAIN.fullmatch(text)


@FAST
@given(st.from_regex(patterns.plain_text(), fullmatch=True))
def test_every_plain_text_the_pattern_allows_is_taken(text):
    normalize_text(text, field="instruct", max_chars=10**6, required=False)


@FAST
@given(st.one_of(st.text(max_size=12), st.sampled_from(["wav", "audio/x-wav", ".MP3", " opus ", "s16le", "x-m4a",
                                                         "a/b/pcm", "", "mp", "wav/", "audio/ogg; codecs=opus"])))
def test_the_format_pattern_is_the_decoders_rule(value):
    try:
        normalize_format(value)
        taken = True
    except ApiError:
        taken = False
    assert taken == bool(FORMAT.fullmatch(value)), value


# -- multipart ---------------------------------------------------------------------------------------------------

def form_body(parts: list[tuple[str | None, str | None, bytes]], boundary: str = "XB") -> bytes:
    out = b""
    for name, filename, content in parts:
        disposition = "form-data" + (f'; name="{name}"' if name is not None else "") + \
            (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_a_form_is_read_from_its_bytes_alone():
    wav = (Path(__file__).resolve().parents[2] / "examples" / "prompt_zh.wav").read_bytes()
    form = parse_form(form_body([("consent", None, b"self"), ("audio", "r.wav", wav), ("consent", None, b"x"),
                                 ("name", None, "我的声音".encode())]), "XB")
    assert form.files == {"audio": ("r.wav", wav)}
    assert form.fields == {"consent": "self", "name": "我的声音"}  # the first value of a repeated name


@pytest.mark.parametrize("body, boundary", [
    (form_body([("a", None, b"1")])[:-8], "XB"),  # cut before the closing delimiter
    (form_body([("a", None, b"1")]), None),
    (form_body([("a", None, b"\xff\xfe")]), "XB"),  # not UTF-8 text
    (form_body([(f"f{i}", None, b"1") for i in range(MAX_PARTS + 1)]), "XB"),
    (b"garbage", "XB"),
])
def test_a_malformed_form_is_a_clear_400(body, boundary):
    with pytest.raises(ApiError) as refused:
        parse_form(body, boundary)
    assert refused.value.status == 400 and refused.value.code == "invalid_request"


def test_a_nameless_part_is_an_unknown_field(unit_app):
    r = client_for(unit_app()).post("/v1/tts", data=form_body([(None, None, b"1")]),
                                    content_type="multipart/form-data; boundary=XB")
    assert r.status_code == 400 and r.json["error"]["code"] == "unknown_field"


# -- what the schema says about values ---------------------------------------------------------------------------

def post_json(app, path, body):
    return client_for(app).post(path, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("body, status, code", [
    ({"text": "你好", "voice_id": "default", "mode": None}, 400, "invalid_type"),  # null is no value
    ({"text": "你好", "voice_id": "default", "speed": "1.5"}, 400, "invalid_type"),  # a JSON number is a number
    ({"text": "你好", "voice_id": "default", "format": ""}, 400, "invalid_format"),
    ({"text": "你好", "voice_id": ""}, 404, "voice_not_found"),
    ({"text": "你好", "voice_id": "v_" + "a" * 65}, 404, "voice_not_found"),
    ({"text": "你好", "voice_id": "default", "prompt_format": "flac"}, 415, "unsupported_format"),
    ({"text": "你好", "voice_id": "default", "prompt_format": "pcm"}, 400, "pcm_rate_required"),
    ({"text": "你好", "consent": "self", "prompt_audio_base64": ""}, 400, "audio_empty"),
    ({"text": "好" * 5001, "voice_id": "default"}, 400, "text_too_long"),
])
def test_json_values_are_what_the_schema_says(unit_app, body, status, code):
    r = post_json(unit_app(), "/v1/tts", body)
    assert (r.status_code, r.json["error"]["code"]) == (status, code)


def test_the_speech_endpoint_refuses_null_and_empty_options(unit_app):
    app = unit_app()
    for extra, code in (({"stream_format": None}, "invalid_type"), ({"response_format": ""}, "invalid_format"),
                        ({"voice": "no-such-voice"}, "voice_not_found"), ({"voice": ""}, "voice_required")):
        r = post_json(app, "/v1/audio/speech", {"model": "cosyvoice3", "input": "你好", **extra})
        assert r.json["error"]["code"] == code, extra


def test_forms_read_numbers_from_text_and_take_no_voice_id(unit_app):
    app = unit_app()
    wav = (Path(__file__).resolve().parents[2] / "examples" / "prompt_zh.wav").read_bytes()
    base = [("text", None, "你好".encode()), ("consent", None, b"self"), ("audio", "r.wav", wav)]
    for extra, code in (([("speed", None, b"fast")], "invalid_type"), ([("speed", None, b"")], "invalid_type"),
                        ([("speed", None, b"9")], "invalid_speed"), ([("voice_id", None, b"default")], "unknown_field"),
                        ([("prompt_audio_base64", None, b"AAAA")], "unknown_field")):
        r = client_for(app).post("/v1/tts", data=form_body(base + extra), content_type=FORM)
        assert r.status_code == 400 and r.json["error"]["code"] == code, extra
    r = client_for(app).post("/v1/tts", data=form_body(base + [("speed", None, b"1.5"), ("seed", None, b"7")]),
                             content_type=FORM)
    assert r.status_code == 200, r.json


def test_urlencoded_bodies_and_forms_where_only_json_is_described_are_415(unit_app):
    app = unit_app()
    r = client_for(app).post("/v1/tts", data="text=hi&voice_id=default",
                             content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415
    r = client_for(app).post("/v1/audio/speech", data=form_body([("model", None, b"m"), ("input", None, b"hi")]),
                             content_type=FORM)
    assert r.status_code == 415


@pytest.mark.parametrize("path", ["/demo", "/metrics", "/", "/media/tts/ab/" + "ab" * 32 + ".mp3"])
def test_optional_routes_are_404_when_off_and_405_for_other_methods(unit_app, path):
    app = unit_app(demo_page=False, metrics=False)
    app.services.storage.serves_media = False
    client = client_for(app)
    r = client.get(path)
    assert r.status_code == 404 and r.json["error"]["code"] == "route_not_found"
    r = client.post(path, data=b"")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]


def test_bytes_received_in_any_chunking_read_the_same(unit_app):
    """The same recording, however its bytes arrive, is the same voice (never sometimes corrupt)."""
    from werkzeug.test import EnvironBuilder

    wav = (Path(__file__).resolve().parents[2] / "examples" / "prompt_zh.wav").read_bytes()
    body = form_body([("consent", None, b"self"), ("audio", "r.wav", wav)])

    class Trickle(io.RawIOBase):  # hands the body over in odd pieces, as a slow network does
        def __init__(self, data: bytes, step: int) -> None:
            self.data, self.step = data, step

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            n = min(len(buffer), self.step, len(self.data))
            buffer[:n], self.data = self.data[:n], self.data[n:]
            return n

    app = unit_app()
    voices = set()
    for step in (1, 2, 3, 1447, 65535, 65536, 1 << 20):
        environ = EnvironBuilder(path="/v1/voices", method="POST", headers={"X-Api-Key": ALICE_KEY},
                                 environ_base={"REMOTE_ADDR": "203.0.113.9"}).get_environ()
        environ.update({"wsgi.input": Trickle(body, step), "CONTENT_LENGTH": str(len(body)),
                        "CONTENT_TYPE": "multipart/form-data; boundary=XB"})
        status: list[str] = []
        out = b"".join(app(environ, lambda s, h, *a, seen=status: seen.append(s)))
        assert status[0].startswith(("200", "201")), out
        voices.add(json.loads(out)["voice_id"])
    assert len(voices) == 1


def test_zero_shot_with_a_voice_saved_without_transcript_is_the_voices_state_409(unit_app):
    """Schema-valid, and the saved voice cannot serve it: 409, not a 400 the schema could not have foretold."""
    app = unit_app()
    wav = (Path(__file__).resolve().parents[2] / "examples" / "prompt_zh.wav").read_bytes()
    enrolled = client_for(app).post("/v1/voices", data=form_body([("consent", None, b"self"), ("audio", "r.wav", wav)]),
                                    content_type=FORM)
    assert enrolled.status_code == 201 and not enrolled.json.get("prompt_text")
    r = post_json(app, "/v1/tts", {"text": "你好", "voice_id": enrolled.json["voice_id"], "mode": "zero_shot"})
    assert (r.status_code, r.json["error"]["code"]) == (409, "voice_transcript_missing")
    r = post_json(app, "/v1/tts", {"text": "你好", "voice_id": enrolled.json["voice_id"], "mode": "cross_lingual"})
    assert r.status_code == 200


@FAST
@given(st.one_of(st.text(max_size=12), st.sampled_from(["pcm", " x-S16Le\u3000", "audio/pcm", "wav", "S16LE\u2028"])))
@example("S16LE\u2028")  # found once by the fuzzing run: U+2028 is whitespace to str.strip, not to the pattern
@example(" x-S16Le\u3000")
def test_the_pcm_rule_sees_what_the_decoder_reads_as_pcm(value):
    try:
        pcm = normalize_format(value) == "pcm"
    except ApiError:
        pcm = False
    assert pcm == bool(re.fullmatch(patterns.pcm_declaration(), value)), value


@FAST
@given(st.text(max_size=8))
@example("\u3164")  # a Hangul filler: invisible
@example("\u2028")
def test_the_visible_rule_is_what_survives_normalizing(value):
    try:
        kept = bool(normalize_text(value, field="instruct", max_chars=100, required=False))
    except ApiError:
        return  # refused for its characters: the PlainText pattern's business
    assert kept == bool(re.search(patterns.has_visible(), value)), value
