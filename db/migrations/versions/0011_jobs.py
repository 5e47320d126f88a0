"""jobs: task runs, locks, slots, vendor accounts, webhook events, alert channels

Revision ID: 0011_jobs
Revises: 0008_user_indexes
Create Date: 2026-12-08
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mspilot.db.schema


revision: str = '0011_jobs'
down_revision: str | None = '0008_user_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alert_channels',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False, comment='teams / webhook'),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('secret', sa.Text(), nullable=True, comment='webhook: the HMAC key, encrypted with MSPILOT_SECRET_KEY'),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_channels'))
    )
    with op.batch_alter_table('alert_channels', schema=None) as batch_op:
        batch_op.create_index('ix_alert_channels_tenant', ['tenant_id'], unique=False)

    op.create_table('task_locks',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('holder', sa.String(length=120), nullable=False),
    sa.Column('expires_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acquired_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_task_locks'))
    )
    op.create_table('task_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('job', sa.String(length=40), nullable=False, comment='sync / rescore / train / reindex / ...'),
    sa.Column('tenant_id', sa.String(length=40), nullable=True),
    sa.Column('key', sa.String(length=200), nullable=False, comment='e.g. sync:acme:superops'),
    sa.Column('args', sa.Text(), nullable=False, comment='JSON arguments'),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False, comment='running / done / skipped / failed / dead'),
    sa.Column('worker', sa.String(length=120), nullable=False),
    sa.Column('started_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('result', sa.Text(), nullable=True, comment='JSON summary'),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_runs'))
    )
    with op.batch_alter_table('task_runs', schema=None) as batch_op:
        batch_op.create_index('ix_task_runs_job_tenant_started', ['job', 'tenant_id', 'started_at'], unique=False)
        batch_op.create_index('ix_task_runs_message_id', ['message_id'], unique=False)
        batch_op.create_index('ix_task_runs_status_finished', ['status', 'finished_at'], unique=False)

    op.create_table('task_slots',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('holder', sa.String(length=120), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('claimed_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_task_slots'))
    )
    with op.batch_alter_table('task_slots', schema=None) as batch_op:
        batch_op.create_index('ix_task_slots_claimed_at', ['claimed_at'], unique=False)

    op.create_table('vendor_accounts',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('account', sa.String(length=120), nullable=True, comment='SuperOps subdomain / QuickBooks realm id'),
    sa.Column('overrides', sa.Text(), nullable=True, comment="JSON: this account's vendor settings (endpoints, limits), no secrets"),
    sa.Column('sync_every_minutes', sa.Integer(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('webhook_secret_hash', sa.String(length=64), nullable=True, comment='sha256 of the per-tenant webhook secret'),
    sa.Column('updated_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'source', name=op.f('pk_vendor_accounts')),
    sa.UniqueConstraint('source', 'account', name='uq_vendor_accounts_account')
    )
    op.create_table('webhook_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('enqueued', sa.Text(), nullable=False, comment='JSON: what it enqueued'),
    sa.Column('received_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('source', 'digest', name='uq_webhook_events_digest')
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_events_received_at', ['received_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_received_at')

    op.drop_table('webhook_events')
    op.drop_table('vendor_accounts')
    with op.batch_alter_table('task_slots', schema=None) as batch_op:
        batch_op.drop_index('ix_task_slots_claimed_at')

    op.drop_table('task_slots')
    with op.batch_alter_table('task_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_task_runs_status_finished')
        batch_op.drop_index('ix_task_runs_message_id')
        batch_op.drop_index('ix_task_runs_job_tenant_started')

    op.drop_table('task_runs')
    op.drop_table('task_locks')
    with op.batch_alter_table('alert_channels', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_channels_tenant')

    op.drop_table('alert_channels')
