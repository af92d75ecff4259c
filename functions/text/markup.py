"""CosyVoice3 inline markup, parsed once into what the model will speak.

Markup: pinyin standing in for a character (`她[h][ào]干净`: an initial and a final), English phonemes
(`[HH][AH0][L][OW1]`), sound tags (`[breath]`, `[laughter]`) and emphasis spans (`<strong>...</strong>`,
`<laughter>...</laughter>`). Only the model's own tokens are markup: the CosyVoice3 tokenizer knows these
pinyin initials and toned finals, ARPAbet phonemes and sound tags, and reads anything else in brackets as
plain text. For convenience a whole syllable with a tone number (`[hao3]`, `[lv4]`) is rewritten into the
model's tokens (`[h][ǎo]`); a tag that is none of these, or an initial without its final, is `invalid_markup`.

Markup is not free: a pinyin syllable or an English syllable is spoken and a sound tag is heard, so limits and
quotas charge `units` = plain characters + digits once more (numbers are read out: 2026 is 两千零二十六) +
syllables + sound tags. Density is bounded (at most one sound tag, syllable or span per plain character) and
every pinyin or phoneme run must touch a letter or a Han character, so no text is mostly markup (one character
followed by 450 `[breath]` tags, or hundreds of bare syllables, was 140-275 s of audio for one character).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..errors import BadRequest

SOUND_TAGS = {"breath", "laughter", "noise", "cough", "clucking", "accent", "quick_breath", "hissing", "sigh",
              "vocalized-noise", "lipsmack", "mn"}
SPAN_TAGS = {"strong", "laughter"}
# The CosyVoice3 tokenizer's pinyin and phoneme tokens (its special tokens, cosyvoice/tokenizer/tokenizer.py).
INITIALS = set("b c ch d f g h j k l m n p q r s sh t w x y z zh".split())
FINALS = set("""a ai an ang ao e ei en eng i ian in ing iu ià iàn iàng iào iá ián iáng iáo iè ié iòng ióng iù iú iā iān
iāng iāo iē iě iōng iū iǎ iǎn iǎng iǎo iǒng iǔ o ong ou u uang ue un uo uà uài uàn uàng uá uái uán uáng uè ué uì uí uò
uó uā uāi uān uāng uē uě uī uō uǎ uǎi uǎn uǎng uǐ uǒ vè à ài àn àng ào á ái án áng áo è èi èn èng èr é éi én éng ér ì ìn
ìng í ín íng ò òng òu ó óng óu ù ùn ú ún ā āi ān āng āo ē ēi ēn ēng ě ěi ěn ěng ěr ī īn īng ō ōng ōu ū ūn ǎ ǎi ǎn ǎng
ǎo ǐ ǐn ǐng ǒ ǒng ǒu ǔ ǔn ǘ ǚ ǜ""".split())
PHONEME_VOWELS = set("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
PHONEME_CONSONANTS = set("B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH".split())
PHONEMES = PHONEME_CONSONANTS | PHONEME_VOWELS | {f"{v}{s}" for v in PHONEME_VOWELS for s in "012"}
MAX_TAGS_PER_CHAR = 1.0
_TOKEN = re.compile(r"\[([^\[\]]*)\]|<(/?)([^<>]*)>|[\[\]<>]")
_SYLLABLE = re.compile(r"^(zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?([aeiouvü]+(?:ng|n|r)?)([0-5])?$")
_VOWELS = set("aeiouv")
_TONES = {"a": "āáǎà", "e": "ēéěè", "i": "īíǐì", "o": "ōóǒò", "u": "ūúǔù", "ü": "ǖǘǚǜ"}


@dataclass(frozen=True)
class PinyinRun:
    """Consecutive pinyin or phoneme tags at one place of the plain text: what is spoken there."""

    at: int  # index into `Markup.plain` where the run stands
    syllables: tuple[str, ...]  # toneless pinyin, standard spelling (`hao`, `wei`, `lv`)
    phonemes: tuple[str, ...] = ()  # ARPAbet, stress dropped

    @property
    def spoken_syllables(self) -> int:
        vowels = sum(p in PHONEME_VOWELS for p in self.phonemes)
        return len(self.syllables) + (vowels or (1 if self.phonemes else 0))


@dataclass(frozen=True)
class Markup:
    text: str  # the text for the model: markup in the model's own tokens
    plain: str  # the text with every tag removed
    sound_tags: int
    spans: int
    runs: tuple[PinyinRun, ...]

    @property
    def syllables(self) -> int:
        return sum(run.spoken_syllables for run in self.runs)

    @property
    def units(self) -> int:
        """What limits and quotas charge: characters (digits twice), syllables of markup and sound tags."""
        digits = sum(c.isdigit() for c in self.plain)
        return len(self.plain) + digits + self.syllables + self.sound_tags


def _refuse(case: str, **params) -> BadRequest:
    return BadRequest("invalid_markup", case=case, **params)


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
                    "z", "c", "s", "y", "w"):
        if syllable.startswith(initial) and len(syllable) > len(initial):
            final = syllable[len(initial):]
            final = _AFTER_INITIAL.get(final, final)
            if initial in ("j", "q", "x", "y") and final.startswith("v"):
                final = "u" + final[1:]
            return initial + final
    return syllable


def _mark_tone(final: str, tone: int) -> str:
    """`ao`, 3 -> `ǎo`: the mark goes on a or e, on the o of ou, else on the last vowel; 0 and 5 are neutral."""
    final = final.replace("v", "ü")
    if tone in (0, 5):
        return final
    vowels = [i for i, c in enumerate(final) if c in _TONES]
    at = next((i for i, c in enumerate(final) if c in "ae"), None)
    if at is None:
        at = final.index("o") if "ou" in final else vowels[-1]
    return final[:at] + _TONES[final[at]][tone - 1] + final[at + 1:]


def model_tokens(tag: str) -> list[str] | None:
    """The model's tokens for one bracketed tag, or None when it is not pinyin or a phoneme."""
    if tag in PHONEMES:
        return [tag]
    low = tag.lower()
    if low in INITIALS or low in FINALS:
        return [low]
    m = _SYLLABLE.match(low)
    if m is None:
        return None
    initial, final = m.group(1), _mark_tone(m.group(2), int(m.group(3) or 5))
    if initial in ("j", "q", "x", "y") and final[:1] in "üǖǘǚǜ" and len(final) > 1:
        final = "u" + final[1:]  # jüe is written jue
    if final not in FINALS:
        final = final.replace("ü", "v")  # the tokenizer spells üe as ve
    if final not in FINALS:
        return None
    return ([initial] if initial else []) + [final]


def _run(at: int, tokens: list[str], strict: bool) -> PinyinRun:
    """Syllables of a run of model tokens; an initial must be followed by its final (leniently, one that is
    not still counts as a syllable of its own)."""
    syllables: list[str] = []
    phonemes: list[str] = []
    pending = ""
    for token in tokens:
        if token in PHONEMES:
            phonemes.append(token.rstrip("012"))
        elif token in INITIALS:
            if pending and strict:
                raise _refuse("orphan_initial", initial=pending)
            if pending:
                syllables.append(pending)
            pending = token
        else:
            syllables.append(written(toneless(pending + token)))
            pending = ""
    if pending and strict:
        raise _refuse("orphan_initial", initial=pending)
    if pending:
        syllables.append(pending)
    return PinyinRun(at, tuple(syllables), tuple(phonemes))


def parse_markup(text: str, *, strict: bool = True) -> Markup:
    """Parse the markup of `text`. Strict (requests): malformed markup raises `invalid_markup`, and density
    and attachment are enforced. Lenient (moderation of any field): what is not valid markup stays text."""
    out: list[str] = []
    plain: list[str] = []
    runs: list[PinyinRun] = []
    run_tokens: list[str] = []
    open_span: str | None = None
    span_start = 0
    sound = spans = 0
    length = last = 0

    def flush_run() -> None:
        if run_tokens:
            runs.append(_run(length, run_tokens, strict))
            run_tokens.clear()

    def keep(chunk: str) -> None:
        nonlocal length
        if chunk:
            flush_run()
            plain.append(chunk)
            out.append(chunk)
            length += len(chunk)

    for m in _TOKEN.finditer(text):
        keep(text[last:m.start()])
        last = m.end()
        if m.group(1) is not None:  # [...]
            inner = m.group(1)
            tokens = None if inner in SOUND_TAGS else model_tokens(inner)
            if inner in SOUND_TAGS:
                flush_run()
                sound += 1
                out.append(m.group(0))
            elif tokens is not None:
                run_tokens.extend(tokens)
                out.extend(f"[{t}]" for t in tokens)
            elif strict:
                raise _refuse("unknown_bracket", tag=inner[:20])
            else:
                keep(m.group(0))
            continue
        if m.group(3) is not None and m.group(3) in SPAN_TAGS:  # <...> / </...>
            name, closing = m.group(3), m.group(2) == "/"
            flush_run()
            out.append(m.group(0))
            if closing:
                if open_span != name:
                    if strict:
                        raise _refuse("unopened", name=name)
                    continue
                if strict and length == span_start:
                    raise _refuse("empty_span", name=name)
                open_span = None
                spans += 1
            else:
                if open_span is not None and strict:
                    raise _refuse("nested")
                open_span, span_start = name, length
            continue
        if strict:
            if m.group(3) is not None:
                raise _refuse("unsupported_tag", tag=m.group(2) + m.group(3)[:20])
            raise _refuse("unpaired", symbol=m.group(0))
        keep(m.group(0))
    keep(text[last:])
    flush_run()
    if strict and open_span is not None:
        raise _refuse("unclosed", name=open_span)
    markup = Markup("".join(out), "".join(plain), sound, spans, tuple(runs))
    if strict:
        _check_density(markup)
    return markup


def _check_density(markup: Markup) -> None:
    plain = markup.plain
    for run in markup.runs:
        before = plain[run.at - 1] if run.at > 0 else ""
        after = plain[run.at] if run.at < len(plain) else ""
        if not (before.isalnum() or after.isalnum()):
            raise _refuse("detached")
    marks = markup.sound_tags + markup.syllables + markup.spans  # `[h][ào]` is one syllable, one mark
    allowed = max(1, int(len(plain.strip()) * MAX_TAGS_PER_CHAR))
    if marks > allowed:
        raise _refuse("too_many", marks=marks, chars=len(plain.strip()), per_char=MAX_TAGS_PER_CHAR)
