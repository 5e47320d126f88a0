"""Period-over-period change for any metric: the same request over two periods, merged."""

from __future__ import annotations

from typing import Any

from mspilot.db.semantic.base import TIME_DIMENSIONS, SemanticError
from mspilot.db.semantic.catalogue import METRICS
from mspilot.db.semantic.compiler import order_direction
from mspilot.db.semantic.models import MetricRequest, MetricResult

#: Additive measures: a group absent in one period counts as zero there.
ADDITIVE = ("count", "sum")


def check_comparable(request: MetricRequest) -> None:
    metric = METRICS[request.metric]
    if metric.kind == "list":
        raise SemanticError(f"{metric.name!r} lists rows; compare a total or a rate instead")
    if any(d in TIME_DIMENSIONS for d in request.dimensions):
        raise SemanticError("a comparison of two periods takes no time dimension")


def merge_comparison(
    current: MetricResult, baseline: MetricResult, request: MetricRequest
) -> MetricResult:
    """Rows ``[*dimensions, value, baseline, change, change_pct]``, ordered by the change
    (``order``: desc/asc, or best/worst by the metric's good end); ``change_pct`` is the
    change relative to the baseline (None when the baseline is zero or missing)."""
    check_comparable(request)
    metric = METRICS[current.metric]
    zero = 0 if metric.kind in ADDITIVE else None
    now = {tuple(r[:-1]): r[-1] for r in current.rows}
    before = {tuple(r[:-1]): r[-1] for r in baseline.rows}
    rows: list[list[Any]] = []
    for key in [*now, *(k for k in before if k not in now)]:
        a, b = now.get(key, zero), before.get(key, zero)
        change = None if a is None or b is None else round(a - b, 4)
        pct = None if change is None or not b else round(change / abs(b), 4)
        rows.append([*key, a, b, change, pct])
    descending = order_direction(metric, request.order) == "desc"
    known = [r for r in rows if r[-2] is not None]
    known.sort(key=lambda r: r[-2], reverse=descending)
    rows = known + [r for r in rows if r[-2] is None]
    if request.top_n is not None:
        rows = rows[: request.top_n]
    dims = current.columns[:-1]
    return current.model_copy(
        update={
            "columns": [*dims, metric.name, f"{metric.name}_baseline", "change", "change_pct"],
            "rows": rows,
            "row_count": len(rows),
            "sql": f"{current.sql};\n{baseline.sql}",
            "measure": "change",
            "baseline_label": baseline.period_label,
        }
    )
