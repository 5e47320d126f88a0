from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mspilot.core.embeddings import (
    DIM,
    MiniLMEmbedder,
    chroma_embedding_function,
    get_embedder,
    model_files,
)


def test_embeddings_are_normalised_384_d_and_cached() -> None:
    emb = get_embedder()
    assert get_embedder() is emb
    vecs = emb.embed(["hello world", "", "a" * 5000])  # empty and over-long inputs are fine
    assert vecs.shape == (3, DIM)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert emb.embed([]).shape == (0, DIM)


def test_paraphrases_are_closer_than_unrelated_text() -> None:
    a, b, c = get_embedder().embed(
        [
            "How many P1 tickets did Fabrikam open in October?",
            "count of priority one tickets for Fabrikam last October",
            "what is our policy on the maximum yearly price increase",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_batches_give_the_same_vectors_as_single_calls() -> None:
    emb = get_embedder()
    texts = [f"ticket {i}: printer offline on floor {i % 3}" for i in range(40)]
    together = emb.embed(texts)
    alone = np.vstack([emb.embed_one(t) for t in texts[:3]])
    assert np.allclose(together[:3], alone, atol=1e-4)


def test_chroma_wrapper_returns_one_vector_per_document() -> None:
    ef = chroma_embedding_function()
    out = ef(["one", "two"])
    assert len(out) == 2 and len(out[0]) == DIM
    assert ef.name() == "mspilot-minilm-int8"
    assert type(ef).build_from_config(ef.get_config()).name() == ef.name()


def test_the_compact_model_is_built_once_and_embeds_like_the_shipped_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MSPILOT_CACHE_DIR", str(tmp_path))
    texts = [
        "How many P1 tickets did Fabrikam open in October?",
        "count of priority one tickets for Fabrikam last October",
        "what is our policy on the maximum yearly price increase",
        "which clients will churn next quarter?",
    ]
    shipped = MiniLMEmbedder(compact=False)
    first = MiniLMEmbedder()  # builds the compact copy
    built = sorted(tmp_path.iterdir())
    assert [p.suffix for p in built] == [".onnx"] and first.model_path == built[0]
    stamp = built[0].stat().st_mtime_ns
    second = MiniLMEmbedder()  # reuses it
    assert second.model_path == built[0] and built[0].stat().st_mtime_ns == stamp
    assert built[0].stat().st_size < 0.5 * shipped.model_path.stat().st_size * 4  # int8, not f32
    a, b = shipped.embed(texts), second.embed(texts)
    assert np.all((a * b).sum(axis=1) > 0.97)  # the same embedding space
    assert np.abs(a @ a.T - b @ b.T).max() < 0.05  # and the same neighbourhoods


def test_without_a_writable_cache_the_shipped_model_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("MSPILOT_CACHE_DIR", str(blocked / "cache"))
    emb = MiniLMEmbedder()
    assert emb.model_path == model_files()[0]
    assert emb.embed(["hello"]).shape == (1, DIM)
