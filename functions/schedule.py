"""Schedules as configuration: one 5-field cron (UTC) per scheduled handler, rendered for each cloud.

AWS EventBridge wants `cron(min hour day-of-month month day-of-week year)` with `?` in one of the day fields;
Tencent SCF timer triggers want 7 fields `sec min hour day month week year`. `matches()` evaluates a 5-field
cron for the cost model's simulation.
"""

from __future__ import annotations

from datetime import datetime

DEFAULTS = {
    # 18:30 UTC = 02:30 China time is quiet; peaks are around noon and 20:00-23:00 China time (12:00-15:00 UTC).
    "warmup": "40 11 * * *",  # 19:40 China time, ahead of the evening peak
    "scale_down": "*/5 * * * *",
    "drain": "* * * * *",
}


def _fields(cron: str) -> list[str]:
    parts = cron.split()
    if len(parts) != 5:
        raise ValueError(f"expected 5 cron fields (minute hour day month weekday), got {cron!r}")
    return parts


def to_aws(cron: str) -> str:
    minute, hour, dom, month, dow = _fields(cron)
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom = "?"
    dow = dow if dow == "?" else ",".join(str(int(d) % 7 + 1) if d.isdigit() else d for d in dow.split(","))
    return f"cron({minute} {hour} {dom} {month} {dow} *)"


def to_scf(cron: str) -> str:
    minute, hour, dom, month, dow = _fields(cron)
    return f"0 {minute} {hour} {dom} {month} {dow} *"


def _match(field: str, value: int, lo: int) -> bool:
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_s = part.split("/")
            step = int(step_s)
        if part == "*":
            start, end = lo, 10**6
        elif "-" in part:
            start, end = (int(x) for x in part.split("-"))
        else:
            start = end = int(part)
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


def matches(cron: str, when: datetime) -> bool:
    minute, hour, dom, month, dow = _fields(cron)
    return (_match(minute, when.minute, 0) and _match(hour, when.hour, 0) and _match(dom, when.day, 1)
            and _match(month, when.month, 1) and _match(dow, (when.weekday() + 1) % 7, 0))


def in_windows(spec: str, when: datetime) -> bool:
    """Whether `when` (UTC) falls in one of the "HH:MM-HH:MM" windows of `spec` (comma-separated, UTC;
    a window may wrap past midnight). Used for keep-warm windows: no scale-down inside them."""
    minute = when.hour * 60 + when.minute
    for window in filter(None, (w.strip() for w in spec.split(","))):
        start_s, end_s = window.split("-")
        start = int(start_s[:2]) * 60 + int(start_s[3:5])
        end = int(end_s[:2]) * 60 + int(end_s[3:5])
        if (start <= minute < end) if start <= end else (minute >= start or minute < end):
            return True
    return False
