"""The chat widget (``/widget.js``) and the demo MSP portal page at ``/``."""

from __future__ import annotations

import asyncio
import html
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from mspilot.api.demo import ensure_demo_users, token_for
from mspilot.api.deps import StateDep
from mspilot.core.errors import DataError

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"


@cache
def _asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


@router.get("/widget.js")
async def widget() -> Response:
    return Response(
        _asset("widget.js"),
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/", response_class=HTMLResponse)
async def portal(
    state: StateDep,
    as_: Annotated[Literal["owner", "client"], Query(alias="as")] = "owner",
) -> HTMLResponse:
    page = _asset("portal.html")
    if not state.settings.api.demo_portal:
        body = page.replace("{{TENANT}}", "mspilot").replace("{{SWITCHER}}", "")
        body = body.replace("{{SUGGESTIONS}}", '<em>"revenue by month this year"</em>')
        body = body.replace(
            "{{WIDGET}}",
            "<p class='note'>The demo portal is off. Embed the widget in your portal with "
            '<code>&lt;script src="/widget.js" data-token="..."&gt;&lt;/script&gt;</code> '
            "(tokens: <code>mspilot users token EMAIL</code>).</p>",
        )
        return HTMLResponse(body.replace("{{VIEW}}", "Embedding the assistant"))
    try:
        demo = await asyncio.to_thread(
            state.cached, ("demo-users",), 3600.0, lambda: ensure_demo_users(state.engine)
        )
    except DataError as exc:
        return HTMLResponse(f"<p>{html.escape(str(exc))}</p>", status_code=503)
    user = demo.owner if as_ == "owner" else demo.client_user
    view = "MSP owner view" if as_ == "owner" else f"Client portal: {demo.client_name}"
    token = token_for(state.signing_key, user)
    switcher = (
        f"<a href='/?as=owner' class='{'on' if as_ == 'owner' else ''}' id='as-owner'>"
        "Owner view</a>"
        f"<a href='/?as=client' class='{'on' if as_ == 'client' else ''}' id='as-client'>"
        f"Client view ({html.escape(demo.client_name)})</a>"
    )
    script = (
        f'<script src="/widget.js" data-token="{html.escape(token)}" '
        f'data-title="Ask {html.escape(demo.tenant_name)}"></script>'
    )
    asks = (
        ("which clients are most likely to leave?", "revenue by month this year")
        if as_ == "owner"
        else ("how many tickets did we open per month this year?", "what is our balance due?")
    )
    suggestions = ", ".join(f'<em>"{html.escape(q)}"</em>' for q in asks)
    body = (
        page.replace("{{TENANT}}", html.escape(demo.tenant_name))
        .replace("{{SUGGESTIONS}}", suggestions)
        .replace("{{SWITCHER}}", switcher)
        .replace("{{VIEW}}", html.escape(view))
        .replace("{{WIDGET}}", script)
    )
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})
