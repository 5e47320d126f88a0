"""The deterministic demo-MSP generator: ``(seed, as_of, n_clients, n_tenants, years)`` in,
canonical rows (shaped like ``db.records``) and their ground truth out, one tenant at a time.

Randomness: one ``SeedSequence([seed, tenant_index])`` per tenant, spawned into independent
``PCG64`` streams per stage, so the rows never depend on the wall clock, hash randomisation
or set ordering.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from mspilot.core.clock import add_months, month_end
from mspilot.synthetic import catalog
from mspilot.synthetic.activity import (
    MAINTENANCE_NOTE,
    Entries,
    Technicians,
    Tickets,
    build_entries,
    build_technicians,
    build_tickets,
)
from mspilot.synthetic.billing import Billing, build_billing, hours_of
from mspilot.synthetic.calendar import Window
from mspilot.synthetic.config import DemoConfig, TenantSpec
from mspilot.synthetic.inventory import asset_rows, build_licenses, license_rows
from mspilot.synthetic.leaks import plan_leaks
from mspilot.synthetic.ledger import Ledger
from mspilot.synthetic.messy import make_messy
from mspilot.synthetic.panel import BURN_IN, KINDS, TM, Panel, build_panel
from mspilot.synthetic.truth import ClientMonth, ClientTruth, GroundTruth

#: Load order: parents before children.
TABLES = (
    "clients",
    "technicians",
    "contracts",
    "tickets",
    "invoices",
    "invoice_lines",
    "time_entries",
    "payments",
    "assets",
    "licenses",
)
SOURCE = "demo"
Row = dict[str, Any]
StepCallback = Callable[[str], None]

#: one stream per stage; new stages go at the end (spawned children keep their index, so the
#: existing streams, and the clean world's rows, do not change)
_STREAMS = (
    "panel",
    "technicians",
    "tickets",
    "entries",
    "licenses",
    "leaks",
    "billing",
    "assets",
    "messy",
)


@dataclass
class TenantDataset:
    tenant: TenantSpec
    tables: dict[str, list[dict[str, Any]]]
    truth: GroundTruth

    @property
    def row_counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}


def tenant_spec(config: DemoConfig, tenant_index: int) -> TenantSpec:
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, tenant_index, 99]))
    names = catalog.TENANT_NAMES
    name = names[(tenant_index + int(rng.integers(len(names)))) % len(names)]
    if tenant_index >= len(names):
        name = f"{name} {tenant_index // len(names) + 1}"
    return TenantSpec(
        id="demo" if tenant_index == 0 else f"demo{tenant_index + 1}",
        name=name,
        currency="USD",
        timezone=catalog.TENANT_TIMEZONES[tenant_index % len(catalog.TENANT_TIMEZONES)],
        max_discount_pct=Decimal(
            catalog.TENANT_MAX_DISCOUNTS[0 if tenant_index == 0 else int(rng.integers(3))]
        ),
    )


def generate(config: DemoConfig) -> Iterator[TenantDataset]:
    """Every tenant of ``config``, one at a time (only one is held in memory)."""
    config.validate()
    for index in range(config.n_tenants):
        yield generate_tenant(config, index)


def generate_tenant(
    config: DemoConfig, tenant_index: int, *, on_step: StepCallback | None = None
) -> TenantDataset:
    """The dataset of tenant ``tenant_index`` (0-based) of ``config``."""
    config.validate()
    if not 0 <= tenant_index < config.n_tenants:
        raise ValueError(f"tenant_index {tenant_index} outside 0..{config.n_tenants - 1}")
    step = on_step or (lambda _name: None)
    spec = tenant_spec(config, tenant_index)
    seeds = np.random.SeedSequence([config.seed, tenant_index]).spawn(len(_STREAMS))
    rngs = {
        name: np.random.Generator(np.random.PCG64(s))
        for name, s in zip(_STREAMS, seeds, strict=True)
    }
    window = Window.build(config.as_of, config.years, spec.timezone)

    step("clients and contracts")
    panel = build_panel(window, config.n_clients, rngs["panel"], rngs["tickets"])
    domain = "".join(ch for ch in spec.name.lower() if ch.isalnum())[:30] + ".com"
    techs = build_technicians(config.n_clients, domain, rngs["technicians"])
    start, end = panel.active_days(window)

    step("tickets")
    tickets = build_tickets(panel, window, techs, start, end, rngs["tickets"])
    step("time entries")
    entries = build_entries(panel, window, techs, tickets, start, end, rngs["entries"])
    licenses = build_licenses(panel, window, rngs["licenses"])
    plan = plan_leaks(panel, window, entries, licenses, rngs["leaks"])

    step("invoices and payments")
    billing = build_billing(
        panel, window, entries, licenses, plan, spec.max_discount_pct, rngs["billing"]
    )
    step("assets and licences")
    tables: dict[str, list[Row]] = {
        "clients": _client_rows(panel, window),
        "technicians": _technician_rows(techs),
        "contracts": _contract_rows(panel, window),
        "tickets": _ticket_rows(panel, techs, tickets),
        "invoices": billing.invoices,
        "invoice_lines": billing.lines,
        "time_entries": _entry_rows(panel, window, techs, entries, billing),
        "payments": billing.payments,
        "assets": asset_rows(panel, window, rngs["assets"]),
        "licenses": license_rows(panel, window, licenses),
    }
    step("ground truth")
    truth = _truth(config, spec, panel, window, billing)
    if config.messy:
        step("messy world")
        books = Ledger(
            tables, panel, window, licenses, truth.leaks, spec.max_discount_pct, rngs["messy"]
        )
        truth.leaks, truth.noise, truth.anomalies = make_messy(books)
    return TenantDataset(tenant=spec, tables=tables, truth=truth)


# ---- rows ------------------------------------------------------------------------------------


def _client_rows(panel: Panel, window: Window) -> list[Row]:
    rows = []
    last = window.n_months - 1
    for i in range(panel.n):
        churned = panel.churned_on[i]
        month = int(panel.churn_month[i]) if churned else last
        status = "prospect" if panel.prospect[i] else ("churned" if churned else "active")
        rows.append(
            {
                "external_id": panel.ids[i],
                "name": panel.names[i],
                "industry": catalog.INDUSTRIES[int(panel.industry[i])][0],
                "seats": int(panel.seats[i, 0 if panel.prospect[i] else month]),
                "status": status,
                "onboarded_on": panel.onboarded_on(window, i),
                "churned_on": churned,
                "email_domain": panel.domains[i],
            }
        )
    return rows


def _technician_rows(techs: Technicians) -> list[Row]:
    return [
        {
            "external_id": techs.ids[k],
            "name": techs.names[k],
            "email": techs.emails[k],
            "role": techs.roles[k],
            "hourly_cost": techs.hourly_cost[k],
            "active": True,
        }
        for k in range(techs.n)
    ]


def _contract_rows(panel: Panel, window: Window) -> list[Row]:
    rows = []
    for term in panel.terms:
        kind = int(panel.kind[term.client])
        starts_on = window.month_date(term.start)
        ends_on = month_end(window.month_date(term.end))
        status = "active"
        if term.cancelled_on is not None:
            ends_on, status = term.cancelled_on, "cancelled"
        elif ends_on < window.as_of:
            status = "expired"
        hundred = Decimal(100)
        monthly: Decimal | None = None
        if kind != TM and term.quantity is not None:
            gross = term.unit_price * term.quantity * (hundred - term.discount_pct) / hundred
            monthly = gross.quantize(Decimal("0.01"))
        rows.append(
            {
                "external_id": term.external_id,
                "client_id": panel.ids[term.client],
                "name": f"{catalog.CONTRACT_LABELS[KINDS[kind]]} "
                f"{starts_on.year}-{add_months(starts_on, 12).year}",
                "kind": KINDS[kind],
                "unit_price": term.unit_price,
                "quantity": None
                if term.quantity is None
                else Decimal(term.quantity).quantize(Decimal("0.01")),
                "monthly_value": monthly,
                "hourly_rate": term.hourly_rate,
                "included_hours": None
                if term.included_hours is None
                else Decimal(term.included_hours).quantize(Decimal("0.01")),
                "starts_on": starts_on,
                "ends_on": ends_on,
                "annual_escalation_pct": term.escalation_pct,
                "discount_pct": term.discount_pct,
                "status": status,
            }
        )
    return rows


def _datetimes(epochs: list[int]) -> list[dt.datetime]:
    base = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return [base + dt.timedelta(seconds=s) for s in epochs]


def _ticket_rows(panel: Panel, techs: Technicians, tickets: Tickets) -> list[Row]:
    categories = [c[0] for c in catalog.CATEGORIES]
    subjects = [c[2] for c in catalog.CATEGORIES]
    opened = _datetimes(tickets.opened.tolist())
    resolved_raw = tickets.resolved.tolist()
    resolved = _datetimes([max(r, 0) for r in resolved_raw])
    rows = []
    for k, (c, p, cat, sub, tech, br, cs, rr) in enumerate(
        zip(
            tickets.client.tolist(),
            tickets.priority.tolist(),
            tickets.category.tolist(),
            tickets.subject.tolist(),
            tickets.tech.tolist(),
            tickets.breached.tolist(),
            tickets.csat.tolist(),
            resolved_raw,
            strict=True,
        )
    ):
        rows.append(
            {
                "external_id": f"t{k + 1:07d}",
                "client_id": panel.ids[c],
                "technician_id": techs.ids[tech],
                "opened_at": opened[k],
                "resolved_at": resolved[k] if rr >= 0 else None,
                "priority": catalog.PRIORITIES[p],
                "category": categories[cat],
                "status": tickets.status[k],
                "sla_breached": br,
                "csat": cs or None,
                "subject": subjects[cat][sub],
                "resolution": catalog.RESOLUTIONS[categories[cat]][sub] if rr >= 0 else None,
            }
        )
    return rows


def _entry_rows(
    panel: Panel, window: Window, techs: Technicians, entries: Entries, billing: Billing
) -> list[Row]:
    hours = [hours_of(q) for q in range(0, 65)]
    rows = []
    for k, (c, t, tech, d, q, b) in enumerate(
        zip(
            entries.client.tolist(),
            entries.ticket.tolist(),
            entries.tech.tolist(),
            entries.day.tolist(),
            entries.quarters.tolist(),
            entries.billable.tolist(),
            strict=True,
        )
    ):
        rows.append(
            {
                "external_id": f"te{k + 1:07d}",
                "client_id": panel.ids[c],
                "ticket_id": f"t{t + 1:07d}" if t >= 0 else None,
                "technician_id": techs.ids[tech],
                "work_date": window.days[d],
                "hours": hours[q],
                "billable": b,
                "invoice_line_id": billing.entry_line[k],
                "notes": None if t >= 0 else MAINTENANCE_NOTE,
            }
        )
    return rows


# ---- ground truth ----------------------------------------------------------------------------


def _truth(
    config: DemoConfig, spec: TenantSpec, panel: Panel, window: Window, billing: Billing
) -> GroundTruth:
    clients = []
    for i in range(panel.n):
        decay = int(panel.decay_start[i])
        has_decay = panel.decay_len[i] > 0
        clients.append(
            ClientTruth(
                client_id=panel.ids[i],
                status="prospect"
                if panel.prospect[i]
                else ("churned" if panel.churned_on[i] else "active"),
                kind=KINDS[int(panel.kind[i])],
                industry=catalog.INDUSTRIES[int(panel.industry[i])][0],
                onboarded_on=panel.onboarded_on(window, i),
                churned_on=panel.churned_on[i],
                elasticity=round(float(panel.elasticity[i]), 6),
                frailty=round(float(panel.frailty[i]), 6),
                base_rate=round(float(panel.base_rate[i]), 6),
                trend=round(float(panel.trend[i]), 6),
                base_delay_days=round(float(panel.base_delay[i]), 3),
                chronic_late_payer=bool(panel.chronic_late[i]),
                net_terms_days=int(panel.net_days[i]),
                decay_start=window.month_date(decay) if has_decay else None,
                decay_months=int(panel.decay_len[i]),
            )
        )
    months: list[ClientMonth] = []
    hz = panel.hazard
    survive = 1.0 - hz
    p90 = np.ones_like(hz)
    for k in range(1, 4):
        shifted = np.ones_like(hz)
        shifted[:, : hz.shape[1] - k] = survive[:, k:]
        p90 *= shifted
    p90 = 1.0 - p90
    expected = np.stack([panel.expected_tickets(m) for m in range(window.n_months)], axis=1)
    d = {name: np.round(arr, 6) for name, arr in panel.drivers.items()}
    for i in range(panel.n):
        if panel.prospect[i]:
            continue
        first = max(0, int(panel.onboard[i]) + 1)
        last = int(panel.churn_month[i]) if panel.churned_on[i] else window.n_months - 1
        for m in range(first, last + 1):
            months.append(
                ClientMonth(
                    client_id=panel.ids[i],
                    month=window.months[m],
                    hazard=round(float(hz[i, m]), 8),
                    logit_ex_price=round(float(panel.logit_ex_price[i, m]), 6),
                    p_churn_90d=round(float(p90[i, m]), 8),
                    churned=bool(panel.churn_month[i] == m),
                    x_csat=float(d["x_csat"][i, m]),
                    x_breach=float(d["x_breach"][i, m]),
                    x_volume=float(d["x_volume"][i, m]),
                    x_late=float(d["x_late"][i, m]),
                    x_price=float(d["x_price"][i, m]),
                    x_renewal=float(d["x_renewal"][i, m]),
                    x_margin=float(d["x_margin"][i, m]),
                    seats=int(panel.seats[i, m]),
                    quality=round(float(panel.quality[i, BURN_IN + m]), 6),
                    expected_tickets=round(float(expected[i, m]), 6),
                )
            )
    return GroundTruth(
        tenant_id=spec.id,
        as_of=config.as_of,
        seed=config.seed,
        config={**dataclasses.asdict(config), "as_of": config.as_of.isoformat()},
        holidays=list(window.holidays),
        clients=clients,
        months=months,
        leaks=billing.leaks,
    )
