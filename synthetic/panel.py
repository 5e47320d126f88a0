"""Client-level simulation: who the clients are, their latent state month by month, their
contract terms and prices, and the churn process (see :mod:`mspilot.synthetic.truth`).

Size (~800 lines): one simulation whose random draws, in order, define the demo MSP (a
change of order changes every seeded world); ``build_panel`` runs it as named steps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from mspilot.core.clock import month_end
from mspilot.synthetic import catalog
from mspilot.synthetic.calendar import BoolArr, FloatArr, IntArr, Window
from mspilot.synthetic.experience import TicketDraws, draw_tickets, monthly_experience
from mspilot.synthetic.truth import (
    CHURN,
    DEMAND,
    expected_breach_rate,
    expected_csat,
    sigmoid,
)

KINDS = ("per_user", "per_device", "block_hours", "time_and_materials", "flat")
KIND_SHARE = (0.45, 0.12, 0.15, 0.15, 0.13)
PER_USER, PER_DEVICE, BLOCK, TM, FLAT = range(5)
MANAGED_KINDS = (PER_USER, PER_DEVICE, FLAT)

BURN_IN = 12  # latent months simulated before the window (drivers look back up to 6 months)
FUTURE = 3  # latent months simulated after as-of (90-day churn probability at as-of)
LEAK_RATE = 0.035  # share of clients carrying each planted leak type
CENT = Decimal("0.01")


def money(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def maintenance_hours(devices: FloatArr | IntArr) -> FloatArr:
    """Monthly proactive maintenance hours of a managed client (non-billable)."""
    return np.asarray(np.clip(np.round((0.5 + 0.04 * devices) * 4) / 4, 0.5, 6.0), dtype=float)


def leak_count(n_clients: int) -> int:
    return max(1, round(LEAK_RATE * n_clients))


@dataclass
class Term:
    """One 12-month contract term (one ``contracts`` row)."""

    client: int
    start: int  # month index (negative: began before the window)
    end: int  # last month index of the term as written (start + 11)
    unit_price: Decimal  # per user / per device / monthly fee / hourly (T&M)
    hourly_rate: Decimal
    included_hours: int | None
    quantity: int | None
    discount_pct: Decimal
    escalation_pct: Decimal | None
    increase_pct: float = 0.0  # increase applied at this term's start
    escalation_missed: bool = False
    expected_unit_price: Decimal = Decimal(0)
    expected_hourly_rate: Decimal = Decimal(0)
    discount_leak: bool = False
    cancelled_on: dt.date | None = None
    external_id: str = ""


@dataclass
class Panel:
    """Per-client arrays; monthly arrays have ``n_months + FUTURE`` columns (latent ones
    ``BURN_IN`` more at the front)."""

    n: int
    n_months: int
    ids: list[str]
    names: list[str]
    domains: list[str]
    industry: IntArr
    kind: IntArr
    prospect: BoolArr
    onboard: IntArr  # month index of onboarding (negative: before the window)
    seats: IntArr
    devices: IntArr
    quality: FloatArr  # latent, BURN_IN + months + FUTURE
    stress: FloatArr
    base_rate: FloatArr
    trend: FloatArr
    elasticity: FloatArr
    frailty: FloatArr
    base_delay: FloatArr
    chronic_late: BoolArr
    net_days: IntArr
    decay_start: IntArr
    decay_len: IntArr
    expected_delay: FloatArr  # months + FUTURE
    drivers: dict[str, FloatArr]
    logit_ex_price: FloatArr
    hazard: FloatArr
    churn_month: IntArr  # -1 when the client did not churn
    churned_on: list[dt.date | None]
    tickets: TicketDraws  # every ticket drawn up to as-of, churned or not (see experience)
    terms: list[Term] = field(default_factory=list)
    term_at: IntArr = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))

    def q(self, month: int) -> FloatArr:
        return self.quality[:, BURN_IN + month]

    @property
    def active(self) -> BoolArr:
        return ~self.prospect

    def alive(self) -> BoolArr:
        """``alive[i, m]``: client ``i`` is a customer for at least one day of month ``m``."""
        m = np.arange(self.n_months)[None, :]
        last = np.where(self.churn_month >= 0, self.churn_month, self.n_months - 1)[:, None]
        return np.asarray((~self.prospect[:, None]) & (self.onboard[:, None] <= m) & (m <= last))

    def onboarded_on(self, window: Window, i: int) -> dt.date | None:
        return None if self.prospect[i] else window.month_date(int(self.onboard[i]))

    def active_days(self, window: Window) -> tuple[IntArr, IntArr]:
        """First and last day index of each client's activity in the window (-1, -2: none)."""
        start = np.full(self.n, -1, dtype=np.int64)
        end = np.full(self.n, -2, dtype=np.int64)
        for i in range(self.n):
            if self.prospect[i]:
                continue
            start[i] = window.month_first_day(max(0, int(self.onboard[i])))
            churned = self.churned_on[i]
            end[i] = window.day_index(churned) if churned else window.n_days - 1
        return start, end

    def expected_tickets(self, month: int) -> FloatArr:
        """Deseasonalised expected tickets of month ``month`` (demand model, no calendar)."""
        s = self.seats[:, month]
        t = month / 12.0
        return np.asarray(
            self.base_rate * s * np.exp(self.trend * t + DEMAND.quality_coef * self.q(month)),
            dtype=np.float64,
        )


def _quota(n: int, shares: tuple[float, ...], rng: np.random.Generator) -> IntArr:
    """Assign ``n`` items to categories in the given shares (largest remainder), shuffled;
    every category gets one when ``n`` allows."""
    raw = np.array(shares) * n
    counts = np.floor(raw).astype(np.int64)
    for k in np.argsort(-(raw - counts), kind="stable")[: n - int(counts.sum())]:
        counts[k] += 1
    if n >= len(shares):
        for k in range(len(shares)):
            while counts[k] == 0:
                donor = int(np.argmax(counts))
                counts[donor] -= 1
                counts[k] += 1
    labels = np.repeat(np.arange(len(shares)), counts)
    return np.asarray(rng.permutation(labels), dtype=np.int64)


def _names(n: int, industry: IntArr, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    names: list[str] = []
    domains: list[str] = []
    taken: set[str] = set()
    for i in range(n):
        ind = catalog.INDUSTRIES[int(industry[i])][0]
        nouns = catalog.INDUSTRY_NOUNS[ind]
        name = ""
        for _ in range(6):
            prefix = catalog.NAME_PREFIXES[int(rng.integers(len(catalog.NAME_PREFIXES)))]
            name = f"{prefix} {nouns[int(rng.integers(len(nouns)))]}"
            if name not in taken:
                break
        base, k = name, 2
        while name in taken:
            name, k = f"{base} {k}", k + 1
        taken.add(name)
        names.append(name)
        slug = "".join(ch for ch in name.lower() if ch.isalnum())[:40]
        domains.append(f"{slug}.com")
    return names, domains


def _latent(
    rng: np.random.Generator,
    n: int,
    total: int,
    start_sd: float,
    rho: float,
    sd: float,
    episode_share: float,
    episode_len: tuple[int, int],
    drift: float,
) -> tuple[FloatArr, IntArr, IntArr]:
    x = np.zeros((n, total))
    x[:, 0] = rng.normal(0.0, start_sd, n)
    has = rng.random(n) < episode_share
    start = np.where(has, rng.integers(0, total, n), -10_000)
    length = np.where(has, rng.integers(episode_len[0], episode_len[1] + 1, n), 0)
    shocks = rng.normal(0.0, sd, (n, total))
    for t in range(1, total):
        in_episode = (start <= t) & (t < start + length)
        x[:, t] = rho * x[:, t - 1] + shocks[:, t] + np.where(in_episode, drift, 0.0)
    return x, np.asarray(start, dtype=np.int64), np.asarray(length, dtype=np.int64)


def _round_to(value: float, step: float) -> Decimal:
    return money(round(value / step) * step)


def _experienced(
    window: Window,
    quality: FloatArr,
    seats: FloatArr,
    base_rate: FloatArr,
    trend: FloatArr,
    onboard: IntArr,
    prospect: BoolArr,
    rng: np.random.Generator,
) -> tuple[TicketDraws, FloatArr, FloatArr, FloatArr]:
    """The tickets every client would open until as-of and, per latent month, the tickets,
    SLA breaches and summed satisfaction it experienced: realised inside the window, expected
    (demand model, ``b(q)``, ``c(q)``) in the burn-in months before it and the simulated
    months after as-of, none before onboarding."""
    n, months = len(onboard), window.n_months
    total = quality.shape[1]
    start = np.full(n, -1, dtype=np.int64)
    for i in np.flatnonzero(~prospect):
        start[i] = window.month_first_day(max(0, int(onboard[i])))
    inside = slice(BURN_IN, BURN_IN + months)
    seats_window = np.asarray(seats[:, :months], dtype=np.int64)
    draws = draw_tickets(window, quality[:, inside], seats_window, base_rate, trend, start, rng)
    realised = monthly_experience(draws, window, n)
    # expectations for the months outside the window (seats of the nearest month)
    lat_t = (np.arange(total) - BURN_IN) / 12.0
    col = np.clip(np.arange(total) - BURN_IN, 0, seats.shape[1] - 1)
    expected_n = (
        base_rate[:, None]
        * seats[:, col]
        * np.exp(trend[:, None] * lat_t + DEMAND.quality_coef * quality)
    )
    m = np.arange(total)[None, :] - BURN_IN
    expected_n = np.where((m >= onboard[:, None]) & ~prospect[:, None], expected_n, 0.0)
    out = []
    for got, per_ticket in zip(
        realised,
        (np.ones_like(quality), expected_breach_rate(quality), expected_csat(quality)),
        strict=True,
    ):
        full = expected_n * per_ticket
        full[:, inside] = got
        out.append(full)
    return draws, out[0], out[1], out[2]


@dataclass
class _Clients:
    """Who the clients are (drawn first)."""

    prospect: BoolArr
    industry: IntArr
    ind_rate: FloatArr
    ind_price: FloatArr
    ind_elast: FloatArr
    names: list[str]
    domains: list[str]
    kind: IntArr
    onboard: IntArr


@dataclass
class _Latent:
    """The latent processes behind service quality, demand, payment and churn."""

    quality: FloatArr
    decay_start: IntArr
    decay_len: IntArr
    stress: FloatArr
    chronic: BoolArr
    base_delay: FloatArr
    net_days: IntArr
    delay: FloatArr  # latent months
    base_rate: FloatArr
    trend: FloatArr
    elasticity: FloatArr
    frailty: FloatArr


@dataclass
class _Prices:
    """First-term prices and the contract policy each client was signed on."""

    esc_draw: IntArr
    has_clause: BoolArr
    disc_draw: FloatArr
    leak_extra: FloatArr
    unit: FloatArr  # first-term price: per unit, monthly fee or hourly
    included: FloatArr
    hourly: FloatArr


@dataclass
class _LeakCandidates:
    """Leak candidates decided at renewal time (they change prices, hence churn)."""

    k_leaks: int
    esc_target: IntArr
    disc_target: IntArr
    esc_cand: BoolArr
    disc_cand: BoolArr


@dataclass
class _Simulation:
    """The month-by-month outcome: drivers, churn logits and hazards, who churned when."""

    drivers: dict[str, FloatArr]
    logit: FloatArr
    hazard: FloatArr
    churn_month: IntArr
    esc_missed_at: IntArr
    disc_leak_at: IntArr


def build_panel(
    window: Window, n_clients: int, rng: np.random.Generator, ticket_rng: np.random.Generator
) -> Panel:
    n, months = n_clients, window.n_months
    span = months + FUTURE
    total = BURN_IN + span

    clients = _draw_clients(n, months, rng)
    seats, devices = _draw_seats_and_devices(n, months, span, rng)
    latent = _draw_latent(n, total, clients, rng)
    prices = _draw_prices(n, span, clients, latent, seats, rng)
    candidates = _leak_candidates(n, window.n_invoiced, clients, prices, rng)
    # the service each client experiences (tickets drawn before churn reacts to them)
    draws, exp_n, exp_breach, exp_sat = _experienced(
        window,
        latent.quality,
        seats,
        latent.base_rate,
        latent.trend,
        clients.onboard,
        clients.prospect,
        ticket_rng,
    )
    sim = _simulate_months(
        n,
        months,
        span,
        total,
        clients,
        latent,
        prices,
        candidates,
        seats,
        devices,
        (exp_n, exp_breach, exp_sat),
        rng,
    )
    u_day = rng.random(n)
    churned_on = _churn_dates(window, sim.churn_month, u_day)

    panel = Panel(
        n=n,
        n_months=months,
        ids=[f"c{i + 1:04d}" for i in range(n)],
        names=clients.names,
        domains=clients.domains,
        industry=clients.industry,
        kind=clients.kind,
        prospect=clients.prospect,
        onboard=clients.onboard,
        seats=seats.astype(np.int64),
        devices=devices.astype(np.int64),
        quality=latent.quality,
        stress=latent.stress,
        base_rate=latent.base_rate,
        trend=latent.trend,
        elasticity=latent.elasticity,
        frailty=latent.frailty,
        base_delay=latent.base_delay,
        chronic_late=latent.chronic,
        net_days=latent.net_days,
        decay_start=latent.decay_start - BURN_IN,
        decay_len=latent.decay_len,
        expected_delay=np.asarray(latent.delay[:, BURN_IN:], dtype=np.float64),
        drivers=sim.drivers,
        logit_ex_price=sim.logit,
        hazard=sim.hazard,
        churn_month=sim.churn_month,
        churned_on=churned_on,
        tickets=draws,
    )
    _build_terms(
        panel,
        window,
        prices.unit,
        prices.hourly,
        prices.included,
        prices.disc_draw,
        prices.leak_extra,
        prices.has_clause,
        prices.esc_draw,
        sim.esc_missed_at,
        sim.disc_leak_at,
    )
    return panel


def _draw_clients(n: int, months: int, rng: np.random.Generator) -> _Clients:
    n_prospects = round(0.03 * n) if n >= 20 else 0
    prospect = np.zeros(n, dtype=np.bool_)
    prospect[rng.choice(n, n_prospects, replace=False)] = True
    ind_share = np.array([row[1] for row in catalog.INDUSTRIES])
    industry = np.asarray(rng.choice(len(ind_share), n, p=ind_share / ind_share.sum()), np.int64)
    ind_rate = np.array([catalog.INDUSTRIES[k][2] for k in industry])
    ind_price = np.array([catalog.INDUSTRIES[k][3] for k in industry])
    ind_elast = np.array([catalog.INDUSTRIES[k][4] for k in industry])
    names, domains = _names(n, industry, rng)
    kind = np.full(n, PER_USER, dtype=np.int64)
    active_idx = np.flatnonzero(~prospect)
    kind[active_idx] = _quota(len(active_idx), KIND_SHARE, rng)

    # onboarding: ~65% before the window, the rest spread over it (not in the as-of month)
    before = rng.random(n) < 0.65
    onboard = np.where(
        before, -rng.integers(1, 97, n), rng.integers(0, max(1, months - 1), n)
    ).astype(np.int64)
    onboard[prospect] = months + FUTURE  # never
    return _Clients(
        prospect=prospect,
        industry=industry,
        ind_rate=ind_rate,
        ind_price=ind_price,
        ind_elast=ind_elast,
        names=names,
        domains=domains,
        kind=kind,
        onboard=onboard,
    )


def _draw_seats_and_devices(
    n: int, months: int, span: int, rng: np.random.Generator
) -> tuple[FloatArr, FloatArr]:
    seats0 = np.clip(np.round(rng.lognormal(np.log(15), 0.95, n)), 2, 500)
    growth = rng.normal(0.04, 0.10, n)
    walk = np.cumsum(rng.normal(0, 0.015, (n, span)), axis=1)
    t_years = np.arange(span) / 12.0
    seats = np.maximum(1, np.round(seats0[:, None] * np.exp(growth[:, None] * t_years + walk)))
    seats[:, months - 1 :] = seats[:, [months - 2]]  # the as-of month matches the last invoice
    dev_ratio = rng.uniform(1.0, 1.4, n)
    devices = np.maximum(1, np.round(seats * dev_ratio[:, None]))
    return seats, devices


def _draw_latent(n: int, total: int, clients: _Clients, rng: np.random.Generator) -> _Latent:
    quality, decay_start, decay_len = _latent(rng, n, total, 0.35, 0.85, 0.18, 0.22, (4, 12), -0.22)
    stress, _, _ = _latent(rng, n, total, 0.15, 0.85, 0.08, 0.12, (3, 8), 0.20)
    chronic = rng.random(n) < 0.10
    base_delay = np.where(
        chronic, rng.lognormal(np.log(50), 0.2, n), rng.lognormal(np.log(20), 0.3, n)
    )
    net_days = np.where(rng.random(n) < 0.8, 30, 15).astype(np.int64)
    delay = base_delay[:, None] * np.exp(0.6 * stress)  # latent months
    base_rate = 0.33 * clients.ind_rate * rng.lognormal(-0.08, 0.4, n)
    trend = rng.normal(0.0, 0.10, n)
    elasticity = np.clip(clients.ind_elast * rng.lognormal(0.0, 0.45, n), 0.15, 5.0)
    frailty = rng.normal(0.0, CHURN.frailty_sd, n)
    return _Latent(
        quality=quality,
        decay_start=decay_start,
        decay_len=decay_len,
        stress=stress,
        chronic=chronic,
        base_delay=base_delay,
        net_days=net_days,
        delay=delay,
        base_rate=base_rate,
        trend=trend,
        elasticity=elasticity,
        frailty=frailty,
    )


def _draw_prices(
    n: int,
    span: int,
    clients: _Clients,
    latent: _Latent,
    seats: FloatArr,
    rng: np.random.Generator,
) -> _Prices:
    ind_price = clients.ind_price
    esc_draw = rng.choice([3, 4, 5, 6, 7], n)
    has_clause = rng.random(n) >= 0.12
    disc_draw = np.where(rng.random(n) < 0.55, 0.0, rng.choice([2.0, 3.0, 5.0, 7.5, 10.0], n))
    pu_price = np.clip(rng.lognormal(np.log(150), 0.2, n) * ind_price, 100, 250)
    pd_price = np.clip(rng.lognormal(np.log(65), 0.2, n) * ind_price, 40, 95)
    hourly = np.clip(rng.normal(155, 15, n) * ind_price, 120, 195)
    block_fit = rng.uniform(0.8, 1.2, n)
    block_discount = rng.uniform(0.85, 0.95, n)
    flat_per_seat = rng.uniform(90, 160, n) * ind_price
    leak_extra = rng.choice([5.0, 7.5, 10.0, 15.0], n)

    first_month = np.maximum(clients.onboard, 0)
    m_idx = np.clip(first_month, 0, span - 1)
    s_first = seats[np.arange(n), m_idx]
    lat_first = BURN_IN + m_idx
    tickets_first = (
        latent.base_rate
        * s_first
        * np.exp(
            latent.trend * m_idx / 12
            + DEMAND.quality_coef * latent.quality[np.arange(n), lat_first]
        )
    )
    hours_first = tickets_first * CHURN.hours_per_ticket
    unit = np.zeros(n)  # first-term price: per unit, monthly fee or hourly
    included = np.zeros(n)
    for i in range(n):
        k = int(clients.kind[i])
        hourly[i] = float(_round_to(hourly[i], 5))
        if k == PER_USER:
            unit[i] = float(_round_to(pu_price[i], 5))
        elif k == PER_DEVICE:
            unit[i] = float(_round_to(pd_price[i], 1))
        elif k == BLOCK:
            included[i] = max(5.0, round(hours_first[i] * block_fit[i] / 5) * 5)
            unit[i] = float(_round_to(included[i] * hourly[i] * block_discount[i], 10))
        elif k == TM:
            unit[i] = hourly[i]
        else:
            unit[i] = float(_round_to(max(750.0, s_first[i] * flat_per_seat[i]), 50))
    return _Prices(
        esc_draw=esc_draw,
        has_clause=has_clause,
        disc_draw=disc_draw,
        leak_extra=leak_extra,
        unit=unit,
        included=included,
        hourly=hourly,
    )


def _leak_candidates(
    n: int, n_inv: int, clients: _Clients, prices: _Prices, rng: np.random.Generator
) -> _LeakCandidates:
    """Each candidate gets one target month among its term starts inside the billed window; the
    leak is planted there if the client is still a customer and the quota is not yet full."""
    prospect, onboard = clients.prospect, clients.onboard
    k_leaks = leak_count(int((~prospect).sum()))
    n_cand = max(4 * k_leaks, 12)
    esc_target = np.full(n, -1, dtype=np.int64)
    disc_target = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        if prospect[i]:
            continue
        o = int(onboard[i])
        starts = [m for m in range(max(o, 0), n_inv) if (m - o) % 12 == 0]
        renewals = [m for m in starts if m > o and 1 <= m <= n_inv - 2]
        if prices.has_clause[i] and renewals:
            esc_target[i] = renewals[int(rng.integers(len(renewals)))]
        if o < 0:
            starts = [0, *starts]
        if clients.kind[i] != TM and starts:
            disc_target[i] = starts[int(rng.integers(len(starts)))]
    esc_cand = np.zeros(n, dtype=np.bool_)
    esc_cand[rng.permutation(np.flatnonzero(esc_target >= 0))[:n_cand]] = True
    disc_cand = np.zeros(n, dtype=np.bool_)
    disc_cand[rng.permutation(np.flatnonzero((disc_target >= 0) & ~esc_cand))[:n_cand]] = True
    return _LeakCandidates(
        k_leaks=k_leaks,
        esc_target=esc_target,
        disc_target=disc_target,
        esc_cand=esc_cand,
        disc_cand=disc_cand,
    )


def _simulate_months(
    n: int,
    months: int,
    span: int,
    total: int,
    clients: _Clients,
    latent: _Latent,
    prices: _Prices,
    candidates: _LeakCandidates,
    seats: FloatArr,
    devices: FloatArr,
    experienced: tuple[FloatArr, FloatArr, FloatArr],
    rng: np.random.Generator,
) -> _Simulation:
    """Month by month: prices (with the planted leaks), drivers, hazard, churn."""
    prospect, onboard, kind = clients.prospect, clients.onboard, clients.kind
    quality, base_rate, trend = latent.quality, latent.base_rate, latent.trend
    esc_draw, has_clause, leak_extra = prices.esc_draw, prices.has_clause, prices.leak_extra
    unit, included, hourly = prices.unit, prices.included, prices.hourly
    k_leaks = candidates.k_leaks
    esc_cand, esc_target = candidates.esc_cand, candidates.esc_target
    disc_cand, disc_target = candidates.disc_cand, candidates.disc_target
    exp_n, exp_breach, exp_sat = experienced
    discount = prices.disc_draw / 100.0
    esc_missed_at = np.full(n, -1, dtype=np.int64)
    disc_leak_at = np.full(n, -1, dtype=np.int64)
    neutral_breach = float(expected_breach_rate(np.zeros(1))[0])
    neutral_sat = float(expected_csat(np.zeros(1))[0])
    memory = CHURN.experience_decay ** np.arange(CHURN.experience_months - 1, -1, -1.0)

    inc = np.zeros((n, span))
    mult = np.ones(n)
    margin = np.zeros((n, span))
    drivers = {
        k: np.zeros((n, span))
        for k in ("x_csat", "x_breach", "x_volume", "x_late", "x_price", "x_renewal", "x_margin")
    }
    logit = np.zeros((n, span))
    hazard = np.zeros((n, span))
    churned = np.zeros(n, dtype=np.bool_)
    churn_month = np.full(n, -1, dtype=np.int64)
    u_churn = rng.random((n, months))
    lat_t = (np.arange(total) - BURN_IN) / 12.0
    rate = base_rate[:, None] * np.exp(trend[:, None] * lat_t + DEMAND.quality_coef * quality)
    late = np.maximum(0.0, latent.delay - latent.net_days[:, None]) / 30.0
    maint = maintenance_hours(devices)
    disc_eff = discount.copy()
    for m in range(span):
        lat = BURN_IN + m
        active = ~prospect & (onboard <= m) & ~churned
        tenure = m - onboard
        renew = active & (tenure > 0) & (tenure % 12 == 0)
        if m < months:
            # escalation clause skipped at this renewal (a planted leak)
            can = renew & esc_cand & (esc_target == m)
            room = k_leaks - int((esc_missed_at >= 0).sum())
            for i in np.flatnonzero(can)[: max(0, room)]:
                esc_missed_at[i] = m
            # a term signed with a discount beyond policy (a planted leak)
            can = active & disc_cand & (disc_target == m)
            room = k_leaks - int((disc_leak_at >= 0).sum())
            for i in np.flatnonzero(can)[: max(0, room)]:
                disc_leak_at[i] = m
        applied = renew & has_clause & (esc_missed_at != m)
        inc[applied, m] = esc_draw[applied]
        mult = mult * (1 + inc[:, m] / 100.0)
        # the discount of the current term (a leak term ends at its next renewal)
        disc_eff = np.where(disc_leak_at == m, (10.0 + leak_extra) / 100.0, disc_eff)
        ended = (disc_leak_at >= 0) & (disc_leak_at < m) & renew
        disc_eff = np.where(ended, discount, disc_eff)

        # expected service margin this month
        e_tickets = (
            base_rate * seats[:, m] * np.exp(trend * m / 12 + DEMAND.quality_coef * quality[:, lat])
        )
        managed = np.isin(kind, MANAGED_KINDS)
        e_hours = e_tickets * CHURN.hours_per_ticket + np.where(managed, maint[:, m], 0.0)
        price = unit * mult
        rev = np.select(
            [kind == PER_USER, kind == PER_DEVICE, kind == BLOCK, kind == TM],
            [
                price * seats[:, m] * (1 - disc_eff),
                price * devices[:, m] * (1 - disc_eff),
                price * (1 - disc_eff) + np.maximum(0, e_hours - included) * hourly * mult,
                e_hours * price,
            ],
            price * (1 - disc_eff),
        )
        cost = e_hours * CHURN.labour_cost_per_hour
        margin[:, m] = (rev - cost) / np.maximum(rev, 1.0)

        # drivers over the previous three months
        prev = slice(lat - 3, lat)
        # the service experienced over the last months, the most recent weighing most
        past = slice(lat - CHURN.experience_months, lat)
        seen = exp_n[:, past] @ memory + CHURN.experience_prior
        satisfied = exp_sat[:, past] @ memory + CHURN.experience_prior * neutral_sat
        breaches = exp_breach[:, past] @ memory + CHURN.experience_prior * neutral_breach
        drivers["x_csat"][:, m] = CHURN.csat_reference - satisfied / seen
        drivers["x_breach"][:, m] = breaches / seen
        ratio = rate[:, prev].mean(axis=1) / rate[:, lat - 6 : lat - 3].mean(axis=1)
        drivers["x_volume"][:, m] = np.clip(np.log(ratio), -1.0, 1.0)
        drivers["x_late"][:, m] = late[:, prev].mean(axis=1)
        drivers["x_price"][:, m] = inc[:, max(0, m - 3) : m].sum(axis=1)
        drivers["x_renewal"][:, m] = np.where(tenure >= 0, (tenure % 12) >= 10, 0.0)
        shortfall = np.clip(
            (CHURN.margin_reference - margin[:, max(0, m - 3) : max(1, m)])
            / CHURN.margin_reference,
            0.0,
            1.0,
        )
        drivers["x_margin"][:, m] = shortfall.mean(axis=1)
        z = (
            CHURN.intercept
            + CHURN.csat * drivers["x_csat"][:, m]
            + CHURN.breach * drivers["x_breach"][:, m]
            + CHURN.volume * drivers["x_volume"][:, m]
            + CHURN.late * drivers["x_late"][:, m]
            + CHURN.renewal * drivers["x_renewal"][:, m]
            + CHURN.margin * drivers["x_margin"][:, m]
            + latent.frailty
        )
        logit[:, m] = z
        hazard[:, m] = sigmoid(z + CHURN.price * latent.elasticity * drivers["x_price"][:, m])
        if m < months:
            at_risk = active & (tenure > 0)
            event = at_risk & (u_churn[:, m] < hazard[:, m])
            churned |= event
            churn_month[event] = m
    return _Simulation(
        drivers=drivers,
        logit=logit,
        hazard=hazard,
        churn_month=churn_month,
        esc_missed_at=esc_missed_at,
        disc_leak_at=disc_leak_at,
    )


def _churn_dates(window: Window, churn_month: IntArr, u_day: FloatArr) -> list[dt.date | None]:
    churned_on: list[dt.date | None] = []
    for i in range(len(churn_month)):
        cm = int(churn_month[i])
        if cm < 0:
            churned_on.append(None)
            continue
        first_day = window.month_date(cm)
        last_day = min(month_end(first_day), window.as_of)
        churned_on.append(first_day + dt.timedelta(days=int(u_day[i] * (last_day.day))))
    return churned_on


def _build_terms(
    panel: Panel,
    window: Window,
    unit: FloatArr,
    hourly: FloatArr,
    included: FloatArr,
    discount: FloatArr,
    leak_extra: FloatArr,
    has_clause: BoolArr,
    esc_draw: IntArr,
    esc_missed_at: IntArr,
    disc_leak_at: IntArr,
) -> None:
    months = panel.n_months
    term_at = np.full((panel.n, months), -1, dtype=np.int64)
    for i in range(panel.n):
        if panel.prospect[i]:
            continue
        o = int(panel.onboard[i])
        last = int(panel.churn_month[i]) if panel.churn_month[i] >= 0 else months - 1
        k = max(0, -((o + 11) // 12))
        price = money(unit[i])
        rate = money(hourly[i])
        esc = Decimal(int(esc_draw[i])).quantize(CENT) if has_clause[i] else None
        kind = int(panel.kind[i])
        previous: Term | None = None
        while o + 12 * k <= last:
            start = o + 12 * k
            missed = bool(esc_missed_at[i] >= 0 and esc_missed_at[i] == start)
            increase = 0.0
            exp_price, exp_rate = price, rate
            if previous is not None and esc is not None:
                factor = 1 + esc / 100
                exp_price = money(previous.unit_price * factor)
                exp_rate = money(previous.hourly_rate * factor)
                if not missed:
                    price, rate, increase = exp_price, exp_rate, float(esc)
            elif k > 0 and esc is not None:
                increase = float(esc)  # a renewal before the window
            leak = bool(disc_leak_at[i] >= 0 and start <= disc_leak_at[i] <= start + 11)
            disc = Decimal(str(10.0 + leak_extra[i] if leak else discount[i])).quantize(CENT)
            m0 = min(max(start, 0), months - 1)
            quantity = {
                PER_USER: int(panel.seats[i, m0]),
                PER_DEVICE: int(panel.devices[i, m0]),
                BLOCK: 1,
                FLAT: 1,
            }.get(kind)
            term = Term(
                client=i,
                start=start,
                end=start + 11,
                unit_price=price if kind != TM else rate,
                hourly_rate=rate,
                included_hours=int(included[i]) if kind == BLOCK else None,
                quantity=quantity,
                discount_pct=disc,
                escalation_pct=esc,
                increase_pct=increase,
                escalation_missed=missed,
                expected_unit_price=exp_price if kind != TM else exp_rate,
                expected_hourly_rate=exp_rate,
                discount_leak=leak,
                cancelled_on=panel.churned_on[i] if start <= last <= start + 11 else None,
            )
            if kind == TM:
                price = rate
            panel.terms.append(term)
            term_at[i, max(0, start) : min(months, start + 12)] = len(panel.terms) - 1
            previous = term
            k += 1
    for index, term in enumerate(panel.terms):
        term.external_id = f"k{index + 1:05d}"
    panel.term_at = term_at
