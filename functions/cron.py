"""Schedules as configuration: one 5-field cron (UTC) per scheduled handler, rendered for each cloud.

AWS EventBridge wants `cron(min hour day-of-month month day-of-week year)` in UTC with `?` in one of the day
fields and weekdays 1-7 counted from Sunday (no steps there); Tencent SCF timer triggers want 7 fields `sec min
hour day month week year` read in China time (UTC+8, the timer rules' zone), and Tencent's pages disagree on
whether weekday 0 is Sunday or Monday. So weekdays are written out by name (SUN-SAT) for both: no number can
mean another day; and SCF's hours are moved by eight, with the weekday moved where an hour crosses midnight.
`matches()` evaluates a 5-field cron (the cost model's simulation and the schedule tests).
"""

from __future__ import annotations

import functools
import re
from datetime import datetime

DEFAULTS = {
    # 18:30 UTC = 02:30 China time is quiet; peaks are around noon and 20:00-23:00 China time (12:00-15:00 UTC).
    "warmup": "40 11 * * *",  # 19:40 China time, ahead of the evening peak
    "scale_down": "*/5 * * * *",
    "drain": "* * * * *",
}


DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_RANGES = {"minute": (0, 59), "hour": (0, 23), "dom": (1, 31), "month": (1, 12), "dow": (0, 7)}


def _fields(cron: str) -> list[str]:
    """The five fields, each checked (values in range, ranges forwards, names known): a schedule that
    would mean nothing, or something else, on a cloud is refused here, before any deployment."""
    parts = cron.split()
    if len(parts) != 5:
        raise ValueError(f"expected 5 cron fields (minute hour day month weekday), got {cron!r}")
    for field, kind in zip(parts, ("minute", "hour", "dom", "month", "dow"), strict=True):
        try:
            expand(field, kind)
        except ValueError as exc:
            raise ValueError(f"{cron!r}: {kind} field {field!r}: {exc}") from None
    return parts


def _value(token: str, kind: str) -> int:
    names = DAY_NAMES if kind == "dow" else MONTH_NAMES if kind == "month" else ()
    upper = token.upper()
    if upper in names:
        return names.index(upper) + (1 if kind == "month" else 0)
    lo, hi = _RANGES[kind]
    value = int(token)
    if not lo <= value <= hi:
        raise ValueError(f"{kind} value {value} outside {lo}-{hi}")
    return value


def expand(field: str, kind: str) -> set[int]:
    """The values a 5-field cron field stands for: lists, ranges, steps, names (SUN-SAT, JAN-DEC); in the
    weekday field 0 and 7 are both Sunday."""
    lo, hi = _RANGES[kind]
    if kind == "dow":
        hi = 6  # `*` and `N/step` run to Saturday; an explicit 7 is Sunday again
    values: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_s = part.split("/", 1)
            step = int(step_s)
            if step < 1:
                raise ValueError(f"step {step} in {field!r}")
        if part == "*":
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, kind), _value(b, kind)
        else:
            start = _value(part, kind)
            end = hi if step > 1 else start  # N/step: from N to the end of the field
        if start > end:
            raise ValueError(f"range {part!r} in {field!r} runs backwards")
        values.update(v % 7 if kind == "dow" else v for v in range(start, end + 1, step))
    return values


def _spans(values: set[int], render) -> str:
    """Sorted values as a list with consecutive runs as ranges (MON-FRI, 1-5)."""
    runs, ordered = [], sorted(values)
    for v in ordered:
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return ",".join(render(a) if a == b else f"{render(a)}-{render(b)}" for a, b in runs)


def to_aws(cron: str) -> str:
    """EventBridge's form. Its weekdays are 1-7 with 1 = Sunday (cron's 0), and it has no steps there: the
    days are written out by name, so no number can mean another day. A day of the month and a day of the
    week both restricted (cron: either matches) cannot be expressed: refused."""
    minute, hour, dom, month, dow = _fields(cron)
    if dom != "*" and dow != "*":
        raise ValueError(f"{cron!r}: EventBridge cannot restrict both the day of the month and the weekday")
    if dow == "*":
        return f"cron({minute} {hour} {dom} {month} ? *)"
    days = expand(dow, "dow")
    return f"cron({minute} {hour} ? {month} {_spans(days, lambda d: DAY_NAMES[d])} *)"


SCF_UTC_OFFSET_H = 8  # SCF timer rules are read in China time


def to_scf(cron: str) -> list[str]:
    """Tencent SCF's 7 fields (second minute hour day month weekday year) in China time, weekdays by name.

    One UTC cron is one SCF expression, or two where some of its hours cross midnight in China time on
    restricted weekdays (those hours fire on the next weekday there): a function takes one timer trigger per
    expression. A day of the month or a month cannot move with a crossing hour (month ends differ), and both day
    fields restricted (cron: either matches) has no documented SCF meaning: refused."""
    minute, hour, dom, month, dow = _fields(cron)
    month = month.upper()
    if dom != "*" and dow != "*":  # cron fires on either day; what SCF does then is not documented
        raise ValueError(f"{cron!r}: SCF timers cannot restrict both the day of the month and the weekday")
    by_shift: dict[int, set[int]] = {}
    for h in expand(hour, "hour"):
        local = h + SCF_UTC_OFFSET_H
        by_shift.setdefault(local // 24, set()).add(local % 24)
    if 1 in by_shift and (dom != "*" or month != "*"):
        raise ValueError(f"{cron!r}: an hour that is past midnight in China time (SCF timers' zone) cannot keep "
                         "its day of the month or month; restrict weekdays, or pick hours before 16:00 UTC")
    if dow == "*":  # every weekday: a crossing hour needs no day of its own
        by_shift = {0: set().union(*by_shift.values())}
    expressions = []
    for shift, hours in sorted(by_shift.items()):
        days = dow if dow == "*" else _spans({(d + shift) % 7 for d in expand(dow, "dow")}, DAY_NAMES.__getitem__)
        hours_field = "*" if len(hours) == 24 else _spans(hours, str)
        expressions.append(f"0 {minute} {hours_field} {dom} {month} {days} *")
    return expressions


@functools.lru_cache(maxsize=256)
def _parsed(cron: str) -> tuple:
    minute, hour, dom, month, dow = _fields(cron)
    return (expand(minute, "minute"), expand(hour, "hour"), expand(dom, "dom"), expand(month, "month"),
            expand(dow, "dow"), dom != "*" and dow != "*")


def matches(cron: str, when: datetime) -> bool:
    """Whether a 5-field cron fires at `when` (minute resolution). As in cron, when both day fields are
    restricted either one matching is enough."""
    minutes, hours, days, months, weekdays, either = _parsed(cron)
    if when.minute not in minutes or when.hour not in hours or when.month not in months:
        return False
    day_ok, weekday_ok = when.day in days, (when.weekday() + 1) % 7 in weekdays
    return (day_ok or weekday_ok) if either else (day_ok and weekday_ok)


_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def windows(spec: str) -> list[tuple[int, int]]:
    """The "HH:MM-HH:MM" windows of `spec` (comma-separated, UTC) as (start, end) minutes of the day; anything
    else is refused with the window named (checked when the settings load, not at the first scheduled tick)."""
    found = []
    for window in filter(None, (w.strip() for w in spec.split(","))):
        m = _WINDOW.match(window)
        if m is None:
            raise ValueError(f"window {window!r} is not HH:MM-HH:MM (UTC, 24-hour, two digits each)")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        found.append((h1 * 60 + m1, h2 * 60 + m2))
    return found


def in_windows(spec: str, when: datetime) -> bool:
    """Whether `when` (UTC) falls in one of the windows of `spec` (see `windows`; a window may wrap past
    midnight). Used for keep-warm windows: no scale-down inside them."""
    minute = when.hour * 60 + when.minute
    for start, end in windows(spec):
        if (start <= minute < end) if start <= end else (minute >= start or minute < end):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    """`python -m functions.cron "40 11 * * *"`: a UTC cron as EventBridge and SCF timers want it (SCF's in
    China time), for editing template.yaml's parameters or serverless.yml's timers; a cron a cloud would read
    otherwise is refused with the reason."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print('usage: python -m functions.cron "MIN HOUR DOM MON DOW"  (5 fields, UTC)', file=sys.stderr)
        return 2
    try:
        aws, scf = to_aws(args[0]), to_scf(args[0])
    except ValueError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    rows = [("EventBridge (UTC)", aws)] + [(f"SCF timer {i + 1} (China time)" if len(scf) > 1 else
                                             "SCF timer (China time)", e) for i, e in enumerate(scf)]
    for label, expression in rows:
        print(f"{label + ':':<28}{expression}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
