"""The text rules as regular expressions, for the OpenAPI description (functions/openapi.yaml), so a client or a
fuzzer knows from the schema alone which texts the server takes.

They are built from the same constants the validators use (functions/text/normalize.py, markup.py), and a test
holds the schema to them. The spoken-text pattern is slightly stricter than the parser where a regular
expression cannot count: at most one mark follows each visible character (the parser allows as many marks as
visible characters anywhere), and pinyin and phonemes follow a Latin letter, a digit or a Han character. What
it accepts, the server accepts; what the parser additionally accepts is documented there.

The syntax is the common subset of ECMA-262 and Python's `re` (code points: characters beyond the BMP are
written as themselves).

`write_schema` also writes the values the description states that other tables decide: the output formats'
enums and the media names' extensions (functions/audio/formats.py), and the bounds of speed and seed
(inference/contract.py).
"""

from __future__ import annotations

import re

from .markup import FINALS, INITIALS, PHONEME_CONSONANTS, PHONEME_VOWELS, SOUND_TAGS, SPAN_TAGS

# Refused anywhere: control characters but tab, newline and return; private use (the noncharacters that end
# planes 15 and 16 are not private use, and are taken); bidi controls. (And lone surrogates, which are no
# Unicode characters: not written here, as regex engines that work on scalar values (Rust's, which validators
# use) cannot even name them.)
_REFUSED = ("\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069"
            "\\ue000-\\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd")
# Whitespace as str.strip() and the normalizer's \s see it (controls among them are refused anyway), and
# default-ignorable code points, which are removed before anything counts.
_SPACE = "\\t\\n\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_IGNORABLE = ("\\xad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u2060-\\u2065"
              "\\u206a-\\u206f\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff0-\\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
              "\U000e0000-\U000e0fff")
_MARKUP = "\\[\\]<>"
# "<|" and "|>" delimit the model's control tokens: refused in every text field, also with invisible characters
# between the two (the server removes those first: `<` soft hyphen `|` reaches the model as `<|`).
_NO_CONTROL_TOKEN = f"(?:[^<|{_REFUSED}]|<(?![{_IGNORABLE}]*\\|)|\\|(?![{_IGNORABLE}]*>))"


def _alternatives(words) -> str:
    """Longest first; the words need no escaping (and `re.escape` writes `\\-`, which ECMA-262 refuses)."""
    words = sorted(words, key=lambda w: (-len(w), w))
    assert all(re.fullmatch(r"[\w-]+", w) for w in words)
    return "|".join(words)


def plain_text() -> str:
    """instruct, prompt_text, name: no refused characters and no model control tokens."""
    return f"^{_NO_CONTROL_TOKEN}*$"


def spoken_text() -> str:
    """text: visible characters, each followed by at most one mark (a sound tag, one pinyin syllable as the
    tokenizer's initial and final, or a phoneme run with one vowel), spans around at least one unmarked
    character, and something visible. Written so that matching is linear (no ambiguous repetition)."""
    visible = f"[^{_MARKUP}{_SPACE}{_IGNORABLE}{_REFUSED}]"
    anchor = "[0-9A-Za-z\\u3400-\\u4dbf\\u4e00-\\u9fff]"  # what pinyin and phonemes stand in for
    other = f"[^0-9A-Za-z\\u3400-\\u4dbf\\u4e00-\\u9fff{_MARKUP}{_SPACE}{_IGNORABLE}{_REFUSED}]"
    filler = f"[{_SPACE}{_IGNORABLE}]"
    sound = f"\\[(?:{_alternatives(SOUND_TAGS)})\\]"
    syllable = f"(?:\\[(?:{_alternatives(INITIALS)})\\])?\\[(?:{_alternatives(FINALS)})\\]"
    consonants = f"(?:\\[(?:{_alternatives(PHONEME_CONSONANTS)})\\])*"
    phonemes = f"{consonants}\\[(?:{_alternatives(PHONEME_VOWELS)})[012]?\\]{consonants}"
    marked = f"(?:{anchor}(?:{sound}|{syllable}|{phonemes})?|{other}(?:{sound})?)"
    spans = "|".join(f"<{name}>{filler}*{visible}(?:{marked}|{filler})*</{name}>" for name in sorted(SPAN_TAGS))
    return f"^{filler}*(?:{marked}|{spans})(?:{marked}|{spans}|{filler})*$"


def audio_format() -> str:
    """A recording's declared format as functions/audio/decode.py reads it: a name from its list (any case),
    optionally as a MIME type (`audio/x-wav`) or an extension (`.mp3`)."""
    strip = _SPACE + "\\x0b\\x0c\\x1c-\\x1f\\x85"  # what str.strip() removes (controls included)
    return f"^[{strip}]*(?:[\\s\\S]*/)?\\.*(?:[xX]-)?(?:{audio_format_names()})[{strip}]*$"


def pcm_declaration() -> str:
    """A declared format that the decoder reads as raw PCM (which then needs its sample rate)."""
    return audio_format().replace(audio_format_names(), "[pP][cC][mM]|[sS]16[lL][eE]")


def has_visible() -> str:
    """Something is left once whitespace and invisible characters are removed (a search, not anchored)."""
    return f"[^{_SPACE}{_IGNORABLE}]"


def audio_format_names() -> str:
    from ..audio.decode import FORMAT_ALIASES

    def any_case(word: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)

    return "|".join(any_case(w) for w in sorted(FORMAT_ALIASES, key=lambda w: (-len(w), w)))


SCHEMAS = {"SpokenText": spoken_text, "PlainText": plain_text, "AudioFormat": audio_format,
           "PcmDeclaration": pcm_declaration, "HasVisible": has_visible}


def media_name() -> str:
    """A stored file's name under /media: a task id and an output format's extension, or its subtitles'."""
    from ..audio.formats import EXTENSIONS

    return f"^[0-9a-f]{{64}}\\.(?:{'|'.join((*EXTENSIONS, 'vtt'))})$"


def schema_values() -> list[tuple[tuple[str, str], dict]]:
    """The entries of inline mappings in the description that the formats' table and the inference contract
    decide: (the mapping's parent key, the line that opens the mapping), {key: value}."""
    from inference.contract import MAX_SEED, MAX_SPEED, MIN_SEED, MIN_SPEED

    from ..audio.formats import DEFAULT_FORMAT, FILE_FORMATS, SPEECH_FORMATS

    speed = {"minimum": MIN_SPEED, "maximum": MAX_SPEED}
    return [(("TtsOptions:", "format:"), {"enum": FILE_FORMATS, "default": DEFAULT_FORMAT}),
            (("TtsOptions:", "speed:"), speed),
            (("TtsOptions:", "seed:"), {"minimum": MIN_SEED, "maximum": MAX_SEED}),
            (("TtsDone:", "format:"), {"enum": FILE_FORMATS}),
            (("/v1/audio/speech:", "response_format:"), {"enum": SPEECH_FORMATS, "default": DEFAULT_FORMAT}),
            (("/v1/audio/speech:", "speed:"), speed),
            (("/media/tts/{shard}/{name}:", "- {name: name,"), {"pattern": media_name()})]


def _yaml_value(value) -> str:
    if isinstance(value, tuple):
        assert all(re.fullmatch(r"[a-z][a-z0-9]*", v) for v in value), value  # plain YAML scalars
        return "[" + ", ".join(value) + "]"
    if isinstance(value, str):
        return value if re.fullmatch(r"[a-z][a-z0-9]*", value) else _yaml_string(value)
    assert isinstance(value, (int, float)) and not isinstance(value, bool), value
    return repr(value)


def _set_values(lines: list[str], parent: str, opener: str, values: dict) -> None:
    """Rewrite `values` in the inline mapping on the first line under `parent` that starts with `opener`; each
    key must be there already, once (nothing is added silently)."""
    at = next(i for i, line in enumerate(lines) if line.strip() == parent)
    depth = len(lines[at]) - len(lines[at].lstrip())
    inside = (i for i in range(at + 1, len(lines)) if lines[i].strip())
    for i in inside:
        line = lines[i]
        if len(line) - len(line.lstrip()) <= depth:  # past the parent's block
            raise AssertionError(f"{parent} has no line starting with {opener!r}")
        if line.strip().startswith(opener):
            break
    else:
        raise AssertionError(f"{parent} has no line starting with {opener!r}")
    for key, value in values.items():
        entry = re.compile(rf"(?<=[{{ ]){key}: (?:\[[^\]]*\]|\"(?:[^\"\\]|\\.)*\"|[^,}}]+)")
        assert len(entry.findall(line)) == 1, f"{parent} {opener}: expected one {key}"
        line = entry.sub(lambda _, k=key, v=value: f"{k}: {_yaml_value(v)}", line)
    lines[i] = line


def _yaml_string(value: str) -> str:
    """A YAML double-quoted scalar: ASCII, with \\uXXXX / \\UXXXXXXXX escapes (JSON's surrogate pairs for
    characters beyond the BMP are not YAML's)."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= ord(ch) < 0x7f:
            out.append(ch)
        elif ord(ch) <= 0xffff:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def write_schema(path) -> None:
    """Rewrite the generated patterns and values in the OpenAPI description (`python -m functions.text.patterns`)."""
    from pathlib import Path

    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for name, build in SCHEMAS.items():
        at = next(i for i, line in enumerate(lines) if line.strip() == f"{name}:")
        indent = lines[at][:len(lines[at]) - len(lines[at].lstrip())] + "  "
        assert lines[at + 2].strip().startswith("pattern:"), f"{name}: expected its pattern two lines below"
        lines[at + 2] = f"{indent}pattern: {_yaml_string(build())}"
    for (parent, opener), values in schema_values():
        _set_values(lines, parent, opener, values)
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    from pathlib import Path

    write_schema(Path(__file__).resolve().parents[1] / "openapi.yaml")
