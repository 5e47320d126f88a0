"""Registry: champion only if not worse, challengers kept, one-step rollback, MLflow mirror."""

from __future__ import annotations

from pathlib import Path

import pytest

from mspilot.core.errors import DataError, UserInputError
from mspilot.models.registry import Registry


def test_champion_challenger_rollback(tmp_path: Path) -> None:
    reg = Registry(tmp_path, "t1", mlflow=False)
    with pytest.raises(DataError):
        reg.load("churn")
    v1 = reg.register("churn", {"model": 1}, metrics={"auc": 0.80}, feature_set_version="abc")
    assert v1.status == "champion" and v1.reason == "first version"
    v2 = reg.register("churn", {"model": 2}, metrics={"auc": 0.75})
    assert v2.status == "challenger" and "worse" in v2.reason
    assert reg.champion("churn").version == 1  # type: ignore[union-attr]
    assert reg.load("churn") == {"model": 1}
    v3 = reg.register("churn", {"model": 3}, metrics={"auc": 0.80})  # equal is not worse
    assert v3.status == "champion"
    assert reg.load("churn") == {"model": 3}
    back = reg.rollback("churn")
    assert back.version == 1 and reg.load("churn") == {"model": 1}
    with pytest.raises(UserInputError):
        reg.rollback("churn")
    reg.promote("churn", 2)
    assert reg.load("churn") == {"model": 2}
    statuses = {v.version: v.status for v in reg.versions("churn")}
    assert statuses == {1: "retired", 2: "champion", 3: "retired"}
    with pytest.raises(UserInputError):
        reg.promote("churn", 9)


def test_lower_is_better_metrics(tmp_path: Path) -> None:
    reg = Registry(tmp_path, "t1", mlflow=False)
    reg.register("forecast", "a", metrics={"mase": 0.6})
    assert reg.register("forecast", "b", metrics={"mase": 0.7}).status == "challenger"
    assert reg.register("forecast", "c", metrics={"mase": 0.5}).status == "champion"


def test_registry_is_per_tenant(tmp_path: Path) -> None:
    Registry(tmp_path, "t1", mlflow=False).register("churn", "one", metrics={"auc": 0.7})
    assert Registry(tmp_path, "t2", mlflow=False).champion("churn") is None


def test_mlflow_mirror(tmp_path: Path) -> None:
    """Each version is an MLflow run and model version; the alias follows the champion."""
    reg = Registry(tmp_path, "t1", mlflow=True)
    v1 = reg.register(
        "churn", {"m": 1}, metrics={"auc": 0.8}, params={"depth": 2}, feature_set_version="f1"
    )
    reg.register("churn", {"m": 2}, metrics={"auc": 0.7})
    assert v1.mlflow_run_id
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    run = client.get_run(v1.mlflow_run_id)
    assert run.data.metrics["auc"] == pytest.approx(0.8)
    assert run.data.tags["feature_set_version"] == "f1"
    assert run.data.params["depth"] == "2"
    champion = client.get_model_version_by_alias("t1.churn", "champion")
    assert champion.tags["mspilot_version"] == "1"
    challenger = client.get_model_version_by_alias("t1.churn", "challenger")
    assert challenger.tags["mspilot_version"] == "2"
    reg.promote("churn", 2)
    assert client.get_model_version_by_alias("t1.churn", "champion").tags["mspilot_version"] == "2"
    assert (tmp_path / "mlflow" / "mlflow.db").exists()
