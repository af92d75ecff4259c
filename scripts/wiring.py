#!/usr/bin/env python
"""Check template.yaml and serverless.yml against the wiring table (functions/handlers/wiring.py).

    python scripts/wiring.py            # the table: each function, its trigger, per platform
    python scripts/wiring.py --check    # every difference between the two files and the table; exit 1 if any

The YAML files are checked, not generated: they carry much that is no wiring (policies, environment, layers,
gateways) and comments that say why, which a generator would have to own or lose. What is checked per
function: that it exists (and nothing else does), its name on SCF (<service>-<key>), its handler, effective
timeout and memory, and its trigger (HTTP API event / https endpoint, function URL mode, WebSocket endpoint and
idle timeout, SQS event source and its queue, schedule parameter default / SCF timers and their names).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from functions.handlers.wiring import (  # noqa: E402
    FUNCTIONS, CloudFunction, Http, Queue, Schedule, Stream, WebSocket,
)

SAM_FUNCTION = "AWS::Serverless::Function"


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags, read as their long forms (!Ref X -> {"Ref": "X"})."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def _load(path: Path, loader) -> tuple[dict, str]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # both loaders are SafeLoaders
    except (OSError, yaml.YAMLError) as exc:
        return {}, f"{path.name}: cannot be read: {exc}"
    return (data, "") if isinstance(data, dict) else ({}, f"{path.name}: not a YAML mapping")


class Report:
    """Differences, each one line naming the file, the function and what differs."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{where}: {message}")

    def same(self, where: str, what: str, have, want) -> None:
        if have != want:
            found = "is missing" if have is None else f"is {have!r}"
            self.add(where, f"{what} {found}, the table says {'none' if want is None else repr(want)}")


# -- AWS (template.yaml) ---------------------------------------------------------------------------------------
def check_template(path: Path, functions: tuple[CloudFunction, ...] = FUNCTIONS) -> list[str]:
    template, error = _load(path, CfnLoader)
    if error:
        return [error]
    report, label = Report(), path.name
    resources = template.get("Resources") or {}
    parameters = template.get("Parameters") or {}
    defaults = (template.get("Globals") or {}).get("Function") or {}
    listed = set()
    for fn in functions:
        if fn.aws is None:
            continue
        listed.add(fn.aws.name)
        where = f"{label}: {fn.aws.name} ({fn.name})"
        resource = resources.get(fn.aws.name) or {}
        if resource.get("Type") != SAM_FUNCTION:
            report.lines.append(f"{where}: no such {SAM_FUNCTION} (the table has it)")
            continue
        props = resource.get("Properties") or {}
        report.same(where, "Handler", props.get("Handler"), fn.aws.handler)
        report.same(where, "Timeout", props.get("Timeout", defaults.get("Timeout")), fn.aws.timeout_s)
        report.same(where, "MemorySize", props.get("MemorySize", defaults.get("MemorySize")), fn.aws.memory_mb)
        _aws_trigger(report, where, fn, props, resources, parameters)
    for name, resource in resources.items():
        if resource.get("Type") == SAM_FUNCTION and name not in listed:
            report.add(f"{label}: {name}", "a function the table does not list")
    return report.lines


def _aws_trigger(report: Report, where: str, fn: CloudFunction, props: dict, resources: dict,
                 parameters: dict) -> None:
    trigger = fn.trigger
    events = props.get("Events") or {}
    kinds = sorted(str((e or {}).get("Type")) for e in events.values())
    want = {Http: ["HttpApi"], Stream: [], Queue: ["SQS"], Schedule: ["Schedule"]}.get(type(trigger))
    if want is None:
        report.add(where, f"a {trigger.kind} trigger has no AWS form")
        return
    if kinds != want:
        report.add(where, f"events are {kinds or 'none'}, the table's {trigger.kind} trigger wants {want or 'none'}")
    url = props.get("FunctionUrlConfig")
    if isinstance(trigger, Stream):
        report.same(where, "FunctionUrlConfig.InvokeMode", (url or {}).get("InvokeMode"), "RESPONSE_STREAM")
    elif url is not None:
        report.add(where, f"has a function URL, which a {trigger.kind} function does not take")
    event = next((e.get("Properties") or {} for e in events.values() if (e or {}).get("Type") in want), None)
    if event is None:
        return
    if isinstance(trigger, Http):
        api = (event.get("ApiId") or {}).get("Ref") if isinstance(event.get("ApiId"), dict) else None
        if api is None or (resources.get(api) or {}).get("Type") != "AWS::Serverless::HttpApi":
            report.add(where, f"HttpApi event's ApiId is {event.get('ApiId')!r}, not a !Ref to an HttpApi resource")
        if "Path" in event or "Method" in event:
            report.add(where, f"HttpApi event routes only {event.get('Method', 'ANY')} {event.get('Path', '/')}, "
                              "the table wants every path and method")
    elif isinstance(trigger, Queue):
        report.same(where, "SQS event's Queue", event.get("Queue"), {"Fn::GetAtt": [trigger.queue, "Arn"]})
        report.same(where, "SQS event's BatchSize", event.get("BatchSize"), trigger.batch_size)
        partial = "ReportBatchItemFailures" in (event.get("FunctionResponseTypes") or [])
        report.same(where, "SQS event's ReportBatchItemFailures", partial, trigger.partial_failures)
        queue = resources.get(trigger.queue) or {}
        if queue.get("Type") != "AWS::SQS::Queue":
            report.add(where, f"its queue {trigger.queue} is not an AWS::SQS::Queue of the template")
        else:
            visibility = (queue.get("Properties") or {}).get("VisibilityTimeout", 30)  # SQS's default
            if not isinstance(visibility, int) or visibility < fn.aws.timeout_s:
                report.add(where, f"{trigger.queue}'s VisibilityTimeout {visibility!r} is below the function's "
                                  f"timeout {fn.aws.timeout_s} (Lambda refuses such an event source)")
    elif isinstance(trigger, Schedule):
        report.same(where, "Schedule event's Schedule", event.get("Schedule"), {"Ref": trigger.parameter})
        parameter = parameters.get(trigger.parameter)
        if parameter is None:
            report.add(where, f"parameter {trigger.parameter} is missing (the table's schedule {trigger.setting})")
        else:
            report.same(where, f"parameter {trigger.parameter}'s Default", parameter.get("Default"),
                        trigger.aws)


# -- Tencent (serverless.yml) ------------------------------------------------------------------------------------
def check_serverless(path: Path, functions: tuple[CloudFunction, ...] = FUNCTIONS) -> list[str]:
    config, error = _load(path, yaml.SafeLoader)
    if error:
        return [error]
    report, label = Report(), path.name
    provider = config.get("provider") or {}
    declared = config.get("functions") or {}
    listed = set()
    for fn in functions:
        if fn.scf is None:
            continue
        listed.add(fn.scf.name)
        where = f"{label}: functions.{fn.scf.name} ({fn.name})"
        spec = declared.get(fn.scf.name)
        if not isinstance(spec, dict):
            report.lines.append(f"{where}: no such function (the table has it)")
            continue
        report.same(where, "name", spec.get("name"), f"{config.get('service')}-{fn.scf.name}")
        report.same(where, "handler", spec.get("handler"), fn.scf.handler)
        report.same(where, "timeout", spec.get("timeout", provider.get("timeout")), fn.scf.timeout_s)
        report.same(where, "memorySize", spec.get("memorySize", provider.get("memorySize")), fn.scf.memory_mb)
        _scf_trigger(report, where, fn, spec)
    for name in declared:
        if name not in listed:
            report.add(f"{label}: functions.{name}", "a function the table does not list")
    return report.lines


def _endpoints(events: list, protocol: str) -> list[dict]:
    """The endpoints of the function's apigw events that serve `protocol` (https, wss)."""
    found = []
    for event in events:
        parameters = ((event or {}).get("apigw") or {}).get("parameters") or {}
        if protocol in (parameters.get("protocols") or []):
            found.extend(parameters.get("endpoints") or [])
    return found


def _scf_trigger(report: Report, where: str, fn: CloudFunction, spec: dict) -> None:
    trigger = fn.trigger
    events = spec.get("events") or []
    kinds = sorted(next(iter(e), "?") if isinstance(e, dict) else "?" for e in events)
    web = {Http: True, WebSocket: True, Schedule: False}.get(type(trigger))
    if web is None:
        report.add(where, f"a {trigger.kind} trigger has no SCF form")
        return
    report.same(where, "type", spec.get("type"), "web" if web else None)  # a web function runs scf_bootstrap
    report.same(where, "protocol", spec.get("protocol"), "ws" if isinstance(trigger, WebSocket) else None)
    if isinstance(trigger, Http):
        if kinds != ["apigw"]:
            report.add(where, f"events are {kinds or 'none'}, the table's http trigger wants ['apigw']")
        if not any(e.get("path") == "/" and e.get("method") == "ANY" for e in _endpoints(events, "https")):
            report.add(where, "no https apigw endpoint `/` ANY (the table's http trigger)")
    elif isinstance(trigger, WebSocket):
        if kinds != ["apigw"]:
            report.add(where, f"events are {kinds or 'none'}, the table's websocket trigger wants ['apigw']")
        if not any(e.get("path") == trigger.path and e.get("method") == "GET" and e.get("protocol") == "WEBSOCKET"
                   for e in _endpoints(events, "wss")):
            report.add(where, f"no wss apigw endpoint GET {trigger.path} (protocol WEBSOCKET)")
        report.same(where, "wsIdleTimeout", spec.get("wsIdleTimeout"), trigger.idle_timeout_s)
        if fn.scf.timeout_s < trigger.idle_timeout_s:  # a table error, reported with the files' differences
            report.add(where, f"the table's timeout {fn.scf.timeout_s} is below its idle timeout")
    else:
        if set(kinds) != {"timer"}:
            report.add(where, f"events are {kinds or 'none'}, the table's schedule trigger wants timers only")
        # scripts/deploy_tencent.py owns the timers named <key>, <key>-2, ...
        want = [(fn.scf.name if i == 0 else f"{fn.scf.name}-{i + 1}", cron) for i, cron in enumerate(trigger.scf)]
        have = []
        for event in events:
            timer = (event or {}).get("timer") if isinstance(event, dict) else None
            if timer is not None:
                parameters = timer.get("parameters") or {}
                have.append((timer.get("name"), parameters.get("cronExpression")))
                if parameters.get("enable") is not True:
                    report.add(where, f"timer {timer.get('name')} is not enabled")
        if have != want:
            report.add(where, f"timers (name, cronExpression) are {have}, the table's schedule {trigger.setting} "
                              f"({trigger.cron} UTC) wants {want}")


# -- the listing ---------------------------------------------------------------------------------------------------
def describe(trigger) -> str:
    if isinstance(trigger, Schedule):
        return f"schedule {trigger.setting}: {trigger.cron} (UTC)"
    if isinstance(trigger, Queue):
        return f"queue {trigger.queue} (batch {trigger.batch_size})"
    if isinstance(trigger, WebSocket):
        return f"websocket GET {trigger.path} (idle {trigger.idle_timeout_s} s)"
    return {"http": "http (every path)", "stream": "stream (function URL, RESPONSE_STREAM)"}[trigger.kind]


def listing(functions: tuple[CloudFunction, ...] = FUNCTIONS) -> list[str]:
    lines = []
    for fn in functions:
        lines.append(f"{fn.name}: {describe(fn.trigger)}")
        for platform, deployment in (("AWS", fn.aws), ("SCF", fn.scf)):
            if deployment is None:
                continue
            row = f"  {platform}  {deployment.name:<18} {deployment.handler:<42} {deployment.timeout_s:>4} s  " \
                  f"{deployment.memory_mb} MB"
            if isinstance(fn.trigger, Schedule):
                row += f"  {fn.trigger.parameter} = {fn.trigger.aws}" if platform == "AWS" else \
                       "  timers " + " | ".join(fn.trigger.scf)
            lines.append(row)
        if fn.note:
            lines.append(f"  note: {fn.note}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare both files with the table; exit 1 on any drift")
    ap.add_argument("--template", type=Path, default=REPO / "template.yaml")
    ap.add_argument("--serverless", type=Path, default=REPO / "serverless.yml")
    args = ap.parse_args(argv)
    if not args.check:
        print("\n".join(listing()))
        return 0
    problems = check_template(args.template) + check_serverless(args.serverless)
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} difference(s) from the wiring table (functions/handlers/wiring.py)")
        return 1
    print(f"{args.template.name} and {args.serverless.name} match the wiring table ({len(FUNCTIONS)} functions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
