"""Text validation and normalization. Text is data: it only ever reaches the model as a tensor."""

from __future__ import annotations

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
    return BadRequest(f"{field} 过长：{length} 字，上限 {max_chars} 字", code=f"{field}_too_long")


def normalize_text(value, *, field: str = "text", max_chars: int = 200, required: bool = True,
                   keep_newlines: bool = False) -> str:
    """NFC, zero-width characters removed, whitespace collapsed; refuses control characters and model tokens.

    The length limit counts the characters (code points) as sent, as the OpenAPI description's `maxLength`
    does. With `keep_newlines`, paragraph breaks survive (long texts are split at them)."""
    return _clean(value, field=field, max_chars=max_chars, required=required, keep_newlines=keep_newlines)


def normalize_spoken_text(value, *, field: str = "text", max_chars: int = 200,
                          keep_newlines: bool = False) -> tuple[str, Markup]:
    """Like `normalize_text` for text the model speaks: its markup is parsed (strictly). `Markup.units` (what
    will be spoken: characters, digits twice, pinyin syllables and sound tags) is what is charged and what
    decides between an answer and a job; the limit counts characters as sent."""
    text = _clean(value, field=field, max_chars=max_chars, required=True, keep_newlines=keep_newlines)
    markup = parse_markup(text)
    if not markup.plain.strip():
        raise BadRequest(f"{field} 不能只有标记", code=f"{field}_required")
    return markup.text, markup  # pinyin written as the model's own tokens (`[hao3]` -> `[h][ǎo]`)


def _clean(value, *, field: str, max_chars: int, required: bool, keep_newlines: bool) -> str:
    if value is None or value == "":
        if required:
            raise BadRequest(f"缺少 {field}", code=f"{field}_required")
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{field} 必须是字符串", code="invalid_type")
    if len(value) > max_chars:  # before any work: a 160 KB "text" is refused here, not by the inference server
        raise _too_long(field, len(value), max_chars)
    for ch in value:
        if ch in "\t\n\r":
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Co") or ch in _BIDI:
            raise BadRequest(f"{field} 含有不允许的控制字符", code=f"{field}_invalid_chars")
    text = IGNORABLE.sub("", unicodedata.normalize("NFC", value))
    if "<|" in text or "|>" in text:
        raise BadRequest(f"{field} 不能包含模型控制标记 <| |>", code=f"{field}_invalid_chars")
    if keep_newlines:
        paragraphs = (_WS.sub(" ", p).strip() for p in text.split("\n"))  # (a regex split was quadratic)
        text = "\n".join(p for p in paragraphs if p)
    else:
        text = _WS.sub(" ", text).strip()
    if not text and required:
        raise BadRequest(f"{field} 不能为空", code=f"{field}_required")
    return text
