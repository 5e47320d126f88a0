"""Benchmark of the predictive models (issue targets on this 2-core machine):

- train every model on the default demo MSP (150 clients, 3 years) in <= 60 s;
- score every client of a 2,000-client tenant in <= 1 s (the model alone; end to end with the
  genome built from the database (cold) and from the cache keyed by the data version (warm));
- one client's prediction in <= 5 ms with warm caches.

Each figure is printed next to a baseline measured in the same run, as a ratio:
training vs reading the tenant's tables once; scoring vs the logistic baseline on the same
rows. Run: ``.venv/bin/python -m mspilot.bench.models_bench [--workdir DIR] [--json]``
(a workdir keeps the generated databases between runs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

AS_OF = dt.date(2026, 10, 31)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def _world(root: Path, name: str, n_clients: int, years: int) -> tuple[Any, str]:
    """A loaded SQLite demo tenant (generated once per workdir)."""
    from mspilot.cli.demo import load_demo_tenant
    from mspilot.db import migrate
    from mspilot.db.engine import analyze, make_engine
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant

    path = root / f"{name}.db"
    ready = root / f"{name}.ready"
    engine = make_engine(f"sqlite:///{path}")
    config = DemoConfig(seed=7, as_of=AS_OF, n_clients=n_clients, years=years)
    if not ready.exists():
        path.unlink(missing_ok=True)
        migrate.upgrade(engine)
        ds = generate_tenant(config, 0)
        load_demo_tenant(engine, ds.tenant, ds.tables)
        analyze(engine)
        ready.write_text("ok")
    return engine, "demo"


def run(workdir: Path) -> dict[str, Any]:
    from mspilot.core.clock import Clock
    from mspilot.models.churn import LogisticBaseline
    from mspilot.models.data import data_version
    from mspilot.models.features import build_features, cached_features
    from mspilot.models.registry import Registry
    from mspilot.models.training import load_tenant, train_all

    out: dict[str, Any] = {}

    # ---- train everything on the default demo -----------------------------------------------
    engine, tenant = _world(workdir, "demo150", 150, 3)
    data_dir = workdir / f"data150_{int(time.time())}"
    base_s, _ = _timed(lambda: load_tenant(engine, tenant, AS_OF))
    train_s, report = _timed(lambda: train_all(engine, tenant, data_dir, Clock(AS_OF), mlflow=True))
    out["train_all_default_demo"] = {
        "seconds": round(train_s, 2),
        "baseline": "read the tenant's tables once (load_tenant)",
        "baseline_seconds": round(base_s, 2),
        "ratio": round(train_s / base_s, 1),
        "target_seconds": 60,
        "steps": {k: round(v, 2) for k, v in report.timings.items()},
    }

    # ---- score a 2,000-client tenant --------------------------------------------------------
    big, tenant = _world(workdir, "demo2000", 2000, 2)
    big_dir = workdir / "data2000"
    registry = Registry(big_dir, tenant, mlflow=False)
    if registry.champion("churn") is None:
        train_all(big, tenant, big_dir, Clock(AS_OF), kinds=["churn"], mlflow=False)
    model = registry.load("churn")
    features_s, features = _timed(lambda: build_features(big, tenant, AS_OF))
    table = report.artefacts["training_table"]
    labelled = table.genome.loc[table.labelled]
    baseline = LogisticBaseline.fit(labelled, table.labels.loc[table.labelled])
    model.predict_proba(features)  # warm
    score_ms = _median_ms(lambda: model.predict_proba(features), 20)
    base_ms = _median_ms(lambda: baseline.predict_proba(features), 20)
    drivers_s, _ = _timed(lambda: model.drivers(features, top=3))
    cached_features(big, tenant, AS_OF)  # warm the serving cache
    warm_ms = _median_ms(lambda: model.predict_proba(cached_features(big, tenant, AS_OF)), 7)
    version_ms = _median_ms(lambda: data_version(big, tenant), 7)
    out["score_2000_clients"] = {
        "clients": len(features),
        "predict_ms": round(score_ms, 2),
        "baseline": "logistic baseline predict_proba on the same rows",
        "baseline_ms": round(base_ms, 2),
        "ratio": round(score_ms / base_ms, 2),
        "build_features_s": round(features_s, 3),
        "end_to_end_cold_s": round(features_s + score_ms / 1000.0, 3),
        "end_to_end_warm_ms": round(warm_ms, 2),
        "data_version_check_ms": round(version_ms, 2),
        "load_average": list(os.getloadavg()),
        "drivers_all_clients_s": round(drivers_s, 3),
        "target_seconds": 1.0,
    }

    # ---- one client, warm ---------------------------------------------------------------------
    one = features.iloc[[len(features) // 2]]
    one_ms = _median_ms(lambda: model.predict_proba(one), 300)
    one_base_ms = _median_ms(lambda: baseline.predict_proba(one), 300)
    what_if_ms = _median_ms(lambda: model.predict_with(one, {"price_change_pct_12m": 10.0}), 300)
    one_drivers_ms = _median_ms(lambda: model.drivers(one, top=3), 50)
    load_ms = _median_ms(lambda: registry.load("churn"), 300)
    out["one_client_warm"] = {
        "predict_ms": round(one_ms, 3),
        "baseline": "logistic baseline on the same row",
        "baseline_ms": round(one_base_ms, 3),
        "ratio": round(one_ms / one_base_ms, 2),
        "predict_with_ms": round(what_if_ms, 3),
        "drivers_ms": round(one_drivers_ms, 3),
        "registry_load_cached_ms": round(load_ms, 4),
        "target_ms": 5.0,
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mspilot-models-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = run(workdir)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    t = results["train_all_default_demo"]
    s = results["score_2000_clients"]
    o = results["one_client_warm"]
    print("models benchmark (ratios vs a baseline measured in this run)")
    print(
        f"  train all models, default demo : {t['seconds']:7.2f} s   "
        f"(reading the tables once {t['baseline_seconds']:.2f} s, x{t['ratio']}; "
        f"target <= {t['target_seconds']} s)"
    )
    print(f"      steps: {t['steps']}")
    print(
        f"  score {s['clients']} clients           : {s['predict_ms']:7.2f} ms  "
        f"(logistic baseline {s['baseline_ms']:.2f} ms, x{s['ratio']}; "
        f"target <= 1 s)\n      with the genome: warm cache {s['end_to_end_warm_ms']:.1f} ms "
        f"(of which the data-version check {s['data_version_check_ms']:.1f} ms), "
        f"built from the database {s['end_to_end_cold_s']:.2f} s; load average "
        f"{[round(x, 1) for x in s['load_average']]} on {os.cpu_count()} cores"
    )
    print(f"      drivers for every client: {s['drivers_all_clients_s']:.2f} s")
    print(
        f"  one client, warm               : {o['predict_ms']:7.3f} ms  "
        f"(logistic baseline {o['baseline_ms']:.3f} ms, x{o['ratio']}; "
        f"what-if {o['predict_with_ms']:.3f} ms; drivers {o['drivers_ms']:.2f} ms; target <= 5 ms)"
    )


if __name__ == "__main__":
    main()
