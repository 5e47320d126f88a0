"""Typed connector errors. Each message says what happened and, where a person can fix it,
what to do; none of them carries a secret."""

from __future__ import annotations

from mspilot.core.errors import ConfigurationError, MspilotError


class ConnectorError(MspilotError):
    """A source could not be read."""

    exit_code = 6


class SourceAuthError(ConfigurationError):
    """The source refused our credentials (token wrong, expired or revoked)."""


class StreamForbidden(SourceAuthError):
    """The credentials may not read one list (SuperOps ``forbidden``, a QuickBooks entity
    outside the app's access): an optional stream is skipped with a warning."""

    def __init__(self, message: str, *, what: str = "") -> None:
        super().__init__(message)
        self.what = what


class SourceConfigError(ConfigurationError):
    """A connection setting is missing or wrong (subdomain, realm, URL)."""


class SourceAPIError(ConnectorError):
    """The source answered with an error that retrying will not fix."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientError(ConnectorError):
    """Worth retrying: timeouts, throttling, 5xx, a page served twice."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """The source asked us to slow down (HTTP 429, SuperOps rate_limit_exceeded, QBO 3001)."""


class TokenExpired(MspilotError):
    """An access token was refused; the authenticator refreshes it and the call is retried."""
