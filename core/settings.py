"""Settings, read once at the entry points (CLI, API, bench) and passed down.

Every value comes from the environment with the ``MSPILOT_`` prefix (nested groups use
``__``, e.g. ``MSPILOT_LLM__PROVIDER``) or from a ``.env`` file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PINNED_TODAY_FILE = "today"


class LLMSettings(BaseModel):
    """Which language model answers (filled in by the agent issue)."""

    provider: Literal["none", "local", "openai", "openai-compatible"] = "none"
    model: str = ""
    base_url: str | None = None
    api_key: SecretStr | None = None


class SuperOpsSettings(BaseModel):
    """SuperOps.ai MSP GraphQL API (connectors issue)."""

    base_url: str = "https://api.superops.ai/msp"
    region: Literal["us", "eu"] = "us"
    api_token: SecretStr | None = None
    subdomain: str | None = None
    requests_per_minute: int = 100
    page_size: int = 100
    timeout_s: float = 30.0
    default_hourly_cost: float = 45.0

    @property
    def endpoint(self) -> str:
        """The base URL; region ``eu`` picks the EU endpoint unless a base URL was given."""
        if self.region == "eu" and "base_url" not in self.model_fields_set:
            return "https://euapi.superops.ai/msp"
        return self.base_url


class QuickBooksSettings(BaseModel):
    """QuickBooks Online Accounting API v3 (connectors issue)."""

    base_url: str = "https://quickbooks.api.intuit.com"
    token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105
    realm_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    minorversion: int = 75
    page_size: int = 1000
    max_concurrent: int = 10
    requests_per_minute: int = 500
    timeout_s: float = 30.0


class ApiSettings(BaseModel):
    """The HTTP service: tokens, rate limits, CORS (api issue)."""

    jwt_secret: SecretStr | None = Field(
        default=None,
        description="Signs access tokens. Default: secret_key, else a random key kept in "
        "the data directory (so the CLI and the server agree).",
    )
    jwt_ttl_minutes: int = 12 * 60
    user_requests_per_minute: int = 120
    tenant_requests_per_minute: int = 1200
    user_chats_per_minute: int = 30
    cors_origins: list[str] = Field(default_factory=list)
    max_page_size: int = 500
    demo_portal: bool = Field(
        default=False,
        description="Serve the demo portal at / with tokens minted for the demo users "
        "(never in production).",
    )


class SlackSettings(BaseModel):
    """The Slack app (slack issue). Without a signing secret the /slack/events route is off."""

    signing_secret: SecretStr | None = None
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = Field(default=None, description="xapp-... for Socket Mode")
    api_url: str = "https://slack.com/api/"
    socket_mode: bool = False
    update_interval_s: float = Field(default=1.0, description="chat.update cadence when streaming")


class SmtpSettings(BaseModel):
    """Outgoing e-mail for digests. Without a host no e-mail is sent."""

    host: str | None = None
    port: int = 587
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    ssl: bool = False
    sender: str = "mspilot <mspilot@localhost>"
    timeout_s: float = 20.0


class InsightsSettings(BaseModel):
    """Proactive digests: schedule (tenant time) and the in-server scheduler."""

    scheduler: bool = Field(default=True, description="Run the digest scheduler in the server")
    weekday: int = Field(default=0, ge=0, le=6, description="Weekly digest day (0 = Monday)")
    hour: int = Field(default=8, ge=0, le=23, description="Send hour, tenant time")
    daily_alerts: bool = True
    grace_hours: float = Field(default=6.0, description="Catch up a missed slot this late")
    poll_s: float = 60.0
    lease_s: float = 180.0
    max_items: int = 15


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MSPILOT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = Field(
        default=Path("./var"),
        description="Where the SQLite file, models, the knowledge base and ground truth live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default a SQLite file in the data directory. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
    )
    today: dt.date | None = Field(
        default=None,
        description="The product's clock. Default: the date pinned in <data_dir>/today (the "
        "demo writes the data's as-of date there so that 'last month' means the same thing as "
        "in the data), else the real date.",
    )
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    llm: LLMSettings = Field(default_factory=LLMSettings)
    superops: SuperOpsSettings = Field(default_factory=SuperOpsSettings)
    quickbooks: QuickBooksSettings = Field(default_factory=QuickBooksSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    insights: InsightsSettings = Field(default_factory=InsightsSettings)
    redis_url: str | None = Field(
        default=None, description="Redis for shared rate limits, e.g. redis://127.0.0.1:6379/0"
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Encrypts stored source credentials (Fernet key, or any string of 16+ "
        "characters from which one is derived).",
    )

    @model_validator(mode="after")
    def _pinned_today(self) -> Settings:
        """Without MSPILOT_TODAY, a date pinned in ``<data_dir>/today`` sets the clock."""
        pin = self.data_dir / PINNED_TODAY_FILE
        if self.today is None and pin.is_file():
            try:
                self.today = dt.date.fromisoformat(pin.read_text().strip())
            except ValueError as exc:
                raise ValueError(f"{pin} must hold a date like 2026-10-31") from exc
        return self

    def pin_today(self, day: dt.date) -> None:
        """Pin the product's clock for this data directory (the demo's as-of date)."""
        self.ensure_data_dir()
        (self.data_dir / PINNED_TODAY_FILE).write_text(day.isoformat() + "\n")
        self.today = day

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mspilot.db').resolve()}"

    @property
    def ground_truth_dir(self) -> Path:
        """Evaluation-only ground truth of the demo MSP; product code never reads it."""
        return self.data_dir / "ground_truth"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir
