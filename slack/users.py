"""Slack users as mspilot users: roles and client scope apply in Slack exactly as in the API.

A Slack user is mapped once (``slack_users``): explicitly (``mspilot digest link-slack``) or,
when the workspace is bound to a tenant (``mspilot digest configure --slack-team``), by the
e-mail on their Slack profile (``users.info``, scope ``users:read.email``) matching an active
mspilot user of that tenant.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from mspilot.core.logging import get_logger
from mspilot.db.users import UserRow, get_user, get_user_by_email
from mspilot.insights import store

log = get_logger(__name__)


def mapped_user(engine: Engine, team_id: str, slack_user_id: str) -> UserRow | None:
    found = store.slack_user(engine, team_id, slack_user_id)
    if found is None:
        return None
    tenant_id, user_id = found
    user = get_user(engine, user_id)
    if user is None or not user.active or user.tenant_id != tenant_id:
        return None
    return user


def link_by_email(engine: Engine, team_id: str, slack_user_id: str, email: str) -> UserRow | None:
    tenant_id = store.tenant_for_team(engine, team_id)
    if tenant_id is None:
        return None
    user = get_user_by_email(engine, tenant_id, email)
    if user is None or not user.active:
        return None
    store.link_slack_user(
        engine, team_id, slack_user_id, tenant_id, user.id, linked_by="email", now=store.utcnow()
    )
    log.info(
        "slack user linked by e-mail", team_id=team_id, slack_user=slack_user_id, user_id=user.id
    )
    return user


async def resolve_user(
    engine: Engine, client: Any, team_id: str | None, slack_user_id: str | None
) -> UserRow | None:
    """The mspilot user behind a Slack user, or None (not linked, disabled, unknown team)."""
    if not team_id or not slack_user_id:
        return None
    user = await asyncio.to_thread(mapped_user, engine, team_id, slack_user_id)
    if user is not None:
        return user
    if await asyncio.to_thread(store.tenant_for_team, engine, team_id) is None:
        return None
    try:
        info = await client.users_info(user=slack_user_id)
    except SlackApiError as exc:
        log.warning("users.info failed", error=exc.response.get("error"))
        return None
    profile = (info.get("user") or {}).get("profile") or {}
    email = profile.get("email")
    if not email:
        return None
    return await asyncio.to_thread(link_by_email, engine, team_id, slack_user_id, str(email))
