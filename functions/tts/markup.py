"""CosyVoice3 inline markup, parsed once into what the model will speak.

Markup: pinyin standing in for a character (`她[h][ào]干净`: initial and final tags, or a whole syllable
`[hao4]`; English phonemes such as `[HH][AH0]` work alike), sound tags (`[breath]`, `[laughter]`) and emphasis
spans (`<strong>...</strong>`, `<laughter>...</laughter>`). Well-formed markup passes to the model unchanged;
malformed markup is refused with a clear message.

Markup is not free: a pinyin syllable is spoken and a sound tag is heard, so limits and quotas charge
`units` = plain characters + pinyin syllables + sound tags. Density is bounded (at most one sound tag,
pinyin syllable or span per plain character) and every pinyin run must touch a letter or a Han character,
so no text is mostly markup (one
character followed by 450 `[breath]` tags, or hundreds of bare syllables, was 140-275 s of audio for one
character's charge).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..errors import BadRequest

SOUND_TAGS = {"breath", "laughter", "noise", "cough", "clucking", "accent", "quick_breath", "hissing", "sigh",
              "vocalized-noise", "lipsmack", "mn"}
SPAN_TAGS = {"strong", "laughter"}
MAX_TAGS_PER_CHAR = 1.0
_PINYIN = re.compile(r"^[a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüê]{1,6}[0-5]?$")
_TOKEN = re.compile(r"\[([^\[\]]*)\]|<(/?)([^<>]*)>|[\[\]<>]")
_VOWELS = set("aeiouv")


@dataclass(frozen=True)
class PinyinRun:
    """Consecutive pinyin tags at one place of the plain text: the syllables spoken there (toneless)."""

    at: int  # index into `Markup.plain` where the run stands
    syllables: tuple[str, ...]


@dataclass(frozen=True)
class Markup:
    plain: str  # the text with every tag removed
    sound_tags: int
    pinyin_tags: int
    spans: int
    runs: tuple[PinyinRun, ...]

    @property
    def syllables(self) -> int:
        return sum(len(run.syllables) for run in self.runs)

    @property
    def units(self) -> int:
        """What limits and quotas charge: characters, pinyin syllables and sound tags."""
        return len(self.plain) + self.syllables + self.sound_tags


def _refuse(message: str) -> BadRequest:
    return BadRequest(f"文本标记格式错误：{message}", code="invalid_markup")


def toneless(tag: str) -> str:
    """`ào` -> `ao`, `hao3` -> `hao`, `ǚ` -> `v`, `AH0` -> `ah` (pypinyin's NORMAL style spelling)."""
    decomposed = unicodedata.normalize("NFD", tag.lower().replace("ü", "v").replace("ǖ", "v").replace("ǘ", "v")
                                       .replace("ǚ", "v").replace("ǜ", "v"))
    return "".join(c for c in decomposed if c.isascii() and c.isalpha())


# Pinyin finals as written after no initial, and after one (`[g][uèi]` is gui): the spelling pypinyin uses.
_ZERO_INITIAL = {"i": "yi", "in": "yin", "ing": "ying", "ia": "ya", "ie": "ye", "iao": "yao", "iu": "you",
                 "iou": "you", "ian": "yan", "iang": "yang", "iong": "yong", "u": "wu", "ua": "wa", "uo": "wo",
                 "uai": "wai", "ui": "wei", "uei": "wei", "uan": "wan", "un": "wen", "uen": "wen", "uang": "wang",
                 "ueng": "weng", "v": "yu", "ve": "yue", "ue": "yue", "van": "yuan", "vn": "yun"}
_AFTER_INITIAL = {"uei": "ui", "iou": "iu", "uen": "un"}


def written(syllable: str) -> str:
    """A toneless syllable in its standard written form (`uei` -> wei, `guei` -> gui, `jv` -> ju)."""
    if syllable in _ZERO_INITIAL:
        return _ZERO_INITIAL[syllable]
    for initial in ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r",
                    "z", "c", "s"):
        if syllable.startswith(initial) and len(syllable) > len(initial):
            final = syllable[len(initial):]
            final = _AFTER_INITIAL.get(final, final)
            if initial in ("j", "q", "x") and final.startswith("v"):
                final = "u" + final[1:]
            return initial + final
    return syllable


def syllables_of(tags: list[str]) -> tuple[str, ...]:
    """The syllables a pinyin run speaks. An initial tag joins the final after it (`[h][ào]` -> hao); a tag
    that is a whole syllable (`[hao3]`) or has no vowel (`[hm]`, `[n2]`, a consonant phoneme) stands alone,
    so every sound is counted and no tag can glue itself onto the next syllable to disguise it."""
    out: list[str] = []
    pending = ""
    for tag in tags:
        t = toneless(tag)
        if pending and t[:1] in _VOWELS:
            out.append(written(pending + t))
            pending = ""
            continue
        if pending:
            out.append(pending)
            pending = ""
        if _VOWELS.isdisjoint(t):
            pending = t  # an initial, or a syllable without a vowel: decided by the next tag
        else:
            out.append(written(t))
    if pending:
        out.append(pending)
    return tuple(out)


def parse_markup(text: str, *, strict: bool = True) -> Markup:
    """Parse the markup of `text`. Strict (requests): malformed markup raises `invalid_markup`, and density
    and attachment are enforced. Lenient (moderation of any field): what is not valid markup stays text."""
    plain: list[str] = []
    runs: list[PinyinRun] = []
    run_tags: list[str] = []
    open_span: str | None = None
    span_start = 0
    sound = pinyin = spans = 0
    length = last = 0

    def flush_run() -> None:
        if run_tags:
            runs.append(PinyinRun(length, syllables_of(run_tags)))
            run_tags.clear()

    def keep(chunk: str) -> None:
        nonlocal length
        if chunk:
            flush_run()
            plain.append(chunk)
            length += len(chunk)

    for m in _TOKEN.finditer(text):
        keep(text[last:m.start()])
        last = m.end()
        if m.group(1) is not None:  # [...]
            inner = m.group(1)
            if inner in SOUND_TAGS:
                flush_run()
                sound += 1
            elif _PINYIN.match(inner):
                run_tags.append(inner)
                pinyin += 1
            elif strict:
                raise _refuse(f"无法识别的方括号标记 [{inner[:20]}]（支持拼音如 [h][ào] 和 [breath] 等标签）")
            else:
                keep(m.group(0))
            continue
        if m.group(3) is not None and m.group(3) in SPAN_TAGS:  # <...> / </...>
            name, closing = m.group(3), m.group(2) == "/"
            flush_run()
            if closing:
                if open_span != name:
                    if strict:
                        raise _refuse(f"</{name}> 没有对应的开始标签")
                    continue
                if strict and length == span_start:
                    raise _refuse(f"<{name}> 标签内没有文字")
                open_span = None
                spans += 1
            else:
                if open_span is not None and strict:
                    raise _refuse("标签不能嵌套")
                open_span, span_start = name, length
            continue
        if strict:
            if m.group(3) is not None:
                raise _refuse(f"不支持的标签 <{m.group(2)}{m.group(3)[:20]}>")
            raise _refuse(f"不成对的符号 {m.group(0)}")
        keep(m.group(0))
    keep(text[last:])
    flush_run()
    if strict and open_span is not None:
        raise _refuse(f"<{open_span}> 没有结束标签")
    markup = Markup("".join(plain), sound, pinyin, spans, tuple(runs))
    if strict:
        _check_density(markup)
    return markup


def _check_density(markup: Markup) -> None:
    plain = markup.plain
    for run in markup.runs:
        before = plain[run.at - 1] if run.at > 0 else ""
        after = plain[run.at] if run.at < len(plain) else ""
        if not (before.isalnum() or after.isalnum()):
            raise _refuse("拼音标记必须紧挨着一个汉字或字母（它代替的字），不能单独成句")
    tags = markup.sound_tags + markup.syllables + markup.spans  # `[h][ào]` is one syllable, one mark
    allowed = max(1, int(len(plain.strip()) * MAX_TAGS_PER_CHAR))
    if tags > allowed:
        raise _refuse(f"标记过多：{tags} 个标记，{len(plain.strip())} 个字（每个字最多 {MAX_TAGS_PER_CHAR:g} 个标记）")
