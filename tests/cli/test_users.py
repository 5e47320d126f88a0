"""``mspilot users create|token|api-key|list`` against a loaded tenant; bad input is a message."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mspilot.cli import context
from mspilot.cli.main import app
from support.api_world import World


@pytest.fixture
def cli_env(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("MSPILOT_DATABASE_URL", world.url)
    monkeypatch.setenv("MSPILOT_DATA_DIR", str(world.data_dir))
    monkeypatch.setenv("MSPILOT_API__JWT_SECRET", "test-secret-test-secret-test-secret")
    context.settings.cache_clear()
    yield CliRunner()
    context.settings.cache_clear()


def test_users_create_token_and_use_it(
    cli_env: CliRunner, client: TestClient, world: World
) -> None:
    made = cli_env.invoke(
        app,
        [
            "users",
            "create",
            "cli@demo.test",
            "--role",
            "client_user",
            "--client",
            world.clients[3],
            "--tenant",
            world.tenant_id,
            "--json",
        ],
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["client_id"] == world.clients[3]
    tok = cli_env.invoke(app, ["users", "token", "cli@demo.test", "--tenant", world.tenant_id])
    assert tok.exit_code == 0, tok.output
    me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {tok.output.strip()}"})
    assert me.status_code == 200 and me.json()["client_id"] == world.clients[3]
    key = cli_env.invoke(app, ["users", "api-key", "cli@demo.test", "--tenant", world.tenant_id])
    assert key.exit_code == 0 and key.output.startswith("msp_")
    listed = cli_env.invoke(app, ["users", "list", "--tenant", world.tenant_id, "--json"])
    assert "cli@demo.test" in {u["email"] for u in json.loads(listed.output)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "create", "x@demo.test", "--role", "king"], "unknown role"),
        (["users", "create", "y@demo.test", "--role", "client_user"], "bound to a client"),
        (["users", "token", "nobody@demo.test"], "no active user"),
        (["users", "list", "--tenant", "nope"], "unknown tenant"),
    ],
)
def test_bad_input_is_a_clear_message(
    cli_env: CliRunner, world: World, args: list[str], message: str
) -> None:
    if "--tenant" not in args:
        args = [*args, "--tenant", world.tenant_id]
    result = cli_env.invoke(app, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
