"""Split a canonical MSP dataset into what lives in SuperOps and what lives in QuickBooks, in
each vendor's real shapes (external-apis.md sections 1.4 and 2.4).

- SuperOps (the PSA): clients (+ HQ sites), technicians, service items, client contracts,
  tickets, worklog entries, invoices with items, assets.
- QuickBooks (the books): customers, items, every invoice that is not a draft (the PSA's are
  synced there under the same number; hardware/project-only invoices live only here), payments,
  and licence costs as vendor bills / credit-card purchases billable to the customer.

Vendor ids are derived deterministically from the canonical external ids; ``IdMap`` maps them
back for tests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mspilot.connectors.quickbooks.conventions import (
    INCOME_ACCOUNT_BY_KIND,
    LICENSE_EXPENSE_ACCOUNT,
)
from mspilot.connectors.superops.conventions import (
    BASIS_KEY,
    CATEGORY_BY_KIND,
    INVOICE_STATUS,
    PRIORITY_NAMES,
    STAGE_BY_STATUS,
    SuperOpsConventions,
    display_status,
    escalation_text,
)
from mspilot.connectors.superops.fieldmap import custom_field_definitions
from mspilot.connectors.util import format_service_period, format_superops_time

QBO_TZ = dt.timezone(dt.timedelta(hours=-7))
#: invoices whose lines are all of these kinds are billed from QuickBooks only
QBO_ONLY_KINDS = frozenset({"hardware", "project"})


def superops_id(kind: str, external_id: str) -> str:
    """A SuperOps-like 19-digit id, stable for (kind, external id)."""
    digest = hashlib.blake2b(f"{kind}:{external_id}".encode(), digest_size=8).digest()
    return str(7_000_000_000_000_000_000 + int.from_bytes(digest, "big") % 10**18)


def _s(value: Decimal | int | float | None) -> str | None:
    return None if value is None else f"{Decimal(str(value)):.2f}"


def _n(value: Decimal | int | float | None) -> float | None:
    return None if value is None else float(value)


def _d(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def qbo_time(value: dt.datetime | dt.date) -> str:
    """QuickBooks' timestamp style: local time with an offset."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(9, 0), tzinfo=dt.UTC)
    return value.astimezone(QBO_TZ).isoformat(timespec="seconds")


@dataclass
class IdMap:
    """(vendor, canonical table) -> canonical external id -> vendor id."""

    ids: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def put(self, vendor: str, table: str, external_id: str, vendor_id: str) -> str:
        self.ids.setdefault((vendor, table), {})[external_id] = vendor_id
        return vendor_id

    def get(self, vendor: str, table: str, external_id: str) -> str | None:
        return self.ids.get((vendor, table), {}).get(external_id)

    def of(self, vendor: str, table: str) -> dict[str, str]:
        return dict(self.ids.get((vendor, table), {}))


@dataclass
class SuperOpsData:
    clients: list[dict[str, Any]] = field(default_factory=list)
    sites: list[dict[str, Any]] = field(default_factory=list)
    technicians: list[dict[str, Any]] = field(default_factory=list)
    service_items: list[dict[str, Any]] = field(default_factory=list)
    contracts: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    #: worklog entries by module (TICKET / PROJECT)
    worklogs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)
    unmonitored_assets: list[dict[str, Any]] = field(default_factory=list)
    #: custom-field definitions (``getClientCustomFieldList`` / ``getTicketCustomFieldList``)
    client_custom_fields: list[dict[str, Any]] = field(default_factory=list)
    ticket_custom_fields: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class QuickBooksData:
    #: entity name -> Id -> object
    entities: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


@dataclass
class VendorData:
    superops: SuperOpsData
    quickbooks: QuickBooksData
    ids: IdMap
    #: canonical invoice external ids that live in SuperOps / in QuickBooks
    superops_invoices: set[str] = field(default_factory=set)
    qbo_invoices: set[str] = field(default_factory=set)


def _kind_of_skus(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for line in tables.get("invoice_lines", []):
        if line.get("sku"):
            kinds.setdefault(line["sku"], line["kind"])
    return kinds


class _Split:
    """Both vendors' views of one canonical dataset, built step by step by ``split_dataset``:
    the shared state (id map, both vendors' data, lookups of the canonical rows) lives here and
    each step is a named method."""

    def __init__(
        self,
        tables: Mapping[str, Sequence[Mapping[str, Any]]],
        conventions: SuperOpsConventions | None,
        vary_customers: bool,
    ) -> None:
        self.tables = tables
        self.vary_customers = vary_customers
        self.conv = conventions or SuperOpsConventions()
        self.ids = IdMap()
        layout = custom_field_definitions(self.conv)
        self.so = SuperOpsData(
            client_custom_fields=layout["client"], ticket_custom_fields=layout["ticket"]
        )
        self.qb = QuickBooksData(
            {k: {} for k in ("Customer", "Item", "Invoice", "Payment", "Bill", "Purchase")}
        )
        self.clients = {r["external_id"]: r for r in self.tables.get("clients", [])}
        self.techs = {r["external_id"]: r for r in self.tables.get("technicians", [])}
        self.tickets = {r["external_id"]: r for r in self.tables.get("tickets", [])}
        self.lines_by_invoice: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for line in self.tables.get("invoice_lines", []):
            self.lines_by_invoice[line["invoice_id"]].append(line)
        self.line_by_id = {
            line["external_id"]: line for line in self.tables.get("invoice_lines", [])
        }
        self.sku_kinds = _kind_of_skus(self.tables)

        self.service_items: dict[str, dict[str, Any]] = {}
        self.block_items: dict[tuple[str, Any], dict[str, Any]] = {}
        self.extra_items: list[dict[str, Any]] = []
        self.vd = VendorData(self.so, self.qb, self.ids)

    def client_ref(self, cid: str) -> dict[str, str]:
        return {
            "accountId": self.ids.get("superops", "clients", cid) or "",
            "name": self.clients[cid]["name"],
        }

    def tech_ref(self, kid: str | None) -> dict[str, str] | None:
        if kid is None:
            return None
        return {
            "userId": self.ids.get("superops", "technicians", kid) or "",
            "name": self.techs[kid]["name"],
        }

    def service_item(self, sku: str, kind: str, quantity_type: str | None = None) -> dict[str, Any]:
        if sku not in self.service_items:
            qtype = quantity_type or ("HOURS" if kind == "labor" else "UNITS")
            self.service_items[sku] = {
                "itemId": superops_id("service_item", sku),
                "name": sku,
                "description": f"{CATEGORY_BY_KIND.get(kind, 'Other')}: {sku}",
                "quantityType": qtype,
                "category": {
                    "categoryId": superops_id("category", kind),
                    "name": CATEGORY_BY_KIND.get(kind, "Other"),
                },
                "useAsWorklogItem": qtype == "HOURS",
                "unitPrice": None,
            }
        return self.service_items[sku]

    def block_item(self, sku: str, hours: Any) -> dict[str, Any]:
        """Block-hour service items carry the hours in the block (one item per size)."""
        if sku not in self.service_items:
            self.service_item(sku, self.sku_kinds.get(sku, "recurring"), "BLOCK_HOURS")
        key = (sku, hours)
        if key not in self.block_items:
            if not self.block_items.get((sku, "first")):
                item = self.service_items[sku]
                self.block_items[(sku, "first")] = item
            else:
                item = dict(self.service_items[sku])
                item["itemId"] = superops_id("service_item", f"{sku}:{hours}")
                self.extra_items.append(item)
            item["quantity"] = _s(hours)
            item["quantityType"] = "BLOCK_HOURS"
            self.block_items[key] = item
        return self.block_items[key]

    def item_ref(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "itemId": item["itemId"],
            "name": item["name"],
            "quantityType": item["quantityType"],
        }

    def _superops_people(self) -> None:
        """SuperOps clients, their sites and technicians."""

        for kid, tech in self.techs.items():
            uid = self.ids.put("superops", "technicians", kid, superops_id("tech", kid))
            first, _, last = tech["name"].partition(" ")
            self.so.technicians.append(
                {
                    "userId": uid,
                    "firstName": first,
                    "lastName": last or None,
                    "name": tech["name"],
                    "email": tech.get("email") or f"{kid}@msp.invalid",
                    "contactNumber": None,
                    "designation": {
                        "designationId": superops_id("designation", tech.get("role") or ""),
                        "name": tech.get("role") or "Technician",
                    },
                    "team": None,
                    "role": {"roleId": "3", "name": "Technician"},
                    "groups": [],
                }
            )
        for cid, client in self.clients.items():
            acc = client.get("superops_account_id") or superops_id("client", cid)
            self.ids.put("superops", "clients", cid, acc)
            site_id = superops_id("site", cid)
            custom = {}
            for column, key in self.conv.client_fields.items():
                value = client.get(column)
                if value is not None:
                    custom[key] = value.isoformat() if isinstance(value, dt.date) else str(value)
            self.so.clients.append(
                {
                    "accountId": acc,
                    "name": client["name"],
                    "stage": STAGE_BY_STATUS[client["status"]],
                    "status": "Paid",
                    "emailDomains": [client["email_domain"]] if client.get("email_domain") else [],
                    "accountManager": self.tech_ref(next(iter(self.techs), None)),
                    "primaryContact": {
                        "userId": superops_id("contact", cid),
                        "name": "Office Manager",
                    },
                    "secondaryContact": None,
                    "hqSite": {"id": site_id, "name": "HQ"},
                    "technicianGroups": [],
                    "customFields": custom,
                }
            )
            self.so.sites.append(
                {
                    "id": site_id,
                    "name": "HQ",
                    "timezoneCode": "America/Chicago",
                    "working24x7": False,
                    "line1": "1 Main St",
                    "city": "Springfield",
                    "postalCode": "62701",
                    "countryCode": "US",
                    "stateCode": "IL",
                    "contactNumber": None,
                    "client": self.client_ref(cid),
                    "hq": True,
                }
            )

    def _superops_contracts(self) -> None:
        """SuperOps service items (one per SKU) and client contracts."""

        # contracts: the charge item is the SKU its recurring lines are billed under
        contract_sku: dict[str, str] = {}
        for line in self.tables.get("invoice_lines", []):
            if line.get("contract_id") and line.get("sku"):
                contract_sku.setdefault(line["contract_id"], line["sku"])
        for contract in self.tables.get("contracts", []):
            kid = contract["external_id"]
            contract_id = self.ids.put("superops", "contracts", kid, superops_id("contract", kid))
            kind = contract["kind"]
            sku = contract_sku.get(kid, f"CONTRACT-{kind.upper()}")
            if kind == "block_hours":
                charge = self.block_item(sku, contract.get("included_hours"))
            else:
                charge = self.service_item(sku, self.sku_kinds.get(sku, "recurring"))
            quantity = contract.get("quantity")
            if kind == "time_and_materials":
                details = [{"value": _s(contract.get("hourly_rate")), "afterHoursValue": None}]
            else:
                details = [
                    {
                        "value": _s(contract.get("unit_price")),
                        "afterHoursValue": _s(contract.get("hourly_rate")),
                    }
                ]
            status = {"active": "ACTIVE", "draft": "DRAFT"}.get(
                contract.get("status", "active"), "INACTIVE"
            )
            self.so.contracts.append(
                {
                    "contractId": contract_id,
                    "client": self.client_ref(contract["client_id"]),
                    "startDate": _d(contract["starts_on"]),
                    "endDate": _d(contract.get("ends_on")),
                    "contractStatus": status,
                    "contract": {
                        "contractId": contract_id,
                        "name": contract.get("name"),
                        "description": "; ".join(
                            part
                            for part in (
                                contract.get("name"),
                                escalation_text(contract["annual_escalation_pct"])
                                if contract.get("annual_escalation_pct") is not None
                                else None,
                            )
                            if part
                        )
                        or None,
                        "contractType": "TIME_AND_MATERIAL"
                        if kind == "time_and_materials"
                        else "SERVICE",
                        "billableContract": {
                            "contractId": contract_id,
                            "chargeItem": self.item_ref(charge),
                            "quantityCalculationType": "DYNAMIC"
                            if kind in ("per_user", "per_device")
                            else "FIXED",
                            "sellingPriceCalculationType": "FIXED",
                            "provisionRule": {
                                BASIS_KEY: {
                                    "per_user": "USERS",
                                    "per_device": "DEVICES",
                                    "block_hours": "BLOCK",
                                    "flat": "FLAT",
                                    "time_and_materials": "HOURS",
                                }[kind]
                            },
                            "sellingPriceOverridden": False,
                            "sellingPrice": {"model": "PER_UNIT", "details": details},
                            "discountRate": _s(contract.get("discount_pct")),
                            "frequencyType": "RECURRING",
                            "billableSiteType": "ALL",
                            "recurringContract": {
                                "contractId": contract_id,
                                "recurringMode": "ADVANCE",
                                "frequencyDurationUnit": "MONTH",
                                "frequencyInterval": 1,
                                "billingOffset": 0,
                                "nextBillDate": None,
                            },
                            "changes": []
                            if quantity is None
                            else [
                                {
                                    "changeId": superops_id("change", kid),
                                    "effectiveDate": _d(contract["starts_on"]),
                                    "endDate": _d(contract.get("ends_on")),
                                    "quantity": _s(quantity),
                                    "quantityChangeOperation": "BASELINE",
                                }
                            ],
                            "blockItemsInfo": [],
                        },
                    },
                }
            )

    def _superops_tickets(self) -> None:
        """SuperOps tickets."""
        hours_by_ticket: dict[str, Decimal] = defaultdict(Decimal)
        for entry in self.tables.get("time_entries", []):
            if entry.get("ticket_id"):
                hours_by_ticket[entry["ticket_id"]] += Decimal(str(entry["hours"]))
        seq_by_day: dict[dt.date, int] = defaultdict(int)
        for tid, ticket in sorted(self.tickets.items(), key=lambda kv: (kv[1]["opened_at"], kv[0])):
            ticket_id = self.ids.put("superops", "tickets", tid, superops_id("ticket", tid))
            day = ticket["opened_at"].date()
            seq_by_day[day] += 1
            updated = max(
                t for t in (ticket["opened_at"], ticket.get("resolved_at")) if t is not None
            )
            custom = {}
            for column, key in self.conv.ticket_fields.items():
                if ticket.get(column) is not None:
                    custom[key] = str(ticket[column])
            self.so.tickets.append(
                {
                    "ticketId": ticket_id,
                    "displayId": f"{day:%m%d%y}-{seq_by_day[day]:04d}",
                    "subject": ticket["subject"],
                    "ticketType": "INCIDENT",
                    "requestType": "Incident",
                    "source": "EMAIL",
                    "client": self.client_ref(ticket["client_id"]),
                    "site": {"id": superops_id("site", ticket["client_id"]), "name": "HQ"},
                    "requester": {
                        "userId": superops_id("contact", ticket["client_id"]),
                        "name": "Office Manager",
                    },
                    "technician": self.tech_ref(ticket.get("technician_id")),
                    "status": display_status(ticket["status"]),
                    "priority": PRIORITY_NAMES[ticket["priority"]],
                    "category": ticket["category"],
                    "createdTime": format_superops_time(ticket["opened_at"]),
                    "updatedTime": format_superops_time(updated),
                    "firstResponseViolated": False,
                    "resolutionTime": format_superops_time(ticket["resolved_at"])
                    if ticket.get("resolved_at")
                    else None,
                    "resolutionViolated": bool(ticket.get("sla_breached")),
                    "worklogTimespent": _s(hours_by_ticket.get(tid, Decimal(0))),
                    "customFields": custom,
                }
            )

    def _place_invoices(self) -> None:
        """Which system each invoice lives in (SuperOps, QuickBooks or both)."""
        for invoice in self.tables.get("invoices", []):
            iid = invoice["external_id"]
            kinds = {line["kind"] for line in self.lines_by_invoice.get(iid, [])}
            if kinds and kinds <= QBO_ONLY_KINDS:
                self.vd.qbo_invoices.add(iid)
            else:
                self.vd.superops_invoices.add(iid)
                if invoice["status"] != "draft":
                    self.vd.qbo_invoices.add(iid)

    def _superops_invoices(self) -> None:
        """SuperOps invoices with their items."""
        paid_on: dict[str, dt.date] = {}
        for payment in self.tables.get("payments", []):
            if payment.get("invoice_id"):
                prev = paid_on.get(payment["invoice_id"])
                paid_on[payment["invoice_id"]] = (
                    max(prev, payment["paid_on"]) if prev else payment["paid_on"]
                )
        for invoice in self.tables.get("invoices", []):
            iid = invoice["external_id"]
            if iid not in self.vd.superops_invoices:
                continue
            invoice_id = self.ids.put("superops", "invoices", iid, superops_id("invoice", iid))
            items = []
            for line in self.lines_by_invoice.get(iid, []):
                sku = line.get("sku") or f"ITEM-{line['kind'].upper()}"
                svc = self.service_item(sku, line["kind"])
                item_id = self.ids.put(
                    "superops",
                    "invoice_lines",
                    line["external_id"],
                    superops_id("invoice_item", line["external_id"]),
                )
                items.append(
                    {
                        "itemId": item_id,
                        "billedDate": _d(invoice.get("period_start") or invoice["issued_on"]),
                        "details": line.get("description"),
                        "quantity": _s(line["quantity"]),
                        "unitPrice": _s(line["unit_price"]),
                        "discountRate": _s(line.get("discount_pct")),
                        "amount": _s(line["amount"]),
                        "taxable": False,
                        "tax": None,
                        "serviceItem": self.item_ref(svc),
                        "taxAmount": "0.00",
                        "totalAmount": _s(line["amount"]),
                    }
                )
            self.so.invoices.append(
                {
                    "invoiceId": invoice_id,
                    "displayId": invoice["number"],
                    "client": self.client_ref(invoice["client_id"]),
                    "site": {"id": superops_id("site", invoice["client_id"]), "name": "HQ"},
                    "invoiceDate": _d(invoice["issued_on"]),
                    "dueDate": _d(invoice.get("due_on")),
                    "statusEnum": INVOICE_STATUS[invoice["status"]],
                    "sentToClient": invoice["status"] != "draft",
                    "items": items,
                    "taxes": [],
                    "discountAmount": "0.00",
                    "additionalDiscount": None,
                    "additionalDiscountRate": None,
                    "totalAmount": _s(invoice["total"]),
                    "notes": format_service_period(
                        invoice.get("period_start"), invoice.get("period_end")
                    )
                    or None,
                    "paymentDate": _d(paid_on.get(iid)) if invoice["status"] == "paid" else None,
                    "paymentMethod": None,
                    "paymentReference": None,
                    "invoicePaymentTerm": None,
                }
            )

    def _superops_worklogs(self) -> None:
        """SuperOps worklog entries."""
        self.so.worklogs = {"TICKET": [], "PROJECT": []}
        display_ids = {t["ticketId"]: t["displayId"] for t in self.so.tickets}
        for entry in self.tables.get("time_entries", []):
            eid = entry["external_id"]
            item_id = self.ids.put("superops", "time_entries", eid, superops_id("worklog", eid))
            billed_on = self.line_by_id.get(entry.get("invoice_line_id") or "")
            svc_sku = (
                billed_on["sku"]
                if billed_on and billed_on.get("sku") and billed_on["kind"] == "labor"
                else "LABOR"
            )
            svc = self.service_item(svc_sku, "labor", "HOURS")
            if billed_on is not None and billed_on["kind"] == "recurring":
                status = "UNDER_CONTRACT"  # covered by a prepaid block, billed on its line
            elif billed_on is not None:
                status = "INVOICED"
            elif entry["billable"]:
                status = "APPROVED"  # billable, not invoiced yet
            else:
                status = "UNDER_CONTRACT"  # in scope of a managed-services contract
            if entry.get("ticket_id"):
                ticket_vendor_id = self.ids.get("superops", "tickets", entry["ticket_id"])
                display = display_ids.get(ticket_vendor_id or "", "")
                module = "TICKET"
                work_item = {"workId": ticket_vendor_id, "displayId": display, "module": "TICKET"}
            else:
                module = "PROJECT"
                work_item = {
                    "workId": superops_id("project", entry["client_id"]),
                    "displayId": f"PRJ-{entry['client_id']}",
                    "module": "PROJECT",
                    "client": self.client_ref(entry["client_id"]),
                }
            self.so.worklogs[module].append(
                {
                    "itemId": item_id,
                    "status": status,
                    "serviceItem": {"itemId": svc["itemId"], "name": svc["name"]},
                    "billable": bool(entry["billable"]),
                    "afterHours": False,
                    "qty": _s(entry["hours"]),
                    "unitPrice": None,
                    "billDateTime": f"{entry['work_date'].isoformat()}T09:00:00",
                    "technician": self.tech_ref(entry["technician_id"]),
                    "notes": entry.get("notes"),
                    "workItem": work_item,
                }
            )

    def _superops_assets(self) -> None:
        """SuperOps assets (monitored and not)."""
        for asset in self.tables.get("assets", []):
            aid = self.ids.put(
                "superops",
                "assets",
                asset["external_id"],
                superops_id("asset", asset["external_id"]),
            )
            record = {
                "assetId": aid,
                "name": asset.get("name") or asset["external_id"],
                "assetClass": {"classId": "1", "name": asset["kind"].title()},
                "client": self.client_ref(asset["client_id"]),
                "site": {"id": superops_id("site", asset["client_id"]), "name": "HQ"},
                "requester": None,
                "status": asset["status"].upper(),
                "platformCategory": asset["kind"].upper(),
                "lastCommunicatedTime": format_superops_time(asset["last_seen_at"])
                if asset.get("last_seen_at")
                else None,
                "hostName": asset.get("name"),
                "customFields": {},
            }
            (self.so.assets if asset.get("managed", True) else self.so.unmonitored_assets).append(
                record
            )
        self.so.service_items = sorted(
            [*self.service_items.values(), *self.extra_items],
            key=lambda s: (s["name"], s["itemId"]),
        )


def split_dataset(
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    conventions: SuperOpsConventions | None = None,
    vary_customers: bool = True,
) -> VendorData:
    """Build both vendors' views of a canonical dataset.

    ``vary_customers`` makes the books look like real books: every fifth customer has no
    e-mail (so only its name can match it) and a legal suffix on its name.
    """
    split = _Split(tables, conventions, vary_customers)
    for step in (
        split._superops_people,
        split._superops_contracts,
        split._superops_tickets,
        split._place_invoices,
        split._superops_invoices,
        split._superops_worklogs,
        split._superops_assets,
    ):
        step()
    s = split
    _build_quickbooks(tables, s.vd, s.clients, s.lines_by_invoice, s.sku_kinds, vary_customers)
    return s.vd


def _build_quickbooks(
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    vd: VendorData,
    clients: Mapping[str, Mapping[str, Any]],
    lines_by_invoice: Mapping[str, list[Mapping[str, Any]]],
    sku_kinds: Mapping[str, str],
    vary_customers: bool,
) -> None:
    ids = vd.ids
    ent = vd.quickbooks.entities
    counters: dict[str, int] = defaultdict(int)

    def next_id(entity: str) -> str:
        counters[entity] += 1
        return str(counters[entity] + {"Customer": 0, "Item": 0}.get(entity, 100))

    def meta(
        created: dt.date | dt.datetime, updated: dt.date | dt.datetime | None = None
    ) -> dict[str, str]:
        return {"CreateTime": qbo_time(created), "LastUpdatedTime": qbo_time(updated or created)}

    for n, (cid, client) in enumerate(sorted(clients.items())):
        cust = client.get("qbo_customer_id") or next_id("Customer")
        ids.put("quickbooks", "clients", cid, cust)
        name = client["name"]
        email = f"billing@{client['email_domain']}" if client.get("email_domain") else None
        if vary_customers and n % 5 == 4:
            name, email = f"{name}, LLC", None
        obj: dict[str, Any] = {
            "Id": cust,
            "SyncToken": "0",
            "domain": "QBO",
            "sparse": False,
            "DisplayName": name,
            "CompanyName": name,
            "FullyQualifiedName": name,
            "Active": client["status"] != "churned",
            "Job": False,
            "Taxable": False,
            "Balance": 0.0,
            "BalanceWithJobs": 0.0,
            "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
            "PreferredDeliveryMethod": "Email",
            "MetaData": meta(
                client.get("onboarded_on") or dt.date(2020, 1, 1),
                client.get("churned_on") or client.get("onboarded_on") or dt.date(2020, 1, 1),
            ),
        }
        if email:
            obj["PrimaryEmailAddr"] = {"Address": email}
        ent["Customer"][cust] = obj

    items: dict[str, dict[str, Any]] = {}

    def item_for(
        sku: str, kind: str, name: str | None = None, price: Any = None, cost: Any = None
    ) -> dict[str, Any]:
        if sku not in items:
            item_id = next_id("Item")
            obj: dict[str, Any] = {
                "Id": item_id,
                "SyncToken": "0",
                "Name": name or sku,
                "Sku": sku,
                "FullyQualifiedName": name or sku,
                "Description": name or sku,
                "Type": "NonInventory" if kind in ("hardware", "license") else "Service",
                "Active": True,
                "Taxable": False,
                "TrackQtyOnHand": False,
                "IncomeAccountRef": {
                    "value": str(40 + len(INCOME_ACCOUNT_BY_KIND)),
                    "name": INCOME_ACCOUNT_BY_KIND.get(kind, "Other Income"),
                },
                "MetaData": meta(dt.date(2020, 1, 1)),
            }
            if price is not None:
                obj["UnitPrice"] = _n(price)
            if cost is not None:
                obj["PurchaseCost"] = _n(cost)
                obj["ExpenseAccountRef"] = {"value": "80", "name": LICENSE_EXPENSE_ACCOUNT}
            items[sku] = obj
            ent["Item"][item_id] = obj
        return items[sku]

    for lic in sorted(tables.get("licenses", []), key=lambda r: r["external_id"]):
        item_for(lic["sku"], "license", lic["product"], lic["unit_price"], lic["unit_cost"])
    for sku, kind in sorted(sku_kinds.items()):
        item_for(sku, kind)

    invoice_qbo: dict[str, str] = {}
    for invoice in sorted(tables.get("invoices", []), key=lambda r: r["external_id"]):
        iid = invoice["external_id"]
        if iid not in vd.qbo_invoices:
            continue
        qid = ids.put("quickbooks", "invoices", iid, next_id("Invoice"))
        invoice_qbo[iid] = qid
        cust = ids.get("quickbooks", "clients", invoice["client_id"]) or ""
        void = invoice["status"] == "void"
        lines: list[dict[str, Any]] = []
        subtotal = Decimal(0)
        for n, line in enumerate(lines_by_invoice.get(iid, []), start=1):
            ids.put("quickbooks", "invoice_lines", line["external_id"], f"{qid}-{n}")
            sku = line.get("sku") or f"ITEM-{line['kind'].upper()}"
            item = item_for(sku, line["kind"])
            amount = Decimal(0) if void else Decimal(str(line["amount"]))
            subtotal += amount
            detail: dict[str, Any] = {
                "ItemRef": {"value": item["Id"], "name": item["Name"]},
                "UnitPrice": _n(line["unit_price"]),
                "Qty": _n(line["quantity"]),
                "TaxCodeRef": {"value": "NON"},
            }
            if line.get("discount_pct") is not None:
                detail["DiscountRate"] = _n(line["discount_pct"])
            lines.append(
                {
                    "Id": str(n),
                    "LineNum": n,
                    "Description": line.get("description"),
                    "Amount": _n(amount),
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": detail,
                }
            )
        lines.append(
            {"Amount": _n(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
        )
        obj = {
            "Id": qid,
            "SyncToken": "0",
            "domain": "QBO",
            "sparse": False,
            "DocNumber": invoice["number"],
            "TxnDate": _d(invoice["issued_on"]),
            "DueDate": _d(invoice.get("due_on")),
            "CustomerRef": {"value": cust, "name": ent["Customer"][cust]["DisplayName"]},
            "Line": lines,
            "TotalAmt": 0.0 if void else _n(invoice["total"]),
            "Balance": 0.0 if void else _n(invoice["balance"]),
            "Deposit": 0,
            "EmailStatus": "EmailSent",
            "PrintStatus": "NotSet",
            "MetaData": meta(invoice["issued_on"]),
        }
        period = format_service_period(invoice.get("period_start"), invoice.get("period_end"))
        if period:
            obj["CustomerMemo"] = {"value": period}
        if void:
            obj["PrivateNote"] = "Voided"
        ent["Invoice"][qid] = obj

    for payment in sorted(tables.get("payments", []), key=lambda r: r["external_id"]):
        pid = ids.put("quickbooks", "payments", payment["external_id"], next_id("Payment"))
        cust = ids.get("quickbooks", "clients", payment["client_id"]) or ""
        linked = invoice_qbo.get(payment.get("invoice_id") or "")
        paid = _n(payment["amount"])
        ent["Payment"][pid] = {
            "Id": pid,
            "SyncToken": "0",
            "TxnDate": _d(payment["paid_on"]),
            "TotalAmt": paid,
            "UnappliedAmt": 0.0 if linked else paid,
            "ProcessPayment": False,
            "CustomerRef": {"value": cust, "name": ent["Customer"][cust]["DisplayName"]},
            "DepositToAccountRef": {"value": "4"},
            "Line": [{"Amount": paid, "LinkedTxn": [{"TxnId": linked, "TxnType": "Invoice"}]}]
            if linked
            else [],
            "MetaData": meta(payment["paid_on"]),
        }

    for n, lic in enumerate(sorted(tables.get("licenses", []), key=lambda r: r["external_id"])):
        entity = "Purchase" if n % 4 == 3 else "Bill"
        bid = next_id(entity)
        ids.put("quickbooks", "licenses", lic["external_id"], f"{entity.lower()}-{bid}-1")
        cust = ids.get("quickbooks", "clients", lic["client_id"]) or ""
        item = items[lic["sku"]]
        amount = Decimal(lic["seats_in_use"]) * Decimal(str(lic["unit_cost"]))
        period = format_service_period(lic.get("starts_on"), lic.get("ends_on"))
        line = {
            "Id": "1",
            "LineNum": 1,
            "Amount": _n(amount),
            "DetailType": "ItemBasedExpenseLineDetail",
            "Description": f"{lic['product']} · {period}",
            "ItemBasedExpenseLineDetail": {
                "ItemRef": {"value": item["Id"], "name": item["Name"]},
                "Qty": lic["seats_in_use"],
                "UnitPrice": _n(lic["unit_cost"]),
                "BillableStatus": "Billable",
                "CustomerRef": {"value": cust, "name": ent["Customer"][cust]["DisplayName"]},
                "TaxCodeRef": {"value": "NON"},
            },
        }
        txn_date = lic.get("starts_on") or dt.date(2020, 1, 1)
        expense: dict[str, Any] = {
            "Id": bid,
            "SyncToken": "0",
            "TxnDate": _d(txn_date),
            "TotalAmt": _n(amount),
            "Line": [line],
            "MetaData": meta(txn_date),
        }
        if entity == "Bill":
            expense |= {
                "VendorRef": {"value": "900", "name": "Pax8"},
                "APAccountRef": {"value": "33"},
                "DueDate": _d(txn_date + dt.timedelta(days=30)),
                "Balance": 0.0,
            }
        else:
            expense |= {
                "PaymentType": "CreditCard",
                "AccountRef": {"value": "41", "name": "Amex"},
                "EntityRef": {"value": "900", "name": "Pax8", "type": "Vendor"},
            }
        ent[entity][bid] = expense
