"""Errors as clear JSON bodies: ``{"detail": ..., "code": ..., "request_id": ...}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mspilot.core.errors import ConfigurationError, DataError, MspilotError
from mspilot.core.logging import get_logger
from mspilot.db.semantic_access import AccessDenied

log = get_logger(__name__)


class ApiError(HTTPException):
    """An HTTP error with a stable machine-readable ``code``."""

    def __init__(
        self,
        status_code: int,
        code: str,
        detail: str,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.code = code
        self.extra = extra or {}


def unauthorized(code: str, detail: str) -> ApiError:
    return ApiError(401, code, detail, headers={"WWW-Authenticate": 'Bearer realm="mspilot"'})


def forbidden(code: str, detail: str) -> ApiError:
    return ApiError(403, code, detail)


def not_found(detail: str) -> ApiError:
    return ApiError(404, "not_found", detail)


def request_id_of(request: Request) -> str | None:
    rid = request.scope.get("state", {}).get("request_id")
    return str(rid) if rid else None


def body(request: Request, code: str, detail: Any, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code, "request_id": request_id_of(request), **extra}


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    429: "rate_limited",
}


def api_error_response(request: Request, exc: ApiError) -> JSONResponse:
    """The JSON answer to an :class:`ApiError` (the handler's, and the response cache's)."""
    return JSONResponse(
        body(request, exc.code, exc.detail, **exc.extra),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return api_error_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        return JSONResponse(
            body(request, code, exc.detail), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(body(request, "invalid_request", errors), status_code=422)

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> JSONResponse:
        return JSONResponse(body(request, "forbidden", str(exc)), status_code=403)

    @app.exception_handler(MspilotError)
    async def _product_error(request: Request, exc: MspilotError) -> JSONResponse:
        if isinstance(exc, DataError):
            status, code = 409, "data_unavailable"
        elif isinstance(exc, ConfigurationError):
            status, code = 503, "not_configured"
        else:
            status, code = 400, "bad_request"
        return JSONResponse(body(request, code, str(exc)), status_code=status)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return JSONResponse(
            body(request, "internal_error", "internal error; quote the request id to support"),
            status_code=500,
        )
