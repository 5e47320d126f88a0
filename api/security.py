"""Secrets of the API: password hashes (scrypt), access tokens (JWT, HS256) and API keys.

A token names its user (``sub``), tenant (``tid``), role and client; the server still looks the
user up on every request (cached briefly), so a disabled user or a changed role takes effect
within seconds. API keys are random, shown once, and stored only as a SHA-256 hash.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from mspilot.core.settings import Settings

ALGORITHM = "HS256"
ISSUER = "mspilot"
KEY_PREFIX = "msp_"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class TokenError(Exception):
    """A token that cannot be used; ``code`` says why (missing, invalid, expired)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    tenant_id: str
    role: str
    client_id: str | None
    expires_at: dt.datetime


# ---- signing key -----------------------------------------------------------------------------


def signing_key(settings: Settings) -> str:
    """The JWT key: ``api.jwt_secret``, else ``secret_key``, else a random key kept in the data
    directory (created once, mode 0600), so the CLI and every server worker agree."""
    if settings.api.jwt_secret is not None:
        return settings.api.jwt_secret.get_secret_value()
    if settings.secret_key is not None:
        return "jwt:" + settings.secret_key.get_secret_value()
    path: Path = settings.ensure_data_dir() / "api_jwt.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


# ---- passwords -------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    try:
        _, salt_b64, digest_b64 = stored.split("$")
        salt = base64.urlsafe_b64decode(salt_b64)
        expected = base64.urlsafe_b64decode(digest_b64)
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest, expected)


# ---- access tokens ---------------------------------------------------------------------------


def issue_token(
    key: str,
    *,
    user_id: str,
    tenant_id: str,
    role: str,
    client_id: str | None,
    ttl: dt.timedelta,
    now: dt.datetime | None = None,
) -> tuple[str, dt.datetime]:
    issued = now or dt.datetime.now(dt.UTC)
    expires = issued + ttl
    claims: dict[str, Any] = {
        "sub": user_id,
        "tid": tenant_id,
        "role": role,
        "cid": client_id,
        "iss": ISSUER,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM), expires


def decode_token(key: str, token: str) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "tid", "role", "exp", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token_expired", "the access token has expired; sign in again") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError("invalid_token", f"the access token is not valid ({exc})") from exc
    try:
        return TokenClaims(
            user_id=str(claims["sub"]),
            tenant_id=str(claims["tid"]),
            role=str(claims["role"]),
            client_id=claims.get("cid"),
            expires_at=dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC),
        )
    except (TypeError, ValueError) as exc:
        raise TokenError("invalid_token", "the access token's claims are malformed") from exc


# ---- API keys --------------------------------------------------------------------------------


def new_api_key() -> tuple[str, str, str]:
    """A fresh key: ``(key, prefix, sha256 hex)``; only the prefix and hash are stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[: len(KEY_PREFIX) + 6], hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_api_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX)
