"""indexes: users (tenant_id, client_id) and slack_users (tenant_id)

``users (tenant_id, client_id)`` leads the composite foreign key to ``clients``, so deleting or
re-keying a client looks its client users up instead of scanning ``users`` (0007 left it out
as a small table); ``slack_users (tenant_id)`` leads its foreign key to ``tenants``, so deleting
a tenant does not scan every workspace's Slack users. Indexes only: no table or row changes.

The two tables come from two branches (``users``: 0005_api, ``slack_users``: 0006_insights), so
this revision merges those two instead of branching from 0001 like the domain migrations: it
cannot run before both exist. (Branching from 0001 with ``depends_on`` on both made alembic
1.20 fail upgrading an empty database: ``KeyError: '0001'`` in its head bookkeeping.)
``migrate.upgrade`` still applies every head; this one replaces 0005_api and 0006_insights.

Revision ID: 0008_user_indexes
Revises: 0005_api, 0006_insights
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0008_user_indexes'
down_revision: str | Sequence[str] | None = ('0005_api', '0006_insights')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ('users', 'ix_users_tenant_client', ('tenant_id', 'client_id')),
    ('slack_users', 'ix_slack_users_tenant', ('tenant_id',)),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, list(columns), unique=False)


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
