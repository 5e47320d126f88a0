"""revenue_leaks: the leak findings of the last training run (``models.serving``)."""

from __future__ import annotations

from functools import partial
from typing import Final

from pydantic import BaseModel, Field

from mspilot.db.semantic_access import STAFF_WITH_MONEY
from mspilot.models import serving
from mspilot.prompts import tools as P
from mspilot.tools.base import Tool, ToolOutput, make_tool, table_artifact, text_table
from mspilot.tools.context import ToolContext
from mspilot.tools.models_common import client_arg

#: as the API's ``leaks`` capability
ROLES: Final = {"revenue_leaks": STAFF_WITH_MONEY}
COLUMNS: Final = ("type", "client", "period_start", "period_end", "dollars", "detail")


class LeakArgs(BaseModel):
    top: int = Field(default=10, ge=1, le=500, description=P.ARG_TOP)
    type: str | None = Field(default=None, max_length=60, description=P.ARG_LEAK_TYPE)
    client: str | None = Field(default=None, description=P.ARG_CLIENT_OPTIONAL)


def revenue_leaks(
    ctx: ToolContext, top: int = 10, type: str | None = None, client: str | None = None
) -> ToolOutput:
    ref = client_arg(ctx, client)
    leaks = serving.revenue_leaks(ctx.data_dir, ctx.tenant_id)
    if type:
        leaks = [x for x in leaks if x.type == type.strip().lower()]
    if ref is not None:
        leaks = [x for x in leaks if x.client_id == ref.id]
    leaks.sort(key=lambda x: -x.dollars)
    rows = [
        (
            x.type,
            x.client_name,
            x.period_start.isoformat(),
            x.period_end.isoformat(),
            x.dollars,
            x.detail,
        )
        for x in leaks
    ]
    by_type = dict(sorted(serving.leaks_by_type(leaks).items(), key=lambda kv: -kv[1]))
    total = round(sum(x.dollars for x in leaks), 2)
    summary = ", ".join(f"{k} {v:.2f}" for k, v in by_type.items()) or "none"
    head = P.LEAKS_HEAD.format(n=len(rows), total=total, by_type=summary) + " " + P.DATA_NOTICE
    return head + "\n" + text_table(COLUMNS, rows, limit=top), table_artifact(
        COLUMNS,
        rows,
        title="Revenue leaks",
        top=min(top, len(rows)),
        total_dollars=total,
        by_type=by_type,
    )


def tools(ctx: ToolContext) -> list[Tool]:
    return [make_tool("revenue_leaks", P.REVENUE_LEAKS, LeakArgs, partial(revenue_leaks, ctx))]
