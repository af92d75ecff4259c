"""Schedules mean the same days on every cloud: each default and configured 5-field cron, rendered for
EventBridge and for SCF, fires at the same minutes as the source (evaluated by croniter, a well-kept cron
library) over a simulated fortnight, minute by minute. The target forms are read by small evaluators of their
own syntax (EventBridge: weekdays 1-7 from Sunday or SUN-SAT, `?`; SCF: 7 fields, SUN-SAT)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from croniter import croniter

from functions.cron import DAY_NAMES, DEFAULTS, expand, matches, to_aws, to_scf

CONFIGURED = ["0 12 * * 1-5", "30 8 * * MON-FRI", "0 */6 * * 0,6", "15 3 1 * *", "0 0 * * 7", "0 0 * * 5-7",
              "*/20 9-17 * * 1-5", "0 22 * * */2", "45 23 * * SUN", "0 16 * * *", "15 3 * 12 *", "0 8-20 * * *"]


def _days(field: str, sunday: int) -> set[int]:
    """Weekdays (0 = Sunday) of a target-syntax field whose Sunday is `sunday`, names accepted."""
    if field in ("*", "?"):
        return set(range(7))
    out: set[int] = set()
    for part in field.split(","):
        a, _, b = part.partition("-")

        def day(token):
            return DAY_NAMES.index(token) if token in DAY_NAMES else (int(token) - sunday) % 7

        start, end = day(a), day(b or a)
        out.update(range(start, end + 1))
    return out


def aws_fires(expression: str, when: datetime) -> bool:
    minute, hour, dom, month, dow, year = expression[len("cron("):-1].split()
    assert "/" not in dow and year == "*" and "?" in (dom, dow)
    return (matches(f"{minute} {hour} {'*' if dom == '?' else dom} {month} *", when)
            and (when.weekday() + 1) % 7 in _days(dow, sunday=1))


CHINA = timezone(timedelta(hours=8))  # SCF timer rules are read in China time


def scf_fires(expressions: list[str], when: datetime) -> bool:
    """Whether any of a function's SCF timer expressions fires at `when`, read as SCF reads it (UTC+8)."""
    local = when.astimezone(CHINA)
    for expression in expressions:
        second, minute, hour, dom, month, dow, year = expression.split()
        assert second == "0" and year == "*"
        if (matches(f"{minute} {hour} {dom} {month} *", local)
                and (dow == "*" or (local.weekday() + 1) % 7 in _days(dow, sunday=0))):
            return True
    return False


@pytest.mark.parametrize("cron", list(DEFAULTS.values()) + CONFIGURED)
def test_every_schedule_fires_at_the_same_minutes_on_every_cloud(cron):
    start = datetime(2026, 11, 30, tzinfo=timezone.utc)  # a Monday
    reference = croniter(cron, start - timedelta(minutes=1))
    expected = set()
    while (t := reference.get_next(datetime)) < start + timedelta(days=14):
        expected.add(t)
    aws, scf = to_aws(cron), to_scf(cron)
    ours, on_aws, on_scf = set(), set(), set()
    for minute in range(14 * 24 * 60):
        when = start + timedelta(minutes=minute)
        if matches(cron, when):
            ours.add(when)
        if aws_fires(aws, when):
            on_aws.add(when)
        if scf_fires(scf, when):
            on_scf.add(when)
    assert expected and ours == expected and on_aws == expected and on_scf == expected, (aws, scf)


def test_weekday_ranges_are_the_same_days_not_shifted_numbers():
    assert to_aws("0 12 * * 1-5") == "cron(0 12 ? * MON-FRI *)"  # not 1-5, which EventBridge reads Sun-Thu
    assert to_scf("0 12 * * 1-5") == ["0 0 20 * * MON-FRI *"]  # 20:00 China time: SCF reads UTC+8
    assert expand("5-7", "dow") == {5, 6, 0} and expand("*/2", "dow") == {0, 2, 4, 6}


@pytest.mark.parametrize("cron", ["0 12 1 * 1", "0 25 * * *", "0 12 * * 8", "0 12 * * 5-1", "0 12 * *"])
def test_what_a_cloud_cannot_express_is_refused_with_a_clear_error(cron):
    with pytest.raises(ValueError):
        to_aws(cron)


def test_scf_hours_are_china_time_and_a_crossing_hour_moves_to_the_next_weekday():
    """SCF reads timer rules in UTC+8: 11:40 UTC is 19:40 there; 23:45 UTC on Sunday is Monday 07:45 there;
    hours on both sides of China's midnight on restricted weekdays take two expressions."""
    assert to_scf("40 11 * * *") == ["0 40 19 * * * *"]
    assert to_scf("45 23 * * SUN") == ["0 45 7 * * MON *"]
    assert to_scf("0 */6 * * 0,6") == ["0 0 8,14,20 * * SUN,SAT *", "0 0 2 * * SUN-MON *"]
    assert to_scf("*/5 * * * *") == ["0 */5 * * * * *"]


@pytest.mark.parametrize("cron", ["0 20 1 * *", "0 * 15 * *", "30 18 * 6 *", "0 2 1 * MON", "35 6 */4 * 0-3/2"])
def test_what_scf_would_read_otherwise_is_refused(cron):
    """A day of the month that would move in China time, or both day fields restricted (cron fires on either
    day; SCF's reading of that is not documented): refused before any deployment."""
    with pytest.raises(ValueError, match="China time|both the day"):
        to_scf(cron)


def test_the_operator_command_prints_both_renderings_or_refuses(capsys):
    """`python -m functions.cron CRON` (docs/operations.md), for editing the two deployment files."""
    from functions.cron import main

    assert main(["40 11 * * *"]) == 0
    out = capsys.readouterr().out
    assert "cron(40 11 * * ? *)" in out and "0 40 19 * * * *" in out
    assert main(["0 */6 * * 0,6"]) == 0 and "SCF timer 2 (China time):   0 0 2 * * SUN-MON *" in capsys.readouterr().out
    assert main(["0 20 1 * *"]) == 1 and "China time" in capsys.readouterr().err
    assert main([]) == 2


def test_the_documented_command_runs_as_printed():
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    line = '.venv/bin/python -m functions.cron "40 11 * * *"'
    assert line in (repo / "docs" / "operations.md").read_text(encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "functions.cron", "40 11 * * *"], capture_output=True,
                         text=True, cwd=repo, timeout=60)
    assert run.returncode == 0 and "0 40 19 * * * *" in run.stdout
