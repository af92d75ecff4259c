"""The wiring table (functions/handlers/wiring.py) against template.yaml and serverless.yml: the repository's
files match it, a drift planted in a copy of either is named (exit 1), every handler it names imports, and its
schedules are the configured defaults."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from functions.handlers.wiring import BOOTSTRAPS, FUNCTIONS, Schedule, aws_expression
from functions.cron import DEFAULTS

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import deploy_tencent  # noqa: E402
import wiring  # noqa: E402


def test_the_check_passes_on_the_repository_as_documented():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "wiring.py"), "--check"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"template.yaml and serverless.yml match the wiring table ({len(FUNCTIONS)} functions)\n"


def test_without_check_it_lists_every_function_and_its_deployments(capsys):
    assert wiring.main([]) == 0
    out = capsys.readouterr().out
    for fn in FUNCTIONS:
        assert f"{fn.name}: " in out
        for deployment in (fn.aws, fn.scf):
            assert deployment is None or f"{deployment.name} " in out
    assert "WarmupSchedule = cron(40 11 * * ? *)" in out and "timers 0 40 19 * * * *" in out


def _block(text: str, start: str, end: str) -> str:
    """The text from the line `start` up to (not including) `end`: a function or an event removed by hand."""
    begin = text.index(start)
    return text[begin:text.index(end, begin)]


def _without(start: str, end: str):
    return lambda text: text.replace(_block(text, start, end), "")


def _replacing(old: str, new: str):
    def edit(text: str) -> str:
        assert text.count(old) == 1, old  # the planted drift lands where meant
        return text.replace(old, new)
    return edit


DRIFTS = {
    "aws schedule changed": ("template.yaml",
                             _replacing("Default: cron(40 11 * * ? *)", "Default: cron(40 12 * * ? *)"),
                             ["template.yaml: WarmupFunction (warmup): parameter WarmupSchedule's Default is "
                              "'cron(40 12 * * ? *)', the table says 'cron(40 11 * * ? *)'"]),
    "scf schedule changed": ("serverless.yml", _replacing('"0 */5 * * * * *"', '"0 */10 * * * * *"'),
                             ["serverless.yml: functions.scale-down (scale-down): timers (name, cronExpression) are "
                              "[('scale-down', '0 */10 * * * * *')], the table's schedule scale_down (*/5 * * * * UTC) "
                              "wants [('scale-down', '0 */5 * * * * *')]"]),
    "aws handler renamed": ("template.yaml", _replacing("Handler: functions.handlers.aws_lambda.handler",
                                                        "Handler: functions.handlers.aws_lambda.main"),
                            ["template.yaml: ApiFunction (api): Handler is 'functions.handlers.aws_lambda.main', the "
                             "table says 'functions.handlers.aws_lambda.handler'"]),
    "scf handler renamed": ("serverless.yml", _replacing("handler: functions.handlers.scheduled.drain",
                                                         "handler: functions.handlers.scheduled.drain_queue"),
                            ["serverless.yml: functions.drain (drain): handler is "
                             "'functions.handlers.scheduled.drain_queue', the table says "
                             "'functions.handlers.scheduled.drain'"]),
    "aws function removed": ("template.yaml", _without("  DrainFunction:", "Outputs:"),
                             ["template.yaml: DrainFunction (drain): no such AWS::Serverless::Function "
                              "(the table has it)"]),
    "scf function removed": ("serverless.yml", lambda text: text[:text.index("  drain:\n")],
                             ["serverless.yml: functions.drain (drain): no such function (the table has it)"]),
    "queue trigger dropped": ("template.yaml", _without("      Events:\n        Jobs:", "  WarmupFunction:"),
                              ["template.yaml: JobWorkerFunction (job-worker): events are none, the table's queue "
                               "trigger wants ['SQS']"]),
    "partial batch failures dropped": ("template.yaml",
                                       _replacing("            FunctionResponseTypes: [ReportBatchItemFailures]\n", ""),
                                       ["template.yaml: JobWorkerFunction (job-worker): SQS event's "
                                        "ReportBatchItemFailures is False, the table says True"]),
    "function renamed": ("serverless.yml", _replacing("  scale-down:\n", "  scaledown:\n"),
                         ["serverless.yml: functions.scale-down (scale-down): no such function (the table has it)",
                          "serverless.yml: functions.scaledown: a function the table does not list"]),
    "timeout changed": ("serverless.yml", _replacing("    timeout: 300\n", "    timeout: 60\n"),
                        ["serverless.yml: functions.drain (drain): timeout is 60, the table says 300"]),
    "default memory changed": ("template.yaml", _replacing("MemorySize: 1024", "MemorySize: 2048"),
                               [f"template.yaml: {fn.aws.name} ({fn.name}): MemorySize is 2048, the table says 1024"
                                for fn in FUNCTIONS if fn.aws]),
    "websocket idle timeout changed": ("serverless.yml", _replacing("wsIdleTimeout: 600", "wsIdleTimeout: 300"),
                                       ["serverless.yml: functions.ws (ws): wsIdleTimeout is 300, the table says "
                                        "600"]),
    "queue visibility below the worker's timeout": ("template.yaml",
                                                    _replacing("VisibilityTimeout: 180", "VisibilityTimeout: 120"),
                                                    ["template.yaml: JobWorkerFunction (job-worker): JobQueue's "
                                                     "VisibilityTimeout 120 is below the function's timeout 150 "
                                                     "(Lambda refuses such an event source)"]),
}


def _copies(tmp_path: Path, edits: dict) -> tuple[Path, Path]:
    paths = []
    for name in ("template.yaml", "serverless.yml"):
        text = (REPO / name).read_text(encoding="utf-8")
        for edit in edits.get(name, []):
            text = edit(text)
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    return paths[0], paths[1]


def _check(capsys, template: Path, serverless: Path) -> tuple[int, list[str]]:
    code = wiring.main(["--check", "--template", str(template), "--serverless", str(serverless)])
    return code, capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("drift", list(DRIFTS))
def test_a_planted_drift_is_named_and_fails_the_check(drift, tmp_path, capsys):
    name, edit, expected = DRIFTS[drift]
    code, lines = _check(capsys, *_copies(tmp_path, {name: [edit]}))
    assert code == 1
    assert lines == expected + [f"{len(expected)} difference(s) from the wiring table (functions/handlers/wiring.py)"]


def test_every_difference_is_printed_not_only_the_first(tmp_path, capsys):
    drifts = ["aws schedule changed", "aws handler renamed", "queue trigger dropped", "scf schedule changed",
              "scf handler renamed", "websocket idle timeout changed"]  # in distinct places of the two files
    edits: dict = {}
    for drift in drifts:
        edits.setdefault(DRIFTS[drift][0], []).append(DRIFTS[drift][1])
    code, lines = _check(capsys, *_copies(tmp_path, edits))
    expected = [line for drift in drifts for line in DRIFTS[drift][2]]
    assert code == 1 and sorted(lines[:-1]) == sorted(expected) and lines[-1].startswith(f"{len(expected)} ")


def test_an_unreadable_file_is_a_difference_not_a_crash(tmp_path, capsys):
    template, serverless = _copies(tmp_path, {})
    serverless.write_text("functions: [unclosed\n", encoding="utf-8")
    code, lines = _check(capsys, template, serverless)
    assert code == 1 and lines[0].startswith("serverless.yml: cannot be read: ")


def test_the_tencent_deployer_refuses_a_serverless_yml_that_drifts(tmp_path, monkeypatch):
    _, serverless = _copies(tmp_path, {"serverless.yml": [DRIFTS["scf handler renamed"][1]]})
    monkeypatch.setattr(sys, "argv", ["deploy_tencent.py", "--config", str(serverless), "--dry-run"])
    with pytest.raises(SystemExit) as refused:
        deploy_tencent.main()  # refused before any configuration, credential or client is touched
    assert DRIFTS["scf handler renamed"][2][0] in str(refused.value)


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda fn: fn.name)
def test_every_handler_in_the_table_imports_and_is_callable(fn):
    for deployment in filter(None, (fn.aws, fn.scf)):
        module, _, attr = deployment.entry.rpartition(".")
        assert callable(getattr(importlib.import_module(module), attr)), deployment
        if deployment.handler in BOOTSTRAPS:  # an entry executable: it starts gunicorn on that callable
            script = REPO / "functions" / deployment.handler
            assert os.access(script, os.X_OK), script
            assert f"{module}:{attr}" in script.read_text(encoding="utf-8")


def test_the_schedules_are_the_configured_defaults():
    table = {fn.trigger.setting: fn.trigger.cron for fn in FUNCTIONS if isinstance(fn.trigger, Schedule)}
    assert table == DEFAULTS


@pytest.mark.parametrize(("cron", "expression"), [
    ("* * * * *", "rate(1 minute)"), ("*/5 * * * *", "rate(5 minutes)"), ("*/30 * * * *", "rate(30 minutes)"),
    ("*/7 * * * *", "cron(*/7 * * * ? *)"),  # 7 does not divide the hour: the gap at :56 -> :00 is 4 minutes
    ("*/5 9-17 * * *", "cron(*/5 9-17 * * ? *)"), ("40 11 * * *", "cron(40 11 * * ? *)"),
    ("0 12 * * 1-5", "cron(0 12 ? * MON-FRI *)"),
])
def test_eventbridge_expressions_use_rate_only_for_plain_intervals(cron, expression):
    assert aws_expression(cron) == expression


def test_an_invalid_schedule_is_refused():
    with pytest.raises(ValueError):
        aws_expression("*/5 * * *")
