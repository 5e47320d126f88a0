"""What every tool is scoped by: injected by the caller, never settable by the LLM."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from mspilot.db.semantic_access import check_role


@dataclass(frozen=True)
class ToolContext:
    """The caller's scope. Every read a tool makes is limited to ``tenant_id`` and, for a
    ``client_user``, to ``client_id``; ``role`` decides which tools and data are available."""

    engine: Engine
    tenant_id: str
    today: date
    data_dir: Path
    role: str = "owner"  # owner | finance | service_manager | technician | client_user
    client_id: str | None = None  # set for client_user: every read is limited to this client

    def __post_init__(self) -> None:
        check_role(self.role)
        if self.role == "client_user" and not self.client_id:
            raise ValueError("a client_user context needs a client_id")

    @property
    def is_client_user(self) -> bool:
        return self.role == "client_user"
