"""Ground truth of the demo MSP: what the generator planted, for evaluations only.

Product code never reads this (it lives under ``<data_dir>/ground_truth/<tenant_id>/``, apart
from the product's tables). Files: ``meta.json`` (config, model coefficients, demand model,
holidays), ``clients.csv`` (per-client latent parameters), ``client_months.csv`` (per
client-month hazard, drivers, 90-day churn probability, expected demand), ``leaks.json`` and,
for the messy world, ``noise.json`` and ``anomalies.json``.

Notation: month ``m`` is a calendar month of the window (``m = 0`` is the first month); a
client is *at risk* in month ``m`` if it was onboarded before ``m`` and has not churned before
``m``. ``σ(z) = 1 / (1 + e^-z)``; ``Φ`` is the standard normal CDF.

Latent service quality ``q[i, m]`` (0 = neutral, negative = worse) is an AR(1) process,
``q[m] = 0.85 q[m-1] + N(0, 0.18²) + d[m]``, where ``d = -0.22`` during a client's decay
episode (about a fifth of clients have one, 4-12 months long) and 0 otherwise. It shows in
the tables through:

- **SLA breaches.** A ticket's resolution time is lognormal,
  ``ln hours = ln(target_p / 3.5) - 0.5 q + 0.9 Z``; it is breached when it exceeds the
  priority's target (p1 4 h, p2 8 h, p3 24 h, p4 72 h). So the breach rate is
  ``b(q) = 1 - Φ((ln 3.5 + 0.5 q) / 0.9)`` (≈ 8 % at ``q = 0``).
- **CSAT.** Each ticket's user is satisfied ``4.35 + 0.7 q - 0.9 breached + N(0, 0.55²)``
  (its model mean is ``c(q) = 4.35 + 0.7 q - 0.9 b(q)``); 40 % of resolved tickets get a survey
  answer, ``clip(round(satisfaction), 1, 5)``.
- **Ticket volume.** See the demand model below (``exp(-0.35 q)``: worse service, more tickets).

Financial stress ``s[i, m]`` (AR(1), with stress episodes) sets the expected payment delay
``E[delay] = base_delay_i · exp(0.6 s)`` days after the invoice date; the delay drawn per
invoice is ``E[delay] · exp(N(-0.06, 0.35²))``. Chronic late payers have ``base_delay`` ≈ 50.

Tickets are drawn before the churn process (:mod:`mspilot.synthetic.experience`): a client
reacts to the service it actually experienced, and the tables show the same tickets.

**Churn hazard** (probability of churning during month ``m`` given at risk)::

    logit_ex_price[i, m] = intercept + csat · x_csat + breach · x_breach + volume · x_volume
                           + late · x_late + renewal · x_renewal + margin · x_margin + frailty_i
    hazard[i, m]        = σ(logit_ex_price[i, m] + price · elasticity_i · x_price[i, m])

with drivers computed from the months before ``m`` (what an analyst at the end of month
``m-1`` could see), frailty ``~ N(0, 0.1²)`` per client:

- ``x_csat`` = 4.4 - the mean satisfaction (clipped to 1..5) and ``x_breach`` = the share of
  SLA breaches of the tickets the client opened in ``m-6 .. m-1``, each month weighted
  ``0.85^(m-1-month)`` and shrunk with 3 pseudo-tickets at ``c(0)`` and ``b(0)``: realised
  tickets inside the window, the expected ones (demand model, ``c(q)``, ``b(q)``) in the
  burn-in months before it and the simulated months after as-of, none before onboarding;
- the others from the three previous months ``m-3 .. m-1``;
- ``x_volume`` = ln(mean ticket rate per seat over m-3..m-1 / over m-6..m-4), clipped to ±1;
- ``x_late`` = mean ``max(0, E[delay] - net_terms_days) / 30``;
- ``x_price`` = the percentage price increase applied at a renewal in months m-3..m-1
  (e.g. ``5.0``; ``0`` if there was none or the escalation clause was not applied;
  renewals before the window are not counted);
- ``x_renewal`` = 1 if the current 12-month term ends in month ``m`` or ``m+1``;
- ``x_margin`` = mean ``clip((0.35 - service_margin) / 0.35, 0, 1)``, where service margin is
  expected service revenue less expected labour (hours × $70) over expected revenue
  (expected hours = expected tickets × 1.6 + monthly maintenance; month 0 uses itself).

Coefficients are in ``meta.json`` (:class:`ChurnModel`). ``p_churn_90d`` at the end of month
``m`` is ``1 - Π_{k=1..3} (1 - hazard[i, m+k])`` along the simulated latent path (the
generator simulates three months past as-of so this is defined for the last month too).

**Price response (for the pricing oracle).** ``elasticity_i > 0`` is the client's true price
sensitivity. A renewal that raises the price by ``p`` percent changes the hazard of each of
the three following months from ``σ(z_k)`` to ``h_k(p) = σ(z_k + price · elasticity_i · p)``,
where ``z_k`` is that month's ``logit_ex_price`` (recorded in ``client_months.csv``); later
months are unaffected. :func:`hazard_at_price` is exactly this function. Revenue scales by
``(1 + p/100)``. The oracle optimal increase for a client with monthly revenue ``R`` over a
horizon of ``H`` months maximises the expected revenue

    ``E[revenue](p) = R · (1 + p/100) · Σ_{t=1..H} Π_{k=1..t} (1 - h_k(p))``

with ``h_k(p)`` as above for ``k <= 3`` and the base hazards ``σ(z_k)`` for ``k > 3``.
(Cost is unaffected by price, so the same ``p`` maximises expected margin. A higher price
also lifts ``service_margin`` and so slightly lowers later ``x_margin``; the oracle above
leaves out that second-order effect, which the generator does apply.)

**Demand model** (expected tickets of client ``i`` on day ``d`` of month ``m``)::

    λ[i, d] = base_rate_i · seats[i, m] / 30.4375 · exp(trend_i · t_d - 0.35 q[i, m])
              · A(doy_d) · W(weekday_d) · (holiday_multiplier if d is a US federal holiday)

where ``t_d`` is years since the window start (``d / 365.25``),
``A(doy) = 1 + a1 cos(2π (doy - p1) / 365.25) + a2 cos(4π (doy - p2) / 365.25)`` and ``W``
are weekday weights with mean 1 (see :class:`DemandModel`). Counts are Poisson.
``client_months.csv`` carries ``seats``, ``quality`` and the month's ``expected_tickets``
(with ``t = m / 12`` and no calendar factors).

**Leaks** (``leaks.json``): each planted leak has a type, the client, the period, the dollars
lost and the external ids of the rows that show it (``evidence``):

- ``unbilled_time``: billable time entries (T&M or out-of-scope) of one month left without
  ``invoice_line_id`` and missing from that month's labour line; dollars = hours × rate.
- ``license_seats_over_billed``: from a month on, a licence line bills fewer seats than the
  vendor's ``seats_in_use``; dollars = missing seats × resale price, per month.
- ``escalation_not_applied``: a renewal whose contract row keeps the previous price although
  the clause says +x %; dollars = the shortfall over that term's invoiced months (the lower
  base carries into later terms but is not counted again).
- ``missing_recurring_invoice``: one month of an active contract with no invoice at all;
  dollars = that invoice's recurring and licence lines.
- ``block_overage_not_billed``: a month where block-hours time exceeded ``included_hours``
  but no overage line was billed; dollars = overage hours × hourly rate.
- ``discount_beyond_policy``: a contract term whose lines carry a ``discount_pct`` above the
  tenant's ``max_discount_pct``; dollars = the discount above policy over invoiced months.

**The messy world** (``config.messy``, :mod:`mspilot.synthetic.messy`; on in the demo CLI):
``noise.json`` lists every legitimate look-alike (``family: lookalike``; ``resembles`` names
the leak type it looks like: a documented special discount, a goodwill waiver noted on the
next invoice, a prepaid block drawn down by unlinked entries, a billing correction a month
later, seats added after the last invoice; prorated months, mid-month seat lines and
goodwill credits resemble none) and data fault (``family: fault``: duplicate worklogs,
worklogs posted late, a technician's cost rate changed mid-month), with the evidence rows.
``anomalies.json`` lists the held-apart anomaly family no leak rule names (a duplicated
invoice, time logged to the wrong client, a silent drop in billed seats with unchanged
usage, a recurring line priced off its contract), with the dollars each over- or
under-billed. Look-alikes (but not prorations and mid-month lines) and anomalies go to
clients carrying no planted leak, one per client.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mspilot.core.normal import normal_cdf

LeakType = Literal[
    "unbilled_time",
    "license_seats_over_billed",
    "escalation_not_applied",
    "missing_recurring_invoice",
    "block_overage_not_billed",
    "discount_beyond_policy",
]
LEAK_TYPES: tuple[LeakType, ...] = (
    "unbilled_time",
    "license_seats_over_billed",
    "escalation_not_applied",
    "missing_recurring_invoice",
    "block_overage_not_billed",
    "discount_beyond_policy",
)

FloatArr = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ChurnModel:
    """Coefficients of the monthly churn hazard (see the module docstring)."""

    intercept: float = -7.2
    csat: float = 3.0
    breach: float = 8.0
    volume: float = 0.8
    late: float = 2.0
    price: float = 0.2
    renewal: float = 0.9
    margin: float = 1.2
    frailty_sd: float = 0.1
    experience_prior: float = 3.0
    experience_months: int = 6
    experience_decay: float = 0.85
    csat_reference: float = 4.4
    margin_reference: float = 0.35
    labour_cost_per_hour: float = 70.0
    hours_per_ticket: float = 1.6


@dataclass(frozen=True)
class QualityModel:
    """How latent service quality shows in tickets."""

    sla_ratio: float = 3.5
    resolution_quality: float = 0.5
    resolution_sigma: float = 0.9
    csat_base: float = 4.35
    csat_quality: float = 0.7
    csat_breach: float = 0.9
    csat_noise: float = 0.55
    csat_response_rate: float = 0.4


@dataclass(frozen=True)
class DemandModel:
    """Parameters shared by every client's ticket demand (per-client ones in ClientTruth)."""

    weekday_weights: tuple[float, ...] = (1.50, 1.38, 1.32, 1.26, 1.08, 0.26, 0.20)
    annual_a1: float = 0.10
    annual_peak1_doy: float = 15.0
    annual_a2: float = 0.05
    annual_peak2_doy: float = 250.0
    holiday_multiplier: float = 0.25
    quality_coef: float = -0.35
    days_per_month: float = 30.4375

    def annual(self, doy: npt.NDArray[Any]) -> FloatArr:
        two_pi = 2 * math.pi / 365.25
        return np.asarray(
            1
            + self.annual_a1 * np.cos(two_pi * (doy - self.annual_peak1_doy))
            + self.annual_a2 * np.cos(2 * two_pi * (doy - self.annual_peak2_doy)),
            dtype=np.float64,
        )


CHURN = ChurnModel()
QUALITY = QualityModel()
DEMAND = DemandModel()


def expected_breach_rate(q: FloatArr, model: QualityModel = QUALITY) -> FloatArr:
    """``b(q)``: probability a ticket misses its SLA at latent quality ``q``."""
    z = math.log(model.sla_ratio) + model.resolution_quality * np.asarray(q, dtype=np.float64)
    return 1.0 - normal_cdf(z / model.resolution_sigma)


def expected_csat(q: FloatArr, model: QualityModel = QUALITY) -> FloatArr:
    """``c(q)``: the model mean of a CSAT response at latent quality ``q``."""
    q = np.asarray(q, dtype=np.float64)
    return np.asarray(
        model.csat_base + model.csat_quality * q - model.csat_breach * expected_breach_rate(q),
        dtype=np.float64,
    )


def sigmoid(z: FloatArr) -> FloatArr:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64))), dtype=np.float64)


def hazard_at_price(
    logit_ex_price: float, elasticity: float, increase_pct: float, model: ChurnModel = CHURN
) -> float:
    """The monthly churn hazard in one of the three months after a renewal raising the price
    by ``increase_pct`` percent (exactly the generator's function)."""
    return 1.0 / (1.0 + math.exp(-(logit_ex_price + model.price * elasticity * increase_pct)))


@dataclass(frozen=True)
class PlantedLeak:
    leak_id: str
    type: LeakType
    client_id: str
    period_start: dt.date
    period_end: dt.date
    dollars: Decimal
    evidence: tuple[str, ...]
    detail: str = ""

    @property
    def period(self) -> str:
        a, b = self.period_start.strftime("%Y-%m"), self.period_end.strftime("%Y-%m")
        return a if a == b else f"{a}..{b}"


NoiseKind = Literal[
    # legitimate look-alikes the leak rules must not flag
    "goodwill_credit",
    "goodwill_waiver",
    "prorated_month",
    "mid_month_seats",
    "seats_added_after_invoice",
    "prepaid_block",
    "special_discount",
    "billing_correction",
    # data faults
    "duplicate_time_entry",
    "late_posted_worklog",
    "technician_rate_change",
]
AnomalyKind = Literal[
    "duplicated_invoice", "time_to_wrong_client", "silent_seat_drop", "off_contract_price"
]
ANOMALY_KINDS: tuple[AnomalyKind, ...] = (
    "duplicated_invoice",
    "time_to_wrong_client",
    "silent_seat_drop",
    "off_contract_price",
)


@dataclass(frozen=True)
class PlantedNoise:
    """A legitimate look-alike (``family == "lookalike"``) or a data fault (``"fault"``) of
    the messy world: not a leak, though ``resembles`` names the leak type it looks like."""

    kind: NoiseKind
    family: Literal["lookalike", "fault"]
    client_id: str
    period_start: dt.date
    period_end: dt.date
    evidence: tuple[str, ...]
    resembles: str = ""
    detail: str = ""


@dataclass(frozen=True)
class PlantedAnomaly:
    """A billing anomaly none of the six leak rules names (the held-apart family)."""

    anomaly_id: str
    kind: AnomalyKind
    client_id: str
    period_start: dt.date
    period_end: dt.date
    dollars: Decimal
    evidence: tuple[str, ...]
    detail: str = ""


@dataclass(frozen=True)
class ClientTruth:
    client_id: str
    status: str
    kind: str
    industry: str
    onboarded_on: dt.date | None
    churned_on: dt.date | None
    elasticity: float
    frailty: float
    base_rate: float
    trend: float
    base_delay_days: float
    chronic_late_payer: bool
    net_terms_days: int
    decay_start: dt.date | None
    decay_months: int


@dataclass(frozen=True)
class ClientMonth:
    client_id: str
    month: dt.date
    hazard: float
    logit_ex_price: float
    p_churn_90d: float
    churned: bool
    x_csat: float
    x_breach: float
    x_volume: float
    x_late: float
    x_price: float
    x_renewal: float
    x_margin: float
    seats: int
    quality: float
    expected_tickets: float


@dataclass
class GroundTruth:
    tenant_id: str
    as_of: dt.date
    seed: int
    config: dict[str, Any]
    churn_model: ChurnModel = CHURN
    quality_model: QualityModel = QUALITY
    demand_model: DemandModel = DEMAND
    holidays: list[tuple[dt.date, str]] = field(default_factory=list)
    clients: list[ClientTruth] = field(default_factory=list)
    months: list[ClientMonth] = field(default_factory=list)
    leaks: list[PlantedLeak] = field(default_factory=list)
    noise: list[PlantedNoise] = field(default_factory=list)
    anomalies: list[PlantedAnomaly] = field(default_factory=list)

    def leaks_of(self, leak_type: LeakType) -> list[PlantedLeak]:
        return [leak for leak in self.leaks if leak.type == leak_type]

    @property
    def leaky_clients(self) -> set[str]:
        return {leak.client_id for leak in self.leaks}


# ---- files -----------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _write_csv(path: Path, rows: list[Any], cls: type) -> None:
    names = [f.name for f in fields(cls)]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for row in rows:
            out = []
            for name in names:
                value = getattr(row, name)
                if value is None:
                    out.append("")
                elif isinstance(value, float):
                    out.append(repr(value))
                elif isinstance(value, dt.date):
                    out.append(value.isoformat())
                else:
                    out.append(str(value))
            writer.writerow(out)


def _parse(value: str, kind: Any) -> Any:
    text = str(kind)
    if value == "" and "None" in text:
        return None
    if "date" in text:
        return dt.date.fromisoformat(value)
    if "bool" in text:
        return value == "True"
    if "float" in text:
        return float(value)
    if "int" in text:
        return int(value)
    return value


def _read_csv(path: Path, cls: type) -> list[Any]:
    types = {f.name: f.type for f in fields(cls)}
    with path.open(newline="", encoding="utf-8") as fh:
        return [
            cls(**{k: _parse(v, types[k]) for k, v in row.items()}) for row in csv.DictReader(fh)
        ]


def write(truth: GroundTruth, directory: Path) -> None:
    """Write ``truth`` to ``directory/<tenant_id>/`` (replacing what was there)."""
    out = directory / truth.tenant_id
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "tenant_id": truth.tenant_id,
        "as_of": truth.as_of,
        "seed": truth.seed,
        "config": truth.config,
        "churn_model": asdict(truth.churn_model),
        "quality_model": asdict(truth.quality_model),
        "demand_model": asdict(truth.demand_model),
        "holidays": [[d, name] for d, name in truth.holidays],
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2, default=_json_default) + "\n")
    _write_csv(out / "clients.csv", truth.clients, ClientTruth)
    _write_csv(out / "client_months.csv", truth.months, ClientMonth)
    leaks = [asdict(leak) for leak in truth.leaks]
    (out / "leaks.json").write_text(json.dumps(leaks, indent=1, default=_json_default) + "\n")
    for name, items in (("noise", truth.noise), ("anomalies", truth.anomalies)):
        rows = [asdict(item) for item in items]
        text = json.dumps(rows, indent=1, default=_json_default) + "\n"
        (out / f"{name}.json").write_text(text)


def _dated(item: dict[str, Any]) -> dict[str, Any]:
    out = dict(item)
    out["period_start"] = dt.date.fromisoformat(item["period_start"])
    out["period_end"] = dt.date.fromisoformat(item["period_end"])
    out["evidence"] = tuple(item["evidence"])
    if "dollars" in out:
        out["dollars"] = Decimal(out["dollars"])
    return out


def _read_json(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text())) if path.exists() else []


def read(directory: Path, tenant_id: str) -> GroundTruth:
    """Read the ground truth of ``tenant_id`` written by :func:`write` under ``directory``."""
    src = directory / tenant_id
    if not (src / "meta.json").exists():
        raise FileNotFoundError(f"no ground truth for tenant {tenant_id!r} under {directory}")
    meta = json.loads((src / "meta.json").read_text())
    leaks = [
        PlantedLeak(
            leak_id=item["leak_id"],
            type=item["type"],
            client_id=item["client_id"],
            period_start=dt.date.fromisoformat(item["period_start"]),
            period_end=dt.date.fromisoformat(item["period_end"]),
            dollars=Decimal(item["dollars"]),
            evidence=tuple(item["evidence"]),
            detail=item.get("detail", ""),
        )
        for item in json.loads((src / "leaks.json").read_text())
    ]
    demand = dict(meta["demand_model"])
    demand["weekday_weights"] = tuple(demand["weekday_weights"])
    return GroundTruth(
        tenant_id=meta["tenant_id"],
        as_of=dt.date.fromisoformat(meta["as_of"]),
        seed=int(meta["seed"]),
        config=meta["config"],
        churn_model=ChurnModel(**meta["churn_model"]),
        quality_model=QualityModel(**meta["quality_model"]),
        demand_model=DemandModel(**demand),
        holidays=[(dt.date.fromisoformat(d), name) for d, name in meta["holidays"]],
        clients=_read_csv(src / "clients.csv", ClientTruth),
        months=_read_csv(src / "client_months.csv", ClientMonth),
        leaks=leaks,
        noise=[PlantedNoise(**_dated(x)) for x in _read_json(src / "noise.json")],
        anomalies=[PlantedAnomaly(**_dated(x)) for x in _read_json(src / "anomalies.json")],
    )
