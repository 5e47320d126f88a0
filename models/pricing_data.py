"""What the pricing optimiser knows about each client, read from the canonical tables.

Per active client, its main priced contract (the one billing the most per month):

- price and units: per user / per device ``unit_price × quantity``; flat fee and block hours
  ``monthly_value`` per month; time and materials the ``hourly_rate`` × billable hours per month
  worked over the last 6 months; a contract discount lowers the billed price;
- the client's monthly revenue and labour + licence cost over the last 6 full months (or the
  months since onboarding), from the shared ``db.definitions.client_economics``;
- its price history: changes of the billed recurring unit price on its invoices (when and by
  how much), which feed the yearly cap and the "price change over 12 months" the churn model
  knows.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from typing import Any

import numpy as np
from sqlalchemy import Engine, Float, and_, cast, func, select

from mspilot.core.clock import add_months
from mspilot.core.errors import DataError
from mspilot.core.periods import Period
from mspilot.db.definitions import active_clients, client_economics, live_invoices
from mspilot.db.schema import Contract, Invoice, InvoiceLine, Tenant, TimeEntry
from mspilot.models.data import DataVersion, VersionedCache
from mspilot.models.pricing import PricingInputs, prior_change_before

ECONOMICS_MONTHS = 6
HISTORY_MONTHS = 120
PRICE_CHANGE_MIN_PCT = 0.5
UNITS = {
    "per_user": "user",
    "per_device": "device",
    "flat": "month",
    "block_hours": "month",
    "time_and_materials": "hour",
}


def tenant_max_discount(engine: Engine, tenant_id: str) -> float | None:
    with engine.connect() as conn:
        value = conn.execute(
            select(Tenant.max_discount_pct).where(Tenant.id == tenant_id)
        ).scalar_one_or_none()
    return None if value is None else float(value)


def _months_active(onboarded: dt.date | None, period: Period) -> float:
    start = period.start if onboarded is None else max(period.start, onboarded)
    days = (period.end - start).days
    return max(days / 30.4375, 1.0) if days > 0 else 1.0


_INPUTS_CACHE: VersionedCache[PricingInputs] = VersionedCache(size=16)


def cached_pricing_inputs(
    engine: Engine, tenant_id: str, as_of: dt.date, version: DataVersion | None = None
) -> PricingInputs:
    """``load_pricing_inputs`` memoised per (database, tenant, as_of) for one ``data_version``
    of the tenant (pass it when the caller has it): never older than the database. The inputs
    are shared between callers: treat them as read-only."""
    return _INPUTS_CACHE.for_tenant(
        engine, tenant_id, as_of, version, lambda: load_pricing_inputs(engine, tenant_id, as_of)
    )


def load_pricing_inputs(engine: Engine, tenant_id: str, as_of: dt.date) -> PricingInputs:
    """One row per active client with a priced contract, as of ``as_of``."""
    period = Period.months_before(as_of + dt.timedelta(days=1), ECONOMICS_MONTHS)
    with engine.connect() as conn:
        active = active_clients(tenant_id, as_of).subquery()
        clients = {
            c.id: c
            for c in conn.execute(
                select(active.c.id, active.c.name, active.c.industry, active.c.onboarded_on)
            )
        }
        if not clients:
            raise DataError(f"tenant {tenant_id!r} has no active clients on {as_of}")
        contracts = (
            conn.execute(
                select(
                    Contract.id,
                    Contract.client_id,
                    Contract.kind,
                    cast(Contract.unit_price, Float).label("unit_price"),
                    cast(Contract.quantity, Float).label("quantity"),
                    cast(Contract.monthly_value, Float).label("monthly_value"),
                    cast(Contract.hourly_rate, Float).label("hourly_rate"),
                    cast(Contract.discount_pct, Float).label("discount_pct"),
                    cast(Contract.annual_escalation_pct, Float).label("escalation"),
                    Contract.starts_on,
                    Contract.ends_on,
                ).where(
                    Contract.tenant_id == tenant_id,
                    Contract.deleted_at.is_(None),
                    Contract.status == "active",
                    Contract.starts_on <= as_of,
                )
            )
            .mappings()
            .all()
        )
        economics = {
            r.client_id: r
            for r in conn.execute(client_economics(tenant_id, period)).mappings().all()
        }
        billable: dict[str, float] = dict(
            conn.execute(
                select(TimeEntry.client_id, func.sum(cast(TimeEntry.hours, Float)))
                .where(
                    TimeEntry.tenant_id == tenant_id,
                    TimeEntry.deleted_at.is_(None),
                    TimeEntry.billable.is_(True),
                    TimeEntry.work_date >= period.start,
                    TimeEntry.work_date < period.end,
                )
                .group_by(TimeEntry.client_id)
            ).all()
        )
    changes, by_client = _price_changes(_recurring_lines(engine, tenant_id, as_of, HISTORY_MONTHS))
    by_client.update(term_price_changes(engine, tenant_id, as_of))
    best: dict[str, tuple[float, dict[str, Any], float, float]] = {}
    for contract in contracts:
        c: Any = contract
        if c.client_id not in clients:
            continue
        priced = _price_and_units(c, billable.get(c.client_id, 0.0), period, clients[c.client_id])
        if priced is None:
            continue
        price, units = priced
        value = price * units
        if c.client_id not in best or value > best[c.client_id][0]:
            best[c.client_id] = (value, dict(c), price, units)

    rows: dict[str, list[Any]] = defaultdict(list)
    for client_id in sorted(best, key=lambda cid: clients[cid].name):
        _value, chosen, price, units = best[client_id]
        c = chosen
        client = clients[client_id]
        econ = economics.get(client_id)
        months = _months_active(client.onboarded_on, period)
        revenue = float(econ.revenue) / months if econ is not None else 0.0
        cost = (
            (float(econ.labour_cost) + float(econ.licence_cost)) / months
            if econ is not None
            else 0.0
        )
        hist = by_client.get(client_id, changes.get(c["id"], []))
        notes = []
        if c["discount_pct"]:
            notes.append(f"price shown after the contract's {c['discount_pct']:.1f}% discount")
        if revenue < price * units * 0.5:
            notes.append("invoiced revenue is well below the contract value: check billing")
        rows["client_id"].append(client_id)
        rows["client_name"].append(client.name)
        rows["contract_id"].append(c["id"])
        rows["kind"].append(c["kind"])
        rows["unit"].append(UNITS.get(c["kind"], "unit"))
        rows["price"].append(price)
        rows["units"].append(units)
        rows["client_revenue"].append(max(revenue, price * units))
        rows["client_cost"].append(cost)
        rows["prior_change_pct"].append(prior_change_before(hist, as_of))
        rows["starts_on"].append(c["starts_on"])
        rows["ends_on"].append(c["ends_on"])
        rows["escalation_pct"].append(float(c["escalation"] or 0.0))
        rows["price_changes"].append(hist)
        rows["notes"].append(notes)
        rows["segment"].append(client.industry or "")
    if not rows:
        raise DataError(f"tenant {tenant_id!r} has no active priced contracts on {as_of}")
    arrays = {
        "price",
        "units",
        "client_revenue",
        "client_cost",
        "prior_change_pct",
        "escalation_pct",
    }
    fields: dict[str, Any] = {
        k: (np.asarray(v, dtype=float) if k in arrays else v) for k, v in rows.items()
    }
    return PricingInputs(**fields, tenant_history=by_client)


def _price_and_units(
    c: Any, billable_hours: float, period: Period, client: Any
) -> tuple[float, float] | None:
    discount = 1.0 - float(c.discount_pct or 0.0) / 100.0
    kind = c.kind
    if kind in ("per_user", "per_device"):
        price, units = float(c.unit_price or 0.0), float(c.quantity or 0.0)
    elif kind in ("flat", "block_hours"):
        if c.monthly_value is not None:  # already net of the contract's discount
            price, units, discount = float(c.monthly_value), 1.0, 1.0
        else:
            price, units = float(c.unit_price or 0.0) * float(c.quantity or 1.0), 1.0
    elif kind == "time_and_materials":
        price = float(c.hourly_rate or c.unit_price or 0.0)
        units = billable_hours / _months_active(client.onboarded_on, period)
    else:
        return None
    price = round(price * discount, 2)
    if price <= 0 or units <= 0:
        return None
    return price, units


def _recurring_lines(
    engine: Engine, tenant_id: str, as_of: dt.date, months: int = HISTORY_MONTHS
) -> list[Any]:
    """Recurring invoice lines of live invoices issued in the ``months`` before ``as_of``."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(
                    Invoice.client_id,
                    InvoiceLine.contract_id,
                    InvoiceLine.sku,
                    func.coalesce(Invoice.period_start, Invoice.issued_on).label("month"),
                    cast(InvoiceLine.quantity, Float).label("quantity"),
                    cast(InvoiceLine.amount, Float).label("amount"),
                )
                .join(
                    InvoiceLine,
                    and_(InvoiceLine.invoice_id == Invoice.id, InvoiceLine.deleted_at.is_(None)),
                )
                .where(
                    live_invoices(tenant_id),
                    InvoiceLine.kind == "recurring",
                    InvoiceLine.contract_id.is_not(None),
                    Invoice.issued_on >= add_months(as_of, -months),
                    Invoice.issued_on <= as_of,
                )
            ).all()
        )


def client_price_changes(
    engine: Engine, tenant_id: str, as_of: dt.date, months: int = 120
) -> dict[str, list[tuple[dt.date, float]]]:
    """Per client: (date, % change) of its price, from its contract terms (a new term at a
    different price is a change, dated at the term's start) and, for clients whose contract is
    updated in place, from its billed recurring unit price."""
    _by_contract, by_client = _price_changes(_recurring_lines(engine, tenant_id, as_of, months))
    by_client.update(term_price_changes(engine, tenant_id, as_of))
    return by_client


def _term_price(kind: str, row: Any) -> float | None:
    if kind in ("per_user", "per_device"):
        value = row.unit_price
    elif kind == "time_and_materials":
        value = row.hourly_rate
    else:
        value = row.monthly_value
    return None if value is None or value <= 0 else float(value)


def term_price_changes(
    engine: Engine, tenant_id: str, as_of: dt.date
) -> dict[str, list[tuple[dt.date, float]]]:
    """Per client with two or more terms of a kind: the price change at each new term."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Contract.client_id,
                Contract.kind,
                Contract.starts_on,
                cast(Contract.unit_price, Float).label("unit_price"),
                cast(Contract.monthly_value, Float).label("monthly_value"),
                cast(Contract.hourly_rate, Float).label("hourly_rate"),
            )
            .where(
                Contract.tenant_id == tenant_id,
                Contract.deleted_at.is_(None),
                Contract.status != "draft",
                Contract.starts_on <= as_of,
            )
            .order_by(Contract.client_id, Contract.kind, Contract.starts_on)
        ).all()
    terms: dict[tuple[str, str], list[tuple[dt.date, float]]] = defaultdict(list)
    for row in rows:
        price = _term_price(row.kind, row)
        if price is not None:
            terms[(row.client_id, row.kind)].append((row.starts_on, price))
    out: dict[str, list[tuple[dt.date, float]]] = {}
    for (client_id, _kind), series in terms.items():
        if len(series) < 2:
            continue
        changes = [
            (cur[0], (cur[1] / prev[1] - 1) * 100)
            for prev, cur in itertools.pairwise(series)
            if abs(cur[1] / prev[1] - 1) * 100 >= PRICE_CHANGE_MIN_PCT
        ]
        if client_id not in out or len(series) > 1:
            out[client_id] = sorted(out.get(client_id, []) + changes)
    return out


def _price_changes(
    lines: Any,
) -> tuple[dict[str, list[tuple[dt.date, float]]], dict[str, list[tuple[dt.date, float]]]]:
    """(per contract, per client): (month, % change) each time the billed recurring unit price
    of a service moved. A renewal is often a new contract row, so a history follows the client
    and service (SKU), not the contract id; a client's own history is its largest service's."""
    series: dict[tuple[str, str], dict[dt.date, float]] = defaultdict(dict)
    totals: dict[tuple[str, str], float] = defaultdict(float)
    service_of: dict[str, tuple[str, str]] = {}
    for client_id, contract_id, sku, month, quantity, amount in lines:
        if not quantity or quantity <= 0 or amount is None:
            continue
        key = (client_id, sku or contract_id)
        service_of[contract_id] = key
        totals[key] += float(amount)
        # The effective unit price of the month (amount / quantity covers discounts).
        series[key][month.replace(day=1)] = float(amount) / float(quantity)
    found: dict[tuple[str, str], list[tuple[dt.date, float]]] = {}
    for key, prices in series.items():
        months = sorted(prices)
        out = []
        for prev, cur in itertools.pairwise(months):
            a, b = prices[prev], prices[cur]
            if a > 0 and abs(b / a - 1) * 100 >= PRICE_CHANGE_MIN_PCT:
                out.append((cur, (b / a - 1) * 100))
        found[key] = out
    main: dict[str, tuple[str, str]] = {}
    for key, total in totals.items():
        if key[0] not in main or total > totals[main[key[0]]]:
            main[key[0]] = key
    by_contract = {contract: found[key] for contract, key in service_of.items()}
    return by_contract, {client: found[key] for client, key in main.items()}
