"""``mspilot jobs list|status|run|account``: schedules, last runs, failures, queue depth."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

import typer

from mspilot.cli.context import console, emit_json, friendly_errors, print_table
from mspilot.cli.worker import task_engine

app = typer.Typer(
    help="Background jobs: schedules, runs, failures, queue depth.", no_args_is_help=True
)

TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _ago(when: dt.datetime | None) -> str:
    if when is None:
        return "-"
    seconds = int((dt.datetime.now(dt.UTC) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def schedules(engine: Any, tenant: str | None) -> list[dict[str, Any]]:
    """Every scheduled job with its cadence and its last run."""
    from mspilot.db.tenants import list_tenants
    from mspilot.insights import store as insights_store
    from mspilot.tasks import store

    cfg = engine.tasks.tasks
    ins = engine.settings.insights
    last = store.last_run_by_key(engine.db, tenant)
    rows: list[dict[str, Any]] = []
    for acc in store.accounts(engine.db, tenant):
        rows.append(
            {
                "key": f"sync:{acc.tenant_id}:{acc.source}",
                "tenant_id": acc.tenant_id,
                "schedule": (
                    f"every {acc.sync_every_minutes or cfg.sync_every_minutes} min"
                    if acc.enabled
                    else "disabled"
                ),
            }
        )
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    for tid, tz in ((t.id, t.timezone) for t in list_tenants(engine.db)):
        if tenant is not None and tid != tenant:
            continue
        d = insights_store.delivery_for(engine.db, tid)
        weekday = ins.weekday if d.weekday is None else d.weekday
        hour = ins.hour if d.hour is None else d.hour
        rows.append(
            {
                "key": f"train:{tid}",
                "tenant_id": tid,
                "schedule": f"daily {cfg.train_hour:02d}:00 {tz}",
            }
        )
        rows.append(
            {
                "key": f"digest:{tid}:weekly",
                "tenant_id": tid,
                "schedule": "paused" if d.paused else f"{days[weekday]} {hour:02d}:00 {tz}",
            }
        )
    for row in rows:
        run = last.get(row["key"])
        row["last_status"] = run.status if run else None
        row["last_started_at"] = run.started_at if run else None
        row["last_duration_s"] = run.duration_s if run else None
    return rows


@app.command("list")
@friendly_errors
def list_(tenant: TenantOpt = None, as_json: AsJson = False) -> None:
    """Schedules per tenant and how each job's last run went."""
    engine = task_engine()
    rows = schedules(engine, tenant)
    if as_json:
        emit_json({"schedules": rows})
        return
    print_table(
        "Scheduled jobs",
        ["job", "schedule", "last run", "status", "seconds"],
        [
            [
                r["key"],
                r["schedule"],
                _ago(r["last_started_at"]),
                r["last_status"] or "-",
                "-" if r["last_duration_s"] is None else f"{r['last_duration_s']:.1f}",
            ]
            for r in rows
        ],
    )
    if not any(r["key"].startswith("sync:") for r in rows):
        console.print(
            "no vendor accounts scheduled: `mspilot jobs account --tenant T --source superops`"
        )


def status_report(engine: Any, tenant: str | None, limit: int = 20) -> dict[str, Any]:
    from mspilot.tasks import store
    from mspilot.tasks.schedule import LEADER_LEASE

    since = store.utcnow() - dt.timedelta(hours=24)
    counts = store.counts_by_status(engine.db, since)
    try:
        depth: dict[str, Any] = engine.queue_depth()
    except Exception as exc:  # the broker is down: say so, show the rest
        depth = {"error": f"{type(exc).__name__}: {exc}"}
    return {
        "broker": "embedded" if engine.embedded else engine.tasks.broker_url.split("@")[-1],
        "queue": engine.queue,
        "queue_depth": depth,
        "scheduler_leader": store.lock_holder(engine.db, LEADER_LEASE),
        "last_24h": [{"job": j, "status": s, "runs": n} for (j, s), n in sorted(counts.items())],
        "running": [
            r.as_dict() for r in store.runs(engine.db, tenant_id=tenant, statuses=["running"])
        ],
        "failures": [
            r.as_dict()
            for r in store.runs(
                engine.db, tenant_id=tenant, statuses=["failed", "dead", "lost"], limit=limit
            )
        ],
    }


@app.command()
@friendly_errors
def status(tenant: TenantOpt = None, as_json: AsJson = False) -> None:
    """Queue depth, running tasks, failures and dead letters."""
    engine = task_engine()
    report = status_report(engine, tenant)
    if as_json:
        emit_json(report)
        return
    depth = report["queue_depth"]
    console.print(
        f"broker {report['broker']} · queue {report['queue']!r}: "
        + ", ".join(f"{k} {v}" for k, v in depth.items())
        + f" · scheduler leader: {report['scheduler_leader'] or 'none'}"
    )
    print_table(
        "Runs in the last 24 h",
        ["job", "status", "runs"],
        [[c["job"], c["status"], c["runs"]] for c in report["last_24h"]],
    )
    if report["running"]:
        print_table(
            "Running",
            ["key", "attempt", "worker", "started"],
            [
                [r["key"], r["attempt"], r["worker"], r["started_at"][:19]]
                for r in report["running"]
            ],
        )
    print_table(
        "Failures and dead letters",
        ["key", "status", "attempt", "when", "error"],
        [
            [
                r["key"],
                r["status"],
                r["attempt"],
                r["started_at"][:19],
                (r["error"] or "").splitlines()[0][:80] if r["error"] else "",
            ]
            for r in report["failures"]
        ],
    )


def _wait_for(engine: Any, message_id: str, timeout_s: float) -> dict[str, Any] | None:
    from mspilot.tasks import store

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [r for r in store.runs(engine.db, limit=200) if r.message_id == message_id]
        if found and found[0].status in ("done", "skipped", "dead"):
            return found[0].as_dict()
        time.sleep(0.5)
    return None


@app.command()
@friendly_errors
def run(
    name: Annotated[str, typer.Argument(help="sync, rescore, train, reindex, digest")],
    tenant: TenantOpt = None,
    source: Annotated[
        str | None, typer.Option("--source", help="sync: superops | quickbooks (default both)")
    ] = None,
    kind: Annotated[str, typer.Option("--kind", help="digest: weekly | daily")] = "weekly",
    full: Annotated[bool, typer.Option("--full", help="sync: ignore bookmarks.")] = False,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="With a broker: wait for the result.")
    ] = True,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")] = 600.0,
    as_json: AsJson = False,
) -> None:
    """Run a job now for a tenant: in this process without a broker, else through a worker."""
    from mspilot.cli.deps import tenant_scope
    from mspilot.core.errors import UserInputError
    from mspilot.tasks import store
    from mspilot.tasks.jobs import JOBS

    if name not in JOBS:
        raise UserInputError(f"unknown job {name!r}; jobs: {', '.join(JOBS)}")
    tenant_id = tenant_scope(tenant).tenant_id
    engine = task_engine()
    calls: list[dict[str, Any]] = []
    if name == "sync":
        sources = [source] if source else [a.source for a in store.accounts(engine.db, tenant_id)]
        for src in sources or ["superops", "quickbooks"]:
            calls.append({"tenant_id": tenant_id, "source": src, "full": full, "trigger": "manual"})
    elif name == "digest":
        calls.append({"tenant_id": tenant_id, "kind": kind})
    else:
        calls.append({"tenant_id": tenant_id})
    out: list[dict[str, Any]] = []
    for kwargs in calls:
        if engine.embedded:
            out.append(engine.execute(name, kwargs))
            continue
        message_id = engine.enqueue(name, kwargs)
        entry: dict[str, Any] = {"message_id": message_id, "args": kwargs}
        if wait and message_id:
            entry["run"] = _wait_for(engine, message_id, timeout)
            if entry["run"] is None:
                entry["note"] = f"not finished after {timeout:.0f} s (see `mspilot jobs status`)"
        out.append(entry)
    if as_json:
        emit_json({"job": name, "results": out})
        return
    for entry in out:
        console.print_json(data=entry, default=str)


@app.command()
@friendly_errors
def account(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant.")],
    source: Annotated[str, typer.Option("--source", help="superops | quickbooks")],
    account_id: Annotated[
        str | None,
        typer.Option("--account", help="SuperOps subdomain or QuickBooks realm (company) id."),
    ] = None,
    every: Annotated[
        int | None, typer.Option("--every", min=1, help="Sync every N minutes.")
    ] = None,
    override: Annotated[
        list[str] | None,
        typer.Option("--set", help="Vendor setting for this tenant: base_url=..., repeatable."),
    ] = None,
    webhook_secret: Annotated[
        bool, typer.Option("--webhook-secret", help="Set the webhook secret (prompted).")
    ] = False,
    disable: Annotated[bool, typer.Option("--disable/--enable", help="Pause syncs.")] = False,
    as_json: AsJson = False,
) -> None:
    """Connect a tenant's vendor account: schedule its syncs, map its webhooks."""
    from mspilot.cli.deps import tenant_scope
    from mspilot.core.errors import UserInputError
    from mspilot.tasks import store
    from mspilot.tasks.jobs import SYNC_SOURCES
    from mspilot.tasks.sources import OVERRIDABLE

    if source not in SYNC_SOURCES:
        raise UserInputError(f"--source: choose one of {', '.join(SYNC_SOURCES)}")
    tenant_id = tenant_scope(tenant).tenant_id
    engine = task_engine()
    values: dict[str, Any] = {"enabled": not disable}
    if account_id is not None:
        values["account"] = account_id
    if every is not None:
        values["sync_every_minutes"] = every
    if override:
        pairs = dict(item.partition("=")[::2] for item in override)
        unknown = set(pairs) - OVERRIDABLE[source]
        if unknown:
            raise UserInputError(
                f"--set {sorted(unknown)}: {source} accounts may set "
                + ", ".join(sorted(OVERRIDABLE[source]))
            )
        values["overrides"] = pairs
    secret = None
    if webhook_secret:
        secret = typer.prompt("webhook secret", hide_input=True)
        if len(secret) < 16:
            raise UserInputError("the webhook secret needs at least 16 characters")
    saved = store.save_account(
        engine.db, tenant_id, source, store.utcnow(), webhook_secret=secret, **values
    )
    if as_json:
        emit_json(saved.as_dict())
        return
    console.print(saved.as_dict())


@app.command()
@friendly_errors
def alert(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant.")],
    teams: Annotated[
        str | None, typer.Option("--teams", help="Teams incoming-webhook / Workflows URL.")
    ] = None,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="A URL to POST signed digests to.")
    ] = None,
) -> None:
    """Send the tenant's digests to Microsoft Teams or a signed webhook too (the webhook's
    signing secret is prompted and stored encrypted: needs MSPILOT_SECRET_KEY)."""
    from mspilot.cli.context import settings
    from mspilot.cli.deps import tenant_scope
    from mspilot.core.errors import UserInputError
    from mspilot.insights.delivery import add_alert_channel

    if (teams is None) == (webhook is None):
        raise UserInputError("give one of --teams URL or --webhook URL")
    scope = tenant_scope(tenant)
    db, tenant_id = scope.engine, scope.tenant_id
    secret = typer.prompt("signing secret", hide_input=True) if webhook else None
    try:
        channel = add_alert_channel(
            settings(),
            db,
            tenant_id,
            "teams" if teams else "webhook",
            str(teams or webhook),
            secret,
        )
    except ValueError as exc:
        raise UserInputError(str(exc)) from None
    console.print(f"alert channel {channel} added for {tenant_id}")
