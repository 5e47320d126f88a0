"""The Slack app inside the API server.

``slack_router(settings)`` returns an ``APIRouter``:

- with ``MSPILOT_SLACK__SIGNING_SECRET`` and ``MSPILOT_SLACK__BOT_TOKEN``: ``POST /slack/events``
  for events, slash commands and interactivity (one URL for all three). Bolt checks the
  signature (``v0=HMAC-SHA256(secret, "v0:{ts}:{body}")``) and the 5-minute replay window
  (``slack.signature``, before Bolt sees the request: any malformed header is a 401, never a
  500); ``url_verification`` is echoed.
- with ``MSPILOT_SLACK__SOCKET_MODE=true`` and ``MSPILOT_SLACK__APP_TOKEN``: a Socket Mode
  connection opened in the lifespan (no public URL needed).
- otherwise: nothing (the route is off).

Web API calls go to ``MSPILOT_SLACK__API_URL`` (Slack's by default; tests point it at a fake).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request, Response

from mspilot.core.logging import get_logger
from mspilot.core.settings import Settings
from mspilot.slack.signature import signature_ok

if TYPE_CHECKING:  # Bolt is imported only when Slack is configured (it costs start-up time)
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from mspilot.slack.listeners import SlackBridge

log = get_logger(__name__)


def build_bolt_app(
    settings: Settings, client: AsyncWebClient | None = None
) -> tuple[AsyncApp, SlackBridge]:
    """The Bolt app with every listener registered, and the bridge to bind to the app state."""
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
    from slack_sdk.web.async_client import AsyncWebClient

    from mspilot.slack.listeners import SlackBridge, register

    cfg = settings.slack
    if client is None:
        token = cfg.bot_token.get_secret_value() if cfg.bot_token else None
        client = AsyncWebClient(token=token, base_url=cfg.api_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    secret = cfg.signing_secret.get_secret_value() if cfg.signing_secret else None
    app = AsyncApp(
        client=client,
        signing_secret=secret,
        request_verification_enabled=secret is not None,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    bridge = SlackBridge(settings)
    register(app, bridge)
    return app, bridge


def slack_router(settings: Settings, client: AsyncWebClient | None = None) -> APIRouter:
    cfg = settings.slack
    http_mode = cfg.signing_secret is not None and cfg.bot_token is not None
    socket_mode = cfg.socket_mode and cfg.app_token is not None and cfg.bot_token is not None
    if cfg.signing_secret is not None and cfg.bot_token is None:
        log.warning("slack route off: MSPILOT_SLACK__BOT_TOKEN is not set")
    if not (http_mode or socket_mode):
        return APIRouter()
    from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler

    bolt, bridge = build_bolt_app(settings, client)
    handler = AsyncSlackRequestHandler(bolt)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bridge.bind(getattr(app.state, "mspilot", None))
        socket: Any = None
        if socket_mode and cfg.app_token is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket = AsyncSocketModeHandler(bolt, cfg.app_token.get_secret_value())
            await socket.connect_async()
            log.info("slack socket mode connected")
        try:
            yield
        finally:
            if socket is not None:
                with contextlib.suppress(Exception):
                    await socket.close_async()

    router = APIRouter(lifespan=lifespan)
    if http_mode and cfg.signing_secret is not None:
        secret = cfg.signing_secret.get_secret_value()

        @router.post("/slack/events", include_in_schema=False)
        async def slack_events(request: Request) -> Response:
            body = await request.body()
            headers = request.headers
            if not signature_ok(
                secret,
                body,
                headers.get("x-slack-request-timestamp"),
                headers.get("x-slack-signature"),
            ):
                return Response(status_code=401)
            if bridge.state is None:
                bridge.bind(request.app.state.mspilot)
            return await handler.handle(request)

    return router
