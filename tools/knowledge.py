"""The knowledge base: the MSP's documents and past ticket resolutions in Chroma.

- Documents: markdown files in ``prompts/kb/`` (front matter: title, audience), one passage
  per ``##`` section. Audience ``public`` (everyone, client users included), ``staff``
  (internal roles), ``management`` (owner, finance, service manager: pricing policy).
- Ticket resolutions: one passage per resolved ticket with a resolution, tagged with its
  tenant and client so a search only ever returns the caller's tenant (and client).
- Embeddings: the bundled MiniLM (``core.embeddings``), cosine space; nothing downloads.
- Incremental: each passage carries a content hash; re-indexing upserts only new or changed
  passages and deletes passages whose source is gone.

Chroma (slow to import) is loaded on first use, not when the tools are built.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Engine, select

from mspilot.db.schema import Ticket
from mspilot.db.semantic_access import INTERNAL_ROLES, STAFF_WITH_MONEY
from mspilot.prompts import tools as P
from mspilot.tools.base import Tool, ToolOutput, make_tool, table_artifact
from mspilot.tools.context import ToolContext

KB_DIR = Path(P.__file__).parent / "kb"
COLLECTION = "mspilot_kb"
AUDIENCE_ROLES: dict[str, frozenset[str]] = {
    "public": frozenset({*INTERNAL_ROLES, "client_user"}),
    "staff": INTERNAL_ROLES,
    "management": STAFF_WITH_MONEY,
}
PASSAGE_CHARS = 700
_FRONT = re.compile(r"^---\n(.*?)\n---\n", re.DOTALL)


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: dict[str, str]


@dataclass
class IndexStats:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Passage:
    source: str
    title: str
    text: str
    score: float
    kind: str
    extra: dict[str, Any] = field(default_factory=dict)


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "intro"


def parse_document(path: Path) -> list[Chunk]:
    """One chunk per ``##`` section (the text before the first one is the intro)."""
    raw = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    match = _FRONT.match(raw)
    if match:
        for line in match.group(1).splitlines():
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip()
        raw = raw[match.end() :]
    title = meta.get("title", path.stem.replace("-", " ").capitalize())
    audience = meta.get("audience", "staff")
    if audience not in AUDIENCE_ROLES:
        raise ValueError(f"{path.name}: unknown audience {audience!r}")
    sections: list[tuple[str, list[str]]] = [("Overview", [])]
    for line in raw.splitlines():
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        elif not line.startswith("# "):
            sections[-1][1].append(line)
    chunks = []
    for heading, lines in sections:
        body = "\n".join(lines).strip()
        if not body:
            continue
        text = f"{title} — {heading}\n{body}"
        chunks.append(
            Chunk(
                id=f"doc:{path.stem}#{_slug(heading)}",
                text=text,
                metadata={
                    "kind": "doc",
                    "source": f"{path.name} § {heading}",
                    "title": title,
                    "audience": audience,
                    "tenant_id": "*",
                    "client_id": "",
                    "hash": _hash(text),
                },
            )
        )
    return chunks


def document_chunks(kb_dir: Path = KB_DIR) -> list[Chunk]:
    return [c for path in sorted(kb_dir.glob("*.md")) for c in parse_document(path)]


def ticket_chunks(engine: Engine, tenant_id: str) -> list[Chunk]:
    """Resolved tickets with a written resolution, as passages of this tenant."""
    stmt = select(
        Ticket.id,
        Ticket.external_id,
        Ticket.client_id,
        Ticket.subject,
        Ticket.category,
        Ticket.priority,
        Ticket.resolution,
        Ticket.opened_at,
    ).where(
        Ticket.tenant_id == tenant_id,
        Ticket.deleted_at.is_(None),
        Ticket.resolution.is_not(None),
        Ticket.resolution != "",
    )
    chunks = []
    with engine.connect() as conn:
        for r in conn.execute(stmt):
            text = (
                f"Ticket: {r.subject}\nCategory: {r.category}, priority {r.priority}\n"
                f"Resolution: {r.resolution}"
            )
            chunks.append(
                Chunk(
                    id=f"ticket:{r.id}",
                    text=text,
                    metadata={
                        "kind": "ticket",
                        "source": f"ticket {r.external_id} ({r.opened_at.date().isoformat()})",
                        "title": r.subject[:200],
                        "audience": "staff",
                        "tenant_id": tenant_id,
                        "client_id": r.client_id,
                        "hash": _hash(text),
                    },
                )
            )
    return chunks


def _embed_distinct(texts: list[str]) -> dict[str, list[float]]:
    """Embed each distinct text once: many tickets share a resolution note, and embedding
    is the expensive part of indexing (~250 passages/s on 2 cores)."""
    from mspilot.core.embeddings import get_embedder

    distinct = list(dict.fromkeys(texts))
    vectors: dict[str, list[float]] = {}
    for start in range(0, len(distinct), 256):
        chunk = distinct[start : start + 256]
        for text, vector in zip(chunk, get_embedder().embed(chunk), strict=True):
            vectors[text] = vector.tolist()
    return vectors


_CLIENTS: dict[str, Any] = {}
_LOCK = threading.RLock()


def _chroma_collection(path: Path) -> Any:
    with _LOCK:
        key = str(path.resolve())
        client = _CLIENTS.get(key)
        if client is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(
                path=key, settings=ChromaSettings(anonymized_telemetry=False)
            )
            _CLIENTS[key] = client
        from mspilot.core.embeddings import chroma_embedding_function

        return client.get_or_create_collection(
            COLLECTION,
            embedding_function=chroma_embedding_function(),
            configuration={"hnsw": {"space": "cosine"}},
        )


class KnowledgeBase:
    """The Chroma store under ``<data_dir>/chroma``."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "chroma"

    @property
    def collection(self) -> Any:
        return _chroma_collection(self.path)

    def _sync(self, chunks: list[Chunk], where: dict[str, Any]) -> IndexStats:
        from mspilot.core.embeddings import get_embedder

        stats = IndexStats()
        col = self.collection
        model = get_embedder().model_id  # a vector from another model is re-embedded
        with _LOCK:
            existing = col.get(where=where, include=["metadatas"])
            stored = {
                i: ((m or {}).get("hash"), (m or {}).get("embedder"))
                for i, m in zip(
                    existing["ids"],
                    existing["metadatas"] or [{}] * len(existing["ids"]),
                    strict=True,
                )
            }
            wanted = {c.id: c for c in chunks}
            changed = []
            for chunk in chunks:
                chunk.metadata["embedder"] = model
                if chunk.id not in stored:
                    stats.added += 1
                    changed.append(chunk)
                elif stored[chunk.id] != (chunk.metadata["hash"], model):
                    stats.updated += 1
                    changed.append(chunk)
                else:
                    stats.unchanged += 1
            vectors = _embed_distinct([c.text for c in changed])
            for start in range(0, len(changed), 1024):
                batch = changed[start : start + 1024]
                col.upsert(
                    ids=[c.id for c in batch],
                    documents=[c.text for c in batch],
                    embeddings=[vectors[c.text] for c in batch],
                    metadatas=[c.metadata for c in batch],
                )
            gone = [i for i in stored if i not in wanted]
            if gone:
                col.delete(ids=gone)
            stats.deleted = len(gone)
        return stats

    def index_documents(self, kb_dir: Path = KB_DIR) -> IndexStats:
        return self._sync(document_chunks(kb_dir), {"kind": "doc"})

    def index_tickets(self, engine: Engine, tenant_id: str) -> IndexStats:
        where = {"$and": [{"kind": "ticket"}, {"tenant_id": tenant_id}]}
        return self._sync(ticket_chunks(engine, tenant_id), where)

    def has_documents(self) -> bool:
        return bool(self.collection.get(where={"kind": "doc"}, limit=1)["ids"])

    def search(
        self,
        query: str,
        *,
        tenant_id: str,
        role: str,
        client_id: str | None = None,
        k: int = 4,
        source: Literal["all", "documents", "tickets"] = "all",
    ) -> list[Passage]:
        audiences = [a for a, roles in AUDIENCE_ROLES.items() if role in roles]
        docs: dict[str, Any] = {"$and": [{"kind": "doc"}, {"audience": {"$in": audiences}}]}
        ticket_terms: list[dict[str, Any]] = [{"kind": "ticket"}, {"tenant_id": tenant_id}]
        if client_id is not None:
            ticket_terms.append({"client_id": client_id})
        tickets: dict[str, Any] = {"$and": ticket_terms}
        where = {"documents": docs, "tickets": tickets}.get(source) or {"$or": [docs, tickets]}
        from mspilot.core.embeddings import get_embedder

        vector = get_embedder().embed([query])[0].tolist()
        found = self.collection.query(
            query_embeddings=[vector],
            n_results=max(3 * k, 10),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        out = []
        for doc, meta, dist in zip(
            found["documents"][0], found["metadatas"][0], found["distances"][0], strict=True
        ):
            out.append(
                Passage(
                    source=str(meta.get("source", "")),
                    title=str(meta.get("title", "")),
                    text=doc,
                    score=round(1.0 - float(dist) + _lexical_boost(query, doc), 4),
                    kind=str(meta.get("kind", "")),
                    extra={"client_id": meta.get("client_id") or None},
                )
            )
        out.sort(key=lambda p: -p.score)
        return out[:k]


_STOP = frozenset(
    [
        "what",
        "which",
        "when",
        "where",
        "does",
        "have",
        "with",
        "that",
        "this",
        "from",
        "your",
        "their",
        "there",
        "about",
        "could",
        "would",
        "should",
        "much",
        "many",
        "more",
        "most",
        "make",
        "give",
        "given",
        "our",
        "ours",
        "they",
        "them",
        "then",
        "than",
        "into",
        "over",
    ]
)


def _terms(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9%]+", text.lower()) if len(w) >= 4 and w not in _STOP}


def _overlap(query: set[str], words: set[str]) -> float:
    if not query:
        return 0.0
    hits = sum(1 for q in query if any(w.startswith(q) or q.startswith(w) for w in words))
    return hits / len(query)


def _lexical_boost(query: str, passage: str) -> float:
    """A small bonus for query words in the passage's heading (first line) and body: MiniLM
    alone sometimes ranks a neighbouring section of the same document first."""
    heading, _, body = passage.partition("\n")
    wanted = _terms(query)
    section = heading.split(" — ")[-1]
    return 0.15 * _overlap(wanted, _terms(section)) + 0.05 * _overlap(wanted, _terms(body))


class SearchKnowledgeArgs(BaseModel):
    query: str = Field(description=P.ARG_QUERY)
    k: int = Field(default=4, ge=1, le=8, description=P.ARG_K)
    source: Literal["all", "documents", "tickets"] = Field(default="all", description=P.ARG_SOURCE)


def search_knowledge(
    ctx: ToolContext,
    query: str,
    k: int = 4,
    source: Literal["all", "documents", "tickets"] = "all",
) -> ToolOutput:
    kb = KnowledgeBase(ctx.data_dir)
    if not kb.has_documents():
        kb.index_documents()  # the shipped documents are small: index them on first use
    passages = kb.search(
        query, tenant_id=ctx.tenant_id, role=ctx.role, client_id=ctx.client_id, k=k, source=source
    )
    if not passages:
        return "No passages found.", table_artifact(["source", "score", "text"], [])
    lines = [P.KB_NOTICE]
    for i, p in enumerate(passages, 1):
        body = p.text if len(p.text) <= PASSAGE_CHARS else p.text[:PASSAGE_CHARS] + "…"
        lines.append(f"[{i}] source: {p.source}\n{body}")
    rows = [[p.source, p.score, p.text] for p in passages]
    return "\n\n".join(lines), table_artifact(
        ["source", "score", "text"], rows, tool="search_knowledge", query=query
    )


def build(ctx: ToolContext) -> list[Tool]:
    return [
        make_tool(
            "search_knowledge",
            P.SEARCH_KNOWLEDGE,
            SearchKnowledgeArgs,
            partial(search_knowledge, ctx),
        )
    ]
