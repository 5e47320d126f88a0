"""Settings of the task engine, read from the same environment as ``core.settings``.

``MSPILOT_BROKER_URL`` picks the engine: unset, every task runs in-process (the embedded default:
``make demo`` and a single box need no service); ``amqp://guest:guest@127.0.0.1:5672/`` (RabbitMQ)
or ``redis://127.0.0.1:6379/0`` (Redis) hand tasks to ``mspilot worker`` processes on any machine.
The rest lives under ``MSPILOT_TASKS__*`` and ``MSPILOT_WEBHOOKS__*``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class TasksGroup(BaseModel):
    """Schedules, retries and time limits."""

    sync_every_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="Incremental sync of each tenant and source"
    )
    train_hour: int = Field(default=2, ge=0, le=23, description="Nightly retraining, tenant time")
    scheduler_poll_s: float = Field(default=30.0, gt=0)
    lease_s: float = Field(default=120.0, gt=0, description="Scheduler leader lease")
    lock_s: float = Field(
        default=900.0, gt=0, description="A task's lock lease (renewed while it runs)"
    )
    max_retries: int = Field(default=5, ge=0)
    min_backoff_ms: int = Field(default=2_000, ge=1)
    max_backoff_ms: int = Field(default=300_000, ge=1)
    sync_time_limit_s: float = Field(default=1800.0, gt=0)
    train_time_limit_s: float = Field(default=3600.0, gt=0)
    default_time_limit_s: float = Field(default=600.0, gt=0)
    worker_threads: int = Field(default=2, ge=1, le=64)
    defer_ms: int = Field(
        default=15_000, ge=1, description="A job whose lock is taken tries again this much later"
    )
    redis_heartbeat_timeout_ms: int = Field(
        default=30_000,
        ge=1000,
        description="Redis broker: a worker silent this long is dead; its messages go back",
    )
    queue: str = Field(default="mspilot", description="The broker queue's name")
    rate_limit_burst: int = Field(
        default=10, ge=1, description="Requests a vendor account may send at once (token bucket)"
    )


class WebhookSettings(BaseModel):
    """Vendor webhooks in (``/v1/webhooks/...``)."""

    quickbooks_verifier_token: SecretStr | None = Field(
        default=None, description="Intuit developer portal → Webhooks → Verifier token"
    )
    replay_window_s: int = Field(
        default=300, ge=10, description="Signed requests older than this are refused"
    )
    max_body_bytes: int = Field(default=1_000_000, ge=1024)


class TaskSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MSPILOT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    broker_url: str | None = Field(
        default=None,
        description="amqp://... (RabbitMQ) or redis://... (Redis); unset: tasks run in-process",
    )
    redis_url: str | None = Field(
        default=None, description="Shared vendor rate limits (token buckets) across workers"
    )
    tasks: TasksGroup = Field(default_factory=TasksGroup)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)

    @property
    def embedded(self) -> bool:
        return not self.broker_url
