"""Erasing a client removes its knowledge-base passages and no one else's (the same client id
in another tenant included)."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mspilot.agent.privacy import erase_client_vectors
from mspilot.db.privacy import ClientRef
from mspilot.tools.knowledge import KnowledgeBase

_n = itertools.count()
OWNERS = st.tuples(st.sampled_from(["t1", "t2"]), st.sampled_from(["c1", "c2", "c3"]))


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(owners=st.lists(OWNERS, min_size=1, max_size=12), target=OWNERS)
def test_only_the_clients_passages_go(
    tmp_path: Path, owners: list[tuple[str, str]], target: tuple[str, str]
) -> None:
    data_dir = tmp_path / f"kb{next(_n)}"
    collection = KnowledgeBase(data_dir).collection
    ids = [f"ticket:{i}" for i in range(len(owners))]
    collection.upsert(
        ids=ids,
        documents=[f"resolution {i}" for i in ids],
        embeddings=[[float(i + 1)] * 384 for i in range(len(ids))],
        metadatas=[{"kind": "ticket", "tenant_id": t, "client_id": c} for t, c in owners],
    )

    removed = erase_client_vectors(data_dir, ClientRef(target[0], target[1], "Name"))

    kept = {i for i, owner in zip(ids, owners, strict=True) if owner != target}
    assert removed == len(ids) - len(kept)
    assert set(collection.get()["ids"]) == kept


def test_no_knowledge_base_yet_is_nothing_to_erase(tmp_path: Path) -> None:
    assert erase_client_vectors(tmp_path, ClientRef("t1", "c1", "Name")) == 0
    assert not (tmp_path / "chroma").exists()
