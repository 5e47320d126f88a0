"""End to end over the product's own model-reading code: a generated tenant with a registered
churn model (planted label), saved leak findings and a registered forecast with a planted
crunch → the digest; and ``mspilot digest`` (preview / run / feedback / configure / history)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from mspilot.cli import context
from mspilot.cli.main import app
from mspilot.core.settings import InsightsSettings, Settings
from mspilot.insights import preview
from support.fakes.slack_api import FakeSlack
from support.insights_world import AS_OF, ModelWorld, real_model_world
from support.smtp import Inbox, free_port

runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelWorld]:
    built = real_model_world(tmp_path_factory.mktemp("pipeline"))
    yield built
    built.engine.dispose()


def _settings(world: ModelWorld) -> Settings:
    return Settings(
        data_dir=world.data_dir,
        database_url=world.url,
        today=AS_OF,
        insights=InsightsSettings(max_items=100),
    )


def test_digest_from_the_registered_models(world: ModelWorld) -> None:
    digest = preview(_settings(world), engine=world.engine)
    assert not [n for n in digest.notes if "churn" in n or "leak" in n or "forecast" in n]
    by = {d: [i for i in digest.items if i.detector == d] for d in ("churn_risk", "revenue_leak")}
    # the churn model learned the planted label: the planted clients carry the highest risks
    risky = [i.metric for i in by["churn_risk"] if i.client_id in world.risky]
    others = [i.metric for i in by["churn_risk"] if i.client_id not in world.risky]
    assert risky and min(risky) > max(others, default=0.0)
    # with the model's reasons in words
    assert all(i.drivers for i in by["churn_risk"] if i.client_id in world.risky)
    # leaks above $250 (5,200 and 780), not the $90 one
    assert sorted(i.dollars for i in by["revenue_leak"]) == [780.0, 5200.0]
    (crunch,) = [i for i in digest.items if i.detector == "capacity"]
    assert crunch.metric == pytest.approx(60.0)  # two weeks at 330 h against 300 h
    dollars = [i.dollars for i in digest.items]
    assert dollars == sorted(dollars, reverse=True)
    assert digest.suppressed.over_limit == 0 and digest.suppressed.below_threshold >= 1


@pytest.fixture
def env(world: ModelWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    with FakeSlack() as slack:
        for key, value in {
            "MSPILOT_DATA_DIR": str(world.data_dir),
            "MSPILOT_DATABASE_URL": world.url,
            "MSPILOT_TODAY": AS_OF.isoformat(),
            "MSPILOT_SMTP__HOST": "127.0.0.1",
            "MSPILOT_SMTP__PORT": str(port),
            "MSPILOT_SMTP__STARTTLS": "false",
            "MSPILOT_SLACK__BOT_TOKEN": "xoxb-cli",
            "MSPILOT_SLACK__API_URL": slack.base_url,
        }.items():
            monkeypatch.setenv(key, value)
        context.settings.cache_clear()
        slack.inbox = inbox  # type: ignore[attr-defined]
        try:
            yield slack
        finally:
            context.settings.cache_clear()
            smtp.stop()


def test_cli_preview_run_feedback_configure_history(env: FakeSlack, world: ModelWorld) -> None:
    shown = runner.invoke(app, ["digest", "preview"])
    assert shown.exit_code == 0, shown.output
    assert "Weekly insights" in shown.output and "Capacity crunch" in shown.output
    as_json = json.loads(runner.invoke(app, ["digest", "preview", "--json"]).stdout)
    keys = [i["key"] for i in as_json["items"]]
    assert keys and as_json["tenant_id"] == world.tenant_id
    html = runner.invoke(app, ["digest", "preview", "--html"]).stdout
    assert html.startswith("<!doctype html>") and "<table" in html

    configured = runner.invoke(
        app,
        [
            "digest",
            "configure",
            "--slack-channel",
            "CINS",
            "--email",
            "ops@msp.test",
            "--weekday",
            "fri",
            "--hour",
            "7",
            "--json",
        ],
    )
    assert configured.exit_code == 0, configured.output
    assert json.loads(configured.stdout)["weekday"] == "fri"

    sent = runner.invoke(app, ["digest", "run", "--force", "--json"])
    assert sent.exit_code == 0, sent.output
    (ran,) = json.loads(sent.stdout)["ran"]
    assert ran["items"] == len(keys)
    assert ran["deliveries"]["slack"].startswith("sent")
    assert ran["deliveries"]["email"] == "sent: 1 recipient(s)"
    assert env.of("chat.postMessage") and len(env.inbox.messages) == 1  # type: ignore[attr-defined]
    # what was just sent is not repeated (items beyond the top 15 come up next time)
    after = json.loads(runner.invoke(app, ["digest", "preview", "--json"]).stdout)
    assert not {i["key"] for i in after["items"]} & set(keys)
    assert after["suppressed"]["already_sent"] == len(keys)

    snoozed = runner.invoke(app, ["digest", "feedback", keys[0], "snooze"])
    assert snoozed.exit_code == 0 and "Snoozed until" in snoozed.output
    wrong = runner.invoke(app, ["digest", "feedback", keys[-1], "wrong", "--reason", "known"])
    assert wrong.exit_code == 0 and "was" in wrong.output
    history = json.loads(runner.invoke(app, ["digest", "history", "--json"]).stdout)
    assert [f["verdict"] for f in history["feedback"]] == ["wrong", "snooze"]
    assert history["runs"][0]["status"] == "done"
    tuned = [k for k, v in history["thresholds"].items() if keys[-1].startswith(k)]
    assert tuned


def test_cli_errors_are_clear(env: FakeSlack) -> None:
    for args, words in (
        (["digest", "feedback", "nonsense", "snooze"], "insight key"),
        (["digest", "feedback", "churn_risk:x", "wrong"], "reason"),
        (["digest", "preview", "--kind", "monthly"], "--kind"),
        (["digest", "preview", "--tenant", "nobody"], "unknown tenant"),
        (["digest", "configure", "--email", "not-an-address"], "not e-mail"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code != 0, args
        assert words in result.output and "Traceback" not in result.output
