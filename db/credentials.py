"""Source credentials encrypted at rest (Fernet), e.g. QuickBooks' rotating refresh token.

The key comes from settings (``MSPILOT_SECRET_KEY``): either a Fernet key or any string of at
least 16 characters, from which a key is derived with SHA-256. Without it, a local key is
created on first use in the data directory (``secret.key``, mode 0600) and a log line says
where; ``rotate`` re-encrypts every stored secret under a new key. Plain values never reach the
database or the logs; ``SecretBox`` has no ``repr`` of its key.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, select, update

from mspilot.core.errors import ConfigurationError
from mspilot.core.logging import get_logger
from mspilot.db.loader import dialect_insert
from mspilot.db.schema_connectors import SourceCredential

KEY_HELP = (
    "set MSPILOT_SECRET_KEY to a Fernet key (python -c 'from cryptography.fernet import "
    "Fernet; print(Fernet.generate_key().decode())') or to a random string of 16+ characters"
)


LOCAL_KEY_FILE = "secret.key"
log = get_logger("mspilot.db.credentials")


def local_secret_key(data_dir: Path) -> str:
    """The data directory's own key, created (mode 0600) on first use."""
    path = data_dir / LOCAL_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: of two processes starting at once, one creates it, both read it
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode() + "\n")
        log.warning(
            "created a local key for stored source credentials (set MSPILOT_SECRET_KEY to use "
            "your own; keep this file with the database)",
            path=str(path),
        )
    return path.read_text().strip()


def _as_fernet_key(secret: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(secret.encode())
        if len(raw) == 32:
            return secret.encode()
    except (binascii.Error, ValueError):
        pass
    if len(secret) < 16:
        raise ConfigurationError(f"MSPILOT_SECRET_KEY is too short: {KEY_HELP}")
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


def fingerprint(secret: str) -> str:
    """A one-way tag of a secret (to notice that a configured secret changed)."""
    return hashlib.sha256(b"mspilot-origin:" + secret.encode()).hexdigest()


@dataclass(frozen=True)
class SecretBox:
    """Encrypts and decrypts short strings with the tenant-wide key."""

    _fernet: Fernet = field(repr=False)

    @classmethod
    def from_secret(cls, secret: str | None) -> SecretBox:
        if not secret:
            raise ConfigurationError(f"no key to encrypt stored credentials: {KEY_HELP}")
        return cls(Fernet(_as_fernet_key(secret)))

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigurationError(
                "stored credentials cannot be decrypted with the current MSPILOT_SECRET_KEY "
                "(was the key changed?); restore the old key or reconnect the source"
            ) from None


@dataclass(frozen=True)
class StoredSecret:
    value: str = field(repr=False)
    origin: str | None
    expires_at: dt.datetime | None
    updated_at: dt.datetime


class CredentialStore:
    """Encrypted secrets of one source of one tenant; every write commits at once."""

    def __init__(self, engine: Engine, tenant_id: str, source: str, box: SecretBox) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.source = source
        self._box = box

    def get(self, name: str) -> StoredSecret | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    SourceCredential.ciphertext,
                    SourceCredential.origin,
                    SourceCredential.expires_at,
                    SourceCredential.updated_at,
                ).where(
                    SourceCredential.tenant_id == self.tenant_id,
                    SourceCredential.source == self.source,
                    SourceCredential.name == name,
                )
            ).first()
        if row is None:
            return None
        return StoredSecret(self._box.decrypt(row[0]), row[1], row[2], row[3])

    def put(
        self,
        name: str,
        value: str,
        *,
        origin: str | None = None,
        expires_at: dt.datetime | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        stamp = now or dt.datetime.now(dt.UTC)
        values = {
            "tenant_id": self.tenant_id,
            "source": self.source,
            "name": name,
            "ciphertext": self._box.encrypt(value),
            "origin": origin,
            "expires_at": expires_at,
            "updated_at": stamp,
        }
        with self.engine.begin() as conn:
            stmt = dialect_insert(conn, SourceCredential.__table__).values(values)  # type: ignore[arg-type]
            stmt = stmt.on_conflict_do_update(
                index_elements=["tenant_id", "source", "name"],
                set_={
                    k: stmt.excluded[k]
                    for k in ("ciphertext", "origin", "expires_at", "updated_at")
                },
            )
            conn.execute(stmt)


def rotate(engine: Engine, old: SecretBox, new: SecretBox) -> int:
    """Re-encrypt every stored secret (all tenants, all sources) under ``new``, in one
    transaction; returns how many. A secret ``old`` cannot decrypt stops the rotation."""
    table = SourceCredential
    with engine.begin() as conn:
        rows = conn.execute(
            select(table.tenant_id, table.source, table.name, table.ciphertext)
        ).all()
        for tenant_id, source, name, ciphertext in rows:
            conn.execute(
                update(table)
                .where(table.tenant_id == tenant_id, table.source == source, table.name == name)
                .values(ciphertext=new.encrypt(old.decrypt(ciphertext)))
            )
    return len(rows)


def rotate_local_key(engine: Engine, data_dir: Path) -> int:
    """A new local key: secrets re-encrypted, then the key file replaced (the new key is
    written beside it first, so a failure leaves the old key and the old ciphertexts)."""
    path = data_dir / LOCAL_KEY_FILE
    old = SecretBox.from_secret(local_secret_key(data_dir))
    new_key = Fernet.generate_key().decode()
    staged = path.with_name(path.name + ".rotating")
    staged.unlink(missing_ok=True)
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(new_key + "\n")
    count = rotate(engine, old, SecretBox.from_secret(new_key))
    os.replace(staged, path)
    return count
