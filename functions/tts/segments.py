"""Long text to segments: split at sentence ends (Chinese and Western punctuation), never inside markup,
never across paragraphs, packed up to the synchronous limit. The same paragraph always splits the same way,
so articles sharing paragraphs share cached segments."""

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


def split_text(text: str, max_chars: int) -> list[Segment]:
    segments: list[Segment] = []
    paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
    for pi, paragraph in enumerate(paragraphs):
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
        for i, chunk in enumerate(packed):
            last_in_paragraph = i == len(packed) - 1
            pause = 0.0 if (last_in_paragraph and pi == len(paragraphs) - 1) else \
                (PARAGRAPH_PAUSE_S if last_in_paragraph else SENTENCE_PAUSE_S)
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
