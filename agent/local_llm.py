"""The bundled CPU model behind a LangChain chat-model interface (xllamacpp, no network).

Small-model handling lives here and in ``toolcalls``:
- the model writes tool calls as JSON in the content; they are parsed into ``tool_calls``;
- after a tool ran, the standard tool-message round trip makes it repeat the call, so the
  results are handed over in one user message and the model is asked to answer without tools;
- only the few tools the retriever picked are bound, so prompts stay short (prompt tokens
  cost ~13 ms each on this CPU).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr

from mspilot.agent.render import render_result
from mspilot.agent.toolcalls import parse_content_tool_calls
from mspilot.agent.turn import tool_results
from mspilot.core.errors import ConfigurationError
from mspilot.prompts import agent as prompts

MAX_RESULT_CHARS = 700

_SERVERS: dict[tuple[str, int, int], Any] = {}
_SERVERS_LOCK = threading.Lock()


def load_server(model_path: Path, n_ctx: int = 4096, threads: int = 2) -> Any:
    """One llama.cpp server per model file per process (loading costs a few seconds)."""
    key = (str(model_path), n_ctx, threads)
    with _SERVERS_LOCK:
        if key not in _SERVERS:
            try:
                import xllamacpp
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ConfigurationError(
                    "the local provider needs xllamacpp==2026.10.11549 (uv pip install xllamacpp)"
                ) from exc
            params = xllamacpp.CommonParams()
            params.model.path = str(model_path)
            params.n_ctx = n_ctx
            params.use_jinja = True
            params.cpuparams.n_threads = threads
            params.cpuparams_batch.n_threads = threads
            params.warmup = False
            params.verbosity = -1
            params.show_timings = False
            params.display_prompt = False
            params.cache_prompt = True
            params.n_parallel = 1
            _SERVERS[key] = xllamacpp.Server(params)
        return _SERVERS[key]


def _openai_messages(messages: Sequence[BaseMessage]) -> tuple[list[dict[str, Any]], bool]:
    """OpenAI-style messages for llama.cpp; the bool says whether tools should be offered.

    When the turn already holds tool results, they go into one user message and no tools are
    offered: the model answers instead of calling the same tool again.
    """
    system = next((m.text for m in messages if isinstance(m, SystemMessage)), "")
    rest = [m for m in messages if not isinstance(m, SystemMessage)]
    last_human = max((i for i, m in enumerate(rest) if isinstance(m, HumanMessage)), default=-1)
    results = [m for m in rest[last_human + 1 :] if isinstance(m, ToolMessage)]
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for msg in rest[: max(last_human, 0)]:
        if isinstance(msg, HumanMessage):
            out.append({"role": "user", "content": msg.text})
        elif isinstance(msg, AIMessage) and msg.text and not msg.tool_calls:
            out.append({"role": "assistant", "content": msg.text[:400]})
    question = rest[last_human].text if last_human >= 0 else ""
    if results:
        # the results as the templates render them: short, clean, every number in place
        rendered = [r for r in tool_results(cast(list[AnyMessage], list(rest))) if not r.error]
        joined = "\n".join(render_result(r)[:MAX_RESULT_CHARS] for r in rendered) or "\n".join(
            f"[{m.name}] {m.text[:MAX_RESULT_CHARS]}" for m in results
        )
        content = prompts.LOCAL_ANSWER_INSTRUCTION.format(results=joined, question=question)
        out.append({"role": "user", "content": content})
        return out, False
    # a corrective message after the question (e.g. a malformed call) goes in as said
    for msg in rest[last_human:]:
        if isinstance(msg, HumanMessage):
            out.append({"role": "user", "content": msg.text})
    return out, True


MAX_DESCRIPTION = 160
MAX_PARAM_DESCRIPTION = 90


_EXAMPLES = re.compile(r"\s*(?:\(?e\.g\.|examples?:|for example).*$", re.I | re.S)


def _no_examples(text: str) -> str:
    """Small models copy example values ("Contoso") into their calls: drop the examples."""
    return _EXAMPLES.sub("", text).strip()


def _compact(node: Any) -> Any:
    if isinstance(node, dict):
        if "anyOf" in node:  # "string or object or null" → the first plain alternative
            first: dict[str, Any] = next(
                (a for a in node["anyOf"] if a.get("type") not in (None, "null")), {}
            )
            node = {
                **{k: v for k, v in node.items() if k != "anyOf"},
                "type": first.get("type", "string"),
            }
        out = {}
        for key, value in node.items():
            if key in ("title", "default", "format", "maximum", "minimum", "additionalProperties"):
                continue
            if key == "description" and isinstance(value, str):
                # keep enumerations ("One of: ...") whole: the names are what the model needs
                short = _no_examples(value)
                out[key] = short if "One of:" in short else short[:MAX_PARAM_DESCRIPTION]
            else:
                out[key] = _compact(value)
        return out
    if isinstance(node, list):
        return [_compact(v) for v in node]
    return node


def compact_tool_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A shorter tool schema: every prompt token costs ~13 ms on this CPU."""
    fn = dict(schema["function"])
    description = str(fn.get("description") or "")
    fn["description"] = _no_examples(description.split("\n")[0])[:MAX_DESCRIPTION]
    fn["parameters"] = _compact(fn.get("parameters") or {})
    return {"type": "function", "function": fn}


_ONE_OF = re.compile(r"One of:\s*([^.]+)\.?")
_PERIOD_PATTERN = "^[0-9]{4}(-[0-9]{2}|-Q[1-4])?$"


def _choices(description: str) -> list[str] | None:
    m = _ONE_OF.search(description or "")
    if not m:
        return None
    names = [x.strip() for x in m.group(1).split(",") if x.strip()]
    return names or None


def _grammar_property(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A tight JSON schema for one argument: enumerations, short arrays, periods."""
    kind = spec.get("type", "string")
    choices = _choices(str(spec.get("description", "")))
    if kind == "array":
        items: dict[str, Any] = {"enum": choices} if choices else {"type": "string"}
        return {"type": "array", "items": items, "maxItems": 2}
    if kind == "object":
        return {"type": "object"}
    if kind in ("integer", "number", "boolean"):
        return {"type": kind}
    if choices:
        return {"enum": choices}
    if "enum" in spec:
        return {"enum": spec["enum"]}
    if name == "period":
        return {"type": "string", "pattern": _PERIOD_PATTERN}
    return {"type": "string"}


def _pin_to_hints(props: dict[str, Any], hints: dict[str, Any]) -> dict[str, Any]:
    """Names and dates the router resolved are fixed; what to compute is the model's choice.

    A 0.5B model fills free-form ``filters`` with invented values and adds dimensions and
    top-N nobody asked for; so names, dates, breakdowns and top-N that the router read are
    constants (or left out when the question had none). The model still picks the tool, the
    metric and the order.
    """
    out = dict(props)
    if "filters" in out:
        if hints.get("filters"):
            out["filters"] = {"const": hints["filters"]}
        else:
            out.pop("filters")
    if "period" in out:
        if hints.get("period_code"):
            out["period"] = {"const": hints["period_code"]}
        elif hints.get("metric"):  # the question named no period: all time / as of today
            out.pop("period")
    if "client" in out and hints.get("clients"):
        out["client"] = {"const": hints["clients"][0]}
    if "top_n" in out:
        if hints.get("top_n"):
            out["top_n"] = {"const": hints["top_n"]}
        else:
            out.pop("top_n")
    if "dimensions" in out and hints.get("metric"):  # the router read the question's shape
        out["dimensions"] = {"const": list(hints.get("dimensions") or [])}
    return out


def call_schema(tools: list[dict[str, Any]], hints: dict[str, Any] | None = None) -> dict[str, Any]:
    """One JSON tool call for any of ``tools``: what the model's output is constrained to."""
    options = []
    for tool in tools:
        fn = tool["function"]
        params = fn.get("parameters") or {}
        props = {k: _grammar_property(k, v) for k, v in (params.get("properties") or {}).items()}
        if hints is not None:
            props = _pin_to_hints(props, hints)
        options.append(
            {
                "type": "object",
                "properties": {
                    "name": {"const": fn["name"]},
                    "arguments": {
                        "type": "object",
                        "properties": props,
                        "required": list(params.get("required") or []),
                        "additionalProperties": False,
                    },
                },
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    return options[0] if len(options) == 1 else {"anyOf": options}


def tool_listing(tools: list[dict[str, Any]]) -> str:
    """The tools in a few lines (much shorter than their JSON schemas)."""
    lines = []
    for tool in tools:
        fn = tool["function"]
        props = (fn.get("parameters") or {}).get("properties") or {}
        args = []
        for name, spec in props.items():
            choices = _choices(str(spec.get("description", "")))
            args.append(f"{name}: one of {', '.join(choices)}" if choices else name)
        lines.append(f"- {fn['name']}({'; '.join(args)}): {fn.get('description', '')}")
    return "\n".join(lines)


class LocalChatModel(BaseChatModel):
    """xllamacpp chat completions with JSON-in-content tool calls."""

    #: the planner passes the router's resolved names and dates (``hints=...``)
    accepts_hints: bool = True

    model_path: str
    n_ctx: int = 4096
    threads: int = 2
    max_tokens: int = 128
    temperature: float = 0.0
    tools: list[dict[str, Any]] = Field(default_factory=list)
    _server: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "mspilot-local-llamacpp"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> LocalChatModel:
        schemas = [compact_tool_schema(convert_to_openai_tool(t)) for t in tools]
        return self.model_copy(update={"tools": schemas})

    def _known(self) -> set[str]:
        return {t["function"]["name"] for t in self.tools}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        server = load_server(Path(self.model_path), self.n_ctx, self.threads)
        payload, offer_tools = _openai_messages(messages)
        request: dict[str, Any] = {
            "messages": payload,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if offer_tools and self.tools:
            # tools as a short listing in the system prompt, output constrained to one valid call
            listing = prompts.LOCAL_TOOLS.format(tools=tool_listing(self.tools))
            if payload and payload[0]["role"] == "system":
                payload[0] = {"role": "system", "content": payload[0]["content"] + "\n" + listing}
            else:
                payload.insert(0, {"role": "system", "content": listing})
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "tool_call",
                    "schema": call_schema(self.tools, kwargs.get("hints")),
                },
            }
        if stop:
            request["stop"] = stop
        response = server.handle_chat_completions(request)
        if not isinstance(response, dict) or "choices" not in response:
            raise RuntimeError(f"local model error: {str(response)[:300]}")
        message = response["choices"][0].get("message") or {}
        content = message.get("content") or ""
        calls: list[ToolCall] = []
        for raw in message.get("tool_calls") or []:
            fn = raw.get("function") or {}
            text = json.dumps({"name": fn.get("name", ""), "arguments": fn.get("arguments")})
            calls.extend(parse_content_tool_calls(text, self._known()))
        if not calls and offer_tools and self.tools:
            calls = parse_content_tool_calls(content, self._known())
        ai = AIMessage(
            content="" if calls else content,
            tool_calls=calls,
            id=f"local-{uuid.uuid4().hex[:12]}",
            response_metadata={"usage": response.get("usage", {}), "model": "local"},
        )
        return ChatResult(generations=[ChatGeneration(message=ai)])


def tool_names(tools: Sequence[BaseTool]) -> list[str]:
    return [t.name for t in tools]
