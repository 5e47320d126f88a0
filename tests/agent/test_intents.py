"""The router ↔ tool contract: every intent names a real tool, and every argument the router
may fill is an argument of that tool (so the router can never invent an argument name)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import create_engine

from mspilot.agent.intents import INTENT_TOOLS, SQL_TOOL
from mspilot.tools.context import ToolContext
from mspilot.tools.registry import TOOLS, build_plain


def test_every_router_argument_is_an_argument_of_its_tool() -> None:
    ctx = ToolContext(
        engine=create_engine("sqlite://"), tenant_id="t", today=dt.date(2026, 10, 31),
        data_dir=Path("."),
    )  # fmt: skip
    tools = {t.name: t for t in build_plain(ctx)}
    for intent, (name, model) in {**INTENT_TOOLS, "sql": SQL_TOOL}.items():
        assert name in TOOLS and name in tools, intent
        assert set(model.model_fields) <= set(tools[name].args), (intent, name)
