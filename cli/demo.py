"""``mspilot demo``: generate the deterministic demo MSP and load it through the loader.

Size (~420 lines): one sub-app whose commands (generate, load, run, status) share the demo
folder and progress reporting; ``run`` chains the others, so they read best side by side.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import TaskID

from mspilot.cli.context import (
    console,
    emit_json,
    friendly_errors,
    print_table,
    progress_bar,
    settings,
)
from mspilot.cli.deps import database
from mspilot.core.errors import UserInputError
from mspilot.synthetic.config import MAX_TENANTS, DemoConfig, TenantSpec

if TYPE_CHECKING:  # the database and generator load when a command runs, not for --help
    from sqlalchemy import Engine

    from mspilot.db.loader import LoadReport, ProgressCallback

app = typer.Typer(help="The demo MSP: generate it, load it.", no_args_is_help=True)

_STEPS = 6  # on_step calls per generated tenant

Seed = Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")]
AsOf = Annotated[str, typer.Option("--as-of", help="The data's as-of date, YYYY-MM-DD.")]
Clients = Annotated[int, typer.Option("--clients", help="Clients per tenant (>= 1).")]
Tenants = Annotated[int, typer.Option("--tenants", help=f"Tenants (MSPs), 1-{MAX_TENANTS}.")]
Years = Annotated[int, typer.Option("--years", help="Years of history up to as-of.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Messy = Annotated[
    bool,
    typer.Option(
        "--messy/--clean",
        help="The messy world: legitimate look-alikes of leaks, data faults and billing "
        "anomalies no leak rule names, on top of the planted leaks (--clean: leaks only).",
    ),
]


def demo_dir() -> Path:
    return settings().data_dir / "demo"


def _config(
    seed: int, as_of: str, clients: int, tenants: int, years: int, messy: bool = True
) -> DemoConfig:
    try:
        day = dt.date.fromisoformat(as_of)
    except ValueError:
        raise UserInputError(f"--as-of must be a real date as YYYY-MM-DD, got {as_of!r}") from None
    return DemoConfig(
        seed=seed, as_of=day, n_clients=clients, n_tenants=tenants, years=years, messy=messy
    ).validate()


def _generate(config: DemoConfig, show: bool) -> dict[str, Any]:
    from mspilot.synthetic import store, truth
    from mspilot.synthetic.generator import generate_tenant, tenant_spec

    root = demo_dir()
    truth_root = settings().ground_truth_dir
    try:
        old = store.read_index(root).get("tenants", [])
    except Exception:  # no previous dataset (or an unreadable one): nothing to clean
        old = []
    started = time.perf_counter()
    summary: dict[str, Any] = {"directory": str(root), "tenants": {}}
    with progress_bar(show) as progress:
        for index in range(config.n_tenants):
            spec = tenant_spec(config, index)
            gen_task = progress.add_task(f"{spec.id}: generate", total=_STEPS)
            t0 = time.perf_counter()

            def stepped(_name: str, task: TaskID = gen_task) -> None:
                progress.advance(task)

            data = generate_tenant(config, index, on_step=stepped)
            progress.update(gen_task, completed=_STEPS)
            t1 = time.perf_counter()
            counts = data.row_counts
            write_task = progress.add_task(f"{spec.id}: write", total=sum(counts.values()))

            def written(_table: str, n: int, task: TaskID = write_task) -> None:
                progress.advance(task, n)

            manifest = store.write_tenant(
                root,
                spec,
                data.tables,
                config,
                on_rows=written,
            )
            truth.write(data.truth, truth_root)
            summary["tenants"][spec.id] = {
                "name": spec.name,
                "rows": counts,
                "leaks": len(data.truth.leaks),
                "checksum": manifest["checksum"],
                "generate_s": round(t1 - t0, 2),
                "write_s": round(time.perf_counter() - t1, 2),
            }
            del data
    new_ids = list(summary["tenants"])
    for stale in old:
        if stale not in new_ids:
            store.remove_tenant(root, stale)
            stale_truth = truth_root / stale
            if (stale_truth / "meta.json").exists():
                for f in stale_truth.iterdir():
                    f.unlink()
                stale_truth.rmdir()
    store.write_index(root, config, new_ids)
    summary["config"] = store.config_to_json(config)
    summary["ground_truth"] = str(truth_root)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def load_demo_tenant(
    engine: Engine,
    spec: TenantSpec,
    tables: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    on_progress: ProgressCallback | None = None,
) -> LoadReport:
    """Upsert the tenant row, then load its tables through the product's one loader."""
    from mspilot.db.loader import Loader, upsert_tenant
    from mspilot.synthetic.generator import SOURCE

    with engine.begin() as conn:
        upsert_tenant(
            conn,
            spec.id,
            spec.name,
            currency=spec.currency,
            timezone=spec.timezone,
            max_discount_pct=float(spec.max_discount_pct),
        )
    return Loader(engine, spec.id, SOURCE, on_progress=on_progress).load_all(tables)


def _load(show: bool) -> dict[str, Any]:
    from mspilot.db import migrate
    from mspilot.db.engine import analyze
    from mspilot.synthetic import store

    root = demo_dir()
    index = store.read_index(root)
    s = settings()
    s.ensure_data_dir()
    engine = database(migrated=False)
    started = time.perf_counter()
    migrate.upgrade(engine)
    summary: dict[str, Any] = {"database": repr(engine.url), "tenants": {}}
    try:
        with progress_bar(show) as progress:
            for tenant_id in index["tenants"]:
                manifest = store.read_manifest(root, tenant_id)
                spec = store.tenant_from_json(manifest["tenant"])
                tasks = {
                    name: progress.add_task(f"{spec.id}: {name}", total=meta["rows"])
                    for name, meta in manifest["tables"].items()
                }

                def loaded(table: str, n: int, tasks: dict[str, TaskID] = tasks) -> None:
                    progress.advance(tasks[table], n)

                t0 = time.perf_counter()
                report = load_demo_tenant(
                    engine,
                    spec,
                    {
                        name: store.iter_rows(root, spec.id, name, meta["columns"])
                        for name, meta in manifest["tables"].items()
                    },
                    on_progress=loaded,
                )
                summary["tenants"][spec.id] = {
                    "run_id": report.run_id,
                    "tables": {
                        name: {k: v for k, v in result.as_dict().items() if k != "table"}
                        for name, result in report.tables.items()
                    },
                    "data_quality_issues": len(report.issues),
                    "seconds": round(time.perf_counter() - t0, 2),
                }
        analyze(engine)
    finally:
        engine.dispose()
    summary["as_of"] = index["config"]["as_of"]
    s.pin_today(dt.date.fromisoformat(summary["as_of"]))
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def _print_generate(summary: dict[str, Any]) -> None:
    from mspilot.synthetic.generator import TABLES

    tenants = list(summary["tenants"])
    rows = [
        [table, *[summary["tenants"][t]["rows"].get(table, 0) for t in tenants]] for table in TABLES
    ]
    rows.append(["planted leaks", *[summary["tenants"][t]["leaks"] for t in tenants]])
    print_table(f"Demo MSP generated in {summary['seconds']} s", ["table", *tenants], rows)
    console.print(f"data: {summary['directory']}  ground truth: {summary['ground_truth']}")


def _print_load(summary: dict[str, Any]) -> None:
    rows = []
    issues = 0
    for tenant_id, info in summary["tenants"].items():
        issues += info["data_quality_issues"]
        for table, r in info["tables"].items():
            rows.append(
                [
                    tenant_id,
                    table,
                    r["received"],
                    r["inserted"],
                    r["updated"],
                    r["unchanged"],
                    r["rejected"],
                ]
            )
    print_table(
        f"Demo MSP loaded in {summary['seconds']} s",
        [
            "tenant",
            "table",
            "received rows",
            "inserted rows",
            "updated rows",
            "unchanged rows",
            "rejected rows",
        ],
        rows,
    )
    console.print(f"data-quality issues: {issues}")
    console.print(
        f"The product's clock is pinned to the demo's as-of date {summary['as_of']} "
        f"({settings().data_dir / 'today'}; MSPILOT_TODAY overrides it)."
    )


@app.command()
@friendly_errors
def generate(
    seed: Seed = 7,
    as_of: AsOf = "2026-10-31",
    clients: Clients = 150,
    tenants: Tenants = 1,
    years: Years = 3,
    messy: Messy = True,
    as_json: AsJson = False,
) -> None:
    """Generate the demo MSP (tables + ground truth) into the data directory."""
    config = _config(seed, as_of, clients, tenants, years, messy)
    summary = _generate(config, show=not as_json)
    emit_json(summary) if as_json else _print_generate(summary)


@app.command()
@friendly_errors
def load(as_json: AsJson = False) -> None:
    """Load the generated demo MSP into the database (migrating it first if needed)."""
    summary = _load(show=not as_json)
    emit_json(summary) if as_json else _print_load(summary)


Via = Annotated[
    str,
    typer.Option(
        "--via",
        help="direct: through the loader; connectors: served by the fake SuperOps and "
        "QuickBooks servers and synced through the real connectors (the customer's path).",
    ),
]


def _sync_via_connectors(show: bool) -> dict[str, Any]:
    """Load the generated demo through the fake vendors and the real connectors."""
    from types import SimpleNamespace

    from mspilot.connectors.demo_sync import sync_demo_through_fakes
    from mspilot.db import migrate
    from mspilot.db.engine import analyze
    from mspilot.synthetic import store

    root = demo_dir()
    index = store.read_index(root)
    engine = database(migrated=False)
    started = time.perf_counter()
    migrate.upgrade(engine)
    summary: dict[str, Any] = {"database": repr(engine.url), "tenants": {}, "via": "connectors"}
    try:
        with progress_bar(show) as progress:
            task = progress.add_task("syncing", total=None)

            def step(stream: str, done: int, total: int | None) -> None:
                progress.update(task, description=f"sync {stream}", completed=done, total=total)

            for tenant_id in index["tenants"]:
                manifest = store.read_manifest(root, tenant_id)
                dataset = SimpleNamespace(
                    tenant=store.tenant_from_json(manifest["tenant"]),
                    tables=store.read_tables(root, tenant_id),
                )
                result = sync_demo_through_fakes(
                    engine,
                    dataset,
                    as_of=dt.date.fromisoformat(index["config"]["as_of"]),
                    progress=step,
                )
                summary["tenants"][tenant_id] = result.as_dict()
        analyze(engine)
    finally:
        engine.dispose()
    summary["as_of"] = index["config"]["as_of"]
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def _train(tenant_ids: list[str], as_of: dt.date, show: bool) -> dict[str, Any]:
    from mspilot.core.clock import Clock
    from mspilot.models.training import train_all

    s = settings()
    engine = database(migrated=False)
    out: dict[str, Any] = {}
    try:
        with progress_bar(show) as progress:
            for tenant_id in tenant_ids:
                task = progress.add_task(f"{tenant_id}: training", total=None)

                def step(name: str, task: TaskID = task, tenant_id: str = tenant_id) -> None:
                    progress.update(task, description=f"{tenant_id}: {name}", advance=1)

                report = train_all(engine, tenant_id, s.data_dir, Clock(as_of), on_step=step)
                progress.update(task, description=f"{tenant_id}: trained", total=1, completed=1)
                out[tenant_id] = {
                    "versions": {k: v.version for k, v in report.versions.items()},
                    "metrics": report.metrics,
                    "seconds": round(report.timings.get("total", 0.0), 2),
                }
    finally:
        engine.dispose()
    return out


def _index_knowledge(tenant_ids: list[str]) -> dict[str, Any]:
    from mspilot.tools.knowledge import KnowledgeBase

    s = settings()
    kb = KnowledgeBase(s.data_dir)
    engine = database(migrated=False)
    try:
        report: dict[str, Any] = {"documents": kb.index_documents().as_dict()}
        for tenant_id in tenant_ids:
            report[tenant_id] = kb.index_tickets(engine, tenant_id).as_dict()
    finally:
        engine.dispose()
    return report


@app.command()
@friendly_errors
def run(
    seed: Seed = 7,
    as_of: AsOf = "2026-10-31",
    clients: Clients = 150,
    tenants: Tenants = 1,
    years: Years = 3,
    messy: Messy = True,
    via: Via = "direct",
    train: Annotated[bool, typer.Option(help="Train the models after loading.")] = True,
    serve: Annotated[
        bool, typer.Option(help="Finish by serving the API, chat and the demo portal.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --serve.")] = 8000,
    as_json: AsJson = False,
) -> None:
    """The demo's main job: generate the demo MSP, load it, pin the product's clock to its
    as-of date, train the models, index the knowledge base, show this week's digest, and
    (with --serve) serve the chat widget on a demo portal page."""
    if via not in ("direct", "connectors"):
        raise UserInputError(f"--via is direct or connectors, not {via!r}")
    config = _config(seed, as_of, clients, tenants, years, messy)
    show = not as_json
    result: dict[str, Any] = {"generate": _generate(config, show=show)}
    if show:
        _print_generate(result["generate"])
    result["load"] = _load(show=show) if via == "direct" else _sync_via_connectors(show=show)
    if show and via == "direct":
        _print_load(result["load"])
    settings().pin_today(config.as_of)  # --via connectors loads without _load()
    tenant_ids = list(result["generate"]["tenants"])
    if train:
        result["train"] = _train(tenant_ids, config.as_of, show=show)
        result["knowledge"] = _index_knowledge(tenant_ids)
        digest = _digest_preview(tenant_ids[0])
        result["digest"] = digest.model_dump(mode="json")
        if show:
            from mspilot.insights.render import to_text

            console.print(to_text(digest))
    if as_json:
        emit_json(result)
    else:
        console.print(
            f"[bold green]Demo ready.[/] The product's clock is pinned to {config.as_of} "
            f"({settings().data_dir / 'today'})."
        )
    if serve:
        from mspilot.cli.serve import serve as serve_api

        serve_api(host="127.0.0.1", port=port, workers=1, demo_portal=True, log_format="console")


def _digest_preview(tenant_id: str) -> Any:
    from mspilot.insights import preview

    return preview(settings(), tenant_id)
