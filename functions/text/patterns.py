"""The text rules as regular expressions, for the OpenAPI description (functions/openapi.yaml), so a client or a
fuzzer knows from the schema alone which texts the server takes.

They are built from the same constants the validators use (functions/text/normalize.py, markup.py), and a test
holds the schema to them. The spoken-text pattern is slightly stricter than the parser where a regular
expression cannot count: at most one mark follows each visible character (the parser allows as many marks as
visible characters anywhere), and pinyin and phonemes follow a Latin letter, a digit or a Han character. What
it accepts, the server accepts; what the parser additionally accepts is documented there.

The syntax is the common subset of ECMA-262 and Python's `re` (code points: characters beyond the BMP are
written as themselves).
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
    """Rewrite the generated patterns in the OpenAPI description (`python -m functions.text.patterns`)."""
    from pathlib import Path

    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for name, build in SCHEMAS.items():
        at = next(i for i, line in enumerate(lines) if line.strip() == f"{name}:")
        indent = lines[at][:len(lines[at]) - len(lines[at].lstrip())] + "  "
        assert lines[at + 2].strip().startswith("pattern:"), f"{name}: expected its pattern two lines below"
        lines[at + 2] = f"{indent}pattern: {_yaml_string(build())}"
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    from pathlib import Path

    write_schema(Path(__file__).resolve().parents[1] / "openapi.yaml")
