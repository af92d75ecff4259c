"""Long text to segments: split at sentence ends (Chinese and Western punctuation), never inside markup,
packed up to the synchronous limit. A paragraph longer than half the limit is split on its own, never joined
to another, so articles sharing such paragraphs share cached segments; consecutive shorter paragraphs (titles,
dialogue, lists) are packed into one segment up to the limit, each ended with a full stop where it has no
sentence end of its own (the model pauses there: a newline it would skip), so many tiny paragraphs cost about
as many model calls as one paragraph of their length. The same text always splits the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from inference.contract import OUTPUT_SAMPLE_RATE

# Sentence ends, a markup token, or any other character.
_UNIT = re.compile(r"\[[^\[\]]*\]|<[^<>]*>|[。！？!?；;…]+[”’」』）)]*|\.(?=\s|$)|[，,、：:]|.", re.S)
_MARKUP = re.compile(r"\[[^\[\]]*\]|<[^<>]*>")
_SENTENCE_END = re.compile(r"^([。！？!?；;…]+[”’」』）)]*|\.)$")
_CLAUSE_END = re.compile(r"^[，,、：:]$")

SENTENCE_PAUSE_S = 0.25
PARAGRAPH_PAUSE_S = 0.6


@dataclass(frozen=True)
class Segment:
    text: str
    pause_after_s: float


def _span_delta(unit: str) -> int:
    if unit.startswith("</") and unit.endswith(">"):
        return -1
    if unit.startswith("<") and unit.endswith(">"):
        return 1
    return 0


def _sentences(paragraph: str) -> list[str]:
    out, current, depth = [], "", 0
    for m in _UNIT.finditer(paragraph):
        current += m.group(0)
        depth += _span_delta(m.group(0))
        if depth == 0 and _SENTENCE_END.match(m.group(0)):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return [s for s in out if s]


def _plain_len(text: str) -> int:
    """Length without markup (an unfinished span, mid-split, counts its text as plain)."""
    return len(_MARKUP.sub("", text))


def _hard_split(sentence: str, max_chars: int) -> list[str]:
    """A sentence longer than the limit: split at clause marks, then anywhere outside markup."""
    parts, current, depth = [], "", 0
    units = [m.group(0) for m in _UNIT.finditer(sentence)]
    for unit in units:
        if current and depth == 0 and _plain_len(current + unit) > max_chars:
            parts.append(current.strip())
            current = ""
        current += unit
        depth += _span_delta(unit)
        if depth == 0 and _CLAUSE_END.match(unit) and _plain_len(current) > max_chars // 2:
            parts.append(current.strip())
            current = ""
    if current.strip():
        parts.append(current.strip())
    return [p for p in parts if p]


def _join(a: str, b: str) -> str:
    """Western sentences keep their separating space; Chinese ones need none."""
    return f"{a} {b}" if a and b and a[-1].isascii() and b[0].isascii() else a + b


def _ended(paragraph: str) -> str:
    """A paragraph with a sentence end, so the model pauses before the next one packed after it."""
    units = [m.group(0) for m in _UNIT.finditer(paragraph) if not _MARKUP.fullmatch(m.group(0))]
    if units and (_SENTENCE_END.match(units[-1]) or _CLAUSE_END.match(units[-1])):
        return paragraph
    plain = _MARKUP.sub("", paragraph)
    return paragraph + ("." if plain and plain[-1].isascii() else "。")


def _paragraph_chunks(paragraph: str, max_chars: int) -> list[str]:
    packed: list[str] = []
    current = ""
    for sentence in _sentences(paragraph):
        pieces = [sentence] if _plain_len(sentence) <= max_chars else _hard_split(sentence, max_chars)
        for piece in pieces:
            candidate = _join(current, piece) if current else piece
            if current and _plain_len(candidate) > max_chars:
                packed.append(current)
                current = piece
            else:
                current = candidate
    if current:
        packed.append(current)
    return packed


def split_text(text: str, max_chars: int) -> list[Segment]:
    """Segments of at most `max_chars` plain characters (a single unbreakable run aside), each with the pause
    after it: a sentence pause inside a paragraph, a paragraph pause after a paragraph (or a pack of short
    ones), none after the last."""
    groups: list[list[str]] = []  # segments in paragraph order; a pause of a paragraph after each group
    pack = ""
    for paragraph in (p.strip() for p in text.split("\n")):
        if not paragraph:
            continue
        if _plain_len(paragraph) > max_chars // 2:
            if pack:
                groups.append([pack])
                pack = ""
            groups.append(_paragraph_chunks(paragraph, max_chars))
            continue
        candidate = _join(_ended(pack), paragraph) if pack else paragraph
        if pack and _plain_len(candidate) > max_chars:
            groups.append([pack])
            candidate = paragraph
        pack = candidate
    if pack:
        groups.append([pack])
    segments: list[Segment] = []
    for gi, chunks in enumerate(groups):
        for i, chunk in enumerate(chunks):
            last_in_group = i == len(chunks) - 1
            pause = 0.0 if (last_in_group and gi == len(groups) - 1) else \
                (PARAGRAPH_PAUSE_S if last_in_group else SENTENCE_PAUSE_S)
            segments.append(Segment(chunk, pause))
    return segments


class Track:
    """A text's speech as it is made, segment by segment: the pieces in order (each segment's speech and the
    pause after it, never joined as floats), each segment's (text, seconds, pause after) for the subtitles, and
    the second the next piece starts at. Jobs and streams build their file with the same one."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.pieces: list[np.ndarray] = []
        self.parts: list[tuple[str, float, float]] = []
        self.at = start_s

    def add(self, segment: Segment, speech: np.ndarray) -> np.ndarray | None:
        """Append a segment's speech and its pause; returns that pause (None when the segment has none)."""
        seconds = speech.size / OUTPUT_SAMPLE_RATE
        self.pieces.append(speech)
        self.parts.append((segment.text, seconds, segment.pause_after_s))
        self.at += seconds
        if not segment.pause_after_s:
            return None
        pause = np.zeros(int(segment.pause_after_s * OUTPUT_SAMPLE_RATE), np.float32)
        self.pieces.append(pause)
        self.at += pause.size / OUTPUT_SAMPLE_RATE
        return pause
