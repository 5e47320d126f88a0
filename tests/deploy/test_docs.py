"""docs/deploy.md names every setting the product reads, so nobody configures a deployment
from the source code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from mspilot.core.settings import Settings
from mspilot.tasks.settings import TaskSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def env_names(model: type[BaseModel], prefix: str = "MSPILOT_") -> Iterator[str]:
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from env_names(ann, env + "__")
        else:
            yield env


def test_every_setting_is_documented() -> None:
    text = DOC.read_text()
    names = {*env_names(Settings), *env_names(TaskSettings)}
    missing = sorted(env for env in names if f"`{env}`" not in text)
    assert not missing, f"docs/deploy.md lacks {missing}"
