"""Tool artifacts in one JSON-safe shape: ``{"columns": [...], "rows": [[...]], "meta": {...}}``.

Tools return whatever suits them (a pydantic result, a list of dicts, a DataFrame, a dict
with ``columns``/``rows``); the agent keeps one shape so the checkpointer can store it, the
grounding check can read its numbers and the UI can draw it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

#: Rows kept per artifact in the conversation state (the UI pages beyond this).
MAX_ROWS = 500

Table = dict[str, Any]


def json_safe(value: Any) -> Any:
    """Plain JSON values: Decimal → float, dates → ISO strings, models → dicts."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return json_safe(value.model_dump())
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset):
        return [json_safe(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return json_safe(value.item())
    return str(value)


def _rows_from_dicts(items: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    columns: list[str] = []
    for item in items:
        for key in item:
            if key not in columns:
                columns.append(str(key))
    rows = [[json_safe(item.get(c)) for c in columns] for item in items]
    return columns, rows


def to_table(artifact: Any) -> Table | None:
    """Normalise any tool artifact; ``None`` when there is none."""
    if artifact is None:
        return None
    if hasattr(artifact, "to_dict") and hasattr(artifact, "columns"):  # a DataFrame
        records = artifact.to_dict(orient="records")
        columns, rows = _rows_from_dicts(records)
        return {"columns": columns, "rows": rows[:MAX_ROWS], "meta": {"row_count": len(rows)}}
    if isinstance(artifact, BaseModel):
        artifact = artifact.model_dump()
    if isinstance(artifact, Mapping):
        data = dict(artifact)
        if "columns" in data and "rows" in data:
            columns = [str(c) for c in data.pop("columns")]
            raw_rows = list(data.pop("rows") or [])
            if raw_rows and isinstance(raw_rows[0], Mapping):
                rows = [[json_safe(r.get(c)) for c in columns] for r in raw_rows]
            else:
                rows = [json_safe(list(r)) for r in raw_rows]
        elif "rows" in data and isinstance(data["rows"], Sequence):
            columns, rows = _rows_from_dicts(
                [r for r in data.pop("rows") if isinstance(r, Mapping)]
            )
        else:
            list_key = next(
                (
                    k
                    for k, v in data.items()
                    if isinstance(v, Sequence)
                    and not isinstance(v, str)
                    and v
                    and all(isinstance(x, Mapping) for x in v)
                ),
                None,
            )
            if list_key is not None:
                columns, rows = _rows_from_dicts(data.pop(list_key))
            else:
                scalars = {k: v for k, v in data.items() if not isinstance(v, Mapping | list)}
                columns, rows = list(scalars), [[json_safe(v) for v in scalars.values()]]
                data = {k: v for k, v in data.items() if k not in scalars}
        meta = json_safe(data.pop("meta", {}) or {})
        meta.update({k: json_safe(v) for k, v in data.items()})
        meta.setdefault("row_count", len(rows))
        return {"columns": columns, "rows": rows[:MAX_ROWS], "meta": meta}
    if isinstance(artifact, Sequence) and not isinstance(artifact, str):
        items = list(artifact)
        if items and all(isinstance(x, BaseModel) for x in items):
            items = [x.model_dump() for x in items]
        if all(isinstance(x, Mapping) for x in items):
            columns, rows = _rows_from_dicts(items)
            return {"columns": columns, "rows": rows[:MAX_ROWS], "meta": {"row_count": len(rows)}}
        return {
            "columns": ["value"],
            "rows": [[json_safe(x)] for x in items[:MAX_ROWS]],
            "meta": {"row_count": len(items)},
        }
    return {"columns": ["value"], "rows": [[json_safe(artifact)]], "meta": {"row_count": 1}}


def row_count(table: Table | None) -> int:
    if not table:
        return 0
    meta = table.get("meta") or {}
    count = meta.get("row_count")
    return int(count) if isinstance(count, int) else len(table.get("rows") or [])
