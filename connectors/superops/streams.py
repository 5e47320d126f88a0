"""SuperOps streams: vendor record schemas, paging/sync modes, and mappers to canonical rows.

Sync modes
- ``full``: every page, sorted by the primary key; after a complete, stable pass, rows this
  source loaded earlier that SuperOps no longer lists are marked deleted.
- ``cursor`` (tickets, by ``updatedTime``) and ``window`` (worklogs by ``billDateTime``,
  invoices by ``invoiceDate``, for types without an updated time): ``<attr> after
  (bookmark − lookback)``, paged newest first (so records updated during the pass move onto
  pages already read and are caught next run, never skipped). The bookmark (the newest value
  seen) advances only when the pass completes. Every ``full_every_days`` a full pass runs
  instead, which also detects deletions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from mspilot.connectors.base import Batch, Skipped, Stream, SyncContext, VendorRecord
from mspilot.connectors.errors import StreamForbidden
from mspilot.connectors.superops.conventions import (
    BASIS_KEY,
    ESCALATION,
    INVOICE_STATUS_BACK,
    KIND_BY_CATEGORY,
    PRIORITY_BY_NAME,
    STATUS_BY_STAGE,
    canonical_status,
)
from mspilot.connectors.util import (
    format_superops_time,
    money,
    parse_date,
    parse_time,
    service_period,
)
from mspilot.core.clock import add_months
from mspilot.core.ids import make_id
from mspilot.db.entity_map import column_by_id, ids_where, labor_lines, live_source_ids, rows_by_id
from mspilot.db.records import CanonicalId, RowName

if TYPE_CHECKING:
    from mspilot.connectors.superops.source import SuperOpsSource

JSON = dict[str, Any]
LIST_INFO = "listInfo { page pageSize hasMore totalCount }"
SOURCE = "superops"


# ---- vendor record schemas (names as on the wire) --------------------------------------------
class SOServiceCategory(VendorRecord):
    categoryId: str | None = None
    name: str | None = None


class SOServiceItem(VendorRecord):
    itemId: str
    name: str
    description: str | None = None
    quantityType: str
    category: SOServiceCategory | None = None
    unitPrice: str | None = None
    quantity: str | None = None


class SOSite(VendorRecord):
    id: str
    name: str
    timezoneCode: str | None = None
    client: JSON | None = None
    hq: bool | None = None
    city: str | None = None
    countryCode: str | None = None


class SOTechnician(VendorRecord):
    userId: str
    firstName: str | None = None
    lastName: str | None = None
    name: str
    email: str | None = None
    designation: JSON | None = None
    role: JSON | None = None
    team: JSON | None = None


class SOClient(VendorRecord):
    accountId: str
    name: str
    stage: str
    status: str | None = None
    emailDomains: list[str | None] | None = None
    accountManager: JSON | None = None
    hqSite: JSON | None = None
    customFields: JSON | None = None


class SOPriceDetail(VendorRecord):
    value: str | None = None
    afterHoursValue: str | None = None


class SOPricing(VendorRecord):
    model: str | None = None
    details: list[SOPriceDetail] = Field(default_factory=list)


class SOQuantityChange(VendorRecord):
    changeId: str | None = None
    effectiveDate: str | None = None
    endDate: str | None = None
    quantity: str | None = None
    quantityChangeOperation: str


class SOBillableContract(VendorRecord):
    chargeItem: JSON | None = None
    quantityCalculationType: str | None = None
    provisionRule: JSON | None = None
    discountRate: str | None = None
    sellingPrice: SOPricing | None = None
    changes: list[SOQuantityChange] | None = None


class SOContractDetail(VendorRecord):
    contractId: str
    name: str | None = None
    description: str | None = None
    contractType: str
    billableContract: SOBillableContract | None = None


class SOClientContract(VendorRecord):
    contractId: str
    client: JSON
    startDate: str
    endDate: str | None = None
    contractStatus: str
    contract: SOContractDetail


class SOTicket(VendorRecord):
    ticketId: str
    displayId: str
    subject: str
    status: str | None = None
    priority: str | None = None
    category: str | None = None
    client: JSON | None = None
    technician: JSON | None = None
    createdTime: str | None = None
    updatedTime: str | None = None
    resolutionTime: str | None = None
    firstResponseViolated: bool | None = None
    resolutionViolated: bool | None = None
    customFields: JSON | None = None


class SOWorklog(VendorRecord):
    itemId: str
    status: str
    serviceItem: JSON
    billable: bool
    afterHours: bool
    qty: str
    unitPrice: str | None = None
    billDateTime: str
    technician: JSON
    notes: str | None = None
    workItem: JSON


class SOInvoiceItem(VendorRecord):
    itemId: str
    billedDate: str
    details: str | None = None
    quantity: str
    unitPrice: str
    discountRate: str | None = None
    amount: str | None = None
    serviceItem: JSON | None = None


class SOInvoice(VendorRecord):
    invoiceId: str
    displayId: str
    client: JSON | None = None
    invoiceDate: str
    dueDate: str | None = None
    statusEnum: str | None = None
    totalAmount: str | None = None
    notes: str | None = None
    items: list[SOInvoiceItem] | None = None


class SOAsset(VendorRecord):
    assetId: str
    name: str
    assetClass: JSON | None = None
    client: JSON | None = None
    status: str | None = None
    platformCategory: str | None = None
    lastCommunicatedTime: str | None = None


# ---- helpers ----------------------------------------------------------------------------------
def _ref(value: JSON | None, key: str) -> str | None:
    if not isinstance(value, Mapping):
        return None
    ref = value.get(key)
    return str(ref) if ref not in (None, "") else None


def _custom(record: SOClient | SOTicket, key: str | None) -> Any:
    if not key or not record.customFields:
        return None
    value = record.customFields.get(key)
    return None if value in ("", None) else value


def _int(value: Any) -> int | None:
    if value is None:
        return None
    return int(Decimal(str(value)))


def _full_term(starts: dt.date | None, ends: dt.date) -> bool:
    """SuperOps has one INACTIVE status; a contract that ended exactly after a whole number of
    years ran its term (expired), any other end date means it was cancelled."""
    if starts is None:
        return False
    return any(add_months(starts, 12 * k) - dt.timedelta(days=1) == ends for k in range(1, 11))


def _escalation(description: str | None) -> Decimal | None:
    match = ESCALATION.search(description or "")
    return money(match.group(1)) if match else None


def _newest(newest: str | None, value: str | None) -> str | None:
    """The later of two wire times (a value that is not a time is ignored)."""
    try:
        when = parse_time(value)
    except ValueError:
        return newest
    if when is None:
        return newest
    return value if newest is None or when > parse_time(newest) else newest  # type: ignore[operator]


def _iso(value: str | None) -> str | None:
    when = parse_time(value)
    return when.isoformat() if when else None


# ---- the stream base --------------------------------------------------------------------------
class _Unstable(Exception):
    """A partition's total changed while it was read: skip deletion detection this run."""


class SuperOpsStream(Stream):
    root: ClassVar[str]
    list_field: ClassVar[str]
    selection: ClassVar[str]
    input_type: ClassVar[str] = "ListInfoInput!"
    wrapped: ClassVar[bool] = False  # input is {listInfo: ..., ...}
    mode: ClassVar[str] = "full"  # full | cursor | window
    sort_attr: ClassVar[str] = ""
    lookback: ClassVar[dt.timedelta] = dt.timedelta(0)
    full_every: ClassVar[dt.timedelta | None] = None
    detect_deletes: ClassVar[bool] = True

    def __init__(self, source: SuperOpsSource) -> None:
        self.src = source

    # paging
    def partitions(self) -> list[str]:
        return [""]

    def root_for(self, partition: str) -> str:
        return self.root

    def query_for(self, partition: str) -> str:
        root = self.root_for(partition)
        return (
            f"query {root}($input: {self.input_type}) {{ {root}(input: $input) "
            f"{{ {self.list_field} {{ {self.selection} }} {LIST_INFO} }} }}"
        )

    def variables(self, partition: str, list_info: JSON) -> JSON:
        return {"input": list_info}

    def fetch(
        self, partition: str, condition: JSON | None, sort: list[JSON]
    ) -> Iterator[tuple[list[JSON], JSON]]:
        query = self.query_for(partition)
        root = self.root_for(partition)

        def one(page: int, size: int) -> JSON:
            list_info: JSON = {"page": page, "pageSize": size, "sort": sort}
            if condition:
                list_info["condition"] = condition
            return self.src.client.execute(query, self.variables(partition, list_info), what=root)

        yield from self.src.paginator.pages(
            one, self.list_field, self.primary_key[0], sleep=self.src.retry.sleep
        )

    # mapping
    def map_records(self, ctx: SyncContext, records: list[Any], partition: str) -> Batch:
        return Batch()

    def cursor_of(self, record: Any) -> str | None:
        """The record's ``cursor_field`` (incremental streams), as the wire sent it."""
        if self.cursor_field is None:
            return None
        value = getattr(record, self.cursor_field, None)
        return None if value is None else str(value)

    # reading
    def read(self, ctx: SyncContext, state: dict[str, Any]) -> Iterator[Batch]:
        now = ctx.now()
        cursors: dict[str, str] = dict(state.get("cursor") or {})
        full_at = parse_time(state.get("full_at"))
        full = (
            self.mode == "full"
            or ctx.force_full
            or not cursors
            or (
                self.full_every is not None
                and (full_at is None or now - full_at >= self.full_every)
            )
        )
        seen: set[str] = set()
        stable = True
        for partition in self.partitions():
            try:
                yield from self._read_partition(ctx, partition, full, cursors, seen)
            except _Unstable:
                stable = False
            except StreamForbidden as exc:
                if len(self.partitions()) == 1:
                    raise
                # an optional partition (unmonitored assets, project worklogs) the token may
                # not read: skipped and recorded; rows of it are not taken as deleted
                ctx.skipped.append(Skipped(self.name, partition, str(exc)))
                stable = False
        new_state: dict[str, Any] = {"mode": "full" if full else "incremental"}
        if self.mode != "full":
            new_state["cursor"] = cursors
        new_state["full_at"] = now.isoformat() if full else state.get("full_at")
        final = Batch(state=new_state)
        if full and stable and self.detect_deletes and self.tables:
            table = self.tables[0]
            gone = live_source_ids(ctx.engine, ctx.tenant_id, table, SOURCE) - seen
            if gone:
                final.deletes[table] = list(sorted(gone))
        yield final

    def _read_partition(
        self,
        ctx: SyncContext,
        partition: str,
        full: bool,
        cursors: dict[str, str],
        seen: set[str],
    ) -> Iterator[Batch]:
        """One partition's pages; raises ``_Unstable`` at its end when its total moved."""
        condition = None
        if not full and partition in cursors:
            since = parse_time(cursors[partition])
            assert since is not None
            condition = {
                "attribute": self.sort_attr,
                "operator": "after",
                "value": format_superops_time(since - self.lookback),
            }
        if self.mode == "full":
            sort = [{"attribute": self.primary_key[0], "order": "ASC"}]
        else:
            sort = [{"attribute": self.sort_attr, "order": "DESC"}]
        totals: list[int] = []
        newest = cursors.get(partition)
        for items, info in self.fetch(partition, condition, sort):
            records, refused = self.parse_page(items)
            batch = self.map_safely(records, lambda rs: self.map_records(ctx, rs, partition))
            batch.issues.extend(refused)
            batch.records = len(items)
            batch.total = info.get("totalCount")
            if isinstance(info.get("totalCount"), int):
                totals.append(info["totalCount"])
            seen.update(self.key_of(item) for item in items)
            for record in records:
                newest = _newest(newest, self.cursor_of(record))
            yield batch
        if newest is not None and self.mode != "full":
            cursors[partition] = _iso(newest) or newest
        if totals and (min(totals) != max(totals)):
            raise _Unstable


# ---- reference streams ------------------------------------------------------------------------
class ServiceItemsStream(SuperOpsStream):
    name = "service_items"
    primary_key = ("itemId",)
    schema = SOServiceItem
    root = "getServiceItemList"
    list_field = "items"
    selection = (
        "itemId name description quantityType category { categoryId name } unitPrice quantity"
    )

    def map_records(self, ctx: SyncContext, records: list[Any], partition: str) -> Batch:
        cache = ctx.cache.setdefault("superops.service_items", {})
        for item in records:
            cache[item.itemId] = item
        return Batch()


class SitesStream(SuperOpsStream):
    """Client sites: read (schema-checked) for reference; the canonical model has no sites."""

    name = "client_sites"
    primary_key = ("id",)
    schema = SOSite
    root = "getClientSiteList"
    list_field = "sites"
    input_type = "GetClientSiteListInput!"
    wrapped = True
    selection = "id name timezoneCode city countryCode client hq"

    def variables(self, partition: str, list_info: JSON) -> JSON:
        return {"input": {"listInfo": list_info}}

    def map_records(self, ctx: SyncContext, records: list[Any], partition: str) -> Batch:
        cache = ctx.cache.setdefault("superops.sites", {})
        for site in records:
            cache[site.id] = site
        return Batch()


# ---- canonical streams ------------------------------------------------------------------------
class TechniciansStream(SuperOpsStream):
    name = "technicians"
    primary_key = ("userId",)
    schema = SOTechnician
    tables = ("technicians",)
    root = "getTechnicianList"
    list_field = "userList"
    selection = "userId firstName lastName name email designation role team"

    def map_records(self, ctx: SyncContext, records: list[Any], partition: str) -> Batch:
        batch = Batch()
        ids = [make_id(ctx.tenant_id, SOURCE, r.userId) for r in records]
        stored = column_by_id(ctx.engine, ctx.tenant_id, "technicians", "hourly_cost", ids)
        costs = self.src.hourly_costs
        for rec, row_id in zip(records, ids, strict=True):
            configured = costs.get((rec.email or "").lower()) or costs.get(rec.name.lower())
            cost = configured if configured is not None else stored.get(row_id)
            role = _ref(rec.designation, "name") or _ref(rec.role, "name") or "Technician"
            batch.add(
                "technicians",
                {
                    "external_id": rec.userId,
                    "name": rec.name,
                    "email": rec.email,
                    "role": role[:60],
                    "hourly_cost": cost if cost is not None else self.src.default_hourly_cost,
                    "active": True,
                },
            )
        return batch


class ClientsStream(SuperOpsStream):
    name = "clients"
    required = True
    primary_key = ("accountId",)
    schema = SOClient
    tables = ("clients",)
    root = "getClientList"
    list_field = "clients"
    selection = "accountId name stage status emailDomains accountManager hqSite customFields"

    def map_records(self, ctx: SyncContext, records: list[Any], partition: str) -> Batch:
        batch = Batch()
        fields = self.src.conventions.client_fields
        ids = [make_id(ctx.tenant_id, SOURCE, r.accountId) for r in records]
        qbo = column_by_id(ctx.engine, ctx.tenant_id, "clients", "qbo_customer_id", ids)
        for rec, row_id in zip(records, ids, strict=True):
            domains = [d.strip().lower() for d in rec.emailDomains or [] if d and d.strip()]
            seats = _int(_custom(rec, fields.get("seats")))
            batch.add(
                "clients",
                {
                    "external_id": rec.accountId,
                    "name": rec.name,
                    "industry": str(_custom(rec, fields.get("industry")) or "Other")[:60],
                    "seats": seats if seats is not None else 0,
                    "status": STATUS_BY_STAGE.get(rec.stage.strip().lower(), "active"),
                    "onboarded_on": parse_date(_custom(rec, fields.get("onboarded_on"))),
                    "churned_on": parse_date(_custom(rec, fields.get("churned_on"))),
                    "email_domain": domains[0] if domains else None,
                    "superops_account_id": rec.accountId,
                    "qbo_customer_id": qbo.get(row_id),
                },
            )
        return batch


class ContractsStream(SuperOpsStream):
    name = "client_contracts"
    primary_key = ("contractId",)
    schema = SOClientContract
    tables = ("contracts",)
    root = "getClientContractList"
    list_field = "clientContracts"
    input_type = "ListInfoInput"
    selection = (
        "contractId client startDate endDate contractStatus contract { contractId name "
        "description contractType billableContract { chargeItem quantityCalculationType "
        "provisionRule discountRate sellingPrice { model details { value afterHoursValue } } "
        "changes { changeId effectiveDate endDate quantity quantityChangeOperation } } }"
    )

    def _quantity(self, changes: list[SOQuantityChange], today: dt.date) -> Decimal | None:
        quantity: Decimal | None = None
        for change in sorted(changes, key=lambda c: c.effectiveDate or ""):
            start = parse_date(change.effectiveDate)
            if start is not None and start > today and quantity is not None:
                continue
            amount = money(change.quantity) or Decimal(0)
            op = change.quantityChangeOperation
            if op == "BASELINE" or quantity is None:
                quantity = amount
            elif op == "INCREASE":
                quantity += amount
            elif op == "DECREASE":
                quantity -= amount
        return quantity

    def map_records(self, ctx: SyncContext, records: list[Any], partition: str) -> Batch:
        batch = Batch()
        today = ctx.now().date()
        items_by_id: dict[str, SOServiceItem] = ctx.cache.get("superops.service_items", {})
        charges = ctx.cache.setdefault("superops.contract_charges", defaultdict(list))
        for rec in records:
            bc = rec.contract.billableContract or SOBillableContract()
            charge = bc.chargeItem or {}
            charge_item = items_by_id.get(str(charge.get("itemId")))
            basis = str((bc.provisionRule or {}).get(BASIS_KEY) or "").upper()
            qtype = str(
                charge.get("quantityType") or (charge_item.quantityType if charge_item else "")
            )
            if rec.contract.contractType == "TIME_AND_MATERIAL" or basis == "HOURS":
                kind = "time_and_materials"
            elif basis == "USERS":
                kind = "per_user"
            elif basis == "DEVICES":
                kind = "per_device"
            elif basis == "BLOCK" or qtype == "BLOCK_HOURS":
                kind = "block_hours"
            elif basis == "FLAT" or bc.quantityCalculationType == "FIXED":
                kind = "flat"
            else:
                kind = "per_user"
            detail = (
                bc.sellingPrice.details[0]
                if bc.sellingPrice and bc.sellingPrice.details
                else SOPriceDetail()
            )
            quantity = self._quantity(bc.changes or [], today)
            row: dict[str, Any] = {
                "external_id": rec.contractId,
                "client_id": _ref(rec.client, "accountId"),
                "name": (rec.contract.name or "")[:200] or None,
                "kind": kind,
                "starts_on": parse_date(rec.startDate),
                "ends_on": parse_date(rec.endDate),
                "discount_pct": money(bc.discountRate),
                "annual_escalation_pct": _escalation(rec.contract.description),
            }
            if kind == "time_and_materials":
                row["hourly_rate"] = money(detail.value)
                row["unit_price"] = row["hourly_rate"]
            else:
                row["unit_price"] = money(detail.value)
                row["hourly_rate"] = money(detail.afterHoursValue)
                row["quantity"] = quantity
                if row["unit_price"] is not None and quantity is not None:
                    discount = row["discount_pct"] or Decimal(0)
                    row["monthly_value"] = (
                        row["unit_price"] * quantity * (1 - discount / 100)
                    ).quantize(Decimal("0.01"))
                if kind == "block_hours" and charge_item is not None:
                    row["included_hours"] = money(charge_item.quantity)
            status = rec.contractStatus
            ends = row["ends_on"]
            if status == "ACTIVE":
                row["status"] = "active" if ends is None or ends >= today else "expired"
            elif status == "DRAFT":
                row["status"] = "draft"
            elif ends is not None and ends < today and _full_term(row["starts_on"], ends):
                row["status"] = "expired"  # ran its whole (yearly) term
            else:
                row["status"] = "cancelled"  # ended before its term was up
            batch.add("contracts", row)
            client = _ref(rec.client, "accountId")
            if client and charge.get("name"):
                charges[client].append(
                    (rec.contractId, str(charge.get("name")), row["starts_on"], row["ends_on"])
                )
        return batch


class TicketsStream(SuperOpsStream):
    name = "tickets"
    primary_key = ("ticketId",)
    cursor_field = "updatedTime"
    schema = SOTicket
    tables = ("tickets",)
    root = "getTicketList"
    list_field = "tickets"
    mode = "cursor"
    sort_attr = "updatedTime"
    lookback = dt.timedelta(minutes=2)
    full_every = dt.timedelta(days=7)
    selection = (
        "ticketId displayId subject status priority category client technician createdTime "
        "updatedTime resolutionTime firstResponseViolated resolutionViolated customFields"
    )

    def map_records(self, ctx: SyncContext, records: list[Any], partition: str) -> Batch:
        batch = Batch()
        csat_key = self.src.conventions.ticket_fields.get("csat")
        resolution_key = self.src.conventions.ticket_fields.get("resolution")
        for rec in records:
            csat = _int(_custom(rec, csat_key))
            batch.add(
                "tickets",
                {
                    "external_id": rec.ticketId,
                    "client_id": _ref(rec.client, "accountId"),
                    "technician_id": _ref(rec.technician, "userId"),
                    "opened_at": parse_time(rec.createdTime),
                    "resolved_at": parse_time(rec.resolutionTime),
                    "priority": PRIORITY_BY_NAME.get((rec.priority or "").strip().lower(), "p3"),
                    "category": (rec.category or "Other")[:60],
                    "status": canonical_status(rec.status)[:20],
                    "sla_breached": bool(rec.resolutionViolated) or bool(rec.firstResponseViolated),
                    "csat": csat if csat is not None and 1 <= csat <= 5 else None,
                    "subject": rec.subject[:300],
                    "resolution": _custom(rec, resolution_key),
                },
            )
        return batch


class InvoicesStream(SuperOpsStream):
    name = "invoices"
    required = True
    primary_key = ("invoiceId",)
    cursor_field = "invoiceDate"
    schema = SOInvoice
    tables = ("invoices", "invoice_lines")
    root = "getInvoiceList"
    list_field = "invoices"
    mode = "window"
    sort_attr = "invoiceDate"
    lookback = dt.timedelta(days=120)
    full_every = dt.timedelta(days=7)
    selection = (
        "invoiceId displayId client invoiceDate dueDate statusEnum totalAmount notes "
        "items { itemId billedDate details quantity unitPrice discountRate amount serviceItem }"
    )

    def _kind(self, ctx: SyncContext, service: JSON | None) -> str:
        items: dict[str, SOServiceItem] = ctx.cache.get("superops.service_items", {})
        item = items.get(str((service or {}).get("itemId")))
        if item is not None and item.category and item.category.name:
            kind = KIND_BY_CATEGORY.get(item.category.name.strip().lower())
            if kind:
                return kind
        qtype = (service or {}).get("quantityType") or (item.quantityType if item else None)
        return "labor" if qtype == "HOURS" else "other"

    def _contract(
        self, ctx: SyncContext, client: str | None, sku: str | None, day: dt.date | None
    ) -> str | None:
        if not client or not sku:
            return None
        charges = ctx.cache.get("superops.contract_charges", {}).get(client, [])
        covering = [
            (name == sku, start or dt.date.min, cid)
            for cid, name, start, end in charges
            if day is not None and (start is None or start <= day) and (end is None or day <= end)
        ]
        return max(covering)[2] if covering else None

    def map_records(self, ctx: SyncContext, records: list[Any], partition: str) -> Batch:
        batch = Batch()
        ids = [make_id(ctx.tenant_id, SOURCE, r.invoiceId) for r in records]
        stored = rows_by_id(ctx.engine, ctx.tenant_id, "invoices", ids)
        line_ids = ids_where(ctx.engine, ctx.tenant_id, "invoice_lines", invoice_id=ids)
        existing_lines = column_by_id(
            ctx.engine, ctx.tenant_id, "invoice_lines", "invoice_id", line_ids
        )
        for rec, row_id in zip(records, ids, strict=True):
            client = _ref(rec.client, "accountId")
            total = money(rec.totalAmount) or Decimal(0)
            status = INVOICE_STATUS_BACK.get(rec.statusEnum or "", "open")
            start, end = service_period(rec.notes)
            row: dict[str, Any] = {
                "external_id": rec.invoiceId,
                "client_id": client,
                "number": rec.displayId[:40],
                "issued_on": parse_date(rec.invoiceDate),
                "due_on": parse_date(rec.dueDate),
                "period_start": start,
                "period_end": end,
                "total": total,
                "balance": Decimal("0.00") if status == "paid" else total,
                "status": status,
                "superops_invoice_id": rec.invoiceId,
            }
            old = stored.get(row_id)
            if old is not None and old.get("qbo_invoice_id"):
                # QuickBooks is authoritative for balance and status of a synced invoice
                for column in ("balance", "status", "qbo_invoice_id", "deleted_at"):
                    row[column] = old[column]
            batch.add("invoices", row)
            new_lines = set()
            for item in rec.items or []:
                sku = str((item.serviceItem or {}).get("name") or "") or None
                kind = self._kind(ctx, item.serviceItem)
                billed = parse_date(item.billedDate)
                quantity = money(item.quantity) or Decimal(0)
                unit_price = money(item.unitPrice) or Decimal(0)
                amount = money(item.amount)
                batch.add(
                    "invoice_lines",
                    {
                        "external_id": item.itemId,
                        "invoice_id": rec.invoiceId,
                        "contract_id": self._contract(ctx, client, sku, billed or row["issued_on"])
                        if kind in ("recurring", "labor")
                        else None,
                        "kind": kind,
                        "sku": sku[:80] if sku else None,
                        "description": (item.details or "")[:300] or None,
                        "quantity": quantity,
                        "unit_price": unit_price,
                        "discount_pct": money(item.discountRate),
                        "amount": amount
                        if amount is not None
                        else (quantity * unit_price).quantize(Decimal("0.01")),
                    },
                )
                new_lines.add(make_id(ctx.tenant_id, SOURCE, item.itemId))
            gone = [
                lid for lid, inv in existing_lines.items() if inv == row_id and lid not in new_lines
            ]
            if gone:
                batch.deletes.setdefault("invoice_lines", []).extend(CanonicalId(g) for g in gone)
        return batch


class WorklogsStream(SuperOpsStream):
    name = "worklog_entries"
    primary_key = ("itemId",)
    cursor_field = "billDateTime"
    schema = SOWorklog
    tables = ("time_entries",)
    root = "getWorklogEntries"
    list_field = "entries"
    input_type = "GetWorklogEntriesInput!"
    wrapped = True
    mode = "window"
    sort_attr = "billDateTime"
    lookback = dt.timedelta(days=45)
    full_every = dt.timedelta(days=7)
    selection = (
        "itemId status serviceItem billable afterHours qty unitPrice billDateTime technician "
        "notes workItem"
    )

    def partitions(self) -> list[str]:
        return ["TICKET", "PROJECT"]

    def variables(self, partition: str, list_info: JSON) -> JSON:
        return {"input": {"module": partition, "listInfo": list_info}}

    def map_records(self, ctx: SyncContext, records: list[Any], partition: str) -> Batch:
        batch = Batch()
        ticket_ids = {
            make_id(ctx.tenant_id, SOURCE, str(r.workItem.get("workId")))
            for r in records
            if str(r.workItem.get("module", partition)).upper() == "TICKET"
        }
        ticket_client = column_by_id(ctx.engine, ctx.tenant_id, "tickets", "client_id", ticket_ids)
        rows = []
        for rec in records:
            module = str(rec.workItem.get("module") or partition).upper()
            ticket = str(rec.workItem.get("workId")) if module == "TICKET" else None
            client: RowName | None
            if ticket is not None:
                canonical = ticket_client.get(make_id(ctx.tenant_id, SOURCE, ticket))
                client = CanonicalId(canonical) if canonical else None
            else:
                client = _ref(rec.workItem.get("client"), "accountId")
            when = parse_time(rec.billDateTime)
            rows.append(
                (
                    rec,
                    {
                        "external_id": rec.itemId,
                        "client_id": client,
                        "ticket_id": ticket,
                        "technician_id": _ref(rec.technician, "userId"),
                        "work_date": when.date() if when else None,
                        "hours": money(rec.qty),
                        "billable": rec.billable,
                        "invoice_line_id": None,
                        "notes": rec.notes,
                    },
                )
            )
        self._place_billed(ctx, rows)
        for _rec, row in rows:
            batch.add("time_entries", row)
        return batch

    def _place_billed(self, ctx: SyncContext, rows: list[tuple[Any, dict[str, Any]]]) -> None:
        """Worklogs say how they were billed but not on which line. ``INVOICED`` entries go on
        their client's labour line whose invoice period covers the work date;
        ``UNDER_CONTRACT`` billable entries (prepaid blocks) on the recurring line of that
        period. The same service item is preferred when several lines qualify."""
        wanted = {"INVOICED": "labor", "UNDER_CONTRACT": "recurring"}
        billed = [
            (rec, row)
            for rec, row in rows
            if row["client_id"]
            and rec.status in wanted
            and (rec.status == "INVOICED" or rec.billable)
        ]
        if not billed:
            return

        def canonical(client: RowName) -> str:
            if isinstance(client, CanonicalId):
                return client.id
            return make_id(ctx.tenant_id, SOURCE, client)

        lines_by_client = defaultdict(list)
        clients = {canonical(r["client_id"]) for _x, r in billed}
        for line in labor_lines(ctx.engine, ctx.tenant_id, clients, ("labor", "recurring")):
            lines_by_client[line.client_id].append(line)
        for rec, row in billed:
            day = row["work_date"]
            kind = wanted[rec.status]
            candidates = [
                ln
                for ln in lines_by_client.get(canonical(row["client_id"]), [])
                if ln.kind == kind and day is not None
            ]
            covering = [
                ln
                for ln in candidates
                if ln.period_start and ln.period_end and ln.period_start <= day <= ln.period_end
            ]
            if not covering:  # invoices without a service period: the next one issued
                covering = [
                    ln for ln in candidates if ln.period_start is None and ln.issued_on >= day
                ][:1]
            sku = str(rec.serviceItem.get("name") or "")
            covering.sort(key=lambda ln: (ln.sku != sku, ln.issued_on, ln.line_id))
            if covering:
                row["invoice_line_id"] = CanonicalId(covering[0].line_id)


class AssetsStream(SuperOpsStream):
    name = "assets"
    primary_key = ("assetId",)
    schema = SOAsset
    tables = ("assets",)
    root = "getAssetList"
    list_field = "assets"
    selection = "assetId name assetClass client status platformCategory lastCommunicatedTime"

    def partitions(self) -> list[str]:
        return ["monitored", "unmonitored"]

    def root_for(self, partition: str) -> str:
        return "getAssetList" if partition == "monitored" else "getUnMonitoredAssetList"

    def map_records(self, ctx: SyncContext, records: list[Any], partition: str) -> Batch:
        batch = Batch()
        for rec in records:
            kind = rec.platformCategory or _ref(rec.assetClass, "name") or "other"
            batch.add(
                "assets",
                {
                    "external_id": rec.assetId,
                    "client_id": _ref(rec.client, "accountId"),
                    "name": rec.name[:200],
                    "kind": kind.strip().lower()[:40],
                    "status": (rec.status or "unknown").strip().lower()[:20],
                    "managed": partition == "monitored",
                    "last_seen_at": parse_time(rec.lastCommunicatedTime),
                },
            )
        return batch


STREAMS: tuple[type[SuperOpsStream], ...] = (
    ServiceItemsStream,
    SitesStream,
    TechniciansStream,
    ClientsStream,
    ContractsStream,
    TicketsStream,
    InvoicesStream,
    WorklogsStream,
    AssetsStream,
)
