"""What a listener will hear, in the forms the keyword list is matched against.

A text is checked as it will be spoken, not as it was typed:
- markup removed (`违[breath]禁`, `违<strong>禁</strong>` are the word), also markup typed with full-width
  brackets, in case the model's text normalizer reads it as markup;
- invisible characters removed (Unicode's default-ignorable code points: soft hyphens, joiners, variation
  selectors, tag characters, Hangul fillers), and spacing and punctuation between characters ignored;
- traditional characters folded to simplified (OpenCC's t2s data: `違禁` is `违禁`);
- letters folded to their plain Latin letter: NFKC (full-width, mathematical), case folding, accents dropped,
  Unicode's confusables data (Cyrillic `о` is `o`) and letter names (small capitals, hooked letters), and
  repeated Latin letters squeezed (`teßt` casefolds to `tesst`);
- digits for letters: inside a word that has letters, 0 1 3 4 5 7 8 @ $ are also read as the letters they
  stand in for (1 as i or l, 4 as a or "for"), so `f0rbidden`, `b4dword` and `badw0rd` are the words they
  spell; a number standing alone (`4 apples`, `$5`, `2026年`) stays a number;
- English by sound: listed Latin words of six or more consonant sounds are also matched by a consonant
  skeleton, so digits (`4bidden`), respellings (`fraze`) and ARPAbet phoneme markup (`[F][ER0][B]...`)
  are heard as the word;
- syllables (toneless pinyin): a text with pinyin markup is matched by its syllables, whether the pinyin
  stands in for a character or overrides the one before it (`啊[wei2]啊[jin4]` is heard as "wei jin"),
  with consonant-only tags also dropped (`[h][wei2]`); and any text is matched by the syllables of its
  characters against listed words of three or more syllables (homophones: `围进策是词`), also with its Latin
  words read as the pinyin they spell (`wei jin ce shi ci`, `weijin`, tone marks or digits ignored; a Latin
  word that spells none breaks the run). Shorter words are matched by syllables only when pinyin markup is
  present, since two-syllable homophones are everyday words (`wei jin` is also 围巾).
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import unicodedata
from pathlib import Path

from ..text.markup import Markup, parse_markup, toneless
from ..text.normalize import IGNORABLE as _IGNORABLE

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_SQUEEZE = re.compile(r"([a-z])\1+")
_SQUEEZE_ANY = re.compile(r"(.)\1+")
_LETTER_NAME = re.compile(r"^LATIN (?:SMALL |CAPITAL )?LETTER (?:SMALL CAPITAL )?([A-Z])(?: WITH .*)?$")
_LATIN_BLOCKS = ((0x80, 0x530), (0x1D00, 0x1DC0), (0x1E00, 0x1F00), (0x2100, 0x2150), (0x2C60, 0x2C80),
                 (0xA720, 0xA800), (0xAB30, 0xAB70))
MIN_HOMOPHONE_SYLLABLES = 3
MIN_SOUND_KEY = 6  # shorter consonant skeletons are everyday words
_DIGITS = dict(zip("0123456789", "zero one two three four five six seven eight nine".split(), strict=True))
_RESPELL = (("ph", "f"), ("ck", "k"), ("gh", "g"), ("c", "k"), ("q", "k"), ("x", "ks"), ("z", "s"))
_PHONEME_KEY = {"B": "b", "CH": "k", "D": "d", "DH": "t", "F": "f", "G": "g", "JH": "j", "K": "k", "L": "l",
                "M": "m", "N": "n", "NG": "ng", "P": "p", "R": "r", "S": "s", "SH": "s", "T": "t", "TH": "t",
                "V": "v", "Z": "s", "ZH": "s", "ER": "r"}
MAX_READINGS = 16  # spellings of one listed word (polyphonic characters), for its syllable forms
_LOOKALIKE = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"}
_LOOKALIKE_CHOICES = (("1", ("i", "l")), ("4", ("a", "for")))
_IN_WORD_NOISE = re.compile(r"[^\w@$]|_")
_ALNUM_RUN = re.compile(r"([a-z0-9@$]+)")
_LATIN_OR_HAN = re.compile(r"[a-z]+|" + _HAN.pattern)
_MAX_SYLLABLE = 6  # `zhuang`


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


@functools.lru_cache(maxsize=1)
def _skeleton() -> dict[int, str]:
    """Non-ASCII letters and digits -> the ASCII character they are mistaken for (UTS #39 data, then names)."""
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
    for lo, hi in _LATIN_BLOCKS:  # `ᴇ` LATIN LETTER SMALL CAPITAL E, `ɗ` LATIN SMALL LETTER D WITH HOOK
        for cp in range(lo, hi):
            m = _LETTER_NAME.match(unicodedata.name(chr(cp), ""))
            if m:
                table.setdefault(cp, m.group(1).lower())
    return table


def _letters(text: str) -> str:
    """A text's characters folded one by one (markup gone, spacing and punctuation still there)."""
    text = unicodedata.normalize("NFKC", _IGNORABLE.sub("", text.encode("utf-8", "replace").decode("utf-8")))
    text = parse_markup(text, strict=False).plain if ("[" in text or "<" in text) else text
    return _strip_marks(_t2s().convert(text.casefold())).translate(_skeleton())


def _squash(letters: str) -> str:
    return _SQUEEZE.sub(r"\1", _NOISE.sub("", letters))


def fold(text: str) -> str:
    """The comparison form of a text."""
    return _squash(_letters(text))


def digit_spellings(text: str) -> list[str]:
    """Other comparison forms of a text whose words mix letters with digits, `@` or `$`: those read as the
    letters they stand in for (0 o, 1 i or l, 3 e, 4 a or "for", 5 s, 7 t, 8 b, @ a, $ s), so `f0rbidden`,
    `b4dword` and `badw0rd` are the words they spell. Only a run of letters and such characters with at least
    one letter is read so (punctuation inside a word ignored: `f-0-rbidden`): a number standing alone, as in
    `4 apples`, `2026年` or `$5`, stays a number."""
    letters = _letters(text)
    if _LOOKALIKE.keys().isdisjoint(letters):
        return []
    runs = [_ALNUM_RUN.split(_IN_WORD_NOISE.sub("", word)) for word in letters.split()]
    # (split with a group: even items are what lies between runs, odd items the runs of letters and digits)
    mixed = {run for parts in runs for run in parts[1::2]
             if not _LOOKALIKE.keys().isdisjoint(run) and any(c.isalpha() for c in run)}
    if not mixed:
        return []
    choices = [(c, options) for c, options in _LOOKALIKE_CHOICES if any(c in run for run in mixed)]
    forms: dict[str, None] = {}
    for picked in itertools.product(*(options for _c, options in choices)):
        table = {**_LOOKALIKE, **{c: o for (c, _options), o in zip(choices, picked, strict=True)}}
        spelled = ("".join(table.get(c, c) for c in part) if part in mixed else part
                   for parts in runs for part in parts)
        forms[_squash("".join(spelled))] = None
    forms.pop(_squash(letters), None)
    return list(forms)


@functools.lru_cache(maxsize=65536)
def _readings(char: str) -> tuple[str, ...]:
    """The toneless readings of one Han character, most common first (pypinyin's character table)."""
    from pypinyin.pinyin_dict import pinyin_dict

    raw = pinyin_dict.get(ord(_t2s().convert(char)), "") or pinyin_dict.get(ord(char), "")
    return tuple(dict.fromkeys(toneless(r) for r in raw.split(",") if r)) or ("",)


def _han_syllables(text: str) -> list[str]:
    return [_readings(c)[0] for c in _HAN.findall(text)]


def word_syllables(word: str) -> list[str]:
    """`|wei|jin|ce|shi|ci|` (each spelling, for polyphonic characters) of a listed word of Han characters."""
    word = _IGNORABLE.sub("", word)
    han = _HAN.findall(word)
    if not han or len(han) != len(_NOISE.sub("", word)):
        return []
    spellings = itertools.islice(itertools.product(*(_readings(c) for c in han)), MAX_READINGS)
    return ["|" + "|".join(s) + "|" for s in spellings]


def _form(syllables: list[str]) -> str:
    return "|" + "|".join(syllables) + "|"


def spoken_syllables(markup: Markup) -> list[str]:
    """The syllable strings a text may be heard as: its characters' readings alone, and, with pinyin, the
    pinyin standing in for characters or overriding the one before it, each also without consonant-only
    syllables."""
    plain = _IGNORABLE.sub("", markup.plain)
    if not markup.runs:
        return [_form(_han_syllables(plain))]
    inserted: list[str] = []
    overridden: list[str] = []
    last = 0
    for run in markup.runs:
        piece = markup.plain[last:run.at]
        syllables = _han_syllables(piece)
        spoken = list(run.syllables)
        inserted += syllables + spoken
        if piece and _HAN.match(piece[-1]) and syllables:
            syllables = syllables[:-1]
        overridden += syllables + spoken
        last = run.at
    tail = _han_syllables(markup.plain[last:])
    forms = [inserted + tail, overridden + tail]
    forms += [[s for s in form if not set(s).isdisjoint("aeiouv")] for form in forms]
    return [_form(form) for form in forms]


def sound_key(letters: str) -> str:
    """A consonant skeleton of folded Latin text: digits spelled out, common respellings merged, vowels and
    h, w, y dropped, repeats squeezed (`forbidden test phrase` and `4bidden test fraze` are `frbdntstfrs`)."""
    text = "".join(_DIGITS.get(c, c) for c in letters if c.isascii() and c.isalnum())
    for spelled, sound in _RESPELL:
        text = text.replace(spelled, sound)
    return _SQUEEZE_ANY.sub(r"\1", re.sub(r"[aeiouyhw]", "", text))


def word_sound_key(word: str) -> str | None:
    """The sound key of a listed Latin word or phrase, when long enough to match by sound."""
    folded = fold(word)
    if not folded.isascii():
        return None
    key = sound_key(folded)
    return key if len(key) >= MIN_SOUND_KEY else None


def spoken_sound_key(markup: Markup, folded: str) -> str:
    """The sound key of a text as spoken, phoneme markup included (`folded`: `fold(markup.plain)`)."""
    if not any(run.phonemes for run in markup.runs):
        return sound_key(folded)
    parts: list[str] = []
    last = 0
    for run in markup.runs:
        parts.append(sound_key(fold(markup.plain[last:run.at])))
        parts.append("".join(_PHONEME_KEY.get(p, "") for p in run.phonemes))
        last = run.at
    parts.append(sound_key(fold(markup.plain[last:])))
    return _SQUEEZE_ANY.sub(r"\1", "".join(parts))


@functools.lru_cache(maxsize=1)
def _pinyin_spellings() -> dict[str, str]:
    """Toneless pinyin syllables as Latin text may write them -> their standard form (`nue` is `nve`);
    consonant-only interjections (`m`, `ng`, `hm`) are no syllables here."""
    from pypinyin.pinyin_dict import pinyin_dict

    syllables = {toneless(r) for value in pinyin_dict.values() for r in value.split(",") if r}
    spellings = {s: s for s in syllables if not set(s).isdisjoint("aeiouv")}
    for s in list(spellings):
        spellings.setdefault(s.replace("v", "u"), s)
    return spellings


@functools.lru_cache(maxsize=4096)
def _pinyin_word(word: str) -> tuple[str, ...] | None:
    """A Latin word as pinyin syllables (`weijin` -> wei, jin; longest syllable first), or None."""
    spellings = _pinyin_spellings()
    best: list[tuple[str, ...] | None] = [None] * len(word) + [()]
    for i in range(len(word) - 1, -1, -1):
        for end in range(min(len(word), i + _MAX_SYLLABLE), i, -1):
            tail = best[end]
            if tail is not None and word[i:end] in spellings:
                best[i] = (spellings[word[i:end]], *tail)
                break
    return best[0]


def latin_syllables(markup: Markup) -> str | None:
    """The syllable string of a text with its Latin words read as pinyin where they spell it (`wei jin ce
    shi ci`, `weijin`, `wéi jìn`, tone digits ignored), among its characters' readings and its pinyin markup; a
    Latin word that is no pinyin breaks the string. None when no Latin word spells pinyin."""
    spoken: list[str] = []
    found = False
    last = 0
    for at, syllables in [(run.at, run.syllables) for run in markup.runs] + [(len(markup.plain), ())]:
        for m in _LATIN_OR_HAN.finditer(_letters(markup.plain[last:at])):
            token = m.group(0)
            if _HAN.match(token):
                spoken.append(_readings(token)[0])
                continue
            word = _pinyin_word(token)
            found = found or word is not None
            spoken.extend(word if word is not None else ("#",))
        spoken.extend(syllables)
        last = at
    return _form(spoken) if found else None
