"""Fact builders over what clients owe and pay: invoices with their ageing, days to pay,
and the terms of the contracts in force."""

from __future__ import annotations

from sqlalchemy import and_, case, func, literal, null, or_, select

from mspilot.db import definitions as d
from mspilot.db.schema import AnySelect, Contract, Invoice, Payment
from mspilot.db.semantic.fact_base import (
    Build,
    client_scope,
    day_literal,
    in_window,
    live_rows,
    snapshot_buckets,
    union_arms,
)
from mspilot.db.semantic.sql import days_between


def build_invoices(b: Build) -> AnySelect:
    open_ = and_(Invoice.balance > 0, Invoice.status.in_(("open", "overdue")))
    overdue = and_(
        open_,
        or_(
            Invoice.status == "overdue", and_(Invoice.due_on.is_not(None), Invoice.due_on < b.as_of)
        ),
    )
    ageing = (
        case((open_, d.ageing_bucket(Invoice.due_on, b.as_of)), else_=literal("closed"))
        if "ageing_bucket" in b.needs
        else null()
    )
    return select(
        Invoice.id.label("invoice_id"),
        Invoice.number.label("invoice_number"),
        Invoice.client_id.label("client_id"),
        Invoice.issued_on.label("event_date"),
        Invoice.status.label("status"),
        Invoice.total.label("total"),
        ageing.label("ageing_bucket"),
        case((open_, Invoice.balance), else_=0).label("open_balance"),
        case((overdue, Invoice.balance), else_=0).label("overdue_balance"),
        case((overdue, 1), else_=0).label("is_overdue"),
    ).where(
        d.live_invoices(b.tenant_id),
        in_window(Invoice.issued_on, b.period),
        client_scope(Invoice.client_id, b),
    )


def build_paid_invoices(b: Build) -> AnySelect:
    """One row per paid invoice, dated by its last payment: days from issue to payment."""
    paid = d.invoice_paid_on(b.tenant_id).subquery()
    return (
        select(
            Invoice.id.label("invoice_id"),
            Invoice.number.label("invoice_number"),
            Invoice.client_id.label("client_id"),
            paid.c.paid_on.label("event_date"),
            Invoice.issued_on.label("issued_on"),
            Invoice.total.label("total"),
            days_between(Invoice.issued_on, paid.c.paid_on).label("days_to_pay"),
        )
        .join(paid, paid.c.invoice_id == Invoice.id)
        .where(
            d.live_invoices(b.tenant_id),
            in_window(paid.c.paid_on, b.period),
            client_scope(Invoice.client_id, b),
        )
    )


def build_invoice_payments(b: Build) -> AnySelect:
    """One row per payment made against a (live) invoice: days from its issue to the payment."""
    return (
        select(
            Payment.id.label("payment_id"),
            Payment.client_id.label("client_id"),
            Payment.paid_on.label("event_date"),
            Invoice.number.label("invoice_number"),
            Payment.amount.label("amount"),
            days_between(Invoice.issued_on, Payment.paid_on).label("days_to_pay"),
        )
        .join(Invoice, and_(Invoice.id == Payment.invoice_id, d.live_invoices(b.tenant_id)))
        .where(live_rows(Payment, b, on=Payment.paid_on))
    )


def build_contracts(b: Build) -> AnySelect:
    """Contracts in force at the period's end / today (per time bucket), with their terms."""
    arms = []
    for start, snap in snapshot_buckets(b):
        arms.append(
            select(
                Contract.id.label("contract_id"),
                func.coalesce(Contract.name, Contract.kind).label("contract"),
                Contract.client_id.label("client_id"),
                day_literal(start).label("event_date"),
                Contract.kind.label("contract_kind"),
                Contract.starts_on.label("starts_on"),
                Contract.ends_on.label("ends_on"),
                Contract.unit_price.label("unit_price"),
                func.coalesce(Contract.quantity, 0).label("seats"),
                func.coalesce(Contract.monthly_value, 0).label("monthly_value"),
            ).where(
                live_rows(Contract, b),
                Contract.status.not_in(("draft", "cancelled")),
                Contract.starts_on <= snap,
                or_(Contract.ends_on.is_(None), Contract.ends_on >= snap),
            )
        )
    return union_arms(arms)
