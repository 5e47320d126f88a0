"""Typed endpoints over the models: churn, margins, leaks, forecast, pricing, budget."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["analytics"])
