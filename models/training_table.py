"""The churn models' training table (the genome at every month end with the 90-day label
where it is known) and its materialisation under the data dir."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from mspilot.core.clock import add_months, month_end
from mspilot.core.errors import DataError
from mspilot.db.definitions import CHURN_HORIZON_DAYS
from mspilot.models.data import TenantFrames, data_span
from mspilot.models.feature_catalog import FEATURE_SET_VERSION, month_end_snapshots, snapshot_for
from mspilot.models.genome import active_at, compute_genome, frames_for


@dataclass
class TrainingTable:
    """Genome rows for many snapshots with the 90-day churn label where it is known."""

    genome: pd.DataFrame  # index (snapshot, client_id); FEATURES + CATEGORICAL
    labels: pd.Series  # 1.0/0.0 aligned with genome; NaN where the 90 days have not passed
    as_of: dt.date
    economics: pd.DataFrame  # monthly client_economics (client_id, month, revenue, ...)
    feature_set_version: str = FEATURE_SET_VERSION

    @property
    def labelled(self) -> pd.Index:
        return self.labels.index[self.labels.notna()]

    def snapshots(self) -> list[pd.Timestamp]:
        return sorted(self.genome.index.get_level_values("snapshot").unique())


def training_snapshots(engine: Engine, tenant_id: str, as_of: dt.date) -> list[dt.date]:
    span = data_span(engine, tenant_id)
    if span is None:
        raise DataError(f"tenant {tenant_id!r} has no invoices: nothing to learn from")
    first = month_end(add_months(span[0], 3))  # leave a few months of history
    return month_end_snapshots(first, snapshot_for(as_of))


def build_training_table(
    engine: Engine,
    tenant_id: str,
    as_of: dt.date,
    snapshots: Sequence[dt.date] | None = None,
    frames: TenantFrames | None = None,
) -> TrainingTable:
    """Genome at every month end from 3 months after the first invoice to ``as_of``, with
    the label "churns within 90 days" where ``snapshot + 90 days <= as_of``.

    ``frames`` (from ``load_frames``) may be passed when the caller loaded the tenant already;
    their economics must cover the snapshots' windows."""
    snaps = list(snapshots or training_snapshots(engine, tenant_id, as_of))
    if not snaps:
        raise DataError("not enough history to build a training table")
    population = active_at(engine, tenant_id, snaps)
    if frames is None:
        frames = frames_for(engine, tenant_id, snaps)
    genome = compute_genome(frames, population, snaps)
    lab = population.set_index(["snapshot", "client_id"])["churns"]
    lab = lab.reindex(genome.index)
    complete = genome.index.get_level_values("snapshot") + pd.Timedelta(
        days=CHURN_HORIZON_DAYS
    ) <= pd.Timestamp(as_of)
    labels = lab.astype(float).where(complete)
    return TrainingTable(genome=genome, labels=labels, as_of=as_of, economics=frames.economics)


def materialise(table: TrainingTable, data_dir: Path, tenant_id: str) -> Path:
    """Write the genome under ``data_dir/features/<tenant>/<feature-set version>/``."""
    folder = data_dir / "features" / tenant_id / table.feature_set_version
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"genome_{table.as_of.isoformat()}.pkl"
    pd.to_pickle({"genome": table.genome, "labels": table.labels}, path)
    return path
