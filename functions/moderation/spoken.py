"""What a listener will hear, in the forms the keyword list is matched against.

A text is checked as it will be spoken, not as it was typed:
- markup removed (`违[breath]禁`, `违<strong>禁</strong>` are the word);
- traditional characters folded to simplified (OpenCC's t2s data: `違禁` is `违禁`);
- letters folded to their Latin look-alike (Unicode's confusables data: Cyrillic `о` is `o`), after NFKC
  (full-width and mathematical letters), case folding and dropping accents;
- spacing and punctuation between characters ignored;
- and, when the text carries pinyin, its syllables (pypinyin for the characters, the tags as written),
  matched against the syllables of each listed word: `啊[wei2]啊[jin4]` is heard as "wei jin" whether the
  pinyin stands in for a character or overrides the one before it, so both readings are checked.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from pathlib import Path

from ..tts.markup import Markup

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@functools.lru_cache(maxsize=1)
def _skeleton() -> dict[int, str]:
    """Non-ASCII letters and digits -> the ASCII character they are confusable with (UTS #39 data)."""
    import confusable_homoglyphs

    data = json.loads((Path(confusable_homoglyphs.__file__).parent / "confusables.json").read_text("utf-8"))
    table: dict[int, str] = {}
    for char in sorted(data):
        members = [char] + [h["c"].strip("\u200e") for h in data[char]]
        bases = (_strip_marks(m) for m in members)  # `ƒ` is listed as `f` with a comma below
        ascii_ = sorted(c.casefold() for c in bases if len(c) == 1 and c.isascii() and c.isalnum())
        if not ascii_:
            continue
        for c in members:
            if len(c) == 1 and not c.isascii() and c.isalnum() and not _HAN.match(c):
                table.setdefault(ord(c), ascii_[0])
    return table


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def fold(text: str) -> str:
    """The comparison form of a text: NFKC, case-folded, simplified, accents dropped, confusables to ASCII,
    no spacing or punctuation."""
    text = _t2s().convert(unicodedata.normalize("NFKC", text).casefold())
    return _NOISE.sub("", _strip_marks(text).translate(_skeleton()))


def _han_syllables(text: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    return [s for s in lazy_pinyin(_t2s().convert(text), style=Style.NORMAL, errors="ignore") if s.isalpha()]


def word_syllables(word: str) -> str | None:
    """`|wei|jin|` for a listed word made of Han characters; None for other words."""
    han = "".join(_HAN.findall(word))
    if not han or len(han) != len(_NOISE.sub("", word)):
        return None
    return "|" + "|".join(_han_syllables(han)) + "|"


def spoken_syllables(markup: Markup) -> list[str]:
    """The syllable strings of a text with pinyin: the pinyin standing in for characters, and overriding the
    character before it. Empty when the text carries no pinyin (its characters are matched directly)."""
    if not markup.runs:
        return []
    inserted: list[str] = []
    overridden: list[str] = []
    last = 0
    for run in markup.runs:
        piece = markup.plain[last:run.at]
        syllables = _han_syllables(piece)
        inserted += syllables + list(run.syllables)
        if piece and _HAN.match(piece[-1]) and syllables:
            syllables = syllables[:-1]
        overridden += syllables + list(run.syllables)
        last = run.at
    tail = _han_syllables(markup.plain[last:])
    return ["|" + "|".join(form + tail) + "|" for form in (inserted, overridden)]
