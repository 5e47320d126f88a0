"""The metrics semantic layer: an MSP's metrics × dimensions, compiled to SQL.

In the spirit of WrenAI's MDL: every metric is defined once, on the shared definitions
(``db.definitions``), over a *fact* (a set of rows such as invoice lines, time entries,
tickets); every dimension is defined once (client, technician, priority, month...). A
``MetricRequest`` (metric, dimensions, filters, period, top-N) compiles to one SQLAlchemy
statement that runs on SQLite and PostgreSQL. The tenant (and, for a client-portal user, the
client) is part of the compiled query itself, never a later filter. Small models only name a
metric and dimensions: they never invent joins.

Periods are half-open ``[start, end)``. Flow metrics (revenue, hours, tickets...) count what
happened in the period (all time without one). Snapshot metrics (MRR, active clients, licence
seats) are measured at the end of the period (or today) and, with a time dimension, at the end
of each month/quarter/year. Balances are today's. Cost-based metrics (licence cost, margin,
margin %, effective rate, utilisation) need a bounded period and default to the last 12
whole months.

Every metric declares its measure kind (count, sum, average, rate, share, list) and which end
is better (``order="worst"`` sorts by the bad end of that metric). ``conditions`` keep only
groups meeting a condition on a metric of the same rows ("at least 20 tickets");
``compare_to`` answers any metric for two periods with the change (measure "change").

Where things are: ``dimensions``; ``fact_base`` (the build request and scoping helpers),
``facts_money`` / ``facts_receivables`` / ``facts_work`` (the row sets) and ``facts`` (their
registry); ``measures`` (MetricDef, aggregations), ``catalogue_money`` / ``catalogue_work``
(the metrics) and ``catalogue`` (lookups by name or synonym); ``models`` (request/result);
``compiler`` (request -> statement); ``runner`` (execution, share filters) and ``compare``
(period over period).
"""

from mspilot.core.periods import parse_period
from mspilot.db.semantic.base import (
    DEFAULT_COST_MONTHS,
    MAX_BUCKETS,
    TIME_DIMENSIONS,
    SemanticError,
    Unit,
)
from mspilot.db.semantic.catalogue import (
    METRICS,
    canonical_dimension,
    canonical_metric,
    describe_metrics,
    metrics_for_role,
)
from mspilot.db.semantic.compiler import compile_metric
from mspilot.db.semantic.dimensions import DIMENSIONS, DimensionDef
from mspilot.db.semantic.fact_base import Fact
from mspilot.db.semantic.facts import FACTS
from mspilot.db.semantic.measures import MetricDef
from mspilot.db.semantic.models import MetricCondition, MetricRequest, MetricResult
from mspilot.db.semantic.runner import SHARE_FILTER_DIMS, render_sql, run_metric

__all__ = [
    "DEFAULT_COST_MONTHS",
    "DIMENSIONS",
    "FACTS",
    "MAX_BUCKETS",
    "METRICS",
    "SHARE_FILTER_DIMS",
    "TIME_DIMENSIONS",
    "DimensionDef",
    "Fact",
    "MetricCondition",
    "MetricDef",
    "MetricRequest",
    "MetricResult",
    "SemanticError",
    "Unit",
    "canonical_dimension",
    "canonical_metric",
    "compile_metric",
    "describe_metrics",
    "metrics_for_role",
    "parse_period",
    "render_sql",
    "run_metric",
]
