"""make_chart: a metric as a Vega-Lite spec (and optionally a PNG rendered with matplotlib)."""

from __future__ import annotations

import functools
import hashlib
import json
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from mspilot.db.semantic import TIME_DIMENSIONS, MetricResult
from mspilot.prompts import tools as P
from mspilot.tools.base import Tool, ToolOutput, make_tool
from mspilot.tools.context import ToolContext
from mspilot.tools.metrics import (
    describe_result,
    metric_args_schema,
    metric_request,
    result_artifact,
    run_request,
)

VEGA_LITE = "https://vega.github.io/schema/vega-lite/v5.json"
ChartKind = Literal["auto", "bar", "line"]


@functools.cache
def chart_args_schema(role: str) -> type[BaseModel]:
    return create_model(
        f"MakeChartArgs_{role}",
        __base__=metric_args_schema(role),
        chart_kind=(ChartKind, Field(default="auto", description=P.ARG_CHART_KIND)),
        title=(str | None, Field(default=None, description=P.ARG_TITLE)),
        png=(bool, Field(default=False, description=P.ARG_PNG)),
    )


def vega_lite_spec(
    result: MetricResult, kind: ChartKind = "auto", title: str | None = None
) -> dict[str, Any]:
    """A Vega-Lite v5 spec with the data inline."""
    dims = result.columns[:-1]
    metric = result.columns[-1]
    x = dims[0] if dims else None
    is_time = x in TIME_DIMENSIONS
    mark = kind if kind != "auto" else ("line" if is_time else "bar")
    values = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    encoding: dict[str, Any] = {
        "y": {"field": metric, "type": "quantitative", "title": f"{metric} ({result.unit})"}
    }
    if x is not None:
        encoding["x"] = {
            "field": x,
            "type": "ordinal",
            "sort": None if is_time else "-y",
            "title": x,
        }
    if len(dims) > 1:
        encoding["color"] = {"field": dims[1], "type": "nominal"}
    label = title or f"{metric}" + (f" by {', '.join(dims)}" if dims else "")
    if result.period_label:
        label += f" — {result.period_label}"
    return {
        "$schema": VEGA_LITE,
        "title": label,
        "data": {"values": values},
        "mark": {"type": mark, "point": True} if mark == "line" else {"type": mark},
        "encoding": encoding,
    }


def render_png(spec: dict[str, Any], out_dir: Path) -> Path | None:
    """Draw the spec with matplotlib (if installed) into ``out_dir``; None without it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import pandas as pd
    except ImportError:
        return None
    enc = spec["encoding"]
    y = enc["y"]["field"]
    frame = pd.DataFrame(spec["data"]["values"])
    fig, ax = plt.subplots(figsize=(8, 4.5))
    try:
        kind = spec["mark"]["type"]
        if "x" not in enc:
            ax.bar(["total"], frame[y])
        elif "color" in enc:
            wide = frame.pivot_table(
                index=enc["x"]["field"], columns=enc["color"]["field"], values=y
            )
            wide.plot(kind=kind, ax=ax)
        else:
            frame.plot(x=enc["x"]["field"], y=y, kind=kind, ax=ax, legend=False)
        ax.set_title(spec.get("title", ""))
        ax.set_ylabel(enc["y"].get("title", y))
        fig.tight_layout()
        out_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.blake2b(
            json.dumps(spec, sort_keys=True, default=str).encode(), digest_size=8
        )
        path = out_dir / f"chart-{digest.hexdigest()}.png"
        fig.savefig(path, dpi=100)
        return path
    finally:
        plt.close(fig)


def make_chart(
    ctx: ToolContext,
    chart_kind: ChartKind = "auto",
    title: str | None = None,
    png: bool = False,
    **args: Any,
) -> ToolOutput:
    request, notes = metric_request(ctx, args)
    result = run_request(ctx, request)
    spec = vega_lite_spec(result, chart_kind, title)
    artifact = result_artifact(result, request)
    artifact["meta"]["tool"] = "make_chart"
    artifact["meta"]["chart"] = spec
    text = f"Chart ready: {spec['title']} ({spec['mark']['type']} chart). " + describe_result(
        result, notes
    )
    if png:
        path = render_png(spec, ctx.data_dir / "charts")
        artifact["meta"]["png_path"] = str(path) if path else None
        if path is None:
            text += "\n(PNG not rendered: matplotlib is not installed.)"
    return text, artifact


def build(ctx: ToolContext) -> list[Tool]:
    return [
        make_tool("make_chart", P.MAKE_CHART, chart_args_schema(ctx.role), partial(make_chart, ctx))
    ]
