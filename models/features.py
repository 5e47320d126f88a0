"""The client genome: a point-in-time correct client-month feature table.

A row describes one client as seen at a snapshot date ``s`` (a month end): every value is
computed from events dated on or before ``s`` only (tickets closed by ``s``, invoices and their
lines by the month they were *issued* in, payments received by ``s``, contracts started by
``s``), so training rows never look ahead and serving sees exactly what training saw.

Revenue, hours and labour cost come from the shared ``db.definitions.client_economics``, one
calendar month at a time, and windows are sums of those months. Licence cost is taken from
the seats billed on each month's licence lines instead of the shared definition's vendor
count, which is today's value (0 once a client has left) and would reveal churn. The set of
clients at a snapshot and the churn label come from ``db.definitions.churn_labels``.

Where each part lives (this module re-exports the public names, so
``from mspilot.models.features import X`` keeps working):
- ``feature_catalog``: the features, their descriptions and units, windows, snapshot calendar
  and ``FEATURE_SET_VERSION``;
- ``genome_panel`` and ``genome_billing``: the panel maths and the per-feature computations;
- ``genome``: ``compute_genome`` over loaded frames, ``build_features``, ``cached_features``;
- ``training_table``: the labelled training table and its materialisation.

Public interface (kept stable for the pricing optimiser):
- ``build_features(engine, tenant_id, as_of) -> DataFrame``: one row per client active at
  ``as_of``, index = client id, columns = ``FEATURES`` (+ ``industry``).
- ``cached_features(engine, tenant_id, as_of)``: the same, memoised until the tenant's data
  changes (``models.data.data_version``).
- ``FEATURE_SET_VERSION``: hash of the feature definitions, recorded with every model.
"""

from __future__ import annotations

from mspilot.models.feature_catalog import (
    BILLING_LOOKBACK_MONTHS,
    CAP_MONTHS,
    CATEGORICAL,
    CURRENT_STATE_ONLY,
    DESCRIPTIONS,
    ECONOMICS_LOOKBACK_MONTHS,
    FEATURE_SET_VERSION,
    FEATURE_SPECS,
    FEATURES,
    LOOKBACK_MONTHS,
    MODEL_FEATURES,
    PRICE_LOOKBACK,
    TICKET_LOOKBACK_MONTHS,
    Feature,
    month_end_snapshots,
    snapshot_for,
)
from mspilot.models.genome import (
    active_at,
    build_features,
    cached_features,
    compute_genome,
    economics_months_for,
)
from mspilot.models.genome_billing import HORIZON_MONTHS, RENEWAL_WINDOW, TERM_MONTHS
from mspilot.models.training_table import (
    TrainingTable,
    build_training_table,
    materialise,
    training_snapshots,
)

__all__ = [
    "BILLING_LOOKBACK_MONTHS",
    "CAP_MONTHS",
    "CATEGORICAL",
    "CURRENT_STATE_ONLY",
    "DESCRIPTIONS",
    "ECONOMICS_LOOKBACK_MONTHS",
    "FEATURES",
    "FEATURE_SET_VERSION",
    "FEATURE_SPECS",
    "HORIZON_MONTHS",
    "LOOKBACK_MONTHS",
    "MODEL_FEATURES",
    "PRICE_LOOKBACK",
    "RENEWAL_WINDOW",
    "TERM_MONTHS",
    "TICKET_LOOKBACK_MONTHS",
    "Feature",
    "TrainingTable",
    "active_at",
    "build_features",
    "build_training_table",
    "cached_features",
    "compute_genome",
    "economics_months_for",
    "materialise",
    "month_end_snapshots",
    "snapshot_for",
    "training_snapshots",
]
