"""The admin console in Debian's Chromium against a real uvicorn server: sign in, read the
overview, promote a model through the confirmation page; no console errors on any page.
Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mspilot.models.registry import Registry
from support.admin_console import INSIGHT_TITLE, PASSWORD, build_console, console_app
from support.api_world import World
from support.browser import CHROMIUM, chromium, serving

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]


def test_owner_signs_in_reads_the_overview_and_promotes_a_model(
    world: World, tmp_path: Path
) -> None:
    console = build_console(world, tmp_path)
    registry = Registry(console.data_dir, world.tenant_id, mlflow=False)
    champion = registry.champion("churn")
    challenger = registry.versions("churn")[-1]
    assert champion is not None and challenger.status == "challenger"
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with serving(console_app(console)) as base, chromium() as browser:
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        page = context.new_page()
        page.on(
            "console",
            lambda m: (
                problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        external: list[str] = []
        page.on("request", lambda r: None if r.url.startswith(base) else external.append(r.url))

        page.goto(base + "/admin")  # not signed in: the sign-in page
        assert page.url == base + "/admin/login"
        page.fill("#tenant", world.tenant_id)
        page.fill("#email", console.users["owner"].email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/admin")
        assert page.locator("h1").inner_text() == "Overview"
        assert INSIGHT_TITLE in page.locator("#insights").inner_text()
        champions = page.locator("#models").inner_text()
        assert f"v{champion.version}" in champions and "auc 0.81" in champions
        assert page.locator("#sources tbody tr").count() >= 1
        page.screenshot(path=str(ARTIFACTS / "admin-overview.png"), full_page=True)

        page.click("text=Models")
        row = page.locator("#model-churn tr", has_text=f"v{challenger.version}")
        assert "challenger" in row.inner_text()
        row.locator("text=Promote").click()
        assert page.locator("h1").inner_text() == f"Promote churn v{challenger.version}?"
        assert registry.champion("churn") == champion  # nothing changed before confirming
        page.click("button:has-text('Promote')")
        flash = page.locator(".flash")
        flash.wait_for()
        assert f"churn v{challenger.version} is now the champion" in flash.inner_text()
        assert (
            "champion"
            in page.locator("#model-churn tr", has_text=f"v{challenger.version}").inner_text()
        )
        page.screenshot(path=str(ARTIFACTS / "admin-models-promoted.png"), full_page=True)
        now = registry.champion("churn")
        assert now is not None and now.version == challenger.version

        page.click("text=Sign out")
        page.wait_for_url(base + "/admin/login")
        context.close()
    assert problems == []
    assert external == []
