"""``compute_genome`` over loaded frames, ``build_features`` and ``cached_features``: the client
genome (a point-in-time correct client-month feature table). What the genome is, and where its
other parts live, is told once in ``models/features.py``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from mspilot.core.clock import add_months, month_start
from mspilot.db.definitions import churn_labels
from mspilot.models.data import (
    DataVersion,
    TenantFrames,
    VersionedCache,
    date_month_index,
    load_frames,
    month_index,
    read_frame,
)
from mspilot.models.feature_catalog import (
    BILLING_LOOKBACK_MONTHS,
    CAP_MONTHS,
    CATEGORICAL,
    ECONOMICS_LOOKBACK_MONTHS,
    FEATURES,
    LOOKBACK_MONTHS,
    TICKET_LOOKBACK_MONTHS,
    snapshot_for,
)
from mspilot.models.genome_billing import (
    contract_terms,
    late_estimate,
    licence_cost_pit,
    licence_utilisation,
    payment_features,
    price_changes,
    price_features,
    term_features,
)
from mspilot.models.genome_panel import (
    MonthPanel,
    TicketArrays,
    experience,
    ratio,
    recent_mean,
    resolution_recent,
)


def active_at(engine: Engine, tenant_id: str, snapshots: Sequence[dt.date]) -> pd.DataFrame:
    """(snapshot, client_id, churns) for every client active at each snapshot, from the
    shared definition; ``churns`` is only meaningful where the 90-day window has passed."""
    parts = []
    with engine.connect() as conn:
        for snap in snapshots:
            frame = read_frame(conn, churn_labels(tenant_id, snap))
            frame["snapshot"] = pd.Timestamp(snap)
            parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["snapshot", "client_id", "churns"])
    out = pd.concat(parts, ignore_index=True)
    out["churns"] = out["churns"].astype(bool)
    return out


def compute_genome(
    frames: TenantFrames, population: pd.DataFrame, snapshots: Sequence[dt.date]
) -> pd.DataFrame:
    """Feature rows for ``population`` (snapshot, client_id) from the tenant's frames.

    The frames' economics must cover the months of every window used (``LOOKBACK_MONTHS``
    before the first snapshot up to the last)."""
    clients = frames.clients
    ids = list(clients.index)
    snap_months = [date_month_index(s) for s in snapshots]
    first = min(snap_months) - LOOKBACK_MONTHS
    last = max(snap_months)
    panel = MonthPanel(ids, first, last)

    service = _service_matrices(frames.tickets, panel)
    money = _money_matrices(frames, panel)
    changes = price_changes(frames.contracts)
    ticket_arrays = TicketArrays.of(frames.tickets, panel)
    rows = []
    for snap, month in zip(snapshots, snap_months, strict=True):
        ts = pd.Timestamp(snap)
        members = population.loc[population["snapshot"] == ts, "client_id"]
        if members.empty:
            continue
        frame = _snapshot_frame(frames, panel, service, money, changes, ticket_arrays, ts, month)
        frame = frame.loc[frame.index.isin(set(members))]
        frame.insert(0, "snapshot", ts)
        rows.append(frame)
    if not rows:
        empty = pd.DataFrame(columns=["snapshot", *FEATURES, *CATEGORICAL])
        return empty.set_index("snapshot", append=True)
    genome = pd.concat(rows)
    genome = genome.reset_index().set_index(["snapshot", "client_id"]).sort_index()
    return genome


@dataclass(frozen=True)
class _ServiceMatrices:
    """Tickets as ``clients x months`` matrices: opened, P1, closed, SLA breaches, CSAT and
    (log) resolution times, by the month a ticket was opened or closed in."""

    t_count: np.ndarray
    t_p1: np.ndarray
    c_count: np.ndarray
    c_sla: np.ndarray
    csat_sum: np.ndarray
    csat_n: np.ndarray
    res_sum: np.ndarray
    res_by_priority: dict[str, np.ndarray]
    closed_m: np.ndarray
    log_res: np.ndarray
    closed_priority: pd.Series


def _service_matrices(tickets: pd.DataFrame, panel: MonthPanel) -> _ServiceMatrices:
    # client rows and priorities looked up once for every ticket matrix below
    t_rows = panel.codes(tickets["client_id"])
    priority = tickets["priority"].to_numpy(dtype=object)
    opened = month_index(tickets["opened_at"])
    is_closed = tickets["resolved_at"].notna().to_numpy()
    closed = tickets[is_closed]
    c_rows, c_priority = t_rows[is_closed], priority[is_closed]
    closed_m = month_index(closed["resolved_at"])
    has_csat = closed["csat"].notna().to_numpy()
    with_csat = closed[has_csat]
    t_count = panel.matrix(t_rows, opened)
    t_p1 = panel.matrix(t_rows, opened, priority == "p1")
    c_count = panel.matrix(c_rows, closed_m)
    c_sla = panel.matrix(c_rows, closed_m, closed["sla_breached"].to_numpy())
    csat_m = month_index(with_csat["resolved_at"])
    csat_sum = panel.matrix(c_rows[has_csat], csat_m, with_csat["csat"].to_numpy(float))
    csat_n = panel.matrix(c_rows[has_csat], csat_m)
    hours_open = (closed["resolved_at"] - closed["opened_at"]).dt.total_seconds() / 3600.0
    log_res = np.log(np.clip(hours_open.to_numpy(dtype=float), 0.05, None))
    res_sum = panel.matrix(c_rows, closed_m, log_res)
    res_by_priority = {
        pr: panel.matrix(c_rows, closed_m, (c_priority == pr).astype(float))
        for pr in sorted(set(c_priority))
    }
    return _ServiceMatrices(
        t_count=t_count,
        t_p1=t_p1,
        c_count=c_count,
        c_sla=c_sla,
        csat_sum=csat_sum,
        csat_n=csat_n,
        res_sum=res_sum,
        res_by_priority=res_by_priority,
        closed_m=closed_m,
        log_res=log_res,
        closed_priority=closed["priority"],
    )


@dataclass(frozen=True)
class _MoneyMatrices:
    """Monthly economics (revenue, hours, labour cost, point-in-time margin), MRR and service
    revenue as ``clients x months`` matrices."""

    economics: dict[str, np.ndarray]
    mrr: np.ndarray
    service: np.ndarray


def _money_matrices(frames: TenantFrames, panel: MonthPanel) -> _MoneyMatrices:
    econ = frames.economics
    em = econ["month"].to_numpy(dtype=np.int64) if len(econ) else np.zeros(0, dtype=np.int64)
    e = {
        col: panel.matrix(econ["client_id"], em, econ[col].to_numpy(float))
        for col in ("revenue", "hours", "labour_cost")
    }
    # Point-in-time margin: the shared licence cost multiplies today's vendor seat count
    # (0 once a client has left) into every past month, which would tell the model who
    # churned. The seats billed on each month's licence lines are known at the time.
    e["margin"] = e["revenue"] - e["labour_cost"] - licence_cost_pit(frames, panel)
    rec = frames.lines[frames.lines["kind"] == "recurring"]
    rec_month = month_index(rec["issued_on"])
    mrr = panel.matrix(rec["client_id"], rec_month, rec["amount"].to_numpy(float))
    svc = frames.lines[frames.lines["kind"].isin(("recurring", "labor"))]
    svc_month = month_index(svc["issued_on"])
    service = panel.matrix(svc["client_id"], svc_month, svc["amount"].to_numpy(float))
    return _MoneyMatrices(economics=e, mrr=mrr, service=service)


def _snapshot_frame(
    frames: TenantFrames,
    panel: MonthPanel,
    sv: _ServiceMatrices,
    money: _MoneyMatrices,
    changes: pd.DataFrame,
    ticket_arrays: TicketArrays,
    ts: pd.Timestamp,
    month: int,
) -> pd.DataFrame:
    """Every client's genome row at the snapshot ``ts`` (month index ``month``)."""
    clients = frames.clients
    ids = list(clients.index)
    seats = clients["seats"].to_numpy(dtype=float)
    onboarded = clients["onboarded_on"]
    onboard_m = np.where(
        onboarded.notna().to_numpy(), month_index(onboarded.fillna(pd.Timestamp(0))), np.nan
    )
    e, mrr, service = money.economics, money.mrr, money.service
    t_count, t_p1, c_count, c_sla = sv.t_count, sv.t_p1, sv.c_count, sv.c_sla
    csat_sum, csat_n = sv.csat_sum, sv.csat_n
    tenure = ((ts - onboarded).dt.days / 30.4375).fillna(CAP_MONTHS).to_numpy(dtype=float)
    tenure = np.clip(tenure, 0.0, None)
    w = panel.window
    rev3, rev_p3 = w(e["revenue"], month, 3), w(e["revenue"], month, 3, 3)
    mar3, mar_p3 = w(e["margin"], month, 3), w(e["margin"], month, 3, 3)
    hrs3 = w(e["hours"], month, 3)
    tk3, tk_p3 = w(t_count, month, 3), w(t_count, month, 3, 3)
    cl3, cl_p3 = w(c_count, month, 3), w(c_count, month, 3, 3)
    cs3 = ratio(w(csat_sum, month, 3), w(csat_n, month, 3))
    cs_p3 = ratio(w(csat_sum, month, 3, 3), w(csat_n, month, 3, 3))
    pay = payment_features(frames.invoices, frames.payments, ids, ts)
    to_end, escalation = contract_terms(frames.contracts, ids, ts)
    price_pct, since_change = price_features(changes, ids, month, tenure)
    into_term, renewal, escalation_due = term_features(ids, onboard_m, month, escalation)
    served = experience(ticket_arrays, len(ids), month, ts + pd.Timedelta(days=1))
    monthly_rev = rev3 / 3.0
    frame = pd.DataFrame(
        {
            "tenure_months": tenure,
            "seats": seats,
            "revenue_3m": rev3,
            "revenue_trend": np.clip(ratio(rev3, rev_p3) - 1.0, -1.0, 5.0),
            "mrr": w(mrr, month, 1),
            "margin_3m": mar3,
            "margin_pct_3m": ratio(mar3, rev3),
            "margin_pct_prev_3m": ratio(mar_p3, rev_p3),
            "service_margin_pct_3m": np.clip(
                ratio(w(service, month, 3) - w(e["labour_cost"], month, 3), w(service, month, 3)),
                -3.0,
                1.0,
            ),
            "effective_rate_3m": ratio(rev3, hrs3),
            "hours_3m": hrs3,
            "hours_per_seat_3m": ratio(hrs3, seats),
            "hours_per_ticket_3m": ratio(hrs3, tk3),
            "tickets_3m": tk3,
            "tickets_prev_3m": tk_p3,
            "ticket_trend": np.log((tk3 + 1.0) / (tk_p3 + 1.0)),
            "tickets_per_seat_3m": ratio(tk3, seats),
            "p1_share_3m": ratio(w(t_p1, month, 3), tk3),
            "sla_breach_rate_3m": ratio(w(c_sla, month, 3), cl3),
            "sla_breach_rate_prev_3m": ratio(w(c_sla, month, 3, 3), cl_p3),
            "csat_mean_3m": cs3,
            "csat_mean_prev_3m": cs_p3,
            "csat_trend": cs3 - cs_p3,
            "csat_recent": recent_mean(csat_sum, csat_n, month, panel),
            "sla_breach_recent": recent_mean(c_sla, c_count, month, panel),
            "resolution_time_recent": resolution_recent(
                sv.res_sum,
                sv.res_by_priority,
                c_count,
                sv.closed_m,
                sv.log_res,
                sv.closed_priority,
                month,
                panel,
            ),
            "sla_breach_6m": served["breach"],
            "csat_6m": served["csat"],
            "satisfaction_6m": served["satisfaction"],
            "days_to_pay_6m": pay["days"],
            "late_payments_6m": pay["late"],
            "days_late_3m": pay["days_late"],
            "late_months_6m": late_estimate(frames.invoices, frames.payments, ids, ts),
            "overdue_ratio": np.clip(ratio(pay["overdue"], monthly_rev), 0.0, 24.0),
            "licence_utilisation": licence_utilisation(frames.licenses, frames.lines, ids, ts),
            "months_to_contract_end": to_end,
            "term_month": into_term,
            "renewal_window_3m": renewal,
            "escalation_due_3m": escalation_due,
            "escalation_pct": escalation,
            "months_since_price_change": since_change,
            "price_change_pct_12m": price_pct,
            "industry": clients["industry"].to_numpy(),
        },
        index=pd.Index(ids, name="client_id"),
    )
    return frame


def economics_months_for(snapshots: Sequence[dt.date], ahead: int = 0) -> list[dt.date]:
    """Calendar months whose economics the snapshots' windows need (plus ``ahead`` after)."""
    first = add_months(month_start(min(snapshots)), -ECONOMICS_LOOKBACK_MONTHS)
    count = ECONOMICS_LOOKBACK_MONTHS + 1 + _span(snapshots) + ahead
    return [add_months(first, i) for i in range(count)]


def frames_for(
    engine: Engine, tenant_id: str, snapshots: Sequence[dt.date], with_time_entries: bool = False
) -> TenantFrames:
    first = month_start(min(snapshots))
    return load_frames(
        engine,
        tenant_id,
        since=add_months(first, -BILLING_LOOKBACK_MONTHS),
        ticket_since=add_months(first, -TICKET_LOOKBACK_MONTHS),
        until=max(snapshots),
        economics_months=economics_months_for(snapshots),
        with_time_entries=with_time_entries,
        genome_only=True,
    )


def _span(snapshots: Sequence[dt.date]) -> int:
    return date_month_index(max(snapshots)) - date_month_index(min(snapshots))


def build_features(engine: Engine, tenant_id: str, as_of: dt.date) -> pd.DataFrame:
    """The genome of every client active at ``as_of`` (index = client id).

    Windows end at ``snapshot_for(as_of)`` (the last month end on or before it)."""
    snap = snapshot_for(as_of)
    with engine.connect() as conn:
        population = read_frame(conn, churn_labels(tenant_id, as_of))
    population["snapshot"] = pd.Timestamp(snap)
    frames = frames_for(engine, tenant_id, [snap])
    genome = compute_genome(frames, population, [snap])
    return genome.droplevel("snapshot")


#: Genomes kept by ``cached_features``, each valid for the data version it was built at.
_FEATURE_CACHE: VersionedCache[pd.DataFrame] = VersionedCache(size=16)


def cached_features(
    engine: Engine, tenant_id: str, as_of: dt.date, version: DataVersion | None = None
) -> pd.DataFrame:
    """``build_features`` memoised per (database, tenant, as_of) and keyed by the tenant's
    ``data_version`` (pass ``version`` when the caller has it): a load or sync that changes
    any row is seen by the next call, never served stale. A hit costs the fingerprint query
    instead of the genome build. The frame is shared between callers: treat it as read-only."""
    return _FEATURE_CACHE.for_tenant(
        engine, tenant_id, as_of, version, lambda: build_features(engine, tenant_id, as_of)
    )
