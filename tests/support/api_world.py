"""Support for the API tests: a small demo tenant on SQLite, users of every role, a second
tenant, tokens, and the app wired with a deterministic agent (no LLM).

The agent is the real ``AgentService`` and LangGraph graph; its tools here are small scoped
tools that honour ``ToolContext`` the way the product's tools must (tenant, role, client), so
the API's guarantees (who may ask what, threads, streaming) are tested end to end.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel, Field
from sqlalchemy import Engine, func, select

from mspilot.agent.plan import PlannedCall, Route
from mspilot.agent.service import AgentService
from mspilot.api.security import issue_token
from mspilot.core.settings import ApiSettings, Settings
from mspilot.db import migrate
from mspilot.db.engine import make_engine
from mspilot.db.loader import Loader, upsert_tenant
from mspilot.db.schema import Client, Invoice, Ticket
from mspilot.db.users import create_user

AS_OF = dt.date(2026, 10, 31)
ROLES = ("owner", "finance", "service_manager", "technician", "client_user")


@dataclass(frozen=True)
class Ctx:
    """The shape of ``mspilot.tools.context.ToolContext`` the API builds."""

    engine: Engine
    tenant_id: str
    today: dt.date
    data_dir: Path
    role: str
    client_id: str | None


def make_ctx(
    engine: Engine, tenant_id: str, today: dt.date, data_dir: Path, role: str, cid: str | None
) -> Ctx:
    return Ctx(engine, tenant_id, today, data_dir, role, cid)


class NoArgs(BaseModel):
    top: int = Field(default=10, description="rows")


def scoped_tools(ctx: Any) -> list[BaseTool]:
    """Tickets per month (any role, client users only their client) and revenue by client
    (money roles only), both scoped by the injected context, never by arguments."""

    def tickets_by_month(top: int = 10) -> tuple[str, dict[str, Any]]:
        month = func.strftime("%Y-%m", Ticket.opened_at)
        stmt = select(month, func.count()).where(Ticket.tenant_id == ctx.tenant_id)
        if ctx.client_id:
            stmt = stmt.where(Ticket.client_id == ctx.client_id)
        with ctx.engine.connect() as conn:
            rows = [list(r) for r in conn.execute(stmt.group_by(month).order_by(month))][-6:]
        total = sum(r[1] for r in rows)
        return f"{total} tickets over {len(rows)} months", {
            "columns": ["month", "tickets"],
            "rows": rows,
            "meta": {"period": "last 6 months"},
        }

    def revenue_by_client(top: int = 10) -> tuple[str, dict[str, Any]]:
        if ctx.role not in ("owner", "finance", "service_manager"):
            raise PermissionError(f"role {ctx.role} may not see revenue")
        stmt = (
            select(Client.name, func.sum(Invoice.total))
            .join(Client, Client.id == Invoice.client_id)
            .where(Invoice.tenant_id == ctx.tenant_id)
            .group_by(Client.name)
            .order_by(func.sum(Invoice.total).desc())
            .limit(top)
        )
        with ctx.engine.connect() as conn:
            rows = [[n, float(v)] for n, v in conn.execute(stmt)]
        return f"top client {rows[0][0]} with {rows[0][1]:.2f}", {
            "columns": ["client", "revenue"],
            "rows": rows,
            "meta": {"period": "all time"},
        }

    return [
        StructuredTool.from_function(
            f,
            name=f.__name__,
            description=f.__name__,
            args_schema=NoArgs,
            response_format="content_and_artifact",
        )
        for f in (tickets_by_month, revenue_by_client)
    ]


class KeywordRouter:
    def route(self, question: str, last_intent: dict[str, Any] | None = None) -> Route | None:
        name = "revenue_by_client" if re.search(r"revenue", question, re.I) else "tickets_by_month"
        return Route(intent=name, confidence=1.0, confident=True, calls=[PlannedCall(name=name)])


def make_agent() -> AgentService:
    return AgentService(
        model=None,
        checkpointer=InMemorySaver(),
        tools_factory=scoped_tools,
        router_factory=lambda ctx, tools: KeywordRouter(),
    )


@dataclass
class World:
    engine: Engine
    url: str
    data_dir: Path
    tenant_id: str
    users: dict[str, Any]
    clients: list[str]
    other_tenant: str
    other_client: str


def build_world(root: Path) -> World:
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant

    url = f"sqlite:///{root / 'mspilot.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    ds = generate_tenant(DemoConfig(n_clients=12, years=2, as_of=AS_OF), 0)
    with engine.begin() as conn:
        upsert_tenant(conn, ds.tenant.id, ds.tenant.name)
        upsert_tenant(conn, "other", "Other MSP")
    Loader(engine, ds.tenant.id, "demo").load_all(ds.tables)
    Loader(engine, "other", "demo").load_all(
        {
            "clients": [
                {
                    "external_id": "x1",
                    "name": "Elsewhere Ltd",
                    "industry": "Legal",
                    "seats": 5,
                    "status": "active",
                    "onboarded_on": dt.date(2024, 1, 1),
                    "churned_on": None,
                }
            ]
        }
    )
    with engine.connect() as conn:
        clients = list(
            conn.scalars(
                select(Client.id)
                .where(Client.tenant_id == ds.tenant.id, Client.status == "active")
                .order_by(Client.id)
            )
        )
        other_client = conn.scalar(select(Client.id).where(Client.tenant_id == "other"))
    users: dict[str, Any] = {}
    for role in ROLES:
        users[role] = create_user(
            engine,
            ds.tenant.id,
            f"{role}@demo.test",
            role,
            client_id=clients[0] if role == "client_user" else None,
        )
    users["client_user_b"] = create_user(
        engine, ds.tenant.id, "b@demo.test", "client_user", client_id=clients[1]
    )
    users["other_owner"] = create_user(engine, "other", "owner@other.test", "owner")
    return World(engine, url, root, ds.tenant.id, users, clients, "other", str(other_client))
    engine.dispose()


def settings_for(world: World, **api: Any) -> Settings:
    return Settings(
        data_dir=world.data_dir,
        database_url=world.url,
        today=AS_OF,
        api=ApiSettings(
            jwt_secret="test-secret-test-secret-test-secret",
            user_requests_per_minute=api.pop("user_requests_per_minute", 100_000),
            tenant_requests_per_minute=api.pop("tenant_requests_per_minute", 100_000),
            user_chats_per_minute=api.pop("user_chats_per_minute", 100_000),
            **api,
        ),
    )


def token(world: World, who: str, ttl: dt.timedelta = dt.timedelta(hours=1)) -> str:
    user = world.users[who]
    value, _ = issue_token(
        "test-secret-test-secret-test-secret",
        user_id=user.id,
        tenant_id=user.tenant_id,
        role=user.role,
        client_id=user.client_id,
        ttl=ttl,
    )
    return value


def auth(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(world, who)}"}


def make_app(
    world: World, *, real_agent: bool = False, redis_url: str | None = None, **api: Any
) -> Any:
    """The app on the shared world: the scoped fake tools (or the real agent from settings)."""
    from mspilot.api.app import create_app

    settings = settings_for(world, **api)
    settings.redis_url = redis_url
    if real_agent:
        settings.llm.provider = "none"
        return create_app(settings, engine=world.engine)
    return create_app(
        settings, engine=world.engine, agent=make_agent(), context_factory=make_ctx, warm=False
    )
