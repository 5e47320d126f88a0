"""Train every model of a tenant in one pass: ``train_all(engine, tenant_id, data_dir, clock)``.

One load of the tenant's tables feeds the genome (materialised and versioned), the churn and
profitability models, the leak rules, the anomaly forest and the demand forecast. Every
model is registered (``models.registry``) with its backtest metrics, parameters, feature-set
version and data window; drift (PSI per feature, training window vs the latest month) is
stored with the churn model. Leak findings are written under the data directory.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from mspilot.core.clock import Clock, add_months, month_start
from mspilot.core.errors import UserInputError
from mspilot.models import churn as churn_mod
from mspilot.models.data import TenantFrames, date_month_index, load_frames
from mspilot.models.drift import drift_report
from mspilot.models.features import (
    FEATURE_SET_VERSION,
    MODEL_FEATURES,
    TrainingTable,
    build_training_table,
    economics_months_for,
    materialise,
    training_snapshots,
)
from mspilot.models.registry import ModelVersion, Registry

MODEL_KINDS: tuple[str, ...] = ("churn", "profitability", "leaks", "anomalies", "forecast")
Progress = Callable[[str], None]


@dataclass
class TrainReport:
    tenant_id: str
    as_of: dt.date
    feature_set_version: str
    versions: dict[str, ModelVersion] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    drift: list[dict[str, Any]] = field(default_factory=list)
    artefacts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "as_of": self.as_of.isoformat(),
            "feature_set_version": self.feature_set_version,
            "versions": {
                k: {"version": v.version, "status": v.status, "reason": v.reason}
                for k, v in self.versions.items()
            },
            "metrics": self.metrics,
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
            "drift_flagged": [d for d in self.drift if d["flagged"]],
        }


def load_tenant(engine: Engine, tenant_id: str, as_of: dt.date) -> TenantFrames:
    """Everything up to ``as_of`` with monthly economics for every snapshot window and the
    quarter after (profitability targets)."""
    snaps = training_snapshots(engine, tenant_id, as_of)
    months = [m for m in economics_months_for(snaps, ahead=3) if m <= as_of]
    return load_frames(engine, tenant_id, until=as_of, economics_months=months)


def _window(table: TrainingTable) -> tuple[dt.date, dt.date]:
    snaps = table.snapshots()
    return snaps[0].date(), snaps[-1].date()


def train_all(
    engine: Engine,
    tenant_id: str,
    data_dir: Path,
    clock: Clock,
    *,
    kinds: Sequence[str] | None = None,
    on_step: Progress | None = None,
    mlflow: bool = True,
    test_months: int = 6,
    seed: int = 0,
) -> TrainReport:
    """Train, backtest and register the requested models (default: all) as of ``clock``."""
    wanted = list(kinds or MODEL_KINDS)
    unknown = set(wanted) - set(MODEL_KINDS)
    if unknown:
        raise UserInputError(f"unknown model(s) {sorted(unknown)}; choose from {MODEL_KINDS}")
    step = on_step or (lambda _s: None)
    as_of = clock.today()
    data_dir = Path(data_dir)
    registry = Registry(data_dir, tenant_id, mlflow=mlflow)
    report = TrainReport(tenant_id, as_of, FEATURE_SET_VERSION)
    t0 = time.perf_counter()

    step("loading tables")
    frames = load_tenant(engine, tenant_id, as_of)
    report.timings["load"] = time.perf_counter() - t0

    table: TrainingTable | None = None
    if {"churn", "profitability"} & set(wanted):
        t = time.perf_counter()
        step("building the client genome")
        table = build_training_table(engine, tenant_id, as_of, frames=frames)
        report.artefacts["genome_path"] = str(materialise(table, data_dir, tenant_id))
        report.artefacts["training_table"] = table
        report.timings["features"] = time.perf_counter() - t

    if "churn" in wanted and table is not None:
        t = time.perf_counter()
        step("training churn (backtest + final)")
        result = churn_mod.train_churn(table, test_months=test_months, seed=seed)
        labelled = table.genome.loc[table.labelled]
        latest = table.genome.xs(table.snapshots()[-1], level="snapshot")
        drift = [d.as_dict() for d in drift_report(labelled, latest, MODEL_FEATURES)]
        result.model.meta["drift"] = drift
        sample = labelled[list(MODEL_FEATURES)]
        result.model.meta["reference"] = sample.sample(min(len(sample), 2000), random_state=seed)
        report.drift = drift
        version = registry.register(
            "churn",
            result.model,
            metrics=result.metrics,
            params={**churn_mod.XGB_PARAMS, "rounds": churn_mod.XGB_ROUNDS, "seed": seed},
            feature_set_version=FEATURE_SET_VERSION,
            data_window=_window(table),
            extra_files={
                "backtest_predictions.csv": result.predictions.to_csv(),
                "drift.json": json.dumps(drift, indent=1),
            },
        )
        report.versions["churn"] = version
        report.metrics["churn"] = result.metrics
        report.artefacts["churn_predictions"] = result.predictions
        report.timings["churn"] = time.perf_counter() - t

    if "profitability" in wanted and table is not None:
        from mspilot.models.profitability import PARAMS, ROUNDS, train_profitability

        t = time.perf_counter()
        step("training profitability")
        prof = train_profitability(table, frames.economics, test_months=test_months, seed=seed)
        report.versions["profitability"] = registry.register(
            "profitability",
            prof.model,
            metrics=prof.metrics,
            params={**PARAMS, "rounds": ROUNDS},
            feature_set_version=FEATURE_SET_VERSION,
            data_window=_window(table),
            extra_files={"backtest_predictions.csv": prof.predictions.to_csv()},
        )
        report.metrics["profitability"] = prof.metrics
        report.timings["profitability"] = time.perf_counter() - t

    if "leaks" in wanted:
        from mspilot.models.leaks import find_leaks, save_findings

        t = time.perf_counter()
        step("reconciling revenue leaks")
        findings = find_leaks(engine, tenant_id, as_of, frames)
        path = save_findings(findings, data_dir, tenant_id, as_of)
        report.artefacts["leaks_path"] = str(path)
        report.artefacts["leaks"] = findings
        by_type: dict[str, float] = {}
        for f in findings:
            by_type[f.type] = by_type.get(f.type, 0.0) + f.dollars
        report.metrics["leaks"] = {"findings": float(len(findings)), **by_type}
        report.timings["leaks"] = time.perf_counter() - t

    if "anomalies" in wanted:
        from mspilot.models.anomalies import client_month_signals, train_anomalies

        t = time.perf_counter()
        step("scoring billing anomalies")
        last = date_month_index(add_months(month_start(as_of), -1))
        months = list(range(last - 11, last + 1))
        signals = client_month_signals(frames, months)
        anomaly = train_anomalies(signals, seed=seed)
        found = anomaly.detect(signals, limit=200)
        anomaly.meta = {
            "months": [months[0], months[-1]],
            "rows": len(signals),
            "flagged": [(a.client_id, a.month) for a in found],
            "forest_flagged": anomaly.forest_rank(signals, 200),
            "explanations": [a.explanation for a in found],
        }
        metrics = {"flagged_share": len(found) / max(len(signals), 1), "rows": float(len(signals))}
        report.versions["anomalies"] = registry.register(
            "anomalies",
            anomaly,
            metrics=metrics,
            params={"detector": "per-client robust baselines", "forest_n_estimators": 200},
            feature_set_version=FEATURE_SET_VERSION,
            data_window=(
                dt.date(months[0] // 12, months[0] % 12 + 1, 1),
                dt.date(last // 12, last % 12 + 1, 1),
            ),
        )
        report.artefacts["anomalies"] = found
        report.metrics["anomalies"] = metrics
        report.timings["anomalies"] = time.perf_counter() - t

    if "forecast" in wanted:
        from mspilot.models.forecast import train_forecast

        t = time.perf_counter()
        active = [
            str(c)
            for c, row in frames.clients.iterrows()
            if pd.isna(row["churned_on"]) or row["churned_on"] > pd.Timestamp(as_of)
        ]
        forecast = train_forecast(
            frames.tickets,
            frames.time_entries,
            active,
            as_of,
            technicians=len(frames.technicians),
            on_step=step,
        )
        report.versions["forecast"] = registry.register(
            "forecast",
            forecast,
            metrics=forecast.backtest,
            params={"horizon_weeks": 13, "yearly_seasonality": 6, "holidays": "US federal"},
            data_window=(frames.tickets["opened_at"].min().date(), as_of),
        )
        report.metrics["forecast"] = forecast.backtest
        report.artefacts["forecast"] = forecast
        report.timings["forecast"] = time.perf_counter() - t
    report.timings["total"] = time.perf_counter() - t0
    return report
