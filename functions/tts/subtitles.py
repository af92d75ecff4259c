"""Sentence-level timings of a delivered file: the segment texts with their start and end times, kept as JSON in
the task record and stored as WebVTT beside the audio (`subtitles_url`). Times are those of the file as
delivered: the explicit AIGC cue at the start shifts them."""

from __future__ import annotations

from ..text.markup import parse_markup


def timeline(parts: list[tuple[str, float, float]], offset: float = 0.0) -> list[dict]:
    """Cues from (text, seconds of speech, pause after) in order, starting at `offset` seconds."""
    cues, at = [], offset
    for text, seconds, pause in parts:
        shown = parse_markup(text, strict=False).plain.strip()  # what is heard, without markup
        if shown:
            cues.append({"text": shown, "start": round(at, 3), "end": round(at + seconds, 3)})
        at += seconds + pause
    return cues


def _stamp(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def to_vtt(cues: list[dict]) -> str:
    lines = ["WEBVTT", ""]
    for i, cue in enumerate(cues, 1):
        lines += [str(i), f"{_stamp(cue['start'])} --> {_stamp(cue['end'])}", cue["text"].replace("-->", "->"), ""]
    return "\n".join(lines)
