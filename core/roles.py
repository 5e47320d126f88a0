"""The roles, and the role sets every layer speaks of (one vocabulary: the API's capability
table in ``api/roles.py``, the data layer's read policy in ``db/semantic_access.py``, the
agent's tools and the insights' audiences all use these)."""

from __future__ import annotations

from typing import Final

OWNER: Final = "owner"
FINANCE: Final = "finance"
SERVICE_MANAGER: Final = "service_manager"
TECHNICIAN: Final = "technician"
CLIENT_USER: Final = "client_user"

#: every role, in order of reach
ROLES: Final = (OWNER, FINANCE, SERVICE_MANAGER, TECHNICIAN, CLIENT_USER)
EVERYONE: Final = frozenset(ROLES)
#: the MSP's own people (not client users)
STAFF: Final = frozenset({OWNER, FINANCE, SERVICE_MANAGER, TECHNICIAN})
#: staff who see money (revenue, margins, costs, prices)
MONEY: Final = frozenset({OWNER, FINANCE, SERVICE_MANAGER})
#: staff who set prices and approve commercial actions
COMMERCIAL: Final = frozenset({OWNER, FINANCE})
