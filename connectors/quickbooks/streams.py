"""QuickBooks streams: entity schemas, CDC-or-full sync, and mappers to canonical rows.

Each stream's bookmark is the QuickBooks server time of its last complete read. When it is
younger than 30 days (CDC's look-back window) the stream asks CDC what changed since then
(deleted entities included); otherwise, or when CDC's 1000-object cap was hit, it re-reads the
entity in full and marks rows it no longer sees as deleted.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from mspilot.connectors.base import Batch, Stream, SyncContext, VendorRecord
from mspilot.connectors.quickbooks.conventions import VOID_MARKER, kind_from_account
from mspilot.connectors.resolution import (
    QBO,
    decide_customer,
    qbo_client_id,
    qbo_client_ref,
    unlinked_superops_clients,
)
from mspilot.connectors.util import email_domain, money, parse_date, parse_time, service_period
from mspilot.core.ids import make_id
from mspilot.db.entity_map import (
    CLIENT,
    INVOICE,
    Link,
    column_by_id,
    ids_where,
    invoice_index,
    latest_line_prices,
    live_source_ids,
    load_links,
    save_links,
)
from mspilot.db.records import CanonicalId, RowName

if TYPE_CHECKING:
    from mspilot.connectors.quickbooks.source import QuickBooksSource

JSON = dict[str, Any]
CDC_WINDOW = dt.timedelta(days=30)
CDC_SAFETY = dt.timedelta(hours=1)
CDC_CAP = 1000
OVERLAP = dt.timedelta(minutes=5)


class QBRecord(VendorRecord):
    Id: str
    SyncToken: str | None = None
    MetaData: JSON | None = None
    status: str | None = None  # "Deleted" in CDC answers


class QBCustomer(QBRecord):
    DisplayName: str | None = None
    CompanyName: str | None = None
    PrimaryEmailAddr: JSON | None = None
    Active: bool | None = None


class QBItem(QBRecord):
    Name: str | None = None
    Sku: str | None = None
    Description: str | None = None
    Type: str | None = None
    UnitPrice: float | None = None
    PurchaseCost: float | None = None
    IncomeAccountRef: JSON | None = None
    ExpenseAccountRef: JSON | None = None


class QBLine(VendorRecord):
    Id: str | None = None
    LineNum: int | None = None
    Description: str | None = None
    Amount: float | None = None
    DetailType: str | None = None
    SalesItemLineDetail: JSON | None = None
    ItemBasedExpenseLineDetail: JSON | None = None
    LinkedTxn: list[JSON] | None = None


class QBInvoice(QBRecord):
    DocNumber: str | None = None
    TxnDate: str | None = None
    DueDate: str | None = None
    CustomerRef: JSON | None = None
    Line: list[QBLine] | None = None
    TotalAmt: float | None = None
    Balance: float | None = None
    PrivateNote: str | None = None
    CustomerMemo: JSON | None = None


class QBPayment(QBRecord):
    TxnDate: str | None = None
    TotalAmt: float | None = None
    UnappliedAmt: float | None = None
    CustomerRef: JSON | None = None
    Line: list[QBLine] | None = None


class QBExpense(QBRecord):
    TxnDate: str | None = None
    TotalAmt: float | None = None
    Line: list[QBLine] | None = None


def _ref(value: JSON | None) -> str | None:
    if isinstance(value, Mapping) and value.get("value") not in (None, ""):
        return str(value["value"])
    return None


class QuickBooksStream(Stream):
    entity: ClassVar[str]
    reference: ClassVar[bool] = False  # always read in full (items)
    #: external ids of this stream's rows in ``tables[0]`` start with this (deletion scope)
    id_prefix: ClassVar[str] = ""

    def __init__(self, source: QuickBooksSource) -> None:
        self.src = source

    def map_records(self, ctx: SyncContext, records: list[Any]) -> Batch:
        return Batch()

    def deleted_rows(self, ctx: SyncContext, entity_ids: list[str]) -> dict[str, list[RowName]]:
        """Rows to mark deleted because QuickBooks deleted these entities."""
        return {self.tables[0]: list(entity_ids)} if self.tables else {}

    def owned_ids(self, ctx: SyncContext) -> set[str]:
        """Ids of the entities this stream has live rows for (for deletion detection)."""
        if not self.tables:
            return set()
        return live_source_ids(ctx.engine, ctx.tenant_id, self.tables[0], QBO)

    def seen_ids(self, records: list[Any]) -> set[str]:
        return {str(r.Id) for r in records}

    def read(self, ctx: SyncContext, state: dict[str, Any]) -> Iterator[Batch]:
        since = state.get("since")
        since_time = parse_time(since) if since else None
        now = ctx.now()
        use_cdc = (
            not self.reference
            and not ctx.force_full
            and since_time is not None
            and now - since_time < CDC_WINDOW - CDC_SAFETY
        )
        if use_cdc:
            assert since_time is not None
            changed, server_time = self.src.client.cdc(
                [self.entity], (since_time - OVERLAP).isoformat(timespec="seconds")
            )
            objects = changed.get(self.entity, [])
            if len(objects) < CDC_CAP:
                deleted = [
                    str(o["Id"]) for o in objects if str(o.get("status", "")).lower() == "deleted"
                ]
                live, refused = self.parse_page(
                    [o for o in objects if str(o.get("status", "")).lower() != "deleted"]
                )
                batch = self.map_safely(live, lambda rs: self.map_records(ctx, rs))
                batch.issues.extend(refused)
                for table, ids in self.deleted_rows(ctx, deleted).items():
                    batch.deletes.setdefault(table, []).extend(ids)
                batch.records = len(objects)
                batch.state = {"mode": "cdc", "since": server_time or since}
                yield batch
                return
        yield from self._full(ctx)

    def _full(self, ctx: SyncContext) -> Iterator[Batch]:
        first_time: str | None = None
        seen: set[str] = set()
        for items, server_time in self.src.client.query_pages(self.entity):
            first_time = first_time or server_time
            records, refused = self.parse_page(items)
            batch = self.map_safely(records, lambda rs: self.map_records(ctx, rs))
            batch.issues.extend(refused)
            batch.records = len(items)
            seen |= self.seen_ids(records) | {self.key_of(i) for i in items}
            yield batch
        final = Batch(state={"mode": "full", "since": first_time or ctx.now().isoformat()})
        if self.tables and not self.reference:
            gone = self.owned_ids(ctx) - seen
            if gone:
                for table, rows in self.deleted_rows(ctx, sorted(gone)).items():
                    final.deletes.setdefault(table, []).extend(rows)
        yield final


class ItemsStream(QuickBooksStream):
    name = "items"
    entity = "Item"
    primary_key = ("Id",)
    schema = QBItem
    reference = True

    def map_records(self, ctx: SyncContext, records: list[Any]) -> Batch:
        cache = ctx.cache.setdefault("quickbooks.items", {})
        for item in records:
            cache[item.Id] = item
        return Batch()


def _item_kind(item: QBItem | None) -> str:
    if item is None:
        return "other"
    kind = kind_from_account(_name(item.IncomeAccountRef))
    if kind == "other" and "licen" in (_name(item.ExpenseAccountRef) or "").lower():
        return "license"
    return kind


def _name(ref: JSON | None) -> str | None:
    return str(ref.get("name")) if isinstance(ref, Mapping) and ref.get("name") else None


class CustomersStream(QuickBooksStream):
    name = "customers"
    required = True
    entity = "Customer"
    primary_key = ("Id",)
    cursor_field = "MetaData.LastUpdatedTime"
    schema = QBCustomer
    tables = ("clients",)

    def map_records(self, ctx: SyncContext, records: list[Any]) -> Batch:
        batch = Batch()
        links = load_links(ctx.engine, ctx.tenant_id, CLIENT)
        pool = None
        for rec in records:
            name = rec.DisplayName or rec.CompanyName or f"Customer {rec.Id}"
            domain = email_domain((rec.PrimaryEmailAddr or {}).get("Address"))
            target = links.get(rec.Id)
            if target is None:
                if pool is None:
                    pool = unlinked_superops_clients(ctx)
                target = decide_customer(ctx, rec.Id, name, domain, pool)
                if target:
                    links[rec.Id] = target
                    pool = [c for c in pool if c.id != target]
            if target:
                batch.patches.setdefault("clients", {})[target] = {"qbo_customer_id": rec.Id}
                continue
            created = parse_time((rec.MetaData or {}).get("CreateTime"))
            updated = parse_time((rec.MetaData or {}).get("LastUpdatedTime"))
            active = rec.Active is not False
            batch.add(
                "clients",
                {
                    "external_id": rec.Id,
                    "name": name[:200],
                    "industry": "Other",
                    "seats": 0,
                    "status": "active" if active else "churned",
                    "onboarded_on": created.date() if created else None,
                    "churned_on": None if active else (updated or created or ctx.now()).date(),
                    "email_domain": domain,
                    "qbo_customer_id": rec.Id,
                },
            )
        ctx.cache["quickbooks.client_links"] = links
        return batch

    def deleted_rows(self, ctx: SyncContext, entity_ids: list[str]) -> dict[str, list[RowName]]:
        links = load_links(ctx.engine, ctx.tenant_id, CLIENT)
        return {"clients": [i for i in entity_ids if i not in links]}


def _invoice_status(rec: QBInvoice, today: dt.date) -> str:
    total = money(rec.TotalAmt) or Decimal(0)
    balance = money(rec.Balance) or Decimal(0)
    if VOID_MARKER in (rec.PrivateNote or "").lower() and total == 0:
        return "void"
    if balance <= 0:
        return "paid"
    due = parse_date(rec.DueDate)
    return "overdue" if due is not None and due < today else "open"


class InvoicesStream(QuickBooksStream):
    name = "invoices"
    required = True
    entity = "Invoice"
    primary_key = ("Id",)
    cursor_field = "MetaData.LastUpdatedTime"
    schema = QBInvoice
    tables = ("invoices", "invoice_lines")

    def map_records(self, ctx: SyncContext, records: list[Any]) -> Batch:
        batch = Batch()
        today = ctx.now().date()
        client_links = load_links(ctx.engine, ctx.tenant_id, CLIENT)
        invoice_links = load_links(ctx.engine, ctx.tenant_id, INVOICE)
        numbers = [r.DocNumber for r in records if r.DocNumber]
        so_index = invoice_index(ctx.engine, ctx.tenant_id, "superops", numbers)
        items: dict[str, QBItem] = ctx.cache.get("quickbooks.items", {})
        own_ids = [make_id(ctx.tenant_id, QBO, r.Id) for r in records]
        stored_lines = column_by_id(
            ctx.engine,
            ctx.tenant_id,
            "invoice_lines",
            "invoice_id",
            ids_where(ctx.engine, ctx.tenant_id, "invoice_lines", invoice_id=own_ids),
        )
        new_links: list[Link] = []
        for rec in records:
            customer = _ref(rec.CustomerRef) or ""
            client_id = qbo_client_id(ctx, client_links, customer)
            status = _invoice_status(rec, today)
            balance = money(rec.Balance) or Decimal("0.00")
            number = (rec.DocNumber or rec.Id)[:40]
            target = invoice_links.get(rec.Id) or so_index.get((client_id, number))
            if target and target != make_id(ctx.tenant_id, QBO, rec.Id):
                if rec.Id not in invoice_links:
                    new_links.append(Link(INVOICE, rec.Id, target, "number"))
                    invoice_links[rec.Id] = target
                batch.patches.setdefault("invoices", {})[target] = {
                    "balance": balance,
                    "status": status,
                    "qbo_invoice_id": rec.Id,
                }
                continue
            start, end = service_period((rec.CustomerMemo or {}).get("value"))
            batch.add(
                "invoices",
                {
                    "external_id": rec.Id,
                    "client_id": qbo_client_ref(ctx, client_links, customer),
                    "number": number,
                    "issued_on": parse_date(rec.TxnDate),
                    "due_on": parse_date(rec.DueDate),
                    "period_start": start,
                    "period_end": end,
                    "total": money(rec.TotalAmt) or Decimal("0.00"),
                    "balance": balance,
                    "status": status,
                    "qbo_invoice_id": rec.Id,
                },
            )
            keep = set()
            for n, line in enumerate(rec.Line or [], start=1):
                if line.DetailType != "SalesItemLineDetail" or not line.SalesItemLineDetail:
                    continue
                detail = line.SalesItemLineDetail
                item = items.get(_ref(detail.get("ItemRef")) or "")
                line_ext = f"{rec.Id}-{line.Id or line.LineNum or n}"
                keep.add(make_id(ctx.tenant_id, QBO, line_ext))
                quantity = money(detail.get("Qty")) or Decimal("0.00")
                unit_price = money(detail.get("UnitPrice")) or Decimal("0.00")
                batch.add(
                    "invoice_lines",
                    {
                        "external_id": line_ext,
                        "invoice_id": rec.Id,
                        "kind": _item_kind(item),
                        "sku": (
                            (item.Sku or item.Name)
                            if item
                            else _name(detail.get("ItemRef")) or None
                        ),
                        "description": (line.Description or "")[:300] or None,
                        "quantity": quantity,
                        "unit_price": unit_price,
                        "discount_pct": money(detail.get("DiscountRate")),
                        "amount": money(line.Amount) or Decimal("0.00"),
                    },
                )
            own = make_id(ctx.tenant_id, QBO, rec.Id)
            gone = [lid for lid, inv in stored_lines.items() if inv == own and lid not in keep]
            if gone:
                batch.deletes.setdefault("invoice_lines", []).extend(CanonicalId(g) for g in gone)
        save_links(ctx.engine, ctx.tenant_id, new_links, now=ctx.now())
        return batch

    def owned_ids(self, ctx: SyncContext) -> set[str]:
        own = live_source_ids(ctx.engine, ctx.tenant_id, "invoices", QBO)
        links = load_links(ctx.engine, ctx.tenant_id, INVOICE)
        live = set(ids_where(ctx.engine, ctx.tenant_id, "invoices", id=list(links.values())))
        return own | {qbo for qbo, target in links.items() if target in live}

    def deleted_rows(self, ctx: SyncContext, entity_ids: list[str]) -> dict[str, list[RowName]]:
        links = load_links(ctx.engine, ctx.tenant_id, INVOICE)
        invoices: list[RowName] = []
        for i in entity_ids:
            invoices.append(CanonicalId(links[i]) if i in links else i)
        own = [make_id(ctx.tenant_id, QBO, i) for i in entity_ids if i not in links]
        lines = ids_where(ctx.engine, ctx.tenant_id, "invoice_lines", invoice_id=own) if own else []
        return {"invoices": invoices, "invoice_lines": [CanonicalId(line) for line in lines]}


class PaymentsStream(QuickBooksStream):
    name = "payments"
    entity = "Payment"
    primary_key = ("Id",)
    cursor_field = "MetaData.LastUpdatedTime"
    schema = QBPayment
    tables = ("payments",)

    def map_records(self, ctx: SyncContext, records: list[Any]) -> Batch:
        batch = Batch()
        client_links = load_links(ctx.engine, ctx.tenant_id, CLIENT)
        invoice_links = load_links(ctx.engine, ctx.tenant_id, INVOICE)
        existing: dict[str, set[str]] = defaultdict(set)
        for ext_id in live_source_ids(ctx.engine, ctx.tenant_id, "payments", QBO):
            existing[ext_id.split(":")[0]].add(ext_id)
        for rec in records:
            customer = _ref(rec.CustomerRef) or ""
            paid_on = parse_date(rec.TxnDate)
            links = [
                (line, txn)
                for line in rec.Line or []
                for txn in line.LinkedTxn or []
                if txn.get("TxnType") == "Invoice" and txn.get("TxnId")
            ]
            rows: list[tuple[str, RowName | None, Decimal | None]] = []
            if not links:
                rows.append((rec.Id, None, money(rec.TotalAmt)))
            for line, txn in links:
                ext = rec.Id if len(links) == 1 else f"{rec.Id}:{txn['TxnId']}"
                invoice = str(txn["TxnId"])
                ref: RowName = (
                    CanonicalId(invoice_links[invoice]) if invoice in invoice_links else invoice
                )
                rows.append((ext, ref, money(line.Amount)))
            keep = set()
            for ext, invoice_ref, amount in rows:
                keep.add(ext)
                batch.add(
                    "payments",
                    {
                        "external_id": ext,
                        "client_id": qbo_client_ref(ctx, client_links, customer),
                        "invoice_id": invoice_ref,
                        "paid_on": paid_on,
                        "amount": amount or Decimal("0.00"),
                    },
                )
            stale = sorted(existing.get(rec.Id, set()) - keep)
            if stale:
                batch.deletes.setdefault("payments", []).extend(stale)
        return batch

    def owned_ids(self, ctx: SyncContext) -> set[str]:
        return {
            i.split(":")[0] for i in live_source_ids(ctx.engine, ctx.tenant_id, "payments", QBO)
        }

    def deleted_rows(self, ctx: SyncContext, entity_ids: list[str]) -> dict[str, list[RowName]]:
        doomed = set(entity_ids)
        payments = live_source_ids(ctx.engine, ctx.tenant_id, "payments", QBO)
        return {"payments": list(sorted(p for p in payments if p.split(":")[0] in doomed))}


class _LicenceCostStream(QuickBooksStream):
    """Vendor bills / purchases: item lines billable to a customer for a licence item become
    ``licenses`` rows (seats = quantity, unit cost = unit price, resale price = the item's
    price, term = the service period written on the line)."""

    schema = QBExpense
    primary_key = ("Id",)
    cursor_field = "MetaData.LastUpdatedTime"
    tables = ("licenses",)

    def map_records(self, ctx: SyncContext, records: list[Any]) -> Batch:
        batch = Batch()
        client_links = load_links(ctx.engine, ctx.tenant_id, CLIENT)
        items: dict[str, QBItem] = ctx.cache.get("quickbooks.items", {})
        existing = defaultdict(set)
        for ext in live_source_ids(ctx.engine, ctx.tenant_id, "licenses", QBO):
            if ext.startswith(self.id_prefix):
                existing[ext[len(self.id_prefix) :].split("-")[0]].add(ext)
        customers = {
            _ref((line.ItemBasedExpenseLineDetail or {}).get("CustomerRef")) or ""
            for rec in records
            for line in rec.Line or []
        }
        prices = latest_line_prices(
            ctx.engine,
            ctx.tenant_id,
            [qbo_client_id(ctx, client_links, c) for c in customers if c],
            "license",
        )
        for rec in records:
            keep = set()
            for n, line in enumerate(rec.Line or [], start=1):
                detail = line.ItemBasedExpenseLineDetail
                if line.DetailType != "ItemBasedExpenseLineDetail" or not detail:
                    continue
                customer = _ref(detail.get("CustomerRef"))
                item = items.get(_ref(detail.get("ItemRef")) or "")
                if not customer or _item_kind(item) != "license":
                    continue
                ext = f"{self.id_prefix}{rec.Id}-{line.Id or n}"
                keep.add(ext)
                start, end = service_period(line.Description)
                unit_cost = money(detail.get("UnitPrice")) or Decimal("0.00")
                sku = ((item.Sku or item.Name) if item else None) or "LICENSE"
                # resale price: what the client was last invoiced per seat, else the item's price
                price = prices.get((qbo_client_id(ctx, client_links, customer), sku))
                if price is None and item is not None and item.UnitPrice is not None:
                    price = money(item.UnitPrice)
                batch.add(
                    "licenses",
                    {
                        "external_id": ext,
                        "client_id": qbo_client_ref(ctx, client_links, customer),
                        "product": ((item.Name if item else None) or "Licence")[:120],
                        "sku": sku,
                        "seats_in_use": int(Decimal(str(detail.get("Qty") or 0))),
                        "unit_cost": unit_cost,
                        "unit_price": price if price is not None else unit_cost,
                        "starts_on": start or parse_date(rec.TxnDate),
                        "ends_on": end,
                    },
                )
            stale = existing.get(rec.Id, set()) - keep
            if stale:
                batch.deletes.setdefault("licenses", []).extend(sorted(stale))
        return batch

    def owned_ids(self, ctx: SyncContext) -> set[str]:
        ids = live_source_ids(ctx.engine, ctx.tenant_id, "licenses", QBO)
        return {i[len(self.id_prefix) :].split("-")[0] for i in ids if i.startswith(self.id_prefix)}

    def _rows_of(self, ctx: SyncContext, entity_ids: list[str]) -> list[str]:
        doomed = set(entity_ids)
        return sorted(
            i
            for i in live_source_ids(ctx.engine, ctx.tenant_id, "licenses", QBO)
            if i.startswith(self.id_prefix) and i[len(self.id_prefix) :].split("-")[0] in doomed
        )

    def deleted_rows(self, ctx: SyncContext, entity_ids: list[str]) -> dict[str, list[RowName]]:
        return {"licenses": list(self._rows_of(ctx, entity_ids))}


class BillsStream(_LicenceCostStream):
    name = "bills"
    entity = "Bill"
    id_prefix = "bill-"


class PurchasesStream(_LicenceCostStream):
    name = "purchases"
    entity = "Purchase"
    id_prefix = "purchase-"


STREAMS: tuple[type[QuickBooksStream], ...] = (
    ItemsStream,
    CustomersStream,
    InvoicesStream,
    PaymentsStream,
    BillsStream,
    PurchasesStream,
)
