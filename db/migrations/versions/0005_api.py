"""api tables: users, api keys, audit events

Revision ID: 0005_api
Revises: 0001
Create Date: 2026-11-30
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mspilot.db.schema


revision: str = '0005_api'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False, comment='owner / finance / service_manager / technician / client_user'),
    sa.Column('client_id', sa.String(length=120), nullable=True, comment='The one client a client_user may see'),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_users_tenant'),
    sa.ForeignKeyConstraint(['tenant_id', 'client_id'], ['clients.tenant_id', 'clients.id'], name='fk_users_client_id'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('tenant_id', 'email', name='uq_users_tenant_id_email')
    )
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False, comment='First characters, to recognise it'),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_api_keys_user'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name='uq_api_keys_key_hash')
    )
    op.create_index(op.f('ix_api_keys_user_id'), 'api_keys', ['user_id'], unique=False)
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('client_id', sa.String(length=120), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('at', mspilot.db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False, comment='chat / data / auth / thread'),
    sa.Column('resource', sa.String(length=200), nullable=False, comment='Endpoint or thread'),
    sa.Column('question', sa.Text(), nullable=True),
    sa.Column('tools', sa.Text(), nullable=True, comment='JSON list of {name, args, ok, rows}'),
    sa.Column('rows_out', sa.Integer(), nullable=False),
    sa.Column('fields_out', sa.Text(), nullable=True, comment='JSON list of columns returned'),
    sa.Column('status', sa.Integer(), nullable=False, comment='HTTP status'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='fk_audit_events_tenant'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index('ix_audit_events_tenant_at', 'audit_events', ['tenant_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_events_tenant_at', table_name='audit_events')
    op.drop_table('audit_events')
    op.drop_index(op.f('ix_api_keys_user_id'), table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_table('users')
