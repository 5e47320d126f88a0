"""Licence subscriptions (vendor seats in use, cost and resale price) and managed assets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from mspilot.synthetic import catalog
from mspilot.synthetic.calendar import IntArr, Window, epoch_day
from mspilot.synthetic.panel import Panel, money

DAY = 86_400


@dataclass
class License:
    client: int
    product: str
    sku: str
    unit_cost: Decimal
    unit_price: Decimal
    start: int  # first month in use (negative: before the window)
    in_use: IntArr  # vendor count per window month (0 when not subscribed)
    billed: IntArr  # seats the MSP bills per month (== in_use unless a leak is planted)
    external_id: str = ""
    leak_onset: int = -1


def build_licenses(panel: Panel, window: Window, rng: np.random.Generator) -> list[License]:
    alive = panel.alive()
    months = window.n_months
    n_inv = window.n_invoiced
    main_w = np.array([p[3] for p in catalog.MAIN_LICENSES])
    out: list[License] = []
    for i in range(panel.n):
        if panel.prospect[i]:
            continue
        markup = float(rng.uniform(1.12, 1.35))
        onboard = int(panel.onboard[i])
        main = catalog.MAIN_LICENSES[int(rng.choice(len(main_w), p=main_w / main_w.sum()))]
        chosen: list[tuple[str, str, str, str, float, int]] = [
            (main[0], main[1], main[2], "seats", 1.0, onboard)
        ]
        for product, sku, cost, basis, prob, coverage in catalog.ADDON_LICENSES:
            draw, late_start, when = rng.random(), rng.random(), rng.integers(0, max(1, n_inv - 1))
            if draw >= prob:
                continue
            start = max(onboard, int(when)) if late_start < 0.3 else onboard
            chosen.append((product, sku, cost, basis, coverage, start))
        for product, sku, cost, basis, coverage, start in chosen:
            source = panel.seats[i, :months] if basis == "seats" else panel.devices[i, :months]
            counts = np.ceil(source * coverage).astype(np.int64)
            in_month = alive[i] & (np.arange(months) >= start)
            in_use = np.where(in_month, counts, 0).astype(np.int64)
            if not in_month.any():
                continue  # a late add-on the client left before: never subscribed
            unit_cost = Decimal(cost)
            out.append(
                License(
                    client=i,
                    product=product,
                    sku=sku,
                    unit_cost=unit_cost,
                    unit_price=money(unit_cost * Decimal(str(round(markup, 3)))),
                    start=start,
                    in_use=in_use,
                    billed=in_use.copy(),
                )
            )
    for k, lic in enumerate(out):
        lic.external_id = f"l{k + 1:06d}"
    return out


def license_rows(panel: Panel, window: Window, licenses: list[License]) -> list[dict[str, Any]]:
    rows = []
    for lic in licenses:
        churned = panel.churned_on[lic.client]
        starts_on = window.month_date(lic.start)
        rows.append(
            {
                "external_id": lic.external_id,
                "client_id": panel.ids[lic.client],
                "product": lic.product,
                "sku": lic.sku,
                "seats_in_use": 0 if churned else int(lic.in_use[-1]),
                "unit_cost": lic.unit_cost,
                "unit_price": lic.unit_price,
                "starts_on": starts_on,
                "ends_on": churned,
            }
        )
    return rows


def asset_rows(panel: Panel, window: Window, rng: np.random.Generator) -> list[dict[str, Any]]:
    kinds = catalog.ASSET_KINDS
    shares = np.array([k[1] for k in kinds])
    as_of_end = (epoch_day(window.as_of) + 1) * DAY - 1
    rows: list[dict[str, Any]] = []
    seq = 0
    for i in range(panel.n):
        if panel.prospect[i]:
            continue
        churned = panel.churned_on[i]
        last_month = int(panel.churn_month[i]) if churned else window.n_months - 1
        n_managed = int(panel.devices[i, last_month])
        n_retired = int(rng.binomial(n_managed, 0.1))
        total = n_managed + n_retired
        kind_idx = rng.choice(len(kinds), total, p=shares / shares.sum())
        u = rng.random(total)
        since = rng.random(total)
        first_seen = epoch_day(window.month_date(int(panel.onboard[i]))) * DAY
        end = (epoch_day(churned) + 1) * DAY - 1 if churned else as_of_end
        prefix = "".join(w[0] for w in panel.names[i].split() if w[:1].isalpha())[:4].upper()
        counters: dict[int, int] = {}
        for k in range(total):
            kid = int(kind_idx[k])
            counters[kid] = counters.get(kid, 0) + 1
            retired = k >= n_managed
            if churned:
                status, managed = "offboarded", False
                seen = end - int(since[k] * 3 * DAY)
            elif retired:
                status, managed = "retired", False
                seen = end - int((30 + since[k] * 370) * DAY)
            elif u[k] < 0.85:
                status, managed = "online", True
                seen = end - int(since[k] * 20 * 3600)
            else:
                status, managed = "offline", True
                seen = end - int((1 + since[k] * 19) * DAY)
            seq += 1
            rows.append(
                {
                    "external_id": f"a{seq:06d}",
                    "client_id": panel.ids[i],
                    "name": f"{prefix}-{kinds[kid][2]}-{counters[kid]:03d}",
                    "kind": kinds[kid][0],
                    "status": status,
                    "managed": managed,
                    "last_seen_at": dt.datetime.fromtimestamp(max(seen, first_seen), dt.UTC),
                }
            )
    return rows
