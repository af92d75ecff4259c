"""A local keyword list matched with an Aho-Corasick automaton (pyahocorasick): one pass over the text,
whatever the number of words, so thousands of words cost microseconds.

Texts are matched as they will be spoken (`spoken.py`): markup removed, traditional characters simplified,
look-alike letters folded, digits inside words read as the letters they stand in for, spacing and punctuation
ignored, texts with pinyin (markup, or Latin words that spell it) also by their syllables.
"""

from __future__ import annotations

from pathlib import Path

import ahocorasick

from . import Subject, Verdict
from .spoken import (MIN_HOMOPHONE_SYLLABLES, digit_spellings, fold, latin_syllables, sound_key, spoken_sound_key,
                     spoken_syllables, word_sound_key, word_syllables)

DEFAULT_LIST = Path(__file__).with_name("keywords.txt")


def _automaton(words) -> ahocorasick.Automaton | None:
    automaton = ahocorasick.Automaton()
    for word in words:
        automaton.add_word(word, word.count("|") - 1)  # value: syllables in a syllable form
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


class KeywordFilter:
    name = "keywords"
    local = True

    def __init__(self, words) -> None:
        words = list(words)
        folded = {f for f in map(fold, words) if f}
        self.size = len(folded)
        self.automaton = _automaton(folded)
        self.syllables = _automaton({form for word in words for form in word_syllables(word)})
        self.sounds = _automaton({key for key in map(word_sound_key, words) if key})

    @classmethod
    def from_file(cls, path: str | Path) -> "KeywordFilter":
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        words = (line.strip() for line in lines)  # an indented comment is a comment, not a word to block
        return cls(w for w in words if w and not w.startswith("#"))

    @classmethod
    def from_settings(cls, settings) -> "KeywordFilter":
        return cls.from_file(settings.keyword_file or DEFAULT_LIST)

    def check(self, item: Subject) -> Verdict:
        folded = fold(item.markup.plain)
        spellings = digit_spellings(item.markup.plain)  # `f0rbidden`, `b4dword`: digits read as letters
        if self.automaton is not None and any(_hits(self.automaton, form) for form in (folded, *spellings)):
            return Verdict("refuse", self.name, "keyword")
        if self.syllables is not None:
            # without pinyin markup, only long words by sound: short homophones are everyday words, and so are
            # two Latin syllables without tones (`wei jin` is also 围巾)
            shortest = 1 if item.markup.runs else MIN_HOMOPHONE_SYLLABLES
            latin = latin_syllables(item.markup)
            for form in spoken_syllables(item.markup) + ([latin] if latin else []):
                if _hits(self.syllables, form, shortest):
                    return Verdict("refuse", self.name, "keyword_sound")
        if self.sounds is not None:
            keys = [spoken_sound_key(item.markup, folded), *map(sound_key, spellings)]
            if any(_hits(self.sounds, key) for key in keys):
                return Verdict("refuse", self.name, "keyword_sound")
        return Verdict("pass", self.name)


def _hits(automaton: ahocorasick.Automaton, text: str, shortest: int | None = None) -> bool:
    return any(shortest is None or count >= shortest for _end, count in automaton.iter(text))
