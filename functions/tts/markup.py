"""CosyVoice3 inline markup: pinyin for polyphones (`她[h][ào]干净`), sound tags (`[breath]`, `[laughter]`) and
emphasis spans (`<strong>...</strong>`, `<laughter>...</laughter>`). Well-formed markup passes through to the
model unchanged; malformed markup is refused with a clear message; markup does not count towards the limit.
"""

from __future__ import annotations

import re

from ..errors import BadRequest

SOUND_TAGS = {"breath", "laughter", "noise", "cough", "clucking", "accent", "quick_breath", "hissing", "sigh",
              "vocalized-noise", "lipsmack", "mn"}
SPAN_TAGS = {"strong", "laughter"}
_PINYIN = re.compile(r"^[a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüê]{1,6}[1-5]?$")
_TOKEN = re.compile(r"\[([^\[\]]*)\]|<(/?)([^<>]*)>|[\[\]<>]")


def _refuse(message: str) -> BadRequest:
    return BadRequest(f"文本标记格式错误：{message}", code="invalid_markup")


def check_markup(text: str) -> str:
    """The text with markup removed (what counts towards the length limit); raises on malformed markup."""
    open_span: str | None = None
    plain: list[str] = []
    last = 0
    for m in _TOKEN.finditer(text):
        plain.append(text[last:m.start()])
        last = m.end()
        token = m.group(0)
        if m.group(1) is not None:  # [...]
            inner = m.group(1)
            if inner not in SOUND_TAGS and not _PINYIN.match(inner):
                raise _refuse(f"无法识别的方括号标记 [{inner[:20]}]（支持拼音如 [h][ào] 和 [breath] 等标签）")
        elif m.group(3) is not None:  # <...>
            closing, name = m.group(2) == "/", m.group(3)
            if name not in SPAN_TAGS:
                raise _refuse(f"不支持的标签 <{m.group(2)}{name[:20]}>")
            if closing:
                if open_span != name:
                    raise _refuse(f"</{name}> 没有对应的开始标签")
                open_span = None
            else:
                if open_span is not None:
                    raise _refuse("标签不能嵌套")
                open_span = name
        else:
            raise _refuse(f"不成对的符号 {token}")
    plain.append(text[last:])
    if open_span is not None:
        raise _refuse(f"<{open_span}> 没有结束标签")
    return "".join(plain)
