"""churn_risk: clients ranked by 90-day churn risk with the reasons (``models.serving``); the
same risk and reasons join ``client_profile`` (a profile extension) for the roles that may see
them, once a churn model is trained."""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from pydantic import BaseModel, Field

from mspilot.core.errors import DataError
from mspilot.db.semantic_access import STAFF_WITH_MONEY
from mspilot.models import serving
from mspilot.prompts import tools as P
from mspilot.tools.base import Tool, ToolOutput, make_tool, table_artifact, text_table
from mspilot.tools.clients import ClientRef
from mspilot.tools.context import ToolContext
from mspilot.tools.models_common import client_arg

#: as the API's ``churn`` capability: staff who see money (no technicians, no client users)
ROLES: Final = {"churn_risk": STAFF_WITH_MONEY}
COLUMNS: Final = ("client", "risk_90d", "drivers")


class ChurnArgs(BaseModel):
    top: int = Field(default=10, ge=1, le=100, description=P.ARG_TOP)
    client: str | None = Field(default=None, description=P.ARG_CLIENT_OPTIONAL)


def churn_risk(ctx: ToolContext, top: int = 10, client: str | None = None) -> ToolOutput:
    ref = client_arg(ctx, client)
    risks = serving.churn_risks(ctx.engine, ctx.tenant_id, ctx.today, ctx.data_dir)
    if ref is not None:
        risks = [r for r in risks if r.client_id == ref.id]
    rows = [(r.client_name, r.risk_90d, "; ".join(d.text for d in r.drivers)) for r in risks]
    as_of = ctx.today.isoformat()
    head = P.CHURN_HEAD.format(as_of=as_of, n=len(rows)) + " " + P.DATA_NOTICE
    if ref is not None and not rows:
        head = P.CHURN_NOT_ACTIVE.format(client=ref.name, as_of=as_of)
    text = head + "\n" + text_table(COLUMNS, rows, limit=top)
    return text, table_artifact(
        COLUMNS,
        rows,
        title="Clients by 90-day churn risk",
        horizon_days=90,
        top=min(top, len(rows)),
        as_of=ctx.today.isoformat(),
        client=ref.name if ref else None,
    )


PROFILE_SECTION: Final = "churn risk (next 90 days)"


def churn_profile(ctx: ToolContext, ref: ClientRef) -> list[tuple[str, str, Any]]:
    """The client's churn risk and reasons for its profile (nothing before a model is trained,
    nothing for roles the churn tool is not offered to, nothing for a client no longer active)."""
    if ctx.role not in ROLES["churn_risk"]:
        return []
    try:
        risks = serving.churn_risks(ctx.engine, ctx.tenant_id, ctx.today, ctx.data_dir)
    except DataError:
        return []
    for r in risks:
        if r.client_id == ref.id:
            reasons = "; ".join(d.text for d in r.drivers) or None
            return [
                (PROFILE_SECTION, "risk_90d", r.risk_90d),
                (PROFILE_SECTION, "drivers", reasons),
            ]
    return []


def tools(ctx: ToolContext) -> list[Tool]:
    return [make_tool("churn_risk", P.CHURN_RISK, ChurnArgs, partial(churn_risk, ctx))]
