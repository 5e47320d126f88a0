"""Console sessions: a random id in an HttpOnly cookie, the state kept on the server.

A visitor gets an anonymous session (it carries the CSRF token of the sign-in form); signing in
drops it and issues a new id with a new CSRF token, so an id planted before sign-in is worthless
after it (no session fixation). Sessions live in this process's memory: a restart or another
worker signs people out (``mspilot serve`` with several workers needs sticky sessions until the
store moves to the database or Redis).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

COOKIE = "mspilot_admin"
#: a session lasts this long from sign-in; an anonymous one (a sign-in form) much less
TTL_S = 8 * 3600
ANONYMOUS_TTL_S = 30 * 60
#: at most this many sessions: beyond it the oldest anonymous ones go (a flood of sign-in
#: page visits cannot grow the store without bound, nor push signed-in people out)
MAX_SESSIONS = 20_000


@dataclass(frozen=True)
class AdminSession:
    sid: str
    csrf: str
    expires: float
    user_id: str | None = None


class SessionStore:
    """Thread-safe in-memory sessions; expired ones are dropped as they are met."""

    def __init__(self, ttl_s: int = TTL_S, max_sessions: int = MAX_SESSIONS) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._sessions: dict[str, AdminSession] = {}
        self._lock = threading.Lock()

    def get(self, sid: str | None) -> AdminSession | None:
        if not sid:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None and session.expires < time.time():
                del self._sessions[sid]
                return None
            return session

    def new(self, user_id: str | None = None) -> AdminSession:
        session = AdminSession(
            sid=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            expires=time.time() + (self.ttl_s if user_id else min(self.ttl_s, ANONYMOUS_TTL_S)),
            user_id=user_id,
        )
        with self._lock:
            self._prune()
            self._sessions[session.sid] = session
        return session

    def sign_in(self, old: AdminSession | None, user_id: str) -> AdminSession:
        """A fresh session (new id, new CSRF token) for ``user_id``; ``old`` stops working."""
        self.drop(old)
        return self.new(user_id)

    def drop(self, session: AdminSession | None) -> None:
        if session is not None:
            with self._lock:
                self._sessions.pop(session.sid, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _prune(self) -> None:
        now = time.time()
        for sid in [s for s, v in self._sessions.items() if v.expires < now]:
            del self._sessions[sid]
        excess = len(self._sessions) - self.max_sessions + 1
        if excess > 0:  # oldest first (insertion order), anonymous only
            anonymous = [s for s, v in self._sessions.items() if v.user_id is None]
            for sid in anonymous[:excess]:
                del self._sessions[sid]
