"""Entity resolution between SuperOps and QuickBooks, and reconciliation to one row per fact.

Resolving a QuickBooks customer to a SuperOps client, in order:
1. a stored link (``entity_links``; also manual decisions from ``mspilot sources review``);
2. the customer's e-mail domain equals exactly one client's domain (generic mail providers
   never count);
3. the normalized names are close (rapidfuzz ``token_sort_ratio`` ≥ ``threshold``) and clearly
   closer than the runner-up.
Pairs that are close but not clear go to the review list instead of being guessed; the
customer stays a QuickBooks-only client until a person decides.

``reconcile`` runs at the end of every SuperOps and QuickBooks sync, so the order in which the
two are synced does not matter: QuickBooks-only clients/invoices that now match a SuperOps row
are merged into it (links stored, the SuperOps row gets the QuickBooks id and, for invoices,
balance and status; payments/invoices/licences are re-pointed; the duplicate is marked
deleted). Everything goes through the loader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from mspilot.connectors.base import SyncContext
from mspilot.core.ids import make_id
from mspilot.db.entity_map import (
    CLIENT,
    INVOICE,
    ClientRow,
    Link,
    client_rows,
    ids_where,
    invoice_index,
    list_reviews,
    load_links,
    open_review,
    patch_rows,
    review_status,
    rows_by_id,
    save_link,
)
from mspilot.db.loader import Loader
from mspilot.db.records import CanonicalId, RowName

GENERIC_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "protonmail.com",
        "proton.me",
        "gmx.com",
    }
)
_SUFFIXES = re.compile(
    r"\b(inc|incorporated|llc|l\.l\.c|ltd|limited|co|corp|corporation|company|pllc|pc|llp|lp|"
    r"plc|gmbh|the)\b\.?",
    re.I,
)

QBO = "quickbooks"
SUPEROPS = "superops"


def normalize_name(name: str) -> str:
    text = _SUFFIXES.sub(" ", name.lower().replace("&", " and "))
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Decision:
    outcome: str  # match | ambiguous | none
    target: str | None = None
    method: str | None = None
    score: float | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""


def resolve_customer(
    name: str,
    email_domain: str | None,
    clients: Iterable[ClientRow],
    *,
    threshold: float = 90.0,
    review_floor: float = 80.0,
    margin: float = 5.0,
) -> Decision:
    """Which SuperOps client (if any) a QuickBooks customer is."""
    pool = list(clients)
    domain = (email_domain or "").lower() or None
    if domain and domain not in GENERIC_DOMAINS:
        same = [c for c in pool if (c.email_domain or "").lower() == domain]
        if len(same) == 1:
            return Decision("match", same[0].id, "email_domain", 100.0)
        if len(same) > 1:
            pool = same
    wanted = normalize_name(name)
    scored = sorted(
        ((fuzz.token_sort_ratio(wanted, normalize_name(c.name)), c) for c in pool),
        key=lambda sc: (-sc[0], sc[1].id),
    )
    top = [{"id": c.id, "name": c.name, "score": round(s, 1)} for s, c in scored[:3]]
    if not scored or scored[0][0] < review_floor:
        return Decision("none", candidates=top)
    best, client = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    if best >= threshold and best - runner_up >= margin:
        return Decision("match", client.id, "fuzzy_name", round(best, 1), top)
    if best >= threshold:
        reason = f"two clients match {name!r} almost equally ({best:.0f} vs {runner_up:.0f})"
    else:
        reason = f"closest client {client.name!r} scores {best:.0f} (< {threshold:.0f})"
    return Decision("ambiguous", client.id, None, round(best, 1), top, reason)


def unlinked_superops_clients(ctx: SyncContext) -> list[ClientRow]:
    linked = set(load_links(ctx.engine, ctx.tenant_id, CLIENT).values())
    return [c for c in client_rows(ctx.engine, ctx.tenant_id, SUPEROPS) if c.id not in linked]


def decide_customer(
    ctx: SyncContext, qbo_id: str, name: str, email_domain: str | None, pool: list[ClientRow]
) -> str | None:
    """Resolve one customer, storing a link or opening a review; returns the linked row id."""
    status = review_status(ctx.engine, ctx.tenant_id, CLIENT, qbo_id)
    if status == "rejected":
        return None
    decision = resolve_customer(name, email_domain, pool)
    if decision.outcome == "match" and decision.target:
        save_link(
            ctx.engine,
            ctx.tenant_id,
            Link(CLIENT, qbo_id, decision.target, decision.method or "fuzzy_name", decision.score),
            now=ctx.now(),
        )
        return decision.target
    if decision.outcome == "ambiguous":
        open_review(
            ctx.engine,
            ctx.tenant_id,
            kind=CLIENT,
            qbo_id=qbo_id,
            qbo_name=name,
            candidates=decision.candidates,
            reason=decision.reason,
            now=ctx.now(),
        )
    return None


def merge_client(ctx: SyncContext, qbo_row_id: str, target: str, qbo_customer_id: str) -> int:
    """Fold a QuickBooks-only client row into the SuperOps client it is."""
    patch_rows(
        ctx.engine,
        ctx.tenant_id,
        "clients",
        {target: {"qbo_customer_id": qbo_customer_id}},
        run_id=ctx.run_id,
        now=ctx.now(),
    )
    for table in ("invoices", "payments", "licenses"):
        ids = ids_where(ctx.engine, ctx.tenant_id, table, client_id=qbo_row_id)
        if ids:
            patch_rows(
                ctx.engine,
                ctx.tenant_id,
                table,
                {i: {"client_id": target} for i in ids},
                run_id=ctx.run_id,
                now=ctx.now(),
            )
    loader = Loader(ctx.engine, ctx.tenant_id, QBO, run_id=ctx.run_id, now=ctx.now)
    return loader.mark_deleted("clients", [CanonicalId(qbo_row_id)], when=ctx.now())


def merge_invoice(ctx: SyncContext, qbo_row: dict[str, Any], target: str) -> int:
    """Fold a QuickBooks-only invoice row into the SuperOps invoice with its number."""
    qbo_id = str(qbo_row["external_id"])
    save_link(ctx.engine, ctx.tenant_id, Link(INVOICE, qbo_id, target, "number"), now=ctx.now())
    patch_rows(
        ctx.engine,
        ctx.tenant_id,
        "invoices",
        {
            target: {
                "balance": qbo_row["balance"],
                "status": qbo_row["status"],
                "qbo_invoice_id": qbo_id,
            }
        },
        run_id=ctx.run_id,
        now=ctx.now(),
    )
    payments = ids_where(ctx.engine, ctx.tenant_id, "payments", invoice_id=qbo_row["id"])
    if payments:
        patch_rows(
            ctx.engine,
            ctx.tenant_id,
            "payments",
            {p: {"invoice_id": target} for p in payments},
            run_id=ctx.run_id,
            now=ctx.now(),
        )
    loader = Loader(ctx.engine, ctx.tenant_id, QBO, run_id=ctx.run_id, now=ctx.now)
    lines = ids_where(ctx.engine, ctx.tenant_id, "invoice_lines", invoice_id=qbo_row["id"])
    if lines:
        loader.mark_deleted("invoice_lines", [CanonicalId(i) for i in lines], when=ctx.now())
    return loader.mark_deleted("invoices", [CanonicalId(qbo_row["id"])], when=ctx.now())


def reconcile(ctx: SyncContext) -> dict[str, int]:
    """Merge QuickBooks-only clients and invoices that match SuperOps rows (idempotent)."""
    counts = {"clients_merged": 0, "invoices_merged": 0, "open_reviews": 0}
    links = load_links(ctx.engine, ctx.tenant_id, CLIENT)
    pool = unlinked_superops_clients(ctx)
    for row in client_rows(ctx.engine, ctx.tenant_id, QBO):
        qbo_id = row.external_id
        target = links.get(qbo_id)
        if target is None and pool:
            target = decide_customer(ctx, qbo_id, row.name, row.email_domain, pool)
            if target:
                pool = [c for c in pool if c.id != target]
        if target:
            counts["clients_merged"] += merge_client(ctx, row.id, target, qbo_id)
    so_index = invoice_index(ctx.engine, ctx.tenant_id, SUPEROPS)
    invoice_links = load_links(ctx.engine, ctx.tenant_id, INVOICE)
    qbo_invoices = ids_where(ctx.engine, ctx.tenant_id, "invoices", source=QBO)
    stored = rows_by_id(ctx.engine, ctx.tenant_id, "invoices", qbo_invoices)
    for row_id, invoice in stored.items():
        target = invoice_links.get(str(invoice["external_id"])) or so_index.get(
            (invoice["client_id"], invoice["number"])
        )
        if target and target != row_id:
            counts["invoices_merged"] += merge_invoice(ctx, invoice, target)
    counts["open_reviews"] = len(list_reviews(ctx.engine, ctx.tenant_id))
    return counts


def qbo_client_ref(ctx: SyncContext, links: dict[str, str], customer_id: str) -> RowName:
    """How a QuickBooks record names its client: the linked row, else the customer."""
    target = links.get(customer_id)
    return CanonicalId(target) if target else customer_id


def qbo_client_id(ctx: SyncContext, links: dict[str, str], customer_id: str) -> str:
    return links.get(customer_id) or make_id(ctx.tenant_id, QBO, customer_id)
