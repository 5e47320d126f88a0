from __future__ import annotations

import numpy as np

from mspilot.core.embeddings import DIM, chroma_embedding_function, get_embedder


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
