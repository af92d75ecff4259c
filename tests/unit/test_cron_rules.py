"""The schedule rules, each with its exact result: cron field values (names, steps, ranges), the errors an
operator reads, either-day matching, keep-warm windows (bounds, wrapping past midnight, several windows), and
what the operator command prints."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone

import pytest

from functions.cron import expand, in_windows, main, matches, to_aws, to_scf


def _refusal(call, cron: str) -> str:
    with pytest.raises(ValueError) as caught:
        call(cron)
    return str(caught.value)


# field values


def test_month_names_are_the_months_counted_from_one():
    assert expand("JAN", "month") == {1}
    assert expand("jan-mar", "month") == {1, 2, 3}
    assert expand("DEC", "month") == {12}


def test_names_belong_only_to_their_field():
    with pytest.raises(ValueError):
        expand("JAN", "hour")
    with pytest.raises(ValueError):
        expand("SUN", "month")
    with pytest.raises(ValueError):
        expand("JAN", "dow")


def test_a_weekday_step_from_a_day_runs_to_saturday_only():
    assert expand("1/2", "dow") == {1, 3, 5}
    assert expand("*/3", "dow") == {0, 3, 6}


def test_a_step_from_a_value_runs_to_the_end_of_the_field():
    assert expand("5/15", "minute") == {5, 20, 35, 50}
    assert expand("5/2", "hour") == set(range(5, 24, 2))
    assert expand("5", "minute") == {5}


def test_a_step_of_one_is_every_value():
    assert expand("*/1", "hour") == set(range(24))


# errors an operator reads


def test_a_wrong_number_of_fields_says_what_is_expected():
    assert _refusal(to_aws, "0 12") == "expected 5 cron fields (minute hour day month weekday), got '0 12'"


def test_a_value_out_of_range_names_the_field_and_the_range():
    assert _refusal(to_aws, "0 25 * * *") == "'0 25 * * *': hour field '25': hour value 25 outside 0-23"


def test_a_backwards_range_is_named():
    assert _refusal(to_aws, "0 12 * * 5-1") == "'0 12 * * 5-1': dow field '5-1': range '5-1' in '5-1' runs backwards"


def test_a_zero_step_is_named():
    assert _refusal(to_aws, "*/0 * * * *") == "'*/0 * * * *': minute field '*/0': step 0 in '*/0'"


def test_both_day_fields_restricted_is_refused_for_eventbridge():
    assert _refusal(to_aws, "0 12 1 * 1") == (
        "'0 12 1 * 1': EventBridge cannot restrict both the day of the month and the weekday")


def test_a_day_of_the_month_past_china_midnight_is_refused_with_the_remedy():
    assert _refusal(to_scf, "0 20 1 * *") == (
        "'0 20 1 * *': an hour that is past midnight in China time (SCF timers' zone) cannot keep its day of the "
        "month or month; restrict weekdays, or pick hours before 16:00 UTC")


def test_scf_month_names_are_written_in_capitals():
    assert to_scf("0 12 * jan *") == ["0 0 20 * JAN * *"]


# matching


def test_with_both_day_fields_restricted_either_day_fires():
    monday_the_7th = datetime(2026, 12, 7, 0, 0, tzinfo=timezone.utc)
    tuesday_the_1st = datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)
    wednesday_the_2nd = datetime(2026, 12, 2, 0, 0, tzinfo=timezone.utc)
    assert matches("0 0 1 * 1", monday_the_7th) is True
    assert matches("0 0 1 * 1", tuesday_the_1st) is True
    assert matches("0 0 1 * 1", wednesday_the_2nd) is False


# keep-warm windows


def _at(hour: int, minute: int) -> datetime:
    return datetime(2026, 12, 7, hour, minute, tzinfo=timezone.utc)


def test_a_window_includes_its_start_and_excludes_its_end():
    spec = "09:30-11:45"
    assert [in_windows(spec, _at(h, m)) for h, m in ((9, 29), (9, 30), (11, 44), (11, 45), (12, 0), (3, 0))] == [
        False, True, True, False, False, False]


def test_a_window_may_wrap_past_midnight():
    spec = "22:15-02:30"
    checks = ((22, 14), (22, 15), (23, 59), (0, 0), (2, 29), (2, 30), (12, 0))
    assert [in_windows(spec, _at(h, m)) for h, m in checks] == [False, True, True, True, True, False, False]


def test_a_window_that_ends_where_it_starts_is_empty():
    assert [in_windows("10:00-10:00", _at(h, m)) for h, m in ((9, 59), (10, 0), (10, 1))] == [False, False, False]


def test_any_of_several_windows_counts():
    spec = "01:10-02:20, 13:05-14:50,"
    checks = ((1, 10), (2, 19), (2, 20), (13, 4), (13, 5), (14, 49), (14, 50))
    assert [in_windows(spec, _at(h, m)) for h, m in checks] == [True, True, False, False, True, True, False]
    assert [in_windows("01:10-02:20,13:05-14:50", _at(h, m)) for h, m in ((1, 30), (14, 0), (15, 0))] == [
        True, True, False]
    assert in_windows("", _at(12, 0)) is False


# the operator command


def test_the_command_prints_each_rendering_on_its_labelled_line(capsys):
    assert main(["40 11 * * *"]) == 0
    assert capsys.readouterr().out == (
        "EventBridge (UTC):          cron(40 11 * * ? *)\n"
        "SCF timer (China time):     0 40 19 * * * *\n")
    assert main(["0 */6 * * 0,6"]) == 0
    assert capsys.readouterr().out == (
        "EventBridge (UTC):          cron(0 */6 ? * SUN,SAT *)\n"
        "SCF timer 1 (China time):   0 0 8,14,20 * * SUN,SAT *\n"
        "SCF timer 2 (China time):   0 0 2 * * SUN-MON *\n")


def test_the_command_without_one_argument_prints_its_usage(capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == 'usage: python -m functions.cron "MIN HOUR DOM MON DOW"  (5 fields, UTC)\n'


def test_the_command_reads_its_argument_from_the_command_line(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["schedule", "40 11 * * *"])
    assert main() == 0
    assert re.findall(r"cron\(.*\)", capsys.readouterr().out) == ["cron(40 11 * * ? *)"]


@pytest.mark.parametrize("spec", ["9:30-11:00", "09:30:45-10:00", "24:00-01:00", "09:60-10:00", "09:30", "x",
                                  "09:30-10:00,9-10"])
def test_a_malformed_window_is_refused_when_the_settings_load(spec):
    """Not at the first scheduled tick (where it would fail every scale-down, or be read as another window)."""
    from functions.settings import Settings

    with pytest.raises(ValueError, match="KEEP_WARM_WINDOWS: window '.*' is not HH:MM-HH:MM"):
        Settings(keep_warm_windows=spec).validate()


def test_windows_are_read_as_minutes_of_the_day():
    from functions.cron import windows

    assert windows(" 09:30-11:00 ,, 23:15-00:45") == [(570, 660), (1395, 45)]
    assert windows("") == []
