"""Client lookup by (approximate) name and the client_profile tool.

``client_profile`` gives the basic facts and economics from ``db.definitions`` and the metrics
layer. The richer client genome (churn risk, drivers, price elasticity) comes from the models:
they come in through :func:`profile_extensions`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process, utils
from sqlalchemy import Connection, select

from mspilot.core.errors import UserInputError
from mspilot.core.periods import Period
from mspilot.db import definitions as d
from mspilot.db.schema import Client, Contract
from mspilot.db.semantic import MetricRequest, metrics_for_role, run_metric
from mspilot.db.semantic_access import STAFF_WITH_MONEY, AccessDenied
from mspilot.prompts import tools as P
from mspilot.tools.base import Tool, ToolOutput, make_tool, table_artifact
from mspilot.tools.context import ToolContext

FUZZY_MIN = 80.0


@dataclass(frozen=True)
class ClientRef:
    id: str
    name: str


def client_candidates(conn: Connection, tenant_id: str) -> list[tuple[str, str]]:
    stmt = select(Client.id, Client.name).where(
        Client.tenant_id == tenant_id, Client.deleted_at.is_(None)
    )
    return [(r.id, r.name) for r in conn.execute(stmt)]


def match_name(candidates: list[tuple[str, str]], name: str) -> ClientRef | list[str]:
    """The one client ``name`` means, or a short list of close names when it is unclear."""
    wanted = name.strip().lower()
    exact = [c for c in candidates if wanted in (c[0].lower(), c[1].lower())]
    if len(exact) == 1:
        return ClientRef(*exact[0])
    names = [c[1] for c in candidates]
    scored = process.extract(
        name, names, scorer=fuzz.WRatio, processor=utils.default_process, limit=3
    )
    if not scored or scored[0][1] < FUZZY_MIN:
        return [s[0] for s in scored]
    best_name, best, index = scored[0]
    if len(scored) > 1 and scored[1][1] >= best - 2 and scored[1][0] != best_name:
        return [s[0] for s in scored if s[1] >= FUZZY_MIN]
    return ClientRef(candidates[index][0], best_name)


def resolve_client(ctx: ToolContext, name: str) -> ClientRef:
    """Resolve a client name within the caller's scope (a client user: only their own)."""
    with ctx.engine.connect() as conn:
        found = match_name(client_candidates(conn, ctx.tenant_id), name)
    if isinstance(found, list) and ctx.client_id is not None:
        with ctx.engine.connect() as conn:
            own = [c for c in client_candidates(conn, ctx.tenant_id) if c[0] == ctx.client_id]
        if own:  # a client user's "my company", "us"...: their own organisation
            return ClientRef(*own[0])
    if isinstance(found, list):
        hint = f"; did you mean: {', '.join(found)}?" if found else ""
        raise UserInputError(f"no client named {name!r}{hint}")
    if ctx.client_id is not None and found.id != ctx.client_id:
        raise AccessDenied("you can only see your own organisation's data")
    return found


ProfileExtension = Callable[[ToolContext, ClientRef], list[tuple[str, str, Any]]]


def profile_extensions() -> list[ProfileExtension]:
    """Extra profile sections from the models, (ctx, client) -> rows of (section, item,
    value): the churn risk and its reasons. Named here, imported when a profile is built."""
    from mspilot.tools.models_churn import churn_profile

    return [churn_profile]


class ClientProfileArgs(BaseModel):
    client: str = Field(description=P.ARG_CLIENT)
    months: int = Field(default=12, ge=1, le=36, description=P.ARG_MONTHS)


def _metric(ctx: ToolContext, ref: ClientRef, metric: str, period: Period | None) -> Any:
    result = run_metric(
        ctx.engine,
        ctx.tenant_id,
        MetricRequest(metric=metric, period=period),
        client_id=ref.id,
        today=ctx.today,
        role=ctx.role,
    )
    return result.rows[0][-1] if result.rows else None


def _months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def client_profile(ctx: ToolContext, client: str, months: int = 12) -> ToolOutput:
    ref = resolve_client(ctx, client)
    period = Period.months_before(ctx.today, months)
    rows: list[tuple[str, str, Any]] = []
    with ctx.engine.connect() as conn:
        row = conn.execute(select(Client.__table__).where(Client.id == ref.id)).one()
        rows += [
            ("client", "name", row.name),
            ("client", "industry", row.industry),
            ("client", "seats", row.seats),
            ("client", "status", row.status),
            ("client", "onboarded_on", row.onboarded_on.isoformat() if row.onboarded_on else None),
        ]
        if row.churned_on:
            rows.append(("client", "churned_on", row.churned_on.isoformat()))
        if row.onboarded_on:
            end = row.churned_on or ctx.today
            rows.append(("client", "tenure_months", _months_between(row.onboarded_on, end)))
        if ctx.role in STAFF_WITH_MONEY:
            contracts = conn.execute(
                select(Contract.__table__).where(
                    Contract.tenant_id == ctx.tenant_id,
                    Contract.client_id == ref.id,
                    Contract.deleted_at.is_(None),
                    Contract.starts_on <= ctx.today,
                )
            ).all()
            for c in contracts:
                if c.ends_on is not None and c.ends_on < ctx.today:
                    continue
                label = f"{c.kind} contract"
                rows.append((label, "monthly_value", _num(c.monthly_value)))
                if c.hourly_rate is not None:
                    rows.append((label, "hourly_rate", _num(c.hourly_rate)))
                rows.append((label, "ends_on", c.ends_on.isoformat() if c.ends_on else None))
                if c.annual_escalation_pct is not None:
                    rows.append((label, "annual_escalation_pct", _num(c.annual_escalation_pct)))
                if c.discount_pct is not None:
                    rows.append((label, "discount_pct", _num(c.discount_pct)))
            econ = conn.execute(d.client_economics(ctx.tenant_id, period, [ref.id])).one()
            section = f"economics {period.label()}"
            for key in d.ECONOMICS_COLUMNS:
                rows.append((section, key, _num(getattr(econ, key))))
    visible = set(metrics_for_role(ctx.role))
    service = f"service {period.label()}"
    for metric in ("tickets", "p1_share", "sla_breach_rate", "csat"):
        rows.append((service, metric, _metric(ctx, ref, metric, period)))
    now = f"as of {ctx.today.isoformat()}"
    for metric in ("balance_due", "overdue_balance", "unbilled_hours", "managed_devices"):
        if metric in visible:
            rows.append((now, metric, _metric(ctx, ref, metric, None)))
    for extension in profile_extensions():
        rows += extension(ctx, ref)
    text = _profile_text(ref, rows)
    return text, table_artifact(
        ["section", "item", "value"], rows, client=ref.name, client_id=ref.id
    )


def _num(value: Any) -> Any:
    if value is None:
        return None
    number = float(value)
    return round(number, 4) if abs(number) < 1 else round(number, 2)


def _profile_text(ref: ClientRef, rows: list[tuple[str, str, Any]]) -> str:
    out: list[str] = [f"Profile of {ref.name}. {P.DATA_NOTICE}"]
    current = None
    for section, item, value in rows:
        if section != current:
            out.append(f"[{section}]")
            current = section
        out.append(f"  {item}: {value}")
    return "\n".join(out)


def build(ctx: ToolContext) -> list[Tool]:
    return [
        make_tool(
            "client_profile", P.CLIENT_PROFILE, ClientProfileArgs, partial(client_profile, ctx)
        )
    ]
