"""Named styles a mini program can show as buttons, each mapped to CosyVoice3 instruct text.

The dialects are those of CosyVoice3's instruction list; the instruct texts follow the official examples
("请用广东话表达。", "请用尽可能快地语速说一句话。"). The engine adds the system prompt and <|endofprompt|>.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Preset:
    id: str
    name: str
    kind: str  # dialect | emotion | speed
    instruct: str


DIALECTS = [
    ("cantonese", "广东话"), ("sichuanese", "四川话"), ("shanghainese", "上海话"), ("northeastern", "东北话"),
    ("gansu", "甘肃话"), ("guizhou", "贵州话"), ("henan", "河南话"), ("hubei", "湖北话"), ("hunan", "湖南话"),
    ("jiangxi", "江西话"), ("minnan", "闽南话"), ("ningxia", "宁夏话"), ("shanxi", "山西话"),
    ("shaanxi", "陕西话"), ("shandong", "山东话"), ("tianjin", "天津话"), ("yunnan", "云南话"),
]
STYLES = [
    ("excited", "兴奋", "emotion", "请非常开心兴奋地说一句话。"),
    ("gentle", "温柔", "emotion", "请用温柔的语气说一句话。"),
    ("serious", "严肃", "emotion", "请用严肃的语气说一句话。"),
    ("sad", "悲伤", "emotion", "请非常伤心地说一句话。"),
    ("angry", "生气", "emotion", "请非常生气地说一句话。"),
    ("calm", "平静", "emotion", "请用平静的语气说一句话。"),
    ("whisper", "耳语", "emotion", "请用耳语的方式轻声说一句话。"),
    ("slow", "慢速", "speed", "请用尽可能慢地语速说一句话。"),
    ("fast", "快速", "speed", "请用尽可能快地语速说一句话。"),
]

PRESETS: list[Preset] = [Preset(pid, name, "dialect", f"请用{name}表达。") for pid, name in DIALECTS] + \
    [Preset(pid, name, kind, text) for pid, name, kind, text in STYLES]
_BY_KEY = {p.id: p for p in PRESETS} | {p.name: p for p in PRESETS}


def resolve_instruct(value: str) -> tuple[str, str | None]:
    """(instruct text, preset id): a preset id or name maps to its text; anything else is free text."""
    preset = _BY_KEY.get(value.strip())
    return (preset.instruct, preset.id) if preset else (value, None)


def as_json() -> list[dict]:
    return [asdict(p) for p in PRESETS]
