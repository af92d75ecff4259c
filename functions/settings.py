"""One settings object, built from explicit arguments first, then environment variables, then defaults.

Every outside system is chosen here: the defaults are the embedded stand-ins (local directory storage,
in-process state, a local Triton), so `make run` needs no cloud account. See the settings table in docs/operations.md.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, fields
from typing import Any, Mapping

from inference.contract import MODEL_NAME, PROMPT_SAMPLE_RATE, STREAM_MODEL_NAME

from .cron import windows


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    # inference endpoint
    triton_url: str = "127.0.0.1:8001"
    triton_protocol: str = "grpc"  # grpc | http
    triton_model: str = MODEL_NAME
    triton_stream_model: str = STREAM_MODEL_NAME
    triton_connect_timeout_s: float = 2.0
    triton_request_timeout_s: float = 25.0  # below API Gateway's 30 s
    triton_retries: int = 2
    engine: str = "espeak"  # must name the engine the endpoint runs: it is part of the cache key
    # the hosted CosyVoice API (functions/endpoint/hosted.py): opt-in, for misses while the GPU sleeps
    hosted_engine: str = ""  # "" (none) | dashscope
    dashscope_api_key: str = ""
    dashscope_http_url: str = ""  # default: the SDK's (https://dashscope.aliyuncs.com/api/v1)
    dashscope_ws_url: str = ""  # default: the SDK's (wss://dashscope.aliyuncs.com/api-ws/v1/inference)
    hosted_model: str = "cosyvoice-v3-flash"
    hosted_clone: bool = False  # send users' recordings to the hosted API for cloning (a third party)
    hosted_price: float = 1.0  # CNY per 10,000 billed characters (a Chinese character bills as 2)
    gpu_price: float = 3.8  # CNY per GPU hour (T4 class): the hybrid wake rule weighs it against hosted misses
    model_version: str = "Fun-CosyVoice3-0.5B-2512"
    # object storage
    storage: str = "local"  # local | s3 (S3 or Tencent COS)
    storage_dir: str = "data/storage"
    public_base_url: str = "http://127.0.0.1:8080"
    s3_bucket: str = ""
    s3_endpoint_url: str = ""  # Tencent COS: https://cos.<region>.myqcloud.com
    s3_region: str = ""
    s3_addressing_style: str = "auto"  # auto | virtual | path (COS: virtual)
    s3_prefix: str = ""
    cdn_base_url: str = ""  # when set, URLs are CDN URLs instead of presigned ones
    url_expires_s: int = 3600
    # state
    redis_url: str = ""  # empty: in-process state
    redis_failure_mode: str = "degrade"  # degrade (per-process fallback) | fail (503)
    task_ttl_s: int = 86400
    state_max_tasks: int = 10000  # in-process state: task records kept at most (also bounded by TASK_TTL_S)
    # limits
    max_text_chars: int = 200
    max_instruct_chars: int = 100
    max_prompt_bytes: int = 8 * 1024 * 1024
    max_body_bytes: int = 12 * 1024 * 1024
    # long-lived connections (streams, WebSockets) one process holds: in all, per client address, per identity
    # (0: no cap; behind a gateway every client has the gateway's address: set the per-address cap to 0 there)
    max_connections: int = 2000
    max_connections_per_address: int = 200
    max_connections_per_identity: int = 20
    max_anonymous_connections: int = 200  # sockets not yet authenticated: a pool of their own
    body_timeout_s: float = 20.0  # a request's body must arrive within this (a trickle holds a connection)
    socket_auth_s: float = 10.0  # a WebSocket must authenticate within this, and within 3 tries
    min_prompt_s: float = 1.0
    max_prompt_s: float = 30.0
    min_prompt_rate: int = PROMPT_SAMPLE_RATE
    decode_timeout_s: float = 3.0
    single_flight_wait_s: float = 30.0
    stream_deadline_s: float = 600.0  # a stream's synthesis ends by then (it outlives the request that began it)
    request_deadline_s: float = 25.0  # every request answers within this (API Gateway gives up at 30 s)
    retry_after_s: int = 5
    mp3_bitrate: int = 64000
    # identity
    task_id_secret: str = ""  # HMAC key of task ids and cached objects; empty: created once in the store
    api_keys: str = ""  # "name:<sha256 hex>,..." (python -m functions.auth.api_keys NAME)
    dev_mode: bool = False  # loopback without credentials; only the local dev server sets it (not from env)
    dev_limits: bool = False  # apply the rate and quota limits to the local dev identity too
    jwt_keys: str = ""  # "kid:secret,..." (HS256, >= 32 chars) or "kid:<PEM with \n>" for RS256/ES256
    jwt_active_kid: str = ""
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "cosyvoice-relay"
    jwt_audience: str = "cosyvoice-relay-api"
    jwt_ttl_s: int = 7200
    wechat_appid: str = ""
    wechat_secret: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_cloud_hosting: bool = False  # trust X-WX-* headers (only behind WeChat Cloud Hosting)
    # limits
    rate_limit_per_minute: int = 3
    rate_window_s: int = 60
    daily_char_quota: int = 5000
    limit_cache_hits: bool = True  # false: cache hits cost nothing
    max_inflight_misses: int = 8  # across all processes when Redis is configured; 0: no cap
    slot_wait_s: float = 10.0  # how long a miss may wait for a free slot before 503 server_busy
    # content safety
    moderation: str = "keywords"  # ordered chain: keywords, wechat, tencent
    keyword_file: str = ""  # one word per line; default: the bundled example list
    moderation_failure: str = "refuse"  # a provider that is down: refuse | pass
    moderation_review: str = "pass"  # a "review" verdict: pass (logged for review) | refuse
    tencent_tms_endpoint: str = ""
    wechat_token_url: str = ""  # Cloud Hosting open interface: leave empty and set wechat_cloud_hosting
    audit_text: bool = False  # include the text itself in the audit log
    # AI-generated content labels (GB 45438-2025) and consent
    aigc_producer: str = "CosyVoice3 relay"  # your company name or filing code: ContentProducer of every file
    aigc_propagator: str = ""  # ContentPropagator (with the task id as PropagateID) when you also distribute
    aigc_cue: str = "rhythm"  # the explicit label in the audio: rhythm (Morse "AI") | notice (spoken) | none
    aigc_cue_position: str = "start"  # start | end
    # voices
    max_voices_per_owner: int = 50
    min_speech_s: float = 1.0
    asr: str = ""  # "" (none) | tencent
    tencent_secret_id: str = ""
    tencent_secret_key: str = ""
    tencent_region: str = "ap-guangzhou"
    tencent_asr_endpoint: str = ""  # tests point it at a local server; default asr.tencentcloudapi.com
    # long text and jobs
    max_long_text_chars: int = 5000
    job_queue: str = ""  # "" (redis when REDIS_URL is set, else in-process) | memory | redis | sqs
    sqs_queue_url: str = ""
    sqs_endpoint_url: str = ""
    job_visibility_s: float = 120.0  # a job whose worker died becomes visible again after this
    job_max_attempts: int = 4
    job_backoff_s: float = 5.0  # doubled per attempt
    job_stale_s: float = 300.0  # a queued/running task no worker touched for this long is re-enqueued or failed
    speech_wait_s: float = 20.0  # /v1/audio/speech waits this long for a queued job before 503 + Retry-After
    worker_threads: int = 2  # in-process job workers (0: jobs are left to a queue-triggered function / drain)
    # scale to zero
    endpoint_controller: str = "static"  # static | ec2 | asg | cvm | k8s
    endpoint_instance_id: str = ""
    endpoint_asg_name: str = ""
    aws_region: str = ""
    aws_endpoint_url: str = ""  # tests: moto server
    tencent_cvm_endpoint: str = ""
    k8s_namespace: str = "default"
    k8s_deployment: str = "cosyvoice-triton"
    k8s_api_url: str = ""  # empty: in-cluster service account
    k8s_token: str = ""  # with K8S_API_URL: the bearer token (a service account's) the API server requires
    idle_stop_s: int = 600  # scale-down after this long without inference and with no queued work
    warm_hours: str = "fixed"  # fixed: KEEP_WARM_WINDOWS and the warm-up cron | learned: from the miss history
    warm_wait_share: float = 0.02  # learned: keep warm until cold starts make at most this share of misses wait
    warm_history_weeks: int = 4  # learned: the weeks of miss history the hours are learned from
    cold_start_s: float = 180.0  # the endpoint's boot and model load (learned hours start this much ahead)
    keep_warm_windows: str = ""  # "HH:MM-HH:MM,..." UTC: peak windows in which scale-down never stops
    warmup_phrases: str = ""  # phrases to pre-render, separated by "|"
    warmup_voices: str = ""  # "<owner>:<voice_id>,..." popular voices to pre-render them in
    warmup_wait_s: float = 600.0
    # misc
    demo_page: bool = False  # serve the H5 demo at /demo (the dev server turns it on)
    metrics: bool = False  # Prometheus /metrics (long-running deployments; keep it off the public gateway)
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Explicit overrides win, then `UPPER_CASE` environment variables, then the defaults above."""
        environ = os.environ if environ is None else environ
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "dev_mode" and f.name not in overrides:
                continue  # dev_mode can never come from the environment
            if f.name in overrides:
                values[f.name] = overrides[f.name]
                continue
            raw = environ.get(f.name.upper())
            if raw is None or raw == "":
                continue
            kind = type(f.default)
            try:
                values[f.name] = _bool(raw) if kind is bool else kind(raw)
            except ValueError as exc:
                raise ValueError(f"environment variable {f.name.upper()}={raw!r}: {exc}") from None
        if "engine" not in overrides and not environ.get("ENGINE") and environ.get("COSYVOICE_ENGINE"):
            values["engine"] = environ["COSYVOICE_ENGINE"]
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.triton_protocol not in ("grpc", "http"):
            raise ValueError("TRITON_PROTOCOL must be grpc or http")
        if self.triton_protocol == "http" and importlib.util.find_spec("geventhttpclient") is None:
            # the function zips (scripts/package.py) carry tritonclient's gRPC client only
            raise ValueError("TRITON_PROTOCOL=http needs tritonclient[http], which this package leaves out: "
                             "use grpc (the default) or the container image")
        if self.storage not in ("local", "s3"):
            raise ValueError("STORAGE must be local or s3")
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("STORAGE=s3 needs S3_BUCKET")
        if self.task_id_secret and len(self.task_id_secret) < 32:
            raise ValueError("TASK_ID_SECRET must be at least 32 characters")
        if self.redis_failure_mode not in ("degrade", "fail"):
            raise ValueError("REDIS_FAILURE_MODE must be degrade or fail")
        if self.warm_hours not in ("fixed", "learned"):
            raise ValueError("WARM_HOURS must be fixed or learned")
        try:
            windows(self.keep_warm_windows)
        except ValueError as exc:
            raise ValueError(f"KEEP_WARM_WINDOWS: {exc}") from None
        if self.aigc_cue not in ("rhythm", "notice", "none"):
            raise ValueError("AIGC_CUE must be rhythm, notice or none")
        if self.aigc_cue_position not in ("start", "end"):
            raise ValueError("AIGC_CUE_POSITION must be start or end")
