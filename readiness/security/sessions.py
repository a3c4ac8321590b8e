"""Login sessions as the store holds them, and the rule that says when one has ended.

A session ends at logout, or when its account is removed or disabled, its password changed after
it started, it stayed idle longer than ``session_idle_minutes``, or it lived longer than
``session_max_hours``. Reading is here; ending a session (an audited write) is
:func:`readiness.security.users.check_session` and :func:`~readiness.security.users.end_session`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from readiness import settings
from readiness.store import Connection

NOT_KNOWN = "This login is not known to the server; please log in."


@dataclass(frozen=True)
class SessionRow:
    username: str
    role: str | None          # None: the account is gone
    active: bool | None
    started_at: datetime
    last_seen: datetime
    ended_at: datetime | None
    end_reason: str | None
    password_changed_at: datetime | None


def lookup(con: Connection, sid: str) -> SessionRow | None:
    """The session ``sid`` with its account's role and status, or None when the server never issued it."""
    row = con.execute(
        """SELECT s.username, u.role, u.active, s.started_at, s.last_seen, s.ended_at, s.end_reason,
                  u.password_changed_at
           FROM auth_sessions s LEFT JOIN users u USING (username) WHERE s.session_id = ?""", [sid]).fetchone()
    return SessionRow(*row) if row else None


def expiry(session: SessionRow, now: datetime | None = None) -> str | None:
    """Why an open session must end now (account removed, password changed, idle, lifetime), or None."""
    now = now or datetime.now(UTC)
    if session.role is None or not session.active:
        return "account removed"
    if session.password_changed_at > session.started_at:
        return "password changed"
    if now - session.last_seen > timedelta(minutes=settings.get("session_idle_minutes")):
        return "inactive too long"
    if now - session.started_at > timedelta(hours=settings.get("session_max_hours")):
        return "session lifetime reached"
    return None


def ended_message(reason: str) -> str:
    return f"Your session has ended ({reason}); please log in again."
