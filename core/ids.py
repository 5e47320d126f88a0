"""Canonical row identifiers.

Every row's ``id`` is derived from ``(tenant_id, source, external_id)``, so loading the same
source record twice always lands on the same row (idempotent upserts), and ids never collide
across tenants or sources.
"""

from __future__ import annotations

import re

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def is_slug(value: str) -> bool:
    return bool(_SLUG.match(value))


def make_id(tenant_id: str, source: str, external_id: str) -> str:
    return f"{tenant_id}.{source}.{external_id}"
