"""Proactive insights: weekly digests and daily alerts built from the models, deduplicated,
tuned by feedback, delivered to Slack, e-mail and the API feed.

``preview(settings, tenant_id)`` is what the demo and ``mspilot digest preview`` show: the digest
the tenant would get now, without recording anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mspilot.core.settings import Settings
    from mspilot.insights.model import Digest, DigestKind


def preview(
    settings: Settings | None = None,
    tenant_id: str | None = None,
    *,
    kind: DigestKind = "weekly",
    engine: Engine | None = None,
) -> Digest:
    """The digest ``tenant_id`` (default: the only one loaded) would get now; nothing is sent or
    recorded. Render it with ``insights.render.to_text`` / ``to_html`` or ``model_dump_json``."""
    from mspilot.core.clock import Clock
    from mspilot.core.settings import Settings
    from mspilot.db.engine import make_engine
    from mspilot.db.tenants import resolve_tenant
    from mspilot.insights.digest import build_digest

    settings = settings or Settings()
    own = engine is None
    db = engine or make_engine(settings.resolved_database_url)
    try:
        if tenant_id is None:
            tenant_id = resolve_tenant(db, None).id
        return build_digest(
            db,
            tenant_id,
            as_of=Clock(settings.today).today(),
            data_dir=settings.data_dir,
            kind=kind,
            max_items=settings.insights.max_items,
        )
    finally:
        if own:
            db.dispose()
