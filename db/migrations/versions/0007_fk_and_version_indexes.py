"""indexes: every composite foreign key of the canonical tables, and (tenant_id, synced_at) /
(tenant_id, deleted_at) on every synced table

Deleting a parent row (a client, a ticket, ...) had to scan the child tables that reference
it without an index; ``models.data.data_version`` had to scan every row of the tenant for
its latest ``synced_at``/``deleted_at``. Indexes only: no table or row changes.

Revision ID: 0007_indexes
Revises: 0001
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0007_indexes'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Composite foreign keys (tenant_id, x) -> parent (tenant_id, id) no index led with.
FK_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ('tickets', 'ix_tickets_tenant_technician', ('tenant_id', 'technician_id')),
    ('invoice_lines', 'ix_invoice_lines_tenant_contract', ('tenant_id', 'contract_id')),
    ('time_entries', 'ix_time_entries_tenant_ticket', ('tenant_id', 'ticket_id')),
    ('time_entries', 'ix_time_entries_tenant_technician', ('tenant_id', 'technician_id')),
    ('time_entries', 'ix_time_entries_tenant_invoice_line', ('tenant_id', 'invoice_line_id')),
    ('payments', 'ix_payments_tenant_client', ('tenant_id', 'client_id')),
    ('assets', 'ix_assets_tenant_client', ('tenant_id', 'client_id')),
    ('licenses', 'ix_licenses_tenant_client', ('tenant_id', 'client_id')),
)

#: The synced tables (``db.schema.SYNCED_TABLES`` at this revision).
SYNCED = (
    'clients',
    'technicians',
    'contracts',
    'tickets',
    'invoices',
    'invoice_lines',
    'time_entries',
    'payments',
    'assets',
    'licenses',
)

VERSION_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple(
    (table, f'ix_{table}_tenant_{column}', ('tenant_id', f'{column}_at'))
    for table in SYNCED
    for column in ('synced', 'deleted')
)


def upgrade() -> None:
    for table, name, columns in FK_INDEXES + VERSION_INDEXES:
        op.create_index(name, table, list(columns), unique=False)


def downgrade() -> None:
    for table, name, _ in reversed(FK_INDEXES + VERSION_INDEXES):
        op.drop_index(name, table_name=table)
