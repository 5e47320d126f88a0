"""``mspilot digest``: preview, run (cron), feedback, delivery settings, Slack links, history.

Size (~430 lines): six thin commands of one sub-app over ``insights``; each is a screenful of
option parsing and rendering, none holds logic of its own.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.panel import Panel
from rich.table import Table

from mspilot.cli.context import console, emit_json, friendly_errors, print_table, settings
from mspilot.cli.deps import TenantOption, database, resolve_tenant_id
from mspilot.core.clock import Clock
from mspilot.core.errors import UserInputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    help="Proactive insight digests: preview, send, feedback and where they go.",
    no_args_is_help=True,
)

TenantOpt = TenantOption
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
KindOpt = Annotated[
    str, typer.Option("--kind", help="weekly (everything new) or daily (urgent only).")
]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _engine() -> Engine:
    from mspilot.cli.ask import _logs_to_stderr

    _logs_to_stderr()  # stdout carries only the digest (or the JSON)
    return database()


def _kind(kind: str) -> Literal["weekly", "daily"]:
    if kind not in ("weekly", "daily"):
        raise UserInputError(f"--kind must be weekly or daily, not {kind!r}")
    return "weekly" if kind == "weekly" else "daily"


def print_digest(digest: Any) -> None:
    """The digest in the terminal (rich)."""
    from mspilot.insights.model import DETECTORS
    from mspilot.insights.render import summary, title

    table = Table(show_lines=True, expand=True)
    table.add_column("#", justify="right", width=3)
    table.add_column("Insight", ratio=1, overflow="fold")
    table.add_column("At stake", justify="right", no_wrap=True)
    colors = {"critical": "red", "warning": "yellow", "info": "cyan"}
    for n, item in enumerate(digest.items, 1):
        tag = {"new": "new", "sent": "sent before"}.get(item.status, f"updated: {item.change}")
        label = DETECTORS[item.detector].label
        table.add_row(
            str(n),
            f"[{colors[item.severity]}]{label}[/] · [dim]{tag}[/]\n[bold]{item.title}[/]\n"
            f"{item.body}\n[dim]key: {item.key}[/]",
            f"${item.dollars:,.0f}",
        )
    body: list[Any] = [f"[bold]{summary(digest)}[/]"]
    console.print(Panel(body[0], title=title(digest), expand=True))
    if digest.items:
        console.print(table)
    from mspilot.insights.render import extras

    for heading, entries in extras(digest):
        console.print(f"[bold]{heading}[/]")
        for entry in entries:
            console.print(f"  • {entry}")
    s = digest.suppressed
    quiet = {
        "below threshold": s.below_threshold,
        "already sent, unchanged": s.already_sent,
        "snoozed": s.snoozed,
        "dismissed": s.dismissed,
        "marked wrong": s.marked_wrong,
        "approved": s.approved,
        "not urgent": s.not_urgent,
        "beyond the top items": s.over_limit,
    }
    shown = ", ".join(f"{n} {k}" for k, n in quiet.items() if n)
    if shown:
        console.print(f"[dim]Not shown: {shown}.[/]")
    thresholds = ", ".join(
        f"{DETECTORS[k].label.lower()} ≥ {DETECTORS[k].fmt(v)}"
        for k, v in digest.thresholds.items()
    )
    console.print(f"[dim]Thresholds: {thresholds}.[/]")
    for note in digest.notes:
        console.print(f"[yellow]Not checked:[/] {note}")


@app.command()
@friendly_errors
def preview(
    tenant: TenantOpt = None,
    kind: KindOpt = "weekly",
    as_json: JsonOpt = False,
    as_html: Annotated[bool, typer.Option("--html", help="Print the e-mail's HTML.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the HTML/JSON/text to this file.")
    ] = None,
) -> None:
    """The digest the tenant would get now (nothing is sent or recorded)."""
    from mspilot.insights import preview as build_preview
    from mspilot.insights.render import to_html

    engine = _engine()
    digest = build_preview(
        settings(), resolve_tenant_id(engine, tenant), kind=_kind(kind), engine=engine
    )
    if as_json:
        text = digest.model_dump_json(indent=2)
    elif as_html:
        text = to_html(digest)
    else:
        if out is not None:
            from mspilot.insights.render import to_text

            out.write_text(to_text(digest))
            console.print(f"written to {out}")
            return
        print_digest(digest)
        return
    if out is not None:
        out.write_text(text)
        console.print(f"written to {out}")
    else:
        typer.echo(text)


@app.command()
@friendly_errors
def run(
    tenant: TenantOpt = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Build and send now, whatever the schedule says."),
    ] = False,
    kind: KindOpt = "weekly",
    as_json: JsonOpt = False,
) -> None:
    """Send the digests that are due now (for cron: each slot goes out once, however often this
    runs and even alongside the server's scheduler). ``--force`` sends one now."""
    from mspilot.insights import store
    from mspilot.insights.feedback import approval_flow
    from mspilot.insights.scheduler import holder_id, run_digest, run_due

    s = settings()
    engine = _engine()
    flow = approval_flow(engine, _checkpointer())
    holder = f"cli:{holder_id()}"
    now = store.utcnow()
    if force:
        tid = resolve_tenant_id(engine, tenant)
        slot = f"manual:{now:%Y-%m-%dT%H:%M:%S.%f}"
        one = run_digest(engine, s, tid, kind=_kind(kind), slot=slot, holder=holder, flow=flow)
        outcomes = [one] if one is not None else []
    else:
        tid_filter = resolve_tenant_id(engine, tenant) if tenant else None
        outcomes = run_due(engine, s, now, holder=holder, tenant_id=tid_filter, flow=flow)
    rows: list[dict[str, Any]] = [
        {
            "tenant_id": o.tenant_id,
            "slot": o.slot,
            "items": o.items,
            "dollars": round(o.dollars, 2),
            "deliveries": o.deliveries,
            "error": o.error,
        }
        for o in outcomes
    ]
    if as_json:
        emit_json({"ran": rows})
    elif not rows:
        console.print("Nothing due now (each slot is sent once; use --force to send one now).")
    else:
        print_table(
            "Digests sent",
            ["tenant", "slot", "items", "at stake", "slack", "email", "error"],
            [
                [
                    r["tenant_id"],
                    r["slot"],
                    r["items"],
                    f"${r['dollars']:,.0f}",
                    r["deliveries"].get("slack", ""),
                    r["deliveries"].get("email", ""),
                    r["error"] or "",
                ]
                for r in rows
            ],
        )
    if any(o.error for o in outcomes):
        raise typer.Exit(1)


def _checkpointer() -> Any:
    """The agent's checkpointer (approvals wait there); None if it cannot be opened."""
    from mspilot.agent.memory import make_checkpointer

    s = settings()
    try:
        s.ensure_data_dir()
        return make_checkpointer(s.resolved_database_url, s.data_dir)
    except Exception:
        return None


@app.command()
@friendly_errors
def feedback(
    key: Annotated[str, typer.Argument(help="The insight's key (shown by `digest preview`).")],
    verdict: Annotated[str, typer.Argument(help="snooze | dismiss | wrong | approve")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why it is wrong (required for wrong).")
    ] = None,
    as_user: Annotated[
        str | None,
        typer.Option("--as", help="Give it as this mspilot user (e-mail); default: as owner."),
    ] = None,
    tenant: TenantOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Snooze, dismiss, correct or approve an insight (the next digest reflects it)."""
    from mspilot.db.users import get_user_by_email
    from mspilot.insights.feedback import approval_flow, give_feedback

    if verdict not in ("snooze", "dismiss", "wrong", "approve"):
        raise UserInputError("verdict must be snooze, dismiss, wrong or approve")
    engine = _engine()
    tid = resolve_tenant_id(engine, tenant)
    role, user_id = "owner", None
    if as_user:
        user = get_user_by_email(engine, tid, as_user)
        if user is None:
            raise UserInputError(f"no user {as_user!r} in tenant {tid!r}")
        role, user_id = user.role, user.id
    flow = approval_flow(engine, _checkpointer()) if verdict == "approve" else None
    result = give_feedback(
        engine,
        tid,
        key,
        verdict,
        today=Clock(settings().today).today(),
        role=role,
        user_id=user_id,
        reason=reason,
        via="cli",
        flow=flow,
    )
    if as_json:
        emit_json(
            {
                "key": result.key,
                "verdict": result.verdict,
                "message": result.message,
                "snooze_until": result.snooze_until,
                "threshold": list(result.threshold) if result.threshold else None,
                "decision_id": result.decision_id,
            }
        )
    else:
        console.print(result.message)


@app.command()
@friendly_errors
def configure(
    tenant: TenantOpt = None,
    slack_channel: Annotated[
        str | None, typer.Option("--slack-channel", help="Channel id for the digest (C…).")
    ] = None,
    slack_team: Annotated[
        str | None,
        typer.Option("--slack-team", help="Slack workspace id (T…): its users map by e-mail."),
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Comma-separated digest recipients.")
    ] = None,
    weekday: Annotated[
        str | None, typer.Option("--weekday", help="Weekly digest day: mon … sun.")
    ] = None,
    hour: Annotated[
        int | None, typer.Option("--hour", min=0, max=23, help="Send hour, tenant time.")
    ] = None,
    daily: Annotated[
        bool | None, typer.Option("--daily/--no-daily", help="Daily alerts for urgent items.")
    ] = None,
    paused: Annotated[
        bool | None, typer.Option("--pause/--resume", help="Stop or restart scheduled digests.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Where and when the tenant's digests go (only the options given change)."""
    from mspilot.insights import store

    engine = _engine()
    tid = resolve_tenant_id(engine, tenant)
    values: dict[str, Any] = {}
    if slack_channel is not None:
        values["slack_channel"] = slack_channel.strip() or None
    if slack_team is not None:
        values["slack_team_id"] = slack_team.strip() or None
    if email is not None:
        addresses = [e.strip() for e in email.split(",") if e.strip()]
        bad = [a for a in addresses if "@" not in a]
        if bad:
            raise UserInputError(f"not e-mail addresses: {', '.join(bad)}")
        values["email_to"] = ",".join(addresses) or None
    if weekday is not None:
        if weekday.lower()[:3] not in WEEKDAYS:
            raise UserInputError(f"--weekday must be one of {', '.join(WEEKDAYS)}")
        values["weekday"] = WEEKDAYS.index(weekday.lower()[:3])
    if hour is not None:
        values["hour"] = hour
    if daily is not None:
        values["daily_alerts"] = daily
    if paused is not None:
        values["paused"] = paused
    from sqlalchemy.exc import IntegrityError

    try:
        d = store.configure_delivery(engine, tid, store.utcnow(), **values)
    except IntegrityError:
        raise UserInputError(
            f"Slack workspace {slack_team!r} is already bound to another tenant"
        ) from None
    cfg = settings().insights
    payload = {
        "tenant_id": d.tenant_id,
        "slack_team_id": d.slack_team_id,
        "slack_channel": d.slack_channel,
        "email_to": list(d.email_to),
        "weekday": WEEKDAYS[cfg.weekday if d.weekday is None else d.weekday],
        "hour": cfg.hour if d.hour is None else d.hour,
        "daily_alerts": cfg.daily_alerts if d.daily_alerts is None else d.daily_alerts,
        "paused": d.paused,
    }
    if as_json:
        emit_json(payload)
    else:
        print_table(f"Digest delivery for {tid}", ["setting", "value"], list(payload.items()))


@app.command("link-slack")
@friendly_errors
def link_slack(
    team: Annotated[str, typer.Option("--team", help="Slack workspace id (T…).")],
    slack_user: Annotated[str, typer.Option("--slack-user", help="Slack user id (U…).")],
    email: Annotated[str, typer.Option("--email", help="The mspilot user's e-mail.")],
    tenant: TenantOpt = None,
) -> None:
    """Map a Slack user to an mspilot user (their role and client scope apply in Slack)."""
    from mspilot.db.users import get_user_by_email
    from mspilot.insights import store

    engine = _engine()
    tid = resolve_tenant_id(engine, tenant)
    user = get_user_by_email(engine, tid, email)
    if user is None:
        raise UserInputError(f"no user {email!r} in tenant {tid!r} (`mspilot users create`)")
    store.link_slack_user(
        engine, team, slack_user, tid, user.id, linked_by="manual", now=store.utcnow()
    )
    console.print(f"Slack user {slack_user} ({team}) is now {email} ({user.role}) in {tid}.")


@app.command()
@friendly_errors
def history(
    tenant: TenantOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Recent digest runs, feedback and the detector thresholds now in force."""
    from mspilot.insights import store
    from mspilot.insights.model import DETECTORS

    engine = _engine()
    tid = resolve_tenant_id(engine, tenant)
    runs = store.runs(engine, tid, limit)
    log = store.feedback_log(engine, tid, limit)
    limits = store.thresholds(engine, tid)
    if as_json:
        emit_json(
            {
                "runs": [r.__dict__ for r in runs],
                "feedback": log,
                "thresholds": limits,
            }
        )
        return
    print_table(
        "Digest runs",
        ["id", "slot", "status", "items", "at stake", "finished", "deliveries"],
        [
            [
                r.id,
                r.slot,
                r.status,
                r.items,
                f"${r.dollars:,.0f}",
                _when(r.finished_at),
                "; ".join(f"{k}: {v}" for k, v in r.deliveries.items()) or (r.error or ""),
            ]
            for r in runs
        ],
    )
    print_table(
        "Feedback",
        ["when", "key", "verdict", "reason", "via"],
        [[_when(f["at"]), f["key"], f["verdict"], f["reason"] or "", f["via"]] for f in log],
    )
    print_table(
        "Thresholds",
        ["detector", "flags from", "default"],
        [
            [DETECTORS[k].label, DETECTORS[k].fmt(v), DETECTORS[k].fmt(DETECTORS[k].default)]
            for k, v in limits.items()
        ],
    )


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")
