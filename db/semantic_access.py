"""Who may read what: one role policy shared by the metrics layer and the read-only SQL guard.

Roles (``ToolContext.role``):
- ``owner``, ``finance``: everything of their tenant.
- ``service_manager``: everything of their tenant.
- ``technician``: operational data only: no revenue, margin, cost, rate or pricing figures
  (no invoices, payments, contracts; no technicians' hourly cost; no licence prices).
- ``client_user``: their own client's tickets, assets and invoices (with lines and payments),
  nothing internal (no time entries, technicians, contracts, costs or cross-client analytics).
"""

from __future__ import annotations

from typing import Final

from mspilot.core.errors import UserInputError
from mspilot.core.roles import EVERYONE, MONEY, ROLES, STAFF

# Older names of the role sets in ``core/roles.py`` (the one vocabulary), kept while the
# modules that still import them (db/semantic, tools/*) move over: use STAFF, EVERYONE, MONEY.
INTERNAL_ROLES: Final = STAFF
ALL_ROLES: Final = EVERYONE
STAFF_WITH_MONEY: Final = MONEY


class AccessDenied(UserInputError):
    """The caller's role may not see this; the message says what is allowed instead."""


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccessDenied(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    return role


#: Tables each role may read with raw SQL (client users: scoped to their client).
SQL_TABLES: Final[dict[str, frozenset[str]]] = {
    "owner": frozenset(
        {
            "clients",
            "contracts",
            "technicians",
            "tickets",
            "time_entries",
            "invoices",
            "invoice_lines",
            "payments",
            "assets",
            "licenses",
        }
    ),
    "technician": frozenset(
        {"clients", "technicians", "tickets", "time_entries", "assets", "licenses"}
    ),
    "client_user": frozenset(
        {"clients", "tickets", "assets", "invoices", "invoice_lines", "payments", "licenses"}
    ),
}
SQL_TABLES["finance"] = SQL_TABLES["owner"]
SQL_TABLES["service_manager"] = SQL_TABLES["owner"]

#: Columns hidden from a role even in the tables it may read.
HIDDEN_COLUMNS: Final[dict[str, dict[str, frozenset[str]]]] = {
    "technician": {
        "technicians": frozenset({"hourly_cost"}),
        "licenses": frozenset({"unit_cost", "unit_price"}),
    },
    "client_user": {
        "licenses": frozenset({"unit_cost"}),
        "tickets": frozenset({"technician_id"}),
    },
}
#: Columns nobody reads through the agent (loader bookkeeping).
SYSTEM_COLUMNS: Final = frozenset({"row_hash"})


def hidden_columns(role: str, table: str) -> frozenset[str]:
    return HIDDEN_COLUMNS.get(role, {}).get(table, frozenset()) | SYSTEM_COLUMNS


def sql_tables(role: str) -> frozenset[str]:
    return SQL_TABLES[check_role(role)]
