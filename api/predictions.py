"""What the prediction routes (``api/routes/``: churn, margins, leaks, forecast, pricing,
budget) share. They are thin handlers over ``models.serving``, which the agent's tools call
too. Predictions are computed once per data snapshot (tenant, product date, model version)
and kept in memory, so a request is a lookup and a page slice; the models themselves were
loaded by the lifespan. A model that was never trained answers 409 ``data_unavailable``
naming the command that trains it."""

from __future__ import annotations

from mspilot.api.state import AppState
from mspilot.models import serving

#: Seconds a prediction stays cached (a new model version or product date is a new key).
PREDICTION_TTL_S = 600.0


async def champion_version(state: AppState, tenant_id: str, kind: str) -> int:
    """The champion's version (the registry file is re-read every few seconds at most)."""
    version: int = await state.acached(
        ("champion", tenant_id, kind),
        5.0,
        lambda: serving.champion_version(state.data_dir, tenant_id, kind),
    )
    return version
