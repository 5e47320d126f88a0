"""privacy: erased rows (refused by the loader) and retention policies per tenant

Revision ID: 0013_privacy
Revises: 0008_user_indexes
Create Date: 2026-12-08
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mspilot.db.schema


revision: str = '0013_privacy'
down_revision: str | None = '0008_user_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('erased_rows',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('row_id', sa.String(length=120), nullable=False, comment='Canonical id'),
    sa.Column('table_name', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=120), nullable=False, comment='The erased client'),
    sa.Column('erased_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_erased_rows_tenant'),
    sa.PrimaryKeyConstraint('tenant_id', 'row_id', name=op.f('pk_erased_rows'))
    )
    op.create_table('retention_policies',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('chat_days', sa.Integer(), nullable=True),
    sa.Column('audit_days', sa.Integer(), nullable=True),
    sa.Column('updated_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_retention_policies_tenant'),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_retention_policies'))
    )


def downgrade() -> None:
    op.drop_table('retention_policies')
    op.drop_table('erased_rows')
