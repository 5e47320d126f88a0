"""What the demo generator is asked for: a seed, an as-of date, a size."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from mspilot.core.errors import UserInputError

MAX_TENANTS = 20
MAX_CLIENTS = 20_000


@dataclass(frozen=True)
class DemoConfig:
    """Everything that determines a demo dataset: same config, identical rows."""

    seed: int = 7
    as_of: dt.date = dt.date(2026, 10, 31)
    n_clients: int = 150
    n_tenants: int = 1
    years: int = 3
    #: the messy world (:mod:`mspilot.synthetic.messy`): look-alikes, data faults and the
    #: held-apart anomalies on top of the planted leaks; the demo CLI turns it on
    messy: bool = False

    def validate(self) -> DemoConfig:
        """Raise :class:`UserInputError` with a clear message for a config that cannot work."""
        if not isinstance(self.as_of, dt.date) or isinstance(self.as_of, dt.datetime):
            raise UserInputError(f"as_of must be a date, not {self.as_of!r}")
        if self.seed < 0:
            raise UserInputError(f"seed must be >= 0, got {self.seed}")
        if not 1 <= self.n_clients <= MAX_CLIENTS:
            raise UserInputError(
                f"clients must be between 1 and {MAX_CLIENTS}, got {self.n_clients}"
            )
        if not 1 <= self.n_tenants <= MAX_TENANTS:
            raise UserInputError(
                f"tenants must be between 1 and {MAX_TENANTS}, got {self.n_tenants}"
            )
        if not 1 <= self.years <= 10:
            raise UserInputError(f"years must be between 1 and 10, got {self.years}")
        if not 2000 <= self.as_of.year <= 2100:
            raise UserInputError(f"as_of must fall between 2000 and 2100, got {self.as_of}")
        return self


@dataclass(frozen=True)
class TenantSpec:
    """The MSP organisation a generated dataset belongs to (the ``tenants`` row)."""

    id: str
    name: str
    currency: str
    timezone: str
    max_discount_pct: Decimal
