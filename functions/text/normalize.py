"""Text validation and normalization. Text is data: it only ever reaches the model as a tensor."""

from __future__ import annotations

import functools
import re
import unicodedata

from ..errors import BadRequest
from .markup import Markup, parse_markup

_WS = re.compile(r"\s+")
# Bidirectional overrides and isolates can disguise text in logs and review tools.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Default-ignorable code points (soft hyphens, joiners, variation selectors, tag characters, Hangul fillers)
# are never spoken; left in, they split words for moderation and markup runs for the parser.
# (DerivedCoreProperties.txt, Default_Ignorable_Code_Point; bidi controls among them are refused first.)
IGNORABLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
                       "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
                       "\U000e0000-\U000e0fff]")


def _too_long(field: str, length: int, max_chars: int) -> BadRequest:
    return BadRequest(f"{field}_too_long", field=field, length=length, max_chars=max_chars)


def normalize_text(value, *, field: str = "text", max_chars: int = 200, required: bool = True,
                   keep_newlines: bool = False) -> str:
    """NFC, zero-width characters removed, whitespace collapsed; refuses control characters and model tokens.

    The length limit counts the characters (code points) as sent, as the OpenAPI description's `maxLength`
    does. With `keep_newlines`, paragraph breaks survive (long texts are split at them)."""
    return _clean(value, field=field, max_chars=max_chars, required=required, keep_newlines=keep_newlines)


def normalize_spoken_text(value, *, field: str = "text", max_chars: int = 200,
                          keep_newlines: bool = False) -> tuple[str, Markup]:
    """Like `normalize_text` for text the model speaks: compatibility characters are written as what they
    stand for (`spoken_form`), then its markup is parsed (strictly). `charged_units` of the markup (what will
    be spoken: characters, digits twice, pinyin syllables and sound tags) is what is charged and what decides
    between an answer and a job; the limit counts characters as sent."""
    text = _clean(value, field=field, max_chars=max_chars, required=True, keep_newlines=keep_newlines,
                  spoken=True)
    markup = parse_markup(text)
    if not markup.plain.strip():
        raise BadRequest(f"{field}_required", case="markup_only", field=field)
    return markup.text, markup  # pinyin written as the model's own tokens (`[hao3]` -> `[h][ǎo]`)


def _clean(value, *, field: str, max_chars: int, required: bool, keep_newlines: bool, spoken: bool = False) -> str:
    if value is None or value == "":
        if required:
            raise BadRequest(f"{field}_required", field=field)
        return ""
    if not isinstance(value, str):
        raise BadRequest("invalid_type", field=field)
    if len(value) > max_chars:  # before any work: a 160 KB "text" is refused here, not by the inference server
        raise _too_long(field, len(value), max_chars)
    for ch in value:
        if ch in "\t\n\r":
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Co") or ch in _BIDI:
            raise BadRequest(f"{field}_invalid_chars", field=field)
    text = IGNORABLE.sub("", unicodedata.normalize("NFC", value))
    if spoken:
        text = spoken_form(text)
    if "<|" in text or "|>" in text:
        raise BadRequest(f"{field}_invalid_chars", case="model_tokens", field=field)
    if keep_newlines:
        paragraphs = (_WS.sub(" ", p).strip() for p in text.split("\n"))  # (a regex split was quadratic)
        text = "\n".join(p for p in paragraphs if p)
    else:
        text = _WS.sub(" ", text).strip()
    if not text and required:
        raise BadRequest(f"{field}_required", case="empty", field=field)
    return text


# Compatibility characters that keep their meaning as they are: superscripts and subscripts (`m²`, `H₂O`) and
# vulgar fractions (`½`) are read as such; the fractions are charged by what they are read as.
_KEPT_TAGS = frozenset({"<super>", "<sub>", "<fraction>"})
_NEVER_MADE = frozenset("[]<>|")  # folding must not create markup or a model control token


_DIGITWISE_TAGS = frozenset({"<wide>", "<narrow>", "<font>"})  # one digit each: `１２` is 12


@functools.lru_cache(maxsize=4096)
def _spoken_char(ch: str) -> tuple[str, bool]:
    """(what `ch` is read as, whether that is a whole number or word of its own, like `㉑` or `Ⅻ`)."""
    decomposition = unicodedata.decomposition(ch)
    if not decomposition.startswith("<"):
        return ch, False
    tag, *codes = decomposition.split()
    if tag in _KEPT_TAGS:
        return ch, False
    out = "".join(_spoken_char(chr(int(code, 16)))[0] for code in codes)
    if not any(c.isalnum() for c in out) or not _NEVER_MADE.isdisjoint(out) or IGNORABLE.search(out):
        return ch, False  # punctuation and spacing variants (`…`, `，`, `［`) stay as written
    return out, tag not in _DIGITWISE_TAGS


def spoken_form(text: str) -> str:
    """Compatibility characters that stand for letters, digits or words written as those (Unicode's
    compatibility decompositions, one tag at a time): `㎡` -> `m²`, `㎞` -> `km`, `℃` -> `°C`, `㉑` -> `21`,
    `ℰ` -> `E`, `Ⅻ` -> `XII`, `ﬁ` -> `fi`, full-width `Ａ１` -> `A1`, `㍿` -> `株式会社`. The model reads these
    letters and digits, so they are what is charged (one `㉑` is 21, four units) and what moderation sees.
    A whole number stays apart from digits beside it (`㉑㉚` is `21 30`). Superscripts, subscripts and
    fractions stay (`m²`, `H₂O`, `½`), as do characters whose compatibility form is punctuation or spacing
    alone (`…`, full-width `，`, `［`: never turned into markup)."""
    if text.isascii():
        return text
    out: list[str] = []
    whole_before = False
    for ch in text:
        piece, whole = _spoken_char(ch)
        if out and (whole or whole_before) and piece[:1].isdigit() and out[-1][-1:].isdigit():
            out.append(" ")
        out.append(piece)
        whole_before = whole
    return unicodedata.normalize("NFC", "".join(out))


def _fraction_units(ch: str) -> int:
    """Units beyond one of a vulgar fraction: it is read as its numbers (`½` is 二分之一), so it is charged
    as its digits are (twice each: `½` costs 4)."""
    decomposition = unicodedata.decomposition(ch)
    if not decomposition.startswith("<fraction>"):
        return 0
    digits = sum(chr(int(code, 16)).isdigit() for code in decomposition.split()[1:])
    return max(0, 2 * digits - 1 - ch.isdigit())


def charged_units(markup: Markup) -> int:
    """What a text is charged: `Markup.units` of its spoken form (characters, digits twice, pinyin syllables,
    sound tags), vulgar fractions as their digits (`½`: 4). Compatibility characters were
    already written out by `spoken_form`, so `㎡㎞㎏℃` cost what `m²kmkg°C` costs (9), not four units."""
    plain = markup.plain
    extra = 0 if plain.isascii() else sum(_fraction_units(ch) for ch in plain)
    return markup.units + extra
