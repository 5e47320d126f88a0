"""Tool retrieval for small local models: only the few tools closest to the question (MiniLM
similarity to each tool's name, description and example utterances) go into the prompt."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from langchain_core.tools import BaseTool

from mspilot.agent.intents import INTENT_TOOLS
from mspilot.prompts.router_examples import INTENT_EXAMPLES


def _tool_texts(tool: BaseTool) -> list[str]:
    texts = [f"{tool.name.replace('_', ' ')}: {(tool.description or '').split('.')[0]}"]
    for intent, (name, _) in INTENT_TOOLS.items():
        if name == tool.name:
            texts += list(INTENT_EXAMPLES.get(intent, ()))
    if tool.name == "run_sql":
        for intent in ("clients_in_industry", "contracts_expiring", "largest_invoices"):
            texts += list(INTENT_EXAMPLES[intent])
    return texts


class ToolRetriever:
    """``selector(question, tools) -> the k best tools`` (always including ``always``)."""

    def __init__(self, k: int = 3, always: Sequence[str] = ("query_metrics",)) -> None:
        self.k = k
        self.always = tuple(always)
        self._cache: dict[tuple[str, ...], tuple[list[int], npt.NDArray[np.float32]]] = {}
        self._lock = threading.Lock()

    def _index(self, tools: Sequence[BaseTool]) -> tuple[list[int], npt.NDArray[np.float32]]:
        from mspilot.core.embeddings import get_embedder

        key = tuple(t.name for t in tools)
        with self._lock:
            if key not in self._cache:
                owners: list[int] = []
                texts: list[str] = []
                for i, tool in enumerate(tools):
                    for text in _tool_texts(tool):
                        owners.append(i)
                        texts.append(text)
                self._cache[key] = (owners, get_embedder().embed(texts))
            return self._cache[key]

    def __call__(self, question: str, tools: Sequence[BaseTool]) -> list[BaseTool]:
        from mspilot.core.embeddings import get_embedder

        if len(tools) <= self.k:
            return list(tools)
        owners, matrix = self._index(tools)
        sims = matrix @ get_embedder().embed([question])[0]
        best: dict[int, float] = {}
        for owner, sim in zip(owners, sims, strict=True):
            best[owner] = max(best.get(owner, -1.0), float(sim))
        ranked = sorted(best, key=lambda i: -best[i])
        chosen = [i for i, t in enumerate(tools) if t.name in self.always]
        for i in ranked:
            if len(chosen) >= self.k:
                break
            if i not in chosen:
                chosen.append(i)
        # the always-offered tools first, in a fixed order, so the prompt prefix (system prompt
        # plus their schemas) stays the same across questions and llama.cpp reuses its KV cache
        fixed = [i for i in chosen if tools[i].name in self.always]
        rest = sorted((i for i in chosen if i not in fixed), key=ranked.index)
        return [tools[i] for i in [*fixed, *rest]]
