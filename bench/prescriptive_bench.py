"""Benchmarks of the prescriptive tools, each against a baseline measured in the same run.

    python -m mspilot.bench.prescriptive_bench [--clients 2000] [--actions 2000]
                                               [--end-to-end --workdir DIR]
                                               [--quality --seeds 7 11] [--json]

- **pricing speed**: every client of a ``--clients`` tenant priced by ``optimise_prices`` vs the
  plain per-client loop over the same candidate prices (the obvious implementation);
- **pricing end to end** (``--end-to-end``): ``price_portfolio`` on a loaded ``--clients``
  tenant (generated, loaded and its churn model trained once per ``--workdir``, not timed):
  the client genome, the pricing inputs, the price response and the optimiser, cold (genome
  cache empty) and warm (the data unchanged since the last call), against the target of 5 s;
  the baseline is the optimiser alone on the same inputs, measured in the same run;
- **budget speed**: a plan over ``--actions`` candidate actions (with the marginal re-solves)
  vs a greedy value-per-dollar heuristic; the greedy plan's value gap is reported too;
- **pricing quality** (``--quality``): on demo tenants generated from each seed, the expected
  profit of the recommended prices under the *true* price response of the ground truth, vs the
  oracle (the best legal prices under the truth), holding prices, and raising every price as
  far as policy allows. Ground truth is read here, never by the product.

Size: a benchmark script (set-up, load generator, report) kept whole so it reads top to
bottom.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mspilot.models.budget import ActionKind, BudgetLimits, CandidateAction, solve_budget
from mspilot.models.pricing import (
    PricingInputs,
    PricingPolicy,
    candidate_prices,
    optimise_prices,
    policy_window,
)
from mspilot.models.pricing_response import LogitShiftResponse

AS_OF = dt.date(2026, 10, 31)


# ---- synthetic inputs for the speed runs ---------------------------------------------------


def synthetic_inputs(n: int, seed: int = 0) -> tuple[PricingInputs, LogitShiftResponse]:
    rng = np.random.default_rng(seed)
    price = rng.uniform(60, 260, n).round(0)
    flat = rng.random(n) < 0.25
    units = np.where(flat, 1.0, rng.integers(3, 150, n).astype(float))
    price = np.where(flat, rng.uniform(2000, 30000, n).round(-1), price)
    revenue = price * units * rng.uniform(1.0, 1.4, n)
    ends = [AS_OF + dt.timedelta(days=int(d)) for d in rng.integers(-30, 400, n)]
    inputs = PricingInputs(
        client_id=[f"c{i}" for i in range(n)],
        client_name=[f"Client {i}" for i in range(n)],
        contract_id=[f"k{i}" for i in range(n)],
        kind=["flat" if f else "per_user" for f in flat],
        unit=["month" if f else "user" for f in flat],
        price=price,
        units=units,
        client_revenue=revenue,
        client_cost=revenue * rng.uniform(0.3, 1.0, n),
        prior_change_pct=np.zeros(n),
        starts_on=[add_year(e, -1) for e in ends],
        ends_on=ends,  # type: ignore[arg-type]
        escalation_pct=rng.choice([0.0, 3.0, 5.0], n),
    )
    response = LogitShiftResponse(
        rng.uniform(0.005, 0.15, n),
        0.2 * rng.lognormal(0, 0.45, n),
        "synthetic",
        monthly=True,
        increases_only=True,
        spread=0.4,
    )
    return inputs, response


def add_year(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def naive_pricing(
    inputs: PricingInputs, response: LogitShiftResponse, policy: PricingPolicy
) -> np.ndarray:
    """The obvious implementation: per client, per candidate, a month-by-month loop."""
    out = np.zeros(len(inputs))
    p_now_all = response.churn_90d(np.zeros(len(inputs)))
    for i in range(len(inputs)):
        window = policy_window(inputs, i, policy, AS_OF)
        price = float(inputs.price[i])
        h0 = 1 - (1 - float(p_now_all[i])) ** (1 / 3)
        best, best_price = -math.inf, price
        for cand in candidate_prices(price, window, policy):
            change = np.zeros(len(inputs))
            change[i] = cand / price - 1
            p_new = float(response.churn_90d(change)[i])
            h1 = 1 - (1 - p_new) ** (1 / 3)
            k = window.effective_month
            alive, total = 1.0, 0.0
            for t in range(1, k + policy.horizon_months + 1):
                total += alive * (
                    inputs.margin[i] + ((cand - price) * inputs.units[i] if t > k else 0)
                )
                alive *= 1 - (h1 if k < t <= k + policy.response_months else h0)
            if total > best + 1e-9:
                best, best_price = total, cand
        out[i] = best_price
    return out


def bench_pricing(n: int) -> dict[str, Any]:
    inputs, response = synthetic_inputs(n)
    policy = PricingPolicy()
    t = time.perf_counter()
    recs = optimise_prices(inputs, response, policy, AS_OF)
    fast = time.perf_counter() - t
    subset = list(range(min(n, 200)))
    sub_in = inputs.subset(subset)
    sub_resp = LogitShiftResponse(
        response.base[subset],
        response.slope[subset],
        monthly=True,
        increases_only=True,
        spread=0.4,
    )
    t = time.perf_counter()
    naive = naive_pricing(sub_in, sub_resp, policy)
    slow = (time.perf_counter() - t) * n / len(subset)
    agree = float(
        np.mean(np.isclose(naive, [recs[i].recommended_price for i in subset], atol=0.01))
    )
    return {
        "clients": n,
        "seconds": fast,
        "baseline_seconds_extrapolated": slow,
        "speedup": slow / fast,
        "baseline_agrees": agree,
    }


PRICING_TARGET_S = 5.0


def bench_pricing_end_to_end(workdir: Path, n: int, repeat: int = 3) -> dict[str, Any]:
    """``price_portfolio`` on a loaded tenant, cold and warm, with its parts timed."""
    import os
    import statistics

    from mspilot.bench.digest_bench import setup
    from mspilot.core.clock import Clock
    from mspilot.models.data import clear_versioned_caches
    from mspilot.models.features import build_features
    from mspilot.models.pricing_data import load_pricing_inputs
    from mspilot.models.pricing_service import default_policy, history_response, price_portfolio

    engine, tenant_id, _setup = setup(workdir, n, 2)
    clock = Clock(AS_OF)
    price_portfolio(engine, tenant_id, clock, workdir)  # imports, model files
    cold, cold_cpu, warm, base, parts = [], [], [], [], []
    for _ in range(repeat):  # interleaved: every figure sees the same machine load
        clear_versioned_caches()
        t, cpu = time.perf_counter(), time.process_time()
        report = price_portfolio(engine, tenant_id, clock, workdir)
        cold.append(time.perf_counter() - t)
        cold_cpu.append(time.process_time() - cpu)
        t = time.perf_counter()
        price_portfolio(engine, tenant_id, clock, workdir)
        warm.append(time.perf_counter() - t)
        step: dict[str, float] = {}
        t = time.perf_counter()
        build_features(engine, tenant_id, AS_OF)
        step["genome"] = time.perf_counter() - t
        t = time.perf_counter()
        inputs = load_pricing_inputs(engine, tenant_id, AS_OF)
        step["pricing_inputs"] = time.perf_counter() - t
        t = time.perf_counter()
        response, _fit = history_response(engine, tenant_id, AS_OF, workdir, inputs)
        step["price_response_warm_genome"] = time.perf_counter() - t
        policy = default_policy(engine, tenant_id)
        t = time.perf_counter()
        optimise_prices(inputs, response, policy, AS_OF)
        base.append(time.perf_counter() - t)
        parts.append(step)
    engine.dispose()
    cold_s, warm_s, base_s = (statistics.median(x) for x in (cold, warm, base))
    return {
        "clients_priced": len(report.recommendations),
        "cold_s": cold_s,
        "warm_s": warm_s,
        "cold_runs_s": [round(x, 2) for x in cold],
        "cold_cpu_s": statistics.median(cold_cpu),
        "warm_runs_s": [round(x, 2) for x in warm],
        "baseline": "optimise_prices alone on the same inputs",
        "baseline_s": base_s,
        "cold_vs_baseline": cold_s / base_s,
        "parts_s": {k: round(statistics.median(p[k] for p in parts), 3) for k in parts[0]},
        "target_s": PRICING_TARGET_S,
        "meets_target": cold_s <= PRICING_TARGET_S,
        "load_average": list(os.getloadavg()),
    }


# ---- budget ----------------------------------------------------------------------------------


def synthetic_actions(n: int, seed: int = 0) -> list[CandidateAction]:
    rng = np.random.default_rng(seed)
    actions: list[CandidateAction] = []
    n_clients = max(1, n // 3)
    while len(actions) < n - 2:
        i = len(actions)
        client = int(rng.integers(n_clients))
        kind = rng.choice(
            [ActionKind.RETENTION, ActionKind.UPSELL, ActionKind.LEAK_RECOVERY], p=[0.7, 0.15, 0.15]
        )
        actions.append(
            CandidateAction(
                id=f"a{i}",
                kind=kind,
                label=f"action {i}",
                client_id=f"c{client}",
                cost=float(rng.choice([0, 300, 500, 1200]))
                if kind == ActionKind.RETENTION
                else 0.0,
                hours=float(rng.choice([1, 2, 6, 24])),
                value=float(rng.lognormal(7, 1)),
            )
        )
    actions.append(
        CandidateAction(
            id="overtime",
            kind=ActionKind.OVERTIME,
            label="overtime",
            cost=150 * 95.0,
            hours_supplied=150,
            value=0.0,
            divisible=True,
        )
    )
    actions.append(
        CandidateAction(
            id="contractor",
            kind=ActionKind.HIRING,
            label="contractor",
            cost=480 * 95.0,
            hours_supplied=480,
            value=0.0,
            max_units=3,
        )
    )
    return actions


def greedy_plan(actions: list[CandidateAction], limits: BudgetLimits) -> float:
    """Value per dollar-and-hour, highest first, while budget and hours last."""
    budget, hours = limits.budget, limits.hours
    used_clients: set[str] = set()
    net = 0.0
    order = sorted(
        (a for a in actions if a.net_value > 0),
        key=lambda a: -a.net_value / (a.cost + 60 * a.hours + 1),
    )
    for a in order:
        if a.client_id in used_clients or a.cost > budget or a.hours > hours:
            continue
        budget -= a.cost
        hours -= a.hours
        net += a.net_value
        if a.client_id is not None:
            used_clients.add(a.client_id)
    return net


def bench_budget(n: int) -> dict[str, Any]:
    actions = synthetic_actions(n)
    limits = BudgetLimits(budget=40_000, hours=600)
    t = time.perf_counter()
    plan = solve_budget(actions, limits, marginal=True)
    full = time.perf_counter() - t
    t = time.perf_counter()
    plain = solve_budget(actions, limits, marginal=False)
    plan_only = time.perf_counter() - t
    t = time.perf_counter()
    greedy = greedy_plan(actions, limits)
    greedy_s = time.perf_counter() - t
    return {
        "actions": len(actions),
        "status": plan.status,
        "seconds_with_marginals": full,
        "seconds_plan_only": plan_only,
        "greedy_seconds": greedy_s,
        "net_value": plan.net_value,
        "greedy_net_value": greedy,
        "greedy_shortfall_pct": 100 * (1 - greedy / plan.net_value) if plan.net_value else 0.0,
        "same_objective_both_runs": math.isclose(plan.net_value, plain.net_value, rel_tol=1e-9),
    }


# ---- pricing quality against the ground truth ------------------------------------------------


def pricing_quality(seed: int, n_clients: int = 150, workdir: Path | None = None) -> dict[str, Any]:
    """Generate a demo tenant, train its churn model, price it, score against the truth."""
    from mspilot.core.clock import Clock
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine
    from mspilot.db.loader import Loader, upsert_tenant
    from mspilot.models.pricing_eval import pricing_quality as pricing_quality_of
    from mspilot.models.training import train_all
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant

    root = Path(workdir or tempfile.mkdtemp(prefix="mspilot-pricing-"))
    config = DemoConfig(seed=seed, n_clients=n_clients, as_of=AS_OF)
    ds = generate_tenant(config, 0)
    engine = make_engine(f"sqlite:///{root / f'seed{seed}.db'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        upsert_tenant(
            conn, ds.tenant.id, ds.tenant.name, max_discount_pct=float(ds.tenant.max_discount_pct)
        )
    Loader(engine, ds.tenant.id, "demo").load_all(ds.tables)
    data_dir = root / f"data{seed}"
    clock = Clock(config.as_of)
    train_all(engine, ds.tenant.id, data_dir, clock, kinds=["churn"], mlflow=False)

    quality = pricing_quality_of(engine, ds.tenant.id, data_dir, ds.truth, config.as_of)
    engine.dispose()
    return {"seed": seed, **quality}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--actions", type=int, default=2000)
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None, help="Keep/reuse the tenant here")
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="*", default=[7, 11])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {
        "pricing": bench_pricing(args.clients),
        "budget": bench_budget(args.actions),
    }
    if args.end_to_end:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mspilot-pricing-bench-"))
        result["pricing_end_to_end"] = bench_pricing_end_to_end(workdir, args.clients)
    if args.quality:
        result["quality"] = [pricing_quality(s) for s in args.seeds]
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        p, b = result["pricing"], result["budget"]
        print(
            f"pricing: {p['clients']} clients in {p['seconds']:.2f}s; per-client loop "
            f"{p['baseline_seconds_extrapolated']:.1f}s → {p['speedup']:.0f}× faster "
            f"(same answer on {p['baseline_agrees']:.0%} of the sampled clients)"
        )
        print(
            f"budget: {b['actions']} actions, {b['status']}, {b['seconds_with_marginals']:.2f}s "
            f"with marginal re-solves ({b['seconds_plan_only']:.2f}s plan only); greedy "
            f"{b['greedy_seconds'] * 1000:.0f} ms but {b['greedy_shortfall_pct']:.1f}% less value"
        )
        if "pricing_end_to_end" in result:
            e = result["pricing_end_to_end"]
            verdict = "meets" if e["meets_target"] else "MISSES"
            print(
                f"pricing end to end: {e['clients_priced']} clients, cold {e['cold_s']:.2f}s "
                f"(= {e['cold_vs_baseline']:.1f}x the optimiser alone, {e['baseline_s']:.2f}s), "
                f"warm {e['warm_s']:.2f}s; target <= {e['target_s']:.0f}s: {verdict}; "
                f"cold CPU time {e['cold_cpu_s']:.2f}s\n"
                f"    parts (s): {e['parts_s']}; runs cold {e['cold_runs_s']}, warm "
                f"{e['warm_runs_s']}; load average {[round(x, 1) for x in e['load_average']]}"
            )
        for q in result.get("quality", []):
            print(
                f"quality seed {q['seed']}: {q['ratio_to_oracle']:.4f} of the oracle "
                f"(hold {q['hold_ratio']:.4f}, raise-to-cap {q['max_legal_ratio']:.4f}); "
                f"captures {q['share_of_oracle_gain']:.0%} of the oracle's gain over holding; "
                f"slope learned {q['learned_slope']:.3f}±{q['learned_slope_se']:.3f} "
                f"vs true mean {q['true_mean_slope']:.3f}"
            )
    return result


if __name__ == "__main__":
    main()
