"""data quality severity, the orphan queue, per-tenant source field maps

- ``data_quality_issues.severity``: ``error`` (the row was refused) or ``warning`` (loaded with
  a derived/default value, or a stream skipped); existing rows were all refusals.
- ``orphan_rows``: rows waiting for a parent that has not arrived yet (re-tried every sync).
- ``source_field_maps``: which source field (SuperOps custom-field column) holds which
  canonical fact, per tenant.

Revision ID: 0010_dq_severity
Revises: 0008_user_indexes
Create Date: 2026-12-08
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mspilot.db.schema


revision: str = '0010_dq_severity'
down_revision: str | Sequence[str] | None = '0008_user_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('data_quality_issues') as batch:
        batch.add_column(
            sa.Column(
                'severity',
                sa.String(length=10),
                server_default='error',
                nullable=False,
                comment='error / warning',
            )
        )
    op.create_table('orphan_rows',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('table_name', sa.String(length=40), nullable=False),
    sa.Column('row_id', sa.String(length=120), nullable=False, comment='Canonical id'),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('record', sa.Text(), nullable=False, comment='The record as the source gave it (JSON)'),
    sa.Column('waits_for_table', sa.String(length=40), nullable=False),
    sa.Column('waits_for_id', sa.String(length=120), nullable=False, comment='Canonical id of the parent'),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('first_seen_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_tried_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_orphan_rows_tenant'),
    sa.PrimaryKeyConstraint('tenant_id', 'table_name', 'row_id', name=op.f('pk_orphan_rows'))
    )
    op.create_table('source_field_maps',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('entity', sa.String(length=20), nullable=False, comment='client / ticket'),
    sa.Column('field', sa.String(length=40), nullable=False, comment='Canonical fact'),
    sa.Column('column_name', sa.String(length=80), nullable=True, comment="The source's field (None: the account keeps no such field)"),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('origin', sa.String(length=20), nullable=False, comment='discovered / default / manual'),
    sa.Column('updated_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_source_field_maps_tenant'),
    sa.PrimaryKeyConstraint('tenant_id', 'source', 'entity', 'field', name=op.f('pk_source_field_maps'))
    )


def downgrade() -> None:
    op.drop_table('source_field_maps')
    op.drop_table('orphan_rows')
    with op.batch_alter_table('data_quality_issues') as batch:
        batch.drop_column('severity')
