"""``mspilot serve`` (the API, chat and widget) and ``mspilot users`` (accounts and tokens)."""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Annotated

import typer

from mspilot.cli.context import emit_json, friendly_errors, print_table, settings
from mspilot.cli.deps import TenantOption, database, resolve_tenant_id
from mspilot.core.errors import UserInputError

if TYPE_CHECKING:
    pass

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Tenant = TenantOption


@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    demo_portal: Annotated[
        bool, typer.Option("--demo-portal", help="Serve / with tokens for the demo users.")
    ] = False,
    log_format: Annotated[str, typer.Option(help="json or console.")] = "json",
) -> None:
    """Serve the API, the chat (SSE + WebSocket), /metrics and the chat widget."""
    import uvicorn

    from mspilot.api.server import APP, raise_open_file_limit, uvicorn_options

    if log_format not in ("json", "console"):
        raise UserInputError("--log-format is json or console")
    os.environ["MSPILOT_LOG_FORMAT"] = log_format
    if demo_portal:
        os.environ["MSPILOT_API__DEMO_PORTAL"] = "true"
    s = settings()
    s.ensure_data_dir()
    typer.echo(
        f"mspilot API on http://{host}:{port} (docs at /docs, widget at /widget.js)", err=True
    )
    raise_open_file_limit()
    uvicorn.run(APP, **uvicorn_options(host, port, workers))


users_app = typer.Typer(help="API users, tokens and API keys.", no_args_is_help=True)


@users_app.command("create")
@friendly_errors
def create(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    role: Annotated[
        str,
        typer.Option(help="owner, finance, service_manager, technician or client_user."),
    ] = "owner",
    tenant: Tenant = None,
    client: Annotated[
        str | None, typer.Option(help="client_user only: client id, external id or name.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Prompt for a password (for /v1/auth/token).")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Add a user to a tenant."""
    from mspilot.api.security import hash_password
    from mspilot.db.users import create_user, resolve_client

    engine = database()
    tenant_id = resolve_tenant_id(engine, tenant)
    client_id = resolve_client(engine, tenant_id, client) if client else None
    secret = (
        typer.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    )
    if secret is not None and len(secret) < 8:
        raise UserInputError("passwords need at least 8 characters")
    user = create_user(
        engine,
        tenant_id,
        email,
        role,
        name=name,
        client_id=client_id,
        password_hash=hash_password(secret) if secret else None,
    )
    out = {
        "id": user.id,
        "tenant_id": tenant_id,
        "email": user.email,
        "role": user.role,
        "client_id": user.client_id,
    }
    if as_json:
        emit_json(out)
    else:
        print_table("User created", list(out), [list(out.values())])


@users_app.command("token")
@friendly_errors
def token(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    tenant: Tenant = None,
    hours: Annotated[float, typer.Option(min=0.01, max=24 * 90, help="Lifetime.")] = 12.0,
    as_json: AsJson = False,
) -> None:
    """Mint a bearer token for a user (for the widget's data-token or API calls)."""
    from mspilot.api.security import issue_token, signing_key
    from mspilot.db.users import get_user_by_email

    engine = database()
    tenant_id = resolve_tenant_id(engine, tenant)
    user = get_user_by_email(engine, tenant_id, email)
    if user is None or not user.active:
        raise UserInputError(f"no active user {email!r} in tenant {tenant_id!r}")
    value, expires = issue_token(
        signing_key(settings()),
        user_id=user.id,
        tenant_id=tenant_id,
        role=user.role,
        client_id=user.client_id,
        ttl=dt.timedelta(hours=hours),
    )
    if as_json:
        emit_json({"access_token": value, "expires_at": expires.isoformat(), "role": user.role})
    else:
        typer.echo(value)


@users_app.command("api-key")
@friendly_errors
def api_key(
    email: Annotated[str, typer.Argument(help="The service account's email.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "service",
    tenant: Tenant = None,
    as_json: AsJson = False,
) -> None:
    """Create an API key for a user (shown once)."""
    from mspilot.api.security import new_api_key
    from mspilot.db.users import add_api_key, get_user_by_email

    engine = database()
    tenant_id = resolve_tenant_id(engine, tenant)
    user = get_user_by_email(engine, tenant_id, email)
    if user is None:
        raise UserInputError(f"no user {email!r} in tenant {tenant_id!r}")
    key, prefix, digest = new_api_key()
    row = add_api_key(engine, user.id, name, prefix, digest)
    if as_json:
        emit_json({"id": row.id, "key": key, "prefix": prefix, "user": user.email})
    else:
        typer.echo(key)


@users_app.command("list")
@friendly_errors
def list_(tenant: Tenant = None, as_json: AsJson = False) -> None:
    """The tenant's users."""
    from mspilot.db.users import list_users

    engine = database()
    tenant_id = resolve_tenant_id(engine, tenant)
    rows = [
        {"email": u.email, "role": u.role, "client_id": u.client_id, "active": u.active, "id": u.id}
        for u in list_users(engine, tenant_id)
    ]
    if as_json:
        emit_json(rows)
    else:
        print_table(
            f"Users of {tenant_id}",
            ["email", "role", "client_id", "active"],
            [[r["email"], r["role"], r["client_id"] or "", r["active"]] for r in rows],
        )
