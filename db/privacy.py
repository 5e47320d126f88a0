"""Privacy requests on the database: everything held about one client (export), erasing it,
and retention of audit events.

A client's rows are its ``clients`` row, every synced row with its ``client_id``, the invoice
lines of its invoices and contracts, the users bound to it (client users, with their API keys and
Slack links), the insights naming it (``insights_sent`` by client id; feedback and approved
actions whose insight key names it), the entity links to it and its invoices, and the audit
events scoped to it. Erasure deletes all of them in one transaction (children first), records
the ids of its synced rows in ``erased_rows`` (the loader refuses them, and new rows naming
them, from then on; rows of the client waiting in the orphan queue are deleted too) and
leaves a tombstone audit event holding only who, when, the client id and the row count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    update,
)

from mspilot.core.errors import UserInputError
from mspilot.db.schema import (
    TABLES_BY_NAME,
    Asset,
    Client,
    Contract,
    Invoice,
    InvoiceLine,
    License,
    Payment,
    Ticket,
    TimeEntry,
)
from mspilot.db.schema_api import ApiKey, AuditEvent, User
from mspilot.db.schema_connectors import EntityLink, OrphanRow
from mspilot.db.schema_insights import ApprovedAction, InsightFeedback, InsightSent, SlackUser
from mspilot.db.schema_privacy import ErasedRow, RetentionPolicy

#: The data-quality reason of a synced row of a client erased on request.
ERASED = "client erased on request (mspilot privacy erase): refused"
#: The audit ``action`` of an erasure tombstone (kept by retention).
TOMBSTONE_ACTION = "privacy_erase"
#: Columns never exported (secrets, not data about the client).
_SECRET_COLUMNS = frozenset({"password_hash", "key_hash"})

Row = dict[str, Any]


@dataclass(frozen=True)
class ClientRef:
    """One client of one tenant, as found from a name or an id."""

    tenant_id: str
    client_id: str
    name: str


@dataclass
class ClientData:
    """Everything the database holds about one client, per table (secrets left out)."""

    client: ClientRef
    tables: dict[str, list[Row]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}


def find_client(engine: Engine, name_or_id: str, tenant_id: str | None = None) -> ClientRef:
    """The one client whose canonical id, external id or name (case-insensitive) is
    ``name_or_id``; a clear error when none or several match."""
    wanted = name_or_id.strip()
    if not wanted:
        raise UserInputError("a client name or id is required")
    stmt = select(Client.tenant_id, Client.id, Client.name).where(
        or_(Client.id == wanted, Client.external_id == wanted, Client.name.ilike(wanted))
    )
    if tenant_id is not None:
        stmt = stmt.where(Client.tenant_id == tenant_id)
    with engine.connect() as conn:
        found = [ClientRef(t, i, n) for t, i, n in conn.execute(stmt)]
    exact = [c for c in found if c.client_id == wanted]
    found = exact or found
    if not found:
        scope = f" in tenant {tenant_id!r}" if tenant_id else ""
        raise UserInputError(f"no client {wanted!r}{scope}")
    if len(found) > 1:
        names = ", ".join(f"{c.tenant_id}/{c.client_id} ({c.name})" for c in found[:10])
        raise UserInputError(f"{wanted!r} matches several clients: {names}; use --tenant or an id")
    return found[0]


def _mentions(key: str, client_id: str) -> bool:
    """Whether an insight key (``detector:part:part``) names the client."""
    return client_id in key.split(":")


def _client_filters(conn: Connection, ref: ClientRef) -> list[tuple[Any, ColumnElement[bool]]]:
    """(model, where-clause) of every table holding rows about the client, parents first."""
    t, cid = ref.tenant_id, ref.client_id
    invoice_ids = select(Invoice.id).where(Invoice.tenant_id == t, Invoice.client_id == cid)
    user_ids = list(conn.scalars(select(User.id).where(User.tenant_id == t, User.client_id == cid)))
    feedback_keys = [
        k
        for k in conn.scalars(select(InsightFeedback.key).where(InsightFeedback.tenant_id == t))
        if _mentions(k, cid)
    ]
    action_keys = [
        k
        for k in conn.scalars(select(ApprovedAction.key).where(ApprovedAction.tenant_id == t))
        if _mentions(k, cid)
    ]
    owned = [
        (m, (m.tenant_id == t) & (m.client_id == cid))
        for m in (Contract, Ticket, Invoice, TimeEntry, Payment, Asset, License)
    ]
    return [
        (Client, (Client.tenant_id == t) & (Client.id == cid)),
        *owned[:3],
        (
            InvoiceLine,
            (InvoiceLine.tenant_id == t) & InvoiceLine.invoice_id.in_(invoice_ids),
        ),
        *owned[3:],
        (User, (User.tenant_id == t) & (User.client_id == cid)),
        (ApiKey, ApiKey.user_id.in_(user_ids) if user_ids else false()),
        (SlackUser, (SlackUser.tenant_id == t) & SlackUser.user_id.in_(user_ids)),
        (InsightSent, (InsightSent.tenant_id == t) & (InsightSent.client_id == cid)),
        (
            InsightFeedback,
            (InsightFeedback.tenant_id == t) & InsightFeedback.key.in_(feedback_keys),
        ),
        (ApprovedAction, (ApprovedAction.tenant_id == t) & ApprovedAction.key.in_(action_keys)),
        (
            EntityLink,
            (EntityLink.tenant_id == t)
            & or_(EntityLink.target_id == cid, EntityLink.target_id.in_(invoice_ids)),
        ),
        (AuditEvent, (AuditEvent.tenant_id == t) & (AuditEvent.client_id == cid)),
    ]


def _name(model: Any) -> str:
    name: str = model.__tablename__
    return name


def client_data(engine: Engine, ref: ClientRef) -> ClientData:
    """Every row held about the client (see the module docstring), secrets left out."""
    data = ClientData(ref)
    with engine.connect() as conn:
        for model, where in _client_filters(conn, ref):
            table = model.__table__
            columns = [c for c in table.columns if c.name not in _SECRET_COLUMNS]
            rows = conn.execute(select(*columns).where(where).order_by(*table.primary_key))
            data.tables[_name(model)] = [dict(r) for r in rows.mappings()]
        mentions = select(AuditEvent.__table__).where(_audit_mentions(ref))
        data.tables["audit_mentions"] = [dict(r) for r in conn.execute(mentions).mappings()]
    return data


def _audit_mentions(ref: ClientRef) -> ColumnElement[bool]:
    """Other audit events whose question names the client (case-insensitive)."""
    return (
        (AuditEvent.tenant_id == ref.tenant_id)
        & or_(AuditEvent.client_id.is_(None), AuditEvent.client_id != ref.client_id)
        & func.lower(AuditEvent.question).contains(ref.name.lower(), autoescape=True)
    )


#: References from rows NOT about the client to rows that are (all nullable): detached on
#: erasure so the other client's row survives without pointing at erased data.
_DETACH: tuple[tuple[Any, str, Any], ...] = (
    (TimeEntry, "ticket_id", Ticket),
    (TimeEntry, "invoice_line_id", InvoiceLine),
    (Payment, "invoice_id", Invoice),
    (InvoiceLine, "contract_id", Contract),
)


@dataclass(frozen=True)
class Erasure:
    """What an erasure removed: rows per table, references detached from other rows and
    other audit events whose question (naming the client) was blanked."""

    client: ClientRef
    deleted: dict[str, int]
    detached: int
    at: dt.datetime
    redacted: int = 0


def erase_client(
    engine: Engine,
    ref: ClientRef,
    *,
    actor: str,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> Erasure:
    """Delete every row about the client in one transaction (children first), remember its id
    so a later sync refuses it, and write a tombstone audit event (counts only)."""
    t, cid = ref.tenant_id, ref.client_id
    stamp = now()
    deleted: dict[str, int] = {}
    detached = 0
    with engine.begin() as conn:
        filters = _client_filters(conn, ref)
        where_of = {_name(m): w for m, w in filters}
        for child, column, parent in _DETACH:
            doomed = select(parent.id).where(where_of[_name(parent)])
            res = conn.execute(
                update(child)
                .where(child.tenant_id == t, getattr(child, column).in_(doomed))
                .where(~where_of[_name(child)])
                .values({column: None})
            )
            detached += res.rowcount or 0
        erased = [
            {
                "tenant_id": t,
                "row_id": i,
                "table_name": _name(m),
                "client_id": cid,
                "erased_at": stamp,
            }
            for m, w in filters
            if _name(m) in TABLES_BY_NAME
            for i in conn.scalars(select(m.id).where(w))
        ]
        erased_ids = [e["row_id"] for e in erased]
        for model, where in reversed(filters):
            deleted[_name(model)] = conn.execute(delete(model).where(where)).rowcount or 0
        redacted = (
            conn.execute(
                update(AuditEvent).where(_audit_mentions(ref)).values(question=None)
            ).rowcount
            or 0
        )
        deleted["orphan_rows"] = sum(
            conn.execute(
                delete(OrphanRow).where(
                    OrphanRow.tenant_id == t,
                    or_(OrphanRow.row_id.in_(chunk), OrphanRow.waits_for_id.in_(chunk)),
                )
            ).rowcount
            or 0
            for chunk in _chunks(erased_ids)
        )
        conn.execute(insert(ErasedRow), erased)
        conn.execute(
            insert(AuditEvent).values(
                tenant_id=t,
                user_id=actor[:40],
                role="owner",
                client_id=None,
                at=stamp,
                action=TOMBSTONE_ACTION,
                resource=f"client {cid}"[:200],
                question=None,
                tools=None,
                rows_out=sum(deleted.values()),
                fields_out=None,
                status=200,
            )
        )
    return Erasure(ref, deleted, detached, stamp, redacted)


def _chunks(ids: list[str], size: int = 1000) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


class ErasedRows:
    """The loader's check against ``erased_rows`` for one tenant (one query per batch, none
    for a tenant that never erased anything)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self._any: bool | None = None

    def among(
        self, conn: Connection, rows: dict[str, dict[str, Any]], refs: Iterable[str]
    ) -> list[str]:
        """The ids of ``rows`` that were erased or name an erased row in a ``refs`` column."""
        tenant = ErasedRow.tenant_id == self.tenant_id
        if self._any is None:
            self._any = conn.scalar(select(ErasedRow.row_id).where(tenant).limit(1)) is not None
        if not self._any or not rows:
            return []
        columns = list(refs)
        wanted = set(rows) | {r[c] for r in rows.values() for c in columns if r.get(c)}
        erased: set[str] = set()
        for chunk in _chunks(sorted(wanted)):
            erased.update(
                conn.scalars(select(ErasedRow.row_id).where(tenant, ErasedRow.row_id.in_(chunk)))
            )
        return [
            i for i, r in rows.items() if i in erased or any(r.get(c) in erased for c in columns)
        ]


# ---- retention --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    """A tenant's retention periods in days (None = keep forever)."""

    chat_days: int | None = None
    audit_days: int | None = None


def set_retention(engine: Engine, tenant_id: str, policy: Retention) -> None:
    for days in (policy.chat_days, policy.audit_days):
        if days is not None and days < 1:
            raise UserInputError(f"a retention period must be at least 1 day, not {days}")
    values = {
        "chat_days": policy.chat_days,
        "audit_days": policy.audit_days,
        "updated_at": dt.datetime.now(dt.UTC),
    }
    with engine.begin() as conn:
        changed = conn.execute(
            update(RetentionPolicy).where(RetentionPolicy.tenant_id == tenant_id).values(values)
        ).rowcount
        if not changed:
            conn.execute(insert(RetentionPolicy).values(tenant_id=tenant_id, **values))


def get_retention(engine: Engine, tenant_id: str) -> Retention:
    with engine.connect() as conn:
        row = conn.execute(
            select(RetentionPolicy.chat_days, RetentionPolicy.audit_days).where(
                RetentionPolicy.tenant_id == tenant_id
            )
        ).first()
    return Retention(row[0], row[1]) if row else Retention()


def _old_audit(tenant_id: str, cutoff: dt.datetime) -> ColumnElement[bool]:
    """Audit events older than ``cutoff`` (erasure tombstones are kept)."""
    return (
        (AuditEvent.tenant_id == tenant_id)
        & (AuditEvent.at < cutoff)
        & (AuditEvent.action != TOMBSTONE_ACTION)
    )


def expire_audit(engine: Engine, tenant_id: str, cutoff: dt.datetime, *, apply: bool) -> int:
    """How many audit events are older than ``cutoff``; deleted when ``apply``."""
    with engine.begin() as conn:
        if not apply:
            count = (
                select(func.count()).select_from(AuditEvent).where(_old_audit(tenant_id, cutoff))
            )
            return int(conn.scalar(count) or 0)
        return conn.execute(delete(AuditEvent).where(_old_audit(tenant_id, cutoff))).rowcount or 0
