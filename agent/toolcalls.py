"""Small-model habits: tool calls written as (fenced) JSON in the content, arguments given as a
JSON string, and arguments that do not fit the tool's schema."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import ToolCall
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError

_FENCE = re.compile(r"```(?:json|tool_call)?\s*(.*?)```", re.S)
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)


def _json_objects(text: str) -> list[Any]:
    """Every top-level JSON value found in ``text`` (fences and <tool_call> tags unwrapped)."""
    chunks = _TAGGED.findall(text) + _FENCE.findall(text)
    if not chunks:
        chunks = [text]
    decoder = json.JSONDecoder()
    found: list[Any] = []
    for chunk in chunks:
        index = 0
        while (start := chunk.find("{", index)) != -1 or (start := chunk.find("[", index)) != -1:
            try:
                value, end = decoder.raw_decode(chunk, start)
            except json.JSONDecodeError:
                index = start + 1
                continue
            found.append(value)
            index = end
    return found


def _as_call(obj: Any, known: set[str]) -> ToolCall | None:
    if not isinstance(obj, Mapping):
        return None
    if "function" in obj and isinstance(obj["function"], Mapping):
        obj = obj["function"]
    name = obj.get("name") or obj.get("tool")
    if not isinstance(name, str) or name not in known:
        return None
    args: Any = obj.get("arguments", obj.get("args", obj.get("parameters", {})))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            args = {}
    if not isinstance(args, Mapping):
        args = {}
    return {
        "name": name,
        "args": dict(args),
        "id": f"call_{uuid.uuid4().hex[:10]}",
        "type": "tool_call",
    }


def parse_content_tool_calls(text: str, known: set[str]) -> list[ToolCall]:
    """Tool calls a model wrote as JSON text; only names in ``known`` count."""
    calls: list[ToolCall] = []
    for obj in _json_objects(text):
        items = obj if isinstance(obj, list) else [obj]
        for item in items:
            call = _as_call(item, known)
            if call is not None:
                calls.append(call)
    return calls


def validate_call(call: ToolCall, tools: Mapping[str, BaseTool]) -> str | None:
    """``None`` when the call fits its tool's schema, else a short reason."""
    tool = tools.get(call["name"])
    if tool is None:
        return f"unknown tool {call['name']!r}"
    schema = tool.args_schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            schema.model_validate(call.get("args") or {})
        except ValidationError as exc:
            return f"{call['name']}: " + "; ".join(
                f"{'.'.join(str(x) for x in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()[:4]
            )
    return None
