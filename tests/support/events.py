"""Platform event fixtures (API Gateway, SCF, ...) stored as JSON under tests/events/."""

from __future__ import annotations

import json
from pathlib import Path

EVENTS = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict:
    """A platform event fixture from tests/events/<name>.json."""
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
