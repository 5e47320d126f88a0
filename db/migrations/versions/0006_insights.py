"""insights tables: digest settings, insights sent, feedback, detector thresholds, digest runs,
scheduler lease, Slack user mapping, approved actions

Revision ID: 0006_insights
Revises: 0001
Create Date: 2026-11-30
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mspilot.db.schema


revision: str = '0006_insights'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('scheduler_leases',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('holder', sa.String(length=80), nullable=False),
    sa.Column('expires_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acquired_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_leases'))
    )
    op.create_table('approved_actions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('detector', sa.String(length=40), nullable=False),
    sa.Column('action', sa.Text(), nullable=False, comment='JSON description of the action'),
    sa.Column('status', sa.String(length=20), nullable=False, comment='approved / rejected'),
    sa.Column('decided_by', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('decided_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_approved_actions_tenant'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approved_actions'))
    )
    with op.batch_alter_table('approved_actions', schema=None) as batch_op:
        batch_op.create_index('ix_approved_actions_tenant_key', ['tenant_id', 'key'], unique=False)

    op.create_table('detector_thresholds',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('detector', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('wrong_count', sa.Integer(), nullable=False),
    sa.Column('updated_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_detector_thresholds_tenant'),
    sa.PrimaryKeyConstraint('tenant_id', 'detector', name=op.f('pk_detector_thresholds'))
    )
    op.create_table('digest_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('slot', sa.String(length=80), nullable=False, comment='e.g. weekly:2026-11-02T08:00'),
    sa.Column('kind', sa.String(length=10), nullable=False, comment='weekly / daily / manual'),
    sa.Column('status', sa.String(length=12), nullable=False, comment='running / done / failed'),
    sa.Column('holder', sa.String(length=80), nullable=False, comment='Who built it'),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('dollars', sa.Float(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=True, comment='The digest as JSON'),
    sa.Column('deliveries', sa.Text(), nullable=True, comment='JSON: channel -> outcome'),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_digest_runs_tenant'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_runs')),
    sa.UniqueConstraint('tenant_id', 'slot', name='uq_digest_runs_tenant_id_slot')
    )
    with op.batch_alter_table('digest_runs', schema=None) as batch_op:
        batch_op.create_index('ix_digest_runs_status_finished_at', ['status', 'finished_at'], unique=False)

    op.create_table('digest_settings',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('slack_team_id', sa.String(length=40), nullable=True, comment='Slack workspace'),
    sa.Column('slack_channel', sa.String(length=80), nullable=True, comment='Digest channel id'),
    sa.Column('email_to', sa.Text(), nullable=True, comment='Comma-separated recipients'),
    sa.Column('weekday', sa.Integer(), nullable=True, comment='0 = Monday'),
    sa.Column('hour', sa.Integer(), nullable=True, comment='Tenant local hour'),
    sa.Column('daily_alerts', sa.Boolean(), nullable=True),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('updated_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_digest_settings_tenant'),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_digest_settings')),
    sa.UniqueConstraint('slack_team_id', name='uq_digest_settings_slack_team_id')
    )
    op.create_table('insight_feedback',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('detector', sa.String(length=40), nullable=False),
    sa.Column('verdict', sa.String(length=20), nullable=False, comment='snooze / dismiss / wrong / approve / explain'),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('user_id', sa.String(length=40), nullable=True),
    sa.Column('via', sa.String(length=20), nullable=False, comment='slack / cli / api'),
    sa.Column('snooze_until', sa.Date(), nullable=True),
    sa.Column('threshold_before', sa.Float(), nullable=True),
    sa.Column('threshold_after', sa.Float(), nullable=True),
    sa.Column('created_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_insight_feedback_tenant'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insight_feedback'))
    )
    with op.batch_alter_table('insight_feedback', schema=None) as batch_op:
        batch_op.create_index('ix_insight_feedback_tenant_at', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index('ix_insight_feedback_tenant_key', ['tenant_id', 'key'], unique=False)

    op.create_table('insights_sent',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('detector', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=120), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('metric', sa.Float(), nullable=False, comment="The detector's measure when sent"),
    sa.Column('dollars', sa.Float(), nullable=False),
    sa.Column('first_sent_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_sent_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('times_sent', sa.Integer(), nullable=False),
    sa.Column('last_digest_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_insights_sent_tenant'),
    sa.PrimaryKeyConstraint('tenant_id', 'key', name=op.f('pk_insights_sent'))
    )
    op.create_table('slack_users',
    sa.Column('team_id', sa.String(length=40), nullable=False),
    sa.Column('slack_user_id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False, comment='users.id'),
    sa.Column('linked_by', sa.String(length=20), nullable=False, comment='email / manual'),
    sa.Column('created_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_slack_users_tenant'),
    sa.PrimaryKeyConstraint('team_id', 'slack_user_id', name=op.f('pk_slack_users'))
    )


def downgrade() -> None:
    op.drop_table('slack_users')
    op.drop_table('insights_sent')
    with op.batch_alter_table('insight_feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_insight_feedback_tenant_key')
        batch_op.drop_index('ix_insight_feedback_tenant_at')

    op.drop_table('insight_feedback')
    op.drop_table('digest_settings')
    with op.batch_alter_table('digest_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_digest_runs_status_finished_at')

    op.drop_table('digest_runs')
    op.drop_table('detector_thresholds')
    with op.batch_alter_table('approved_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_approved_actions_tenant_key')

    op.drop_table('approved_actions')
    op.drop_table('scheduler_leases')
