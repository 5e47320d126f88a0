"""The admin console: server-rendered pages under ``/admin`` (Jinja2, no front-end build).

``install(app)`` adds the pages and the two outcomes their dependencies raise: a visitor who is
not signed in is redirected to the sign-in page; a refusal (role, CSRF, a failed action) is a
page that says why, with its status code.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from mspilot.api.admin.access import Redirect, Refused, templates
from mspilot.api.admin.views import router

__all__ = ["install", "router"]


async def _redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Redirect)
    return RedirectResponse(exc.to, status_code=303)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"message": exc.message, "status": exc.status},
        status_code=exc.status,
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(Redirect, _redirect)
    app.add_exception_handler(Refused, _refused)
