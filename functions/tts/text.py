"""Text validation and normalization. Text is data: it only ever reaches the model as a tensor."""

from __future__ import annotations

import re
import unicodedata

from ..errors import BadRequest
from .markup import check_markup

_WS = re.compile(r"\s+")
# Bidirectional overrides and isolates can disguise text in logs and review tools.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\ufeff"), None)


def normalize_text(value, *, field: str = "text", max_chars: int = 200, required: bool = True,
                   markup: bool = False, keep_newlines: bool = False) -> str:
    """NFC, zero-width characters removed, whitespace collapsed; refuses control characters and model tokens.

    With `markup`, CosyVoice3 markup is checked and does not count towards `max_chars`. With `keep_newlines`,
    paragraph breaks survive (long texts are split at them)."""
    if value is None or value == "":
        if required:
            raise BadRequest(f"缺少 {field}", code=f"{field}_required")
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{field} 必须是字符串", code="invalid_type")
    text = unicodedata.normalize("NFC", value).translate(_ZERO_WIDTH)
    for ch in text:
        if ch in "\t\n\r":
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Co") or ch in _BIDI:
            raise BadRequest(f"{field} 含有不允许的控制字符", code=f"{field}_invalid_chars")
    if "<|" in text or "|>" in text:
        raise BadRequest(f"{field} 不能包含模型控制标记 <| |>", code=f"{field}_invalid_chars")
    if keep_newlines:
        paragraphs = (_WS.sub(" ", p).strip() for p in re.split(r"\s*\n\s*", text))
        text = "\n".join(p for p in paragraphs if p)
    else:
        text = _WS.sub(" ", text).strip()
    if not text and required:
        raise BadRequest(f"{field} 不能为空", code=f"{field}_required")
    counted = check_markup(text) if markup else text
    if len(counted.strip()) == 0 and required:
        raise BadRequest(f"{field} 不能只有标记", code=f"{field}_required")
    if len(counted) > max_chars:
        raise BadRequest(f"{field} 过长：{len(counted)} 字，上限 {max_chars} 字", code=f"{field}_too_long")
    return text
