"""``mspilot sources``: check a connection before the first sync, map custom fields, review
client matches, keep secrets (and rotate their key), CSV templates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from mspilot.cli.context import console, emit_json, friendly_errors, print_table, settings
from mspilot.cli.sync import EXIT_WARNINGS, TENANT, check_tenant
from mspilot.cli.sync import engine as open_engine
from mspilot.core.clock import Clock
from mspilot.core.errors import UserInputError
from mspilot.core.ids import make_id

app = typer.Typer(
    help="Connected sources: check a connection, map custom fields, review client matches, "
    "secrets, CSV templates.",
    no_args_is_help=True,
)

AS_JSON = typer.Option(False, "--json", help="Print JSON.")
ACCEPT = typer.Option(
    [], "--accept", help="QBO_CUSTOMER_ID=CLIENT: link a QuickBooks customer to a client."
)
REJECT = typer.Option([], "--reject", help="QBO_CUSTOMER_ID: keep this customer a separate client.")
TEMPLATE_PATH = typer.Option(..., "--path", help="Folder to write the templates into.")
SOURCE = typer.Option(..., "--source", help="superops | quickbooks")
SET = typer.Option(
    [],
    "--set",
    help="ENTITY.FACT=COLUMN, e.g. client.churned_on=udf7date (empty COLUMN: the account "
    "keeps no such field, derive it).",
)
RESET = typer.Option([], "--reset", help="ENTITY.FACT: forget a manual choice.")


@app.command("check")
@friendly_errors
def check(source: str = SOURCE, tenant: str = TENANT, as_json: bool = AS_JSON) -> None:
    """Before the first sync: credentials, every stream's permission, clock skew, rate-limit
    headroom, the custom-field layout found. Every sync runs the same check first."""
    from mspilot.connectors.base import SyncContext
    from mspilot.connectors.factory import build_source
    from mspilot.connectors.http import make_http_client
    from mspilot.db.loader import create_tenant

    if source not in ("superops", "quickbooks"):
        raise UserInputError("--source: superops or quickbooks (a CSV import has nothing to check)")
    check_tenant(tenant)
    s = settings()
    engine = open_engine()
    create_tenant(engine, tenant)
    clock = Clock(s.today)
    timeout = s.quickbooks.timeout_s if source == "quickbooks" else s.superops.timeout_s
    with make_http_client(timeout) as http:
        src = build_source(source, s, http=http, engine=engine, tenant_id=tenant, now=clock.now)
        report = src.check(SyncContext(engine, tenant, now=clock.now))
    assert report is not None
    if as_json:
        emit_json(report.as_dict())
    else:
        _print_check(report)
    if report.status == "failed":
        raise typer.Exit(3)
    if report.status != "ok":
        raise typer.Exit(EXIT_WARNINGS)


def _print_check(report: Any) -> None:
    console.print(f"{report.source}: [bold]{report.status}[/]")
    console.print(f"credentials: {report.credentials}")
    if report.streams:
        print_table(
            "streams",
            ["stream", "partition", "permission", "needed", "detail"],
            [
                [s.stream, s.partition, s.status, "yes" if s.required else "no", s.detail[:90]]
                for s in report.streams
            ],
        )
    skew = "unknown" if report.clock_skew_s is None else f"{report.clock_skew_s:+.1f} s"
    console.print(f"clock skew: {skew}")
    console.print("rate limit: " + ", ".join(f"{k} {v}" for k, v in report.rate_limit.items()))
    if report.custom_fields:
        print_table(
            "custom fields",
            ["entity", "column", "label", "type", "holds"],
            [[f.entity, f.column, f.label, f.kind, f.maps_to or ""] for f in report.custom_fields],
        )
    for note in report.notes:
        console.print(f"[yellow]note[/]: {note}")


@app.command("map")
@friendly_errors
def map_fields(
    source: str = typer.Option("superops", "--source", help="superops"),
    tenant: str = TENANT,
    set_: list[str] = SET,
    reset: list[str] = RESET,
    as_json: bool = AS_JSON,
) -> None:
    """Which custom field holds which fact (churn date, seats, ...) for this tenant:
    discovered at each sync from the account, defaults otherwise; --set overrides."""
    from mspilot.connectors.superops.fieldmap import FACTS, resolve
    from mspilot.db.field_maps import FieldMapping, clear_manual, load_field_maps, save_field_maps
    from mspilot.db.loader import create_tenant

    if source != "superops":
        raise UserInputError("--source: only superops keeps facts in custom fields")
    check_tenant(tenant)
    engine = open_engine()
    create_tenant(engine, tenant)
    now = dt.datetime.now(dt.UTC)

    def key(text: str, flag: str) -> tuple[str, str]:
        entity, _, fact = text.partition(".")
        if fact not in FACTS.get(entity, {}):
            known = ", ".join(f"{e}.{f}" for e, fs in FACTS.items() for f in fs)
            raise UserInputError(f"{flag} {text!r}: name one of {known}")
        return entity, fact

    for item in set_:
        target, sep, column = item.partition("=")
        if not sep:
            raise UserInputError(f"--set {item!r}: write ENTITY.FACT=COLUMN")
        entity, fact = key(target, "--set")
        save_field_maps(
            engine,
            tenant,
            source,
            [FieldMapping(entity, fact, column.strip() or None, None, "manual")],
            now=now,
        )
    for item in reset:
        entity, fact = key(item, "--reset")
        clear_manual(engine, tenant, source, entity, fact)
    mapping = resolve(load_field_maps(engine, tenant, source), None)
    rows = [m for _k, m in sorted(mapping.items())]
    if as_json:
        emit_json([m.__dict__ for m in rows])
        return
    print_table(
        f"{source} field map (tenant {tenant})",
        ["entity", "fact", "column", "label", "origin"],
        [[m.entity, m.fact, m.column or "(none: derived)", m.label or "", m.origin] for m in rows],
    )


@app.command("rotate-key")
@friendly_errors
def rotate_key() -> None:
    """Re-encrypt every stored source secret under a new key: the data directory's own key is
    replaced; with MSPILOT_SECRET_KEY set, the new key is read from a hidden prompt (then set
    MSPILOT_SECRET_KEY to it)."""
    from mspilot.db.credentials import SecretBox, rotate, rotate_local_key

    s = settings()
    engine = open_engine()
    if s.secret_key is None:
        count = rotate_local_key(engine, s.data_dir)
        typer.echo(f"re-encrypted {count} stored secrets; new key in {s.data_dir / 'secret.key'}")
        return
    new = typer.prompt("new secret key", hide_input=True, confirmation_prompt=True)
    old_box = SecretBox.from_secret(s.secret_key.get_secret_value())
    count = rotate(engine, old_box, SecretBox.from_secret(new))
    typer.echo(f"re-encrypted {count} stored secrets: now set MSPILOT_SECRET_KEY to the new key")


@app.command("review")
@friendly_errors
def review(
    tenant: str = TENANT,
    accept: list[str] = ACCEPT,
    reject: list[str] = REJECT,
    as_json: bool = AS_JSON,
) -> None:
    """QuickBooks customers that could not be matched to a SuperOps client with confidence."""
    from mspilot.connectors.base import SyncContext
    from mspilot.connectors.resolution import reconcile
    from mspilot.db.entity_map import (
        CLIENT,
        Link,
        client_rows,
        decide_review,
        list_reviews,
        save_link,
    )

    check_tenant(tenant)
    engine = open_engine()
    now = dt.datetime.now(dt.UTC)
    known = {c.id for c in client_rows(engine, tenant)}
    for item in accept:
        qbo_id, sep, client = item.partition("=")
        if not sep or not qbo_id or not client:
            raise UserInputError(f"--accept {item!r}: write QBO_CUSTOMER_ID=CLIENT")
        target = client if client in known else make_id(tenant, "superops", client)
        if target not in known:
            raise UserInputError(f"--accept {item!r}: no client {client!r} in tenant {tenant}")
        save_link(engine, tenant, Link(CLIENT, qbo_id, target, "manual"), now=now)
        decide_review(engine, tenant, CLIENT, qbo_id, "accepted", now=now)
    for qbo_id in reject:
        if not decide_review(engine, tenant, CLIENT, qbo_id, "rejected", now=now):
            raise UserInputError(f"--reject {qbo_id!r}: no such customer on the review list")
    merged: dict[str, int] = {}
    if accept or reject:
        merged = reconcile(SyncContext(engine, tenant))
    items = [r.as_dict() for r in list_reviews(engine, tenant)]
    if as_json:
        emit_json({"open": items, "reconciled": merged})
        return
    if not items:
        console.print("nothing to review: every QuickBooks customer is matched or decided")
        return
    print_table(
        f"Client matches to review (tenant {tenant})",
        ["qbo customer", "name", "reason", "candidates"],
        [
            [
                r["qbo_id"],
                r["qbo_name"],
                r["reason"],
                "; ".join(f"{c['name']} ({c['score']})" for c in r["candidates"]),
            ]
            for r in items
        ],
    )
    console.print("decide with --accept QBO_ID=CLIENT or --reject QBO_ID")


@app.command("csv-template")
@friendly_errors
def csv_template(
    path: Path = TEMPLATE_PATH,
) -> None:
    """Write an empty <table>.csv per canonical table and a README describing the columns."""
    from mspilot.connectors.csv_source import write_templates

    for written in write_templates(path):
        typer.echo(str(written))


@app.command("set-secret")
@friendly_errors
def set_secret(
    source: str = typer.Option(
        ..., "--source", help="superops (API token) | quickbooks (refresh token)"
    ),
    tenant: str = TENANT,
) -> None:
    """Store a source's secret encrypted in the database (read from a hidden prompt or stdin),
    so it need not live in the environment. The key is MSPILOT_SECRET_KEY, else the data
    directory's own key (created on first use)."""
    from mspilot.connectors.factory import store_secret
    from mspilot.db.loader import create_tenant

    check_tenant(tenant)
    engine = open_engine()
    create_tenant(engine, tenant)
    value = typer.prompt(f"{source} secret", hide_input=True)
    name = store_secret(settings(), engine, tenant, source, value)
    typer.echo(f"stored the {source} {name.replace('_', ' ')} (encrypted) for tenant {tenant}")
