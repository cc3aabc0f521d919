"""Configuration: one YAML file plus ``LANEWAY_*`` environment overrides.

Precedence (highest first): explicit arguments, environment variables
(``LANEWAY_REDIS_URL``, ``LANEWAY_API__PORT``, ...), the YAML file named by
``LANEWAY_CONFIG`` (default ``./laneway.yaml`` when present), built-in defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from laneway.lanes import FAST_PATH, GENERAL, HIGH_COMPUTE, LANES, Lane

DEFAULT_CONFIG_FILE = "laneway.yaml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendConfig(Strict):
    """One OpenAI-compatible model server serving a lane."""

    name: str = Field(min_length=1, description="unique backend name, shown on jobs and metrics")
    base_url: str = Field(description="OpenAI API root, e.g. http://127.0.0.1:8080/v1")
    model: str = Field(min_length=1, description="model name sent to the backend")
    weight: float = Field(default=1.0, gt=0)
    max_concurrency: int = Field(
        default=16, ge=1, description="most calls to it at once, across every worker process"
    )
    context_window: int = Field(default=8192, ge=1, description="tokens")
    price_per_1k_input: float = Field(default=0.0, ge=0)
    price_per_1k_output: float = Field(default=0.0, ge=0)
    api_key_env: str | None = Field(
        default=None, description="name of the environment variable holding the API key"
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class SpilloverConfig(Strict):
    """Where a lane's waiting jobs may run instead while another lane has room (off
    unless a lane names it). A job moves at most once, never out of a lane its client
    forced, never into a lane outside its API key's or one whose windows are too small."""

    to: list[Lane] = Field(min_length=1, description="lanes to overflow into, in order")
    after_seconds: float | None = Field(
        default=5.0,
        gt=0,
        description="a job waiting this long in the lane's queue moves (null: not by age)",
    )
    max_confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="a job the classifier placed here with at most this confidence moves "
        "sooner, after low_confidence_after_seconds (null: off)",
    )
    low_confidence_after_seconds: float = Field(
        default=1.0,
        gt=0,
        description="how long a low-confidence job waits in the queue before it moves",
    )

    @model_validator(mode="after")
    def _some_rule(self) -> SpilloverConfig:
        if self.after_seconds is None and self.max_confidence is None:
            raise ValueError("set after_seconds, max_confidence or both")
        if len(set(self.to)) != len(self.to):
            raise ValueError("to names a lane twice")
        return self


BalancingStrategy = Literal[
    "least-in-flight",
    "weighted-round-robin",
    "power-of-two-choices",
    "peak-ewma",
    "lowest-cost",
    "affinity",
]


class BalancingConfig(Strict):
    """How a lane chooses among its backends that have a free slot (workers/selection/)."""

    strategy: BalancingStrategy = "least-in-flight"
    affinity_key: Literal["tenant", "user", "prefix"] = Field(
        default="prefix",
        description="affinity: what keeps jobs on one backend (the job's tenant, the "
        "request's `user` field, or the first prefix_chars of its text)",
    )
    prefix_chars: int = Field(default=256, ge=1, description="affinity on prefix: its length")
    ewma_decay_seconds: float = Field(
        default=10.0, gt=0, description="peak-ewma: how fast a backend's latency is forgotten"
    )

    @model_validator(mode="before")
    @classmethod
    def _strategy_alone(cls, value: Any) -> Any:
        # `balancing: affinity` is short for `balancing: {strategy: affinity}`
        return {"strategy": value} if isinstance(value, str) else value


class LaneConfig(Strict):
    backends: list[BackendConfig] = Field(default_factory=list)
    balancing: BalancingConfig = Field(default_factory=BalancingConfig)
    fallback: list[Lane] | None = Field(
        default=None, description="lanes to try, in order [default: the lane's usual chain]"
    )
    concurrency: int | None = Field(
        default=None, ge=1, description="in-flight backend calls per worker [default per lane]"
    )
    max_queue_depth: int = Field(
        default=10_000,
        ge=1,
        description="refuse submits routed here (429) while the lane's queue is this deep",
    )
    spillover: SpilloverConfig | None = Field(
        default=None,
        description="run jobs waiting here in another lane that has free slots [default: off]",
    )

    @property
    def fallback_chain(self) -> list[Lane]:
        return self.fallback or []

    @property
    def worker_concurrency(self) -> int:
        """Calls one worker process makes at once: the lane's ``concurrency``, but never
        more than its backends' ``max_concurrency`` together (a message a worker cannot
        call a backend for is better left in the queue for another worker)."""
        wanted = self.concurrency or 8
        if not self.backends:
            return wanted
        return min(wanted, sum(b.max_concurrency for b in self.backends))


def _default_lanes() -> dict[Lane, LaneConfig]:
    return {
        FAST_PATH: LaneConfig(fallback=[GENERAL], concurrency=16),
        GENERAL: LaneConfig(fallback=[HIGH_COMPUTE], concurrency=8),
        HIGH_COMPUTE: LaneConfig(fallback=[GENERAL], concurrency=4),
    }


class ClassifierConfig(Strict):
    strategy: Literal["rules", "embedding", "llm", "cascade", "auto"] = "auto"
    timeout_seconds: float = Field(
        default=2.0, gt=0, description="longest one classification may take (any strategy)"
    )
    unclassified_after_seconds: float = Field(
        default=15.0,
        gt=0,
        description="a job still unclassified this long after submission goes to general",
    )
    max_queue_depth: int = Field(
        default=10_000,
        ge=1,
        description="refuse submits (429) while the classify queue is this deep",
    )
    confidence_threshold: float = Field(default=0.75, ge=0, le=1)
    cache_ttl_seconds: int = Field(default=3600, ge=0)
    examples_file: Path | None = None
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key_env: str | None = None


class RetryConfig(Strict):
    """How hard a job is tried before it is dead-lettered."""

    max_attempts_per_lane: int = Field(default=3, ge=1, description="backend calls per lane visit")
    backoff_base_seconds: float = Field(default=0.2, ge=0)
    backoff_max_seconds: float = Field(default=5.0, ge=0)
    job_deadline_seconds: float = Field(
        default=300, gt=0, description="from submission: past it a job is dead-lettered"
    )
    max_deliveries: int = Field(
        default=5, ge=1, description="deliveries of one message before it counts as poison"
    )
    breaker_failure_threshold: int = Field(default=3, ge=1)
    breaker_cooldown_seconds: float = Field(default=10.0, gt=0)
    health_probe_interval_seconds: float = Field(default=5.0, gt=0)
    max_defer_seconds: float = Field(
        default=30.0, gt=0, description="longest countdown while every backend cools down"
    )
    lost_message_grace_seconds: float = Field(
        default=30.0,
        gt=0,
        description="a routed job's message not seen by then is looked for, and resent if lost",
    )


class ApiConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=4_000_000, ge=1024)
    max_json_depth: int = Field(
        default=64, ge=2, le=128, description="deeper request bodies are refused with 400"
    )
    api_keys_env: str = Field(
        default="LANEWAY_API_KEYS",
        description="env var holding 'key:tenant,key:tenant'; keys never live in the file",
    )
    open_docs: bool | None = Field(
        default=None,
        description="serve /docs, /redoc and /openapi.json without a key when keys are in "
        "use [default: only while the API listens on loopback]",
    )
    open_metrics: bool | None = Field(
        default=None,
        description="serve /metrics without a key when keys are in use [default: only "
        "while the API listens on loopback]",
    )
    wait_timeout_seconds: float = Field(default=300.0, gt=0)


class WorkerConfig(Strict):
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=120.0, gt=0)
    task_soft_time_limit: int = Field(default=300, ge=1)
    task_time_limit: int = Field(default=330, ge=1)
    visibility_timeout: int = Field(default=3600, ge=1)
    heartbeat_interval_seconds: float = Field(
        default=5.0, gt=0, le=5.0, description="how often a worker tells Redis it is alive"
    )
    dead_after_seconds: float = Field(
        default=15.0,
        gt=0,
        description="a worker silent this long is dead: its running jobs go to a live worker",
    )
    slot_lease_seconds: float = Field(
        default=5.0,
        ge=1.0,
        description="a backend call's slot (max_concurrency, fleet-wide) is renewed while "
        "the call runs; a killed worker's slots come back after this long",
    )

    @model_validator(mode="after")
    def _limits_ordered(self) -> WorkerConfig:
        if self.dead_after_seconds < 2 * self.heartbeat_interval_seconds:
            raise ValueError(
                "dead_after_seconds must be at least twice heartbeat_interval_seconds, or a "
                "worker that is only slow to beat is taken for dead"
            )
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ValueError("task_soft_time_limit must be below task_time_limit")
        if self.read_timeout_seconds >= self.task_soft_time_limit:
            raise ValueError("read_timeout_seconds must be below task_soft_time_limit")
        if self.visibility_timeout <= self.task_time_limit:
            raise ValueError(
                "visibility_timeout must be above task_time_limit, or Redis redelivers "
                "jobs that are still running"
            )
        return self


class BatchConfig(Strict):
    """The OpenAI Files and Batch API: where files live and how batches run."""

    storage_url: str | None = Field(
        default=None,
        description="fsspec URL of the folder files are kept in (file://, s3://, gs:// ... "
        "as soon as its driver is installed) [default: <data_dir>/files]",
    )
    max_lines: int = Field(default=50_000, ge=1, description="most requests in one batch file")
    max_file_bytes: int = Field(
        default=200 * 1024 * 1024, ge=1024, description="largest file an upload may have"
    )
    concurrency: int = Field(
        default=64,
        ge=1,
        description="most unfinished lines of one batch in the queues at once; the batch "
        "driver submits more as earlier ones finish",
    )
    max_open_batches: int = Field(
        default=10, ge=1, description="most batches of one tenant not yet finished (429 past it)"
    )
    completion_windows: dict[str, int] = Field(
        default_factory=lambda: {"24h": 24 * 3600},
        description="the completion_window values a batch may ask for, in seconds",
    )
    max_errors: int = Field(
        default=100,
        ge=1,
        description="validation errors listed on a failed batch (the rest are counted)",
    )

    @field_validator("completion_windows")
    @classmethod
    def _has_24h(cls, value: dict[str, int]) -> dict[str, int]:
        # the OpenAI SDK's only value: a client written for OpenAI must work unchanged
        return {"24h": 24 * 3600, **value}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LANEWAY_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    redis_url: str = "redis://127.0.0.1:6379/0"
    job_ttl_seconds: int = Field(
        default=24 * 3600,
        ge=60,
        description="how long a job's record (metadata) lives: ~2.4 KB a job, so at 100 "
        "jobs/s a day of records is ~20 GB of Redis memory",
    )
    content_ttl_seconds: int = Field(
        default=3600,
        ge=1,
        description="how long a finished job's prompt, result and token stream are kept "
        "(its metadata stays for job_ttl_seconds)",
    )
    store_content: bool = Field(
        default=True,
        description="false: a job's prompt and result are dropped when it finishes (callers "
        "waiting for it still get the result; only metadata is kept)",
    )
    usage_retention_days: int = Field(
        default=90,
        ge=0,
        description="how long the hourly usage totals (GET /v1/usage, laneway usage) are "
        "kept; 0 keeps none",
    )
    data_dir: Path = Path(".laneway")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="json: one JSON object a line, with job_id, lane, backend and tenant on "
        "every line about a job (workers and API; --log-format overrides)",
    )
    lanes: dict[Lane, LaneConfig] = Field(default_factory=_default_lanes)
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)

    @field_validator("lanes")
    @classmethod
    def _all_lanes(cls, value: dict[Lane, LaneConfig]) -> dict[Lane, LaneConfig]:
        defaults = _default_lanes()
        merged = {}
        for lane in LANES:
            config = value.get(lane, defaults[lane])
            merged[lane] = config.model_copy(
                update={
                    "fallback": defaults[lane].fallback
                    if config.fallback is None
                    else config.fallback,
                    "concurrency": config.concurrency or defaults[lane].concurrency,
                }
            )
        for lane, config in merged.items():
            if config.spillover is not None and lane in config.spillover.to:
                raise ValueError(f"{lane}: spillover.to names the lane itself")
        names = [b.name for lane in merged.values() for b in lane.backends]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"backend names must be unique, repeated: {', '.join(duplicates)}")
        return merged

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_path()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    @model_validator(mode="after")
    def _visibility_covers_countdowns(self) -> Settings:
        # Redis counts a reserved message's visibility from its reservation: a
        # countdown or a running task longer than the timeout is delivered twice.
        needed = self.worker.task_time_limit + self.retry.max_defer_seconds
        if self.worker.visibility_timeout <= needed:
            raise ValueError(
                f"worker.visibility_timeout ({self.worker.visibility_timeout}s) must exceed "
                f"worker.task_time_limit + retry.max_defer_seconds ({needed:g}s), or Redis "
                "redelivers jobs that are still running or waiting"
            )
        return self

    @model_validator(mode="after")
    def _content_within_job_ttl(self) -> Settings:
        if self.content_ttl_seconds > self.job_ttl_seconds:
            raise ValueError(
                f"content_ttl_seconds ({self.content_ttl_seconds}) must not exceed "
                f"job_ttl_seconds ({self.job_ttl_seconds}): content outlives no job record"
            )
        return self

    def batch_storage_url(self) -> str:
        """Where uploaded and produced files are kept (an fsspec URL)."""
        if self.batch.storage_url:
            return self.batch.storage_url.rstrip("/")
        return (self.data_dir / "files").resolve().as_uri()

    def has_backends(self) -> bool:
        return any(lane.backends for lane in self.lanes.values())


def config_path() -> Path | None:
    explicit = os.environ.get("LANEWAY_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"LANEWAY_CONFIG names {path}, which is not a file")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


class ConfigError(Exception):
    """Invalid configuration, with every bad key named."""


def describe_validation_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {key}: {item['msg']}")
    return "invalid laneway configuration:\n" + "\n".join(lines)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate settings; raise :class:`ConfigError` with readable messages."""
    previous = os.environ.get("LANEWAY_CONFIG")
    try:
        if config_file is not None:
            os.environ["LANEWAY_CONFIG"] = str(config_file)
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    finally:
        if config_file is not None:
            if previous is None:
                os.environ.pop("LANEWAY_CONFIG", None)
            else:
                os.environ["LANEWAY_CONFIG"] = previous
