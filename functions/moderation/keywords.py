"""A local keyword list matched with an Aho-Corasick automaton (pyahocorasick): one pass over the text,
whatever the number of words, so thousands of words cost microseconds.

Matching ignores case, full-width/half-width differences and spacing or punctuation inserted between the
characters of a word (a common way around naive filters).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import ahocorasick

from . import Subject, Verdict

DEFAULT_LIST = Path(__file__).with_name("keywords.txt")
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def fold(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).casefold())


class KeywordFilter:
    name = "keywords"
    local = True

    def __init__(self, words) -> None:
        self.automaton = ahocorasick.Automaton()
        count = 0
        for word in words:
            folded = fold(word)
            if folded:
                self.automaton.add_word(folded, folded)
                count += 1
        self.size = count
        if count:
            self.automaton.make_automaton()

    @classmethod
    def from_file(cls, path: str | Path) -> "KeywordFilter":
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return cls(line.strip() for line in lines if line.strip() and not line.startswith("#"))

    @classmethod
    def from_settings(cls, settings) -> "KeywordFilter":
        return cls.from_file(settings.keyword_file or DEFAULT_LIST)

    def check(self, item: Subject) -> Verdict:
        if self.size:
            for _end, _word in self.automaton.iter(fold(item.text)):
                return Verdict("refuse", self.name, "keyword")
        return Verdict("pass", self.name)
