"""The cloud wiring, declared once: every function of the deployment, its entry point on each platform, its
trigger, timeout and memory.

`template.yaml` (AWS SAM) and `serverless.yml` (Tencent SCF) stay written by hand, comments and all, and are
checked against this table: `python scripts/wiring.py --check` lists every difference (and
scripts/deploy_tencent.py refuses a serverless.yml that differs). Pure data and stdlib, so it imports on the
function itself; the YAML side lives in scripts/wiring.py.

A schedule is one 5-field UTC cron (the default of functions/cron.py's `DEFAULTS` entry it names, which
the tests hold equal); its EventBridge and SCF expressions are derived from it, never written here, so the two
clouds cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..cron import to_aws, to_scf

MEMORY_MB = 1024  # both files' default (template Globals, serverless provider)
# entry executables (at the package root) that start gunicorn on a WSGI callable: SCF web functions run
# scf_bootstrap, the Lambda Web Adapter runs lambda_web.sh
BOOTSTRAPS = {"scf_bootstrap": "functions.handlers.web.app", "lambda_web.sh": "functions.handlers.web.app"}


def aws_expression(cron: str) -> str:
    """EventBridge's expression for a 5-field UTC cron. A plain every-N-minutes cron whose step divides the
    hour is written `rate(N minutes)`: the same period (EventBridge counts a rate from the rule's creation
    rather than the hour, which polling jobs do not mind); anything else is `cron(...)` (to_aws)."""
    expression = to_aws(cron)  # validates the cron, whichever form is returned
    minute, *rest = cron.split()
    if rest == ["*"] * 4:
        step = "1" if minute == "*" else minute[2:] if minute.startswith("*/") else ""
        if step.isdigit() and 60 % int(step) == 0:
            return "rate(1 minute)" if step == "1" else f"rate({int(step)} minutes)"
    return expression


@dataclass(frozen=True)
class Http:
    """Every path and method of the WSGI app behind API Gateway: AWS's HTTP API (a catch-all event), SCF's
    web function behind an https endpoint `/` ANY. Responses are buffered by both gateways."""

    kind = "http"


@dataclass(frozen=True)
class Stream:
    """Responses passed on as they are written: an AWS function URL in RESPONSE_STREAM mode (API Gateway's
    HTTP API buffers, so /v1/tts/stream needs its own function)."""

    kind = "stream"


@dataclass(frozen=True)
class WebSocket:
    """A WebSocket endpoint of an SCF web function created with the WS protocol (Tencent's gateway buffers
    chunked HTTP). A connection quiet for `idle_timeout_s` is closed; the function's timeout must cover it."""

    path: str
    idle_timeout_s: int
    kind = "websocket"


@dataclass(frozen=True)
class Queue:
    """An SQS event source on the template's queue resource. `partial_failures`: the handler reports failed
    records (batchItemFailures), which Lambda honours only with ReportBatchItemFailures."""

    queue: str
    batch_size: int = 1
    partial_failures: bool = True
    kind = "queue"


@dataclass(frozen=True)
class Schedule:
    """A timer. `setting` is its key in functions.cron.DEFAULTS, `parameter` the template parameter an
    operator overrides on AWS, `cron` the 5-field UTC default; SCF timers are the China-time rendering of it."""

    setting: str
    parameter: str
    cron: str
    kind = "schedule"

    @property
    def aws(self) -> str:
        return aws_expression(self.cron)

    @property
    def scf(self) -> tuple[str, ...]:
        """One or two SCF crons (two where an hour crosses midnight in China time on set weekdays)."""
        return tuple(to_scf(self.cron))


Trigger = Http | Stream | WebSocket | Queue | Schedule


@dataclass(frozen=True)
class Deployment:
    """One platform's function. `name`: the template's logical ID (AWS), serverless.yml's key (SCF; the function
    is named <service>-<key>).
    `handler`: a dotted Python callable, or an entry executable of BOOTSTRAPS. `timeout_s` and `memory_mb`
    are the effective values, whether the function states them or inherits the file's default."""

    name: str
    handler: str
    timeout_s: int
    memory_mb: int = MEMORY_MB

    @property
    def entry(self) -> str:
        """The Python callable the platform ends up calling (dotted)."""
        return BOOTSTRAPS.get(self.handler, self.handler)


@dataclass(frozen=True)
class CloudFunction:
    """A function of the deployment; `aws` or `scf` is None where that platform has no such function, and
    `note` says what serves that role there instead."""

    name: str
    trigger: Trigger
    aws: Deployment | None
    scf: Deployment | None
    note: str = ""


_SCHEDULED = "functions.handlers.scheduled."

FUNCTIONS: tuple[CloudFunction, ...] = (
    # 29 s on AWS: API Gateway gives up on an integration at 30 s, so the function ends first
    CloudFunction("api", Http(),
                  aws=Deployment("ApiFunction", "functions.handlers.aws_lambda.handler", 29),
                  scf=Deployment("api", "scf_bootstrap", 30)),
    CloudFunction("stream", Stream(),
                  aws=Deployment("StreamFunction", "lambda_web.sh", 300), scf=None,
                  note="Tencent: the ws function (its gateway buffers chunked HTTP)"),
    CloudFunction("ws", WebSocket("/v1/tts/ws", idle_timeout_s=600),
                  aws=None, scf=Deployment("ws", "scf_bootstrap", 900),
                  note="AWS: the stream function's URL"),
    # the queue's visibility timeout (180 s) must stay above this function's timeout: Lambda refuses less
    CloudFunction("job-worker", Queue("JobQueue"),
                  aws=Deployment("JobWorkerFunction", _SCHEDULED + "sqs_worker", 150), scf=None,
                  note="Tencent: the api function's worker threads and the drain timer work the queue"),
    CloudFunction("warmup", Schedule("warmup", "WarmupSchedule", "40 11 * * *"),
                  aws=Deployment("WarmupFunction", _SCHEDULED + "warmup", 900),
                  scf=Deployment("warmup", _SCHEDULED + "warmup", 900)),
    CloudFunction("scale-down", Schedule("scale_down", "ScaleDownSchedule", "*/5 * * * *"),
                  aws=Deployment("ScaleDownFunction", _SCHEDULED + "scale_down", 29),
                  scf=Deployment("scale-down", _SCHEDULED + "scale_down", 30)),
    CloudFunction("drain", Schedule("drain", "DrainSchedule", "* * * * *"),
                  aws=Deployment("DrainFunction", _SCHEDULED + "drain", 300),
                  scf=Deployment("drain", _SCHEDULED + "drain", 300)),
)
