"""The metric catalogue: every metric, its synonyms and audience; name lookups."""

from __future__ import annotations

from typing import Any

from mspilot.db.semantic.catalogue_money import MONEY_METRICS
from mspilot.db.semantic.catalogue_work import WORK_METRICS
from mspilot.db.semantic.dimensions import DIMENSIONS
from mspilot.db.semantic.measures import MetricDef
from mspilot.db.semantic_access import (
    check_role,
)

METRICS: dict[str, MetricDef] = {m.name: m for m in (*MONEY_METRICS, *WORK_METRICS)}


def _norm(text: str) -> str:
    return " ".join(str(text).strip().lower().replace("_", " ").replace("-", " ").split())


def _alias_map(defs: dict[str, Any]) -> dict[str, str]:
    """Normalised name or synonym -> canonical name (synonyms shared by two are dropped)."""
    seen: dict[str, set[str]] = {}
    for name, item in defs.items():
        for alias in (name, *item.synonyms):
            seen.setdefault(_norm(alias), set()).add(name)
    return {alias: next(iter(names)) for alias, names in seen.items() if len(names) == 1}


_METRIC_ALIASES = _alias_map(METRICS)
_DIMENSION_ALIASES = _alias_map(DIMENSIONS)


def canonical_metric(name: str) -> str:
    """The metric ``name`` means (its own name, any spelling, or a synonym), else ``name``."""
    return _METRIC_ALIASES.get(_norm(name), name)


def canonical_dimension(name: str) -> str:
    return _DIMENSION_ALIASES.get(_norm(name), name)


def metrics_for_role(role: str) -> list[str]:
    check_role(role)
    return [name for name, m in METRICS.items() if role in m.audience]


def describe_metrics(role: str | None = None) -> list[dict[str, Any]]:
    """Catalogue of metrics (for a role) with their units and dimensions."""
    names = metrics_for_role(role) if role else list(METRICS)
    return [
        {
            "metric": n,
            "description": METRICS[n].description,
            "unit": METRICS[n].unit,
            "kind": METRICS[n].kind,
            "better": METRICS[n].better,
            "synonyms": list(METRICS[n].synonyms),
            "dimensions": list(METRICS[n].dimensions),
        }
        for n in names
    ]
