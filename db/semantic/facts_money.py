"""Fact builders over money: invoice lines, invoices, payments, licences, contracts, economics."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import (
    and_,
    case,
    func,
    null,
    or_,
    select,
    union_all,
)

from mspilot.core.clock import add_months
from mspilot.core.periods import Period
from mspilot.db import definitions as d
from mspilot.db.schema import (
    AnySelect,
    Contract,
    Invoice,
    InvoiceLine,
    License,
    Payment,
)
from mspilot.db.semantic.fact_base import (
    Build,
    as_money,
    client_scope,
    day_literal,
    in_window,
    live_rows,
    money_zero,
    snapshot_buckets,
    union_arms,
)
from mspilot.db.semantic.facts_work import build_time_entries


def build_revenue_lines(b: Build) -> AnySelect:
    with_contract = "contract_kind" in b.needs
    product = (
        select(func.min(License.product))
        .where(
            License.tenant_id == b.tenant_id,
            License.deleted_at.is_(None),
            License.sku == InvoiceLine.sku,
        )
        .scalar_subquery()
        if "product" in b.needs
        else null()
    )
    licence_line = InvoiceLine.kind == "license"
    stmt = (
        select(
            Invoice.client_id.label("client_id"),
            Invoice.issued_on.label("event_date"),
            Invoice.status.label("status"),
            InvoiceLine.kind.label("line_kind"),
            (Contract.kind if with_contract else null()).label("contract_kind"),
            case((licence_line, product), else_=null()).label("product"),
            InvoiceLine.amount.label("amount"),
            case((licence_line, InvoiceLine.amount), else_=0).label("licence_amount"),
        )
        .join(
            InvoiceLine,
            and_(
                InvoiceLine.invoice_id == Invoice.id,
                InvoiceLine.tenant_id == b.tenant_id,
                InvoiceLine.deleted_at.is_(None),
            ),
        )
        .where(
            d.live_invoices(b.tenant_id),
            in_window(Invoice.issued_on, b.period),
            client_scope(Invoice.client_id, b),
        )
    )
    if with_contract:
        stmt = stmt.outerjoin(
            Contract,
            and_(Contract.id == InvoiceLine.contract_id, Contract.tenant_id == b.tenant_id),
        )
    return stmt


def build_payments(b: Build) -> AnySelect:
    return select(
        Payment.client_id.label("client_id"),
        Payment.paid_on.label("event_date"),
        Payment.amount.label("amount"),
    ).where(live_rows(Payment, b, on=Payment.paid_on))


def build_licence_months(b: Build) -> AnySelect:
    """One row per licence and month of the period: that month's cost and resale value."""
    assert b.period is not None
    months = list(b.period.month_starts()) if b.grain else [b.period.start]
    arms = []
    for start in months:
        window = Period(start, add_months(start, 1)) if b.grain else b.period
        n = d.licence_active_months(window)
        arms.append(
            select(
                License.client_id.label("client_id"),
                day_literal(start).label("event_date"),
                License.product.label("product"),
                as_money(License.seats_in_use * License.unit_cost * n).label("licence_cost"),
                as_money(License.seats_in_use * License.unit_price * n).label("licence_resale"),
            ).where(live_rows(License, b))
        )
    return union_arms(arms)


def build_licence_seats(b: Build) -> AnySelect:
    arms = []
    for start, snap in snapshot_buckets(b):
        arms.append(
            select(
                License.client_id.label("client_id"),
                day_literal(start).label("event_date"),
                License.product.label("product"),
                License.seats_in_use.label("seats"),
            ).where(
                live_rows(License, b),
                or_(License.starts_on.is_(None), License.starts_on <= snap),
                or_(License.ends_on.is_(None), License.ends_on >= snap),
            )
        )
    return union_arms(arms)


def build_economics(b: Build) -> AnySelect:
    """Revenue, hours, labour and licence cost rows side by side (the margin definitions)."""
    rev = build_revenue_lines(b).subquery()
    lab = build_time_entries(replace(b, needs=b.needs | {"labour_cost"})).subquery()
    lic = build_licence_months(b).subquery()
    z = money_zero()
    return select(
        union_all(
            select(
                rev.c.client_id,
                rev.c.event_date,
                as_money(rev.c.amount).label("revenue"),
                z.label("hours"),
                z.label("labour_cost"),
                z.label("licence_cost"),
            ),
            select(
                lab.c.client_id,
                lab.c.event_date,
                z,
                as_money(lab.c.hours),
                as_money(lab.c.labour_cost),
                z,
            ),
            select(lic.c.client_id, lic.c.event_date, z, z, z, lic.c.licence_cost),
        ).subquery()
    )
