"""SuperOps accounts generated from the vendor's schema (hypothesis), unlike our fake's data:
records built field by field from the SDL (``superops_sdl.py``, from the SuperOps reference),
with optional fields missing or null, unknown extra keys inside association objects, other
custom-field layouts (or none), references to rows the account does not list, lists the token
may not read, empty accounts.

``accounting`` says, for every record the account serves, whether it loaded, was refused with a
reason, or waits for a parent: the connector contract is that there is no fourth outcome.
Needs the ``dev`` extra (hypothesis); tests and ``bench/connectors_bench.py`` use it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLType,
)
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from mspilot.connectors.base import SyncContext
from mspilot.connectors.fakes.common import FakeClock
from mspilot.connectors.fakes.superops import SuperOpsFake, _schema
from mspilot.connectors.fakes.vendor_data import SuperOpsData
from mspilot.connectors.http import RetryPolicy, Throttle
from mspilot.connectors.runner import SyncSummary, run_source
from mspilot.connectors.superops.source import SuperOpsSource
from mspilot.core.ids import make_id
from mspilot.core.settings import SuperOpsSettings
from mspilot.db.schema import TABLES_BY_NAME, DataQualityIssue
from mspilot.db.schema_connectors import OrphanRow

AS_OF = dt.date(2026, 6, 30)
#: (SuperOpsData attribute, SDL type, primary key, canonical table or None for reference data)
LISTS = (
    ("service_items", "ServiceItem", "itemId", None),
    ("sites", "ClientSite", "id", None),
    ("technicians", "Technician", "userId", "technicians"),
    ("clients", "Client", "accountId", "clients"),
    ("contracts", "ClientContract", "contractId", "contracts"),
    ("tickets", "Ticket", "ticketId", "tickets"),
    ("invoices", "Invoice", "invoiceId", "invoices"),
    ("assets", "Asset", "assetId", "assets"),
    ("unmonitored_assets", "Asset", "assetId", "assets"),
)
_QUERY = {
    "service_items": "getServiceItemList",
    "sites": "getClientSiteList",
    "technicians": "getTechnicianList",
    "clients": "getClientList",
    "contracts": "getClientContractList",
    "tickets": "getTicketList",
    "invoices": "getInvoiceList",
    "assets": "getAssetList",
    "unmonitored_assets": "getUnMonitoredAssetList",
}
#: list queries an account may forbid (clients and invoices are needed: they fail the sync)
OPTIONAL_QUERIES = (
    "getServiceItemList",
    "getClientSiteList",
    "getTechnicianList",
    "getClientContractList",
    "getTicketList",
    "getWorklogEntries",
    "getUnMonitoredAssetList",
    "getClientCustomFieldList",
)
#: label spellings an account may give a fact's custom field (and some that name nothing)
LABELS = {
    "industry": ["Industry", "Vertical", "Sector"],
    "seats": ["Seats", "Users", "Headcount"],
    "onboarded_on": ["Onboarded on", "Client since", "Go-live"],
    "churned_on": ["Churned on", "Cancellation date", "Offboarded"],
    "csat": ["CSAT", "Satisfaction"],
    "resolution": ["Resolution notes", "Fix notes"],
}
_KIND = {
    "industry": "SELECT",
    "seats": "NUMERIC",
    "onboarded_on": "DATE",
    "churned_on": "DATE",
    "csat": "NUMERIC",
    "resolution": "TEXT",
}
_TICKET_FACTS = ("csat", "resolution")
_MONEY = {
    "unitPrice",
    "quantity",
    "qty",
    "totalAmount",
    "amount",
    "discountRate",
    "value",
    "afterHoursValue",
}


def _day(n: int) -> str:
    return (AS_OF - dt.timedelta(days=n)).isoformat()


_dates = st.integers(0, 900).map(_day)
_times = st.tuples(st.integers(0, 900), st.integers(0, 86399)).map(
    lambda p: (
        (dt.datetime.combine(AS_OF, dt.time()) - dt.timedelta(days=p[0], seconds=p[1]))
        .replace(tzinfo=None)
        .isoformat(timespec="seconds")
    )
)
_junk = st.sampled_from(["", "n/a", "-", "31/02/2026", "1e3x"])
_money = st.decimals(0, 5000, places=2, allow_nan=False).map(str)
_words = st.text("abcdefghij XYZ", min_size=1, max_size=12)


@dataclass
class Pools:
    """Ids already drawn, so references can point at rows the account lists (or not)."""

    ids: dict[str, list[str]] = field(default_factory=dict)

    def ref(self, kind: str) -> st.SearchStrategy[str]:
        known = self.ids.get(kind, [])
        dangling = st.just(f"{kind}-missing")
        return st.one_of(st.sampled_from(known), dangling) if known else dangling


def _scalar(name: str, kind: GraphQLScalarType) -> st.SearchStrategy[Any]:
    if name == "stage":  # churned clients (stage Inactive) are the history that matters most
        return st.sampled_from(["Active", "Inactive", "Churned", "Prospect", "Onboarding", "Zq"])
    if kind.name == "Boolean":
        return st.booleans()
    if kind.name in ("Int", "Float"):
        return st.integers(0, 50)
    if name.endswith(("Time", "DateTime")):
        return st.one_of(_times, _times, _junk)
    if name.endswith("Date"):
        return st.one_of(_dates, _dates, _junk)
    if name in _MONEY:
        return st.one_of(_money, _money, _junk)
    return _words


def _json(
    name: str, pools: Pools, layout: dict[str, str], non_null: bool
) -> st.SearchStrategy[Any]:
    extra = st.dictionaries(st.sampled_from(["x_new", "meta", "legacy"]), _words, max_size=1)
    refs = {
        "client": ("client", "accountId"),
        "technician": ("tech", "userId"),
        "accountManager": ("tech", "userId"),
    }
    if name in refs:
        kind, key = refs[name]
        return st.builds(lambda i, n, e: {key: i, "name": n, **e}, pools.ref(kind), _words, extra)
    if name in ("serviceItem", "chargeItem"):
        return st.builds(
            lambda i, q: {"itemId": i, "name": f"SKU-{i}", "quantityType": q},
            pools.ref("item"),
            st.sampled_from(["UNITS", "HOURS", "BLOCK_HOURS", "BLOCK_MONEY"]),
        )
    if name == "workItem":
        return st.one_of(
            st.builds(lambda t: {"module": "TICKET", "workId": t}, pools.ref("ticket")),
            st.builds(
                lambda c: {"module": "PROJECT", "workId": "p1", "client": {"accountId": c}},
                pools.ref("client"),
            ),
        )
    if name == "provisionRule":
        return st.builds(
            lambda b: {"basis": b}, st.sampled_from(["USERS", "DEVICES", "BLOCK", "FLAT", "HOURS"])
        )
    if name == "customFields":
        values = {
            column: (
                _dates
                if _KIND[fact] == "DATE"
                else st.integers(0, 300).map(str)
                if _KIND[fact] == "NUMERIC"
                else _words
            )
            for fact, column in layout.items()
        }
        return st.fixed_dictionaries({}, optional=values)
    return extra if non_null else st.one_of(st.none(), extra)


def record(
    type_name: str, pools: Pools, layout: dict[str, str], depth: int = 0
) -> st.SearchStrategy[dict[str, Any]]:
    """One record of an SDL object type: required fields always, optional ones maybe."""
    obj = _schema().type_map[type_name]
    assert isinstance(obj, GraphQLObjectType)
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, f in obj.fields.items():
        kind: GraphQLType = f.type
        non_null = isinstance(kind, GraphQLNonNull)
        strategy = _value(name, kind, pools, layout, depth, non_null)
        if strategy is None:
            continue
        if non_null:
            required[name] = strategy
        else:
            optional[name] = st.one_of(st.none(), strategy, strategy)
    return st.fixed_dictionaries(required, optional=optional)


def _value(
    name: str,
    kind: GraphQLType,
    pools: Pools,
    layout: dict[str, str],
    depth: int,
    non_null: bool = False,
) -> st.SearchStrategy[Any] | None:
    if isinstance(kind, GraphQLNonNull):
        return _value(name, kind.of_type, pools, layout, depth, True)
    if isinstance(kind, GraphQLList):
        inner = _value(name, kind.of_type, pools, layout, depth + 1, True)
        return st.just([]) if inner is None else st.lists(inner, max_size=2)
    if isinstance(kind, GraphQLEnumType):
        return st.sampled_from(list(kind.values))
    if isinstance(kind, GraphQLScalarType):
        if kind.name == "JSON":
            return _json(name, pools, layout, non_null)
        return _scalar(name, kind)
    if isinstance(kind, GraphQLObjectType) and (depth < 3 or (non_null and depth < 6)):
        return record(kind.name, pools, layout, depth + 1)
    return None


@dataclass
class Account:
    data: SuperOpsData
    forbidden: set[str]
    layout: dict[str, str]

    def served(self) -> Iterator[tuple[str, str, str | None]]:
        """(canonical table, vendor id, parent record's id) of every record the account
        serves to this token (a forbidden list serves nothing; its skip is the record).
        An invoice's items ride with it: refused with the invoice, they have its record."""
        d = self.data
        for attr, _type, key, table in LISTS:
            if table and _QUERY[attr] not in self.forbidden:
                for rec in getattr(d, attr):
                    yield table, str(rec[key]), None
        for rec in d.invoices:
            for item in rec.get("items") or []:
                yield "invoice_lines", str(item["itemId"]), str(rec["invoiceId"])
        if "getWorklogEntries" not in self.forbidden:
            for entries in d.worklogs.values():
                for rec in entries:
                    yield "time_entries", str(rec["itemId"]), None


@st.composite
def accounts(draw: st.DrawFn, max_records: int = 4) -> Account:
    """A whole SuperOps account."""
    facts = list(_KIND)
    layout: dict[str, str] = {}
    definitions: dict[str, list[dict[str, Any]]] = {"client": [], "ticket": []}
    for n, fact in enumerate(facts, start=1):
        if draw(st.booleans()):
            column = f"udf{n + draw(st.integers(0, 20))}{_KIND[fact].lower()}"
            layout[fact] = column
            entity = "ticket" if fact in _TICKET_FACTS else "client"
            definitions[entity].append(
                {
                    "id": f"cf{n}",
                    "columnName": column,
                    "label": draw(st.sampled_from([*LABELS[fact], "Notes"])),
                    "fieldType": _KIND[fact],
                }
            )
    pools = Pools()
    data = SuperOpsData(
        client_custom_fields=definitions["client"], ticket_custom_fields=definitions["ticket"]
    )
    prefix = {"ServiceItem": "item", "Technician": "tech", "Client": "client", "Ticket": "ticket"}
    for attr, type_name, key, _table in LISTS:
        rows = draw(st.lists(record(type_name, pools, layout), max_size=max_records))
        kind = prefix.get(type_name, type_name.lower())
        for i, row in enumerate(rows):
            row[key] = f"{kind}{attr[:3]}{i}"
        pools.ids.setdefault(kind, []).extend(str(r[key]) for r in rows)
        setattr(data, attr, rows)
    for i, invoice in enumerate(data.invoices):
        for j, item in enumerate(invoice.get("items") or []):
            item["itemId"] = f"line{i}-{j}"
    for module in ("TICKET", "PROJECT"):
        entries = draw(st.lists(record("WorklogEntry", pools, layout), max_size=max_records))
        for i, entry in enumerate(entries):
            entry["itemId"] = f"work{module[0]}{i}"
        data.worklogs[module] = entries
    forbidden = set(draw(st.lists(st.sampled_from(OPTIONAL_QUERIES), max_size=2)))
    return Account(data, forbidden, layout)


@contextmanager
def served(account: Account) -> Iterator[tuple[SuperOpsFake, TestClient]]:
    clock = FakeClock(dt.datetime.combine(AS_OF, dt.time(23, 0), tzinfo=dt.UTC))
    fake = SuperOpsFake(account.data, clock=clock)
    fake.forbidden = set(account.forbidden)
    with TestClient(fake.app()) as http:
        yield fake, http


def sync_account(engine: Engine, tenant_id: str, account: Account) -> SyncSummary:
    """One SuperOps sync of a generated account, served in-process."""
    with served(account) as (fake, http):
        settings = SuperOpsSettings(
            base_url="http://testserver/msp", api_token=fake.token, subdomain=fake.subdomain
        )
        retry = RetryPolicy(max_attempts=3, initial_wait_s=0.001, max_wait_s=0.01, jitter_s=0.0)
        # starlette's TestClient is an httpx client (served in-process, no socket)
        client = cast(httpx.Client, http)
        source = SuperOpsSource(settings, client, retry=retry, throttle=Throttle(100_000))
        return run_source(source, SyncContext(engine, tenant_id, now=fake.clock.now))


@dataclass
class Accounting:
    loaded: int = 0
    warned: int = 0
    refused: int = 0
    waiting: int = 0
    lost: list[tuple[str, str]] = field(default_factory=list)

    @property
    def served(self) -> int:
        return self.loaded + self.refused + self.waiting + len(self.lost)


def accounting(engine: Engine, tenant_id: str, account: Account) -> Accounting:
    """Where every served record went (``lost``: nowhere, the one outcome not allowed)."""
    out = Accounting()
    with engine.connect() as conn:
        refused = set(
            conn.scalars(
                select(DataQualityIssue.record_key).where(
                    DataQualityIssue.tenant_id == tenant_id, DataQualityIssue.severity == "error"
                )
            )
        )
        warned = set(
            conn.scalars(
                select(DataQualityIssue.record_key).where(
                    DataQualityIssue.tenant_id == tenant_id, DataQualityIssue.severity == "warning"
                )
            )
        )
        waiting = set(
            conn.scalars(select(OrphanRow.row_id).where(OrphanRow.tenant_id == tenant_id))
        )
        loaded: dict[str, set[str]] = {}
        for table in {t for t, _i, _p in account.served()}:
            model = TABLES_BY_NAME[table]
            loaded[table] = set(
                conn.scalars(select(model.external_id).where(model.tenant_id == tenant_id))
            )
    for table, vendor_id, parent in account.served():
        if vendor_id in loaded[table]:
            out.loaded += 1
            out.warned += vendor_id in warned
        elif make_id(tenant_id, "superops", vendor_id) in waiting:
            out.waiting += 1
        elif vendor_id in refused or (parent is not None and parent in refused):
            out.refused += 1
        else:
            out.lost.append((table, vendor_id))
    return out
