"""Model registry: versions, champion/challenger and rollback, mirrored to MLflow.

Layout under the data directory::

    models/<tenant>/<kind>/v0003/model.joblib   the artefact the serving side loads
    models/<tenant>/<kind>/v0003/meta.json      params, metrics, feature-set version, window
    models/<tenant>/registry.json               champion pointer and champion history per kind
    mlflow/mlflow.db, mlflow/artifacts/         MLflow tracking + model registry (local store)

Every registered version is also an MLflow run (parameters, metrics, tags for the feature-set
version and data window, the version folder as artefacts) and an MLflow model version named
``<tenant>.<kind>``, whose ``champion`` alias follows the pointer here. Serving reads only the
small JSON pointer and the joblib file (importing MLflow costs seconds; scoring must not).

A new version becomes champion only if its backtest metric is not worse than the current
champion's; otherwise it stays challenger. ``rollback`` makes the previous champion current.
Writes are atomic (write to a temp file, then rename); one writer at a time is assumed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mspilot.core.errors import UserInputError

log = logging.getLogger(__name__)

KINDS: dict[str, tuple[str, bool]] = {
    # kind: (primary backtest metric, higher is better)
    "churn": ("auc", True),
    "profitability": ("mae", False),
    "forecast": ("mase", False),
    "anomalies": ("", True),  # unsupervised: no backtest, a new fit always takes over
}


@dataclass
class ModelVersion:
    kind: str
    version: int
    created_at: str
    primary_metric: str
    higher_is_better: bool
    metrics: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)
    feature_set_version: str = ""
    data_window: list[str] = field(default_factory=list)
    status: str = "challenger"  # champion / challenger / retired
    reason: str = ""
    mlflow_run_id: str | None = None

    @property
    def score(self) -> float:
        value = self.metrics.get(self.primary_metric, float("nan"))
        return float(value)

    def not_worse_than(self, other: ModelVersion) -> bool:
        if not self.primary_metric:
            return True
        mine, theirs = self.score, other.score
        if math.isnan(theirs):
            return True
        if math.isnan(mine):
            return False
        return mine >= theirs if self.higher_is_better else mine <= theirs


_CACHE: dict[tuple[str, float], Any] = {}
_CACHE_LOCK = threading.Lock()


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


class Registry:
    """The model versions of one tenant."""

    def __init__(self, data_dir: Path, tenant_id: str, *, mlflow: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.tenant_id = tenant_id
        self.root = self.data_dir / "models" / tenant_id
        self.use_mlflow = mlflow

    # -- state -----------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.root / "registry.json"

    def _state(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.state_path.read_text())
        return data

    def _save(self, state: Mapping[str, Any]) -> None:
        _atomic_write(self.state_path, json.dumps(state, indent=2, sort_keys=True))

    def _folder(self, kind: str, version: int) -> Path:
        return self.root / kind / f"v{version:04d}"

    def versions(self, kind: str | None = None) -> list[ModelVersion]:
        state = self._state()
        out = []
        for k in sorted(state) if kind is None else [kind]:
            for meta in state.get(k, {}).get("versions", {}).values():
                out.append(ModelVersion(**meta))
        return sorted(out, key=lambda v: (v.kind, v.version))

    def champion(self, kind: str) -> ModelVersion | None:
        entry = self._state().get(kind, {})
        number = entry.get("champion")
        if number is None:
            return None
        return ModelVersion(**entry["versions"][str(number)])

    def get(self, kind: str, version: int) -> ModelVersion:
        entry = self._state().get(kind, {})
        meta = entry.get("versions", {}).get(str(version))
        if meta is None:
            raise UserInputError(f"no {kind} model version {version} for tenant {self.tenant_id}")
        return ModelVersion(**meta)

    # -- writing ---------------------------------------------------------------------------
    def register(
        self,
        kind: str,
        artefact: Any,
        *,
        metrics: Mapping[str, float],
        params: Mapping[str, Any] | None = None,
        feature_set_version: str = "",
        data_window: tuple[dt.date, dt.date] | None = None,
        extra_files: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Store a new version; it becomes champion unless its backtest is worse."""
        import joblib

        if kind not in KINDS:
            raise UserInputError(f"unknown model kind {kind!r}; expected one of {sorted(KINDS)}")
        metric, higher = KINDS[kind]
        state = self._state()
        entry = state.setdefault(kind, {"champion": None, "history": [], "versions": {}})
        number = max((int(v) for v in entry["versions"]), default=0) + 1
        folder = self._folder(kind, number)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(artefact, folder / "model.joblib")
        for name, text in (extra_files or {}).items():
            (folder / name).write_text(text)
        clean = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}
        new = ModelVersion(
            kind=kind,
            version=number,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            primary_metric=metric,
            higher_is_better=higher,
            metrics=clean,
            params=dict(params or {}),
            feature_set_version=feature_set_version,
            data_window=[d.isoformat() for d in data_window] if data_window else [],
        )
        current = entry["champion"]
        champ = ModelVersion(**entry["versions"][str(current)]) if current is not None else None
        if champ is None or new.not_worse_than(champ):
            new.status = "champion"
            new.reason = (
                "first version"
                if champ is None
                else f"{metric} {new.score:.4f} not worse than v{champ.version} ({champ.score:.4f})"
            )
            if champ is not None:
                entry["versions"][str(champ.version)]["status"] = "retired"
            entry["champion"] = number
            entry["history"].append(number)
        else:
            new.reason = (
                f"{metric} {new.score:.4f} worse than champion v{champ.version} "
                f"({champ.score:.4f}): kept as challenger"
            )
        (folder / "meta.json").write_text(json.dumps(asdict(new), indent=2))
        entry["versions"][str(number)] = asdict(new)
        self._save(state)
        if self.use_mlflow:
            run_id = self._mlflow_log(new, folder)
            if run_id:
                new.mlflow_run_id = run_id
                entry["versions"][str(number)] = asdict(new)
                self._save(state)
                self._mlflow_aliases(kind)
        return new

    def promote(self, kind: str, version: int) -> ModelVersion:
        """Make ``version`` the champion (a person's decision, no metric check)."""
        state = self._state()
        entry = state.get(kind)
        if not entry or str(version) not in entry["versions"]:
            raise UserInputError(f"no {kind} model version {version} for tenant {self.tenant_id}")
        current = entry["champion"]
        if current == version:
            return ModelVersion(**entry["versions"][str(version)])
        if current is not None:
            entry["versions"][str(current)]["status"] = "retired"
        entry["versions"][str(version)]["status"] = "champion"
        entry["versions"][str(version)]["reason"] = "promoted by hand"
        entry["champion"] = version
        entry["history"].append(version)
        self._save(state)
        self._mlflow_aliases(kind)
        return ModelVersion(**entry["versions"][str(version)])

    def rollback(self, kind: str) -> ModelVersion:
        """Make the previous champion current again (one step back in champion history)."""
        state = self._state()
        entry = state.get(kind)
        if not entry or len(entry["history"]) < 2:
            raise UserInputError(f"no earlier {kind} champion to roll back to")
        history: list[int] = entry["history"]
        dropped = history.pop()
        target = history[-1]
        entry["versions"][str(dropped)]["status"] = "retired"
        entry["versions"][str(dropped)]["reason"] = f"rolled back to v{target}"
        entry["versions"][str(target)]["status"] = "champion"
        entry["champion"] = target
        self._save(state)
        self._mlflow_aliases(kind)
        return ModelVersion(**entry["versions"][str(target)])

    # -- loading ---------------------------------------------------------------------------
    def load(self, kind: str, version: int | None = None) -> Any:
        """The artefact of ``version`` (default: the champion), cached per file."""
        import joblib

        if version is None:
            champ = self.champion(kind)
            if champ is None:
                from mspilot.core.errors import DataError

                raise DataError(
                    f"no trained {kind} model for tenant {self.tenant_id}: run `mspilot train`"
                )
            version = champ.version
        path = self._folder(kind, version) / "model.joblib"
        key = (str(path), path.stat().st_mtime)
        with _CACHE_LOCK:
            if key in _CACHE:
                return _CACHE[key]
        artefact = joblib.load(path)
        with _CACHE_LOCK:
            _CACHE[key] = artefact
        return artefact

    # -- MLflow mirror ---------------------------------------------------------------------
    def _mlflow(self) -> Any:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("DO_NOT_TRACK", "true")
        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)
        import mlflow

        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)
        store = self.data_dir / "mlflow"
        store.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{(store / 'mlflow.db').resolve()}"
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        return mlflow

    def _mlflow_log(self, version: ModelVersion, folder: Path) -> str | None:
        try:
            mlflow = self._mlflow()
            from mlflow.tracking import MlflowClient

            name = f"mspilot-{self.tenant_id}"
            client = MlflowClient()
            exp = client.get_experiment_by_name(name)
            exp_id = (
                exp.experiment_id
                if exp
                else client.create_experiment(
                    name,
                    artifact_location=(self.data_dir / "mlflow" / "artifacts").resolve().as_uri(),
                )
            )
            with mlflow.start_run(
                experiment_id=exp_id, run_name=f"{version.kind}-v{version.version}"
            ) as run:
                mlflow.log_params({k: str(v)[:500] for k, v in version.params.items()})
                mlflow.log_metrics({k: v for k, v in version.metrics.items() if not math.isnan(v)})
                mlflow.set_tags(
                    {
                        "kind": version.kind,
                        "tenant": self.tenant_id,
                        "feature_set_version": version.feature_set_version,
                        "data_window": " to ".join(version.data_window),
                        "status": version.status,
                    }
                )
                mlflow.log_artifacts(str(folder))
                run_id: str = run.info.run_id
                artifact_uri: str = run.info.artifact_uri
            model_name = f"{self.tenant_id}.{version.kind}"
            if not client.search_registered_models(filter_string=f"name='{model_name}'"):
                client.create_registered_model(model_name)
            client.create_model_version(
                model_name,
                source=artifact_uri,
                run_id=run_id,
                tags={"mspilot_version": str(version.version)},
            )
            return run_id
        except Exception as exc:  # the registry here stays the source of truth
            log.warning("MLflow logging failed: %s", exc)
            return None

    def _mlflow_aliases(self, kind: str) -> None:
        if not self.use_mlflow or not (self.data_dir / "mlflow" / "mlflow.db").exists():
            return  # nothing was ever tracked here (trained with --no-mlflow)
        try:
            self._mlflow()
            from mlflow.tracking import MlflowClient

            client = MlflowClient()
            model_name = f"{self.tenant_id}.{kind}"
            by_ours = {
                mv.tags.get("mspilot_version"): mv.version
                for mv in client.search_model_versions(f"name='{model_name}'")
            }
            champ = self.champion(kind)
            if champ is None:
                return
            if str(champ.version) in by_ours:
                client.set_registered_model_alias(
                    model_name, "champion", by_ours[str(champ.version)]
                )
            newest = max((v.version for v in self.versions(kind)), default=None)
            if newest is not None and newest != champ.version and str(newest) in by_ours:
                client.set_registered_model_alias(model_name, "challenger", by_ours[str(newest)])
        except Exception as exc:
            log.warning("MLflow alias update failed: %s", exc)
