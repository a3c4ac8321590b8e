"""Accounts, roles, per-pilot grants, login sessions and the login throttle — all in the store.

Passwords are bcrypt hashes (the same scheme streamlit-authenticator checks). There are no
password hints. Every change is checked against the actor's rights (``manage_users``) and
audited in the same transaction; a password change, a role change or a removal ends the
user's open login sessions.

Login sessions (the server-side registry streamlit-authenticator lacks): a session is keyed by
the sha256 of the signed cookie token, so a cookie is only good while its row is open. A
session ends on logout, on inactivity (``session_idle_minutes``), at its absolute lifetime
(``session_max_hours``), or when the account changes.

Throttle: after ``login_max_failures`` failed logins for a user name (or from one client
address) within ``login_window_minutes``, further attempts are refused for a back-off that
starts at ``login_backoff_s`` and doubles with each further failure. Failures count before the
password is checked, unlike the library's own counter.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt

from readiness import settings
from readiness.catalog import get_pilot
from readiness.errors import ReadinessError
from readiness.security import audit, sessions
from readiness.security.access import ROLES, AccessDenied, Actor, require
from readiness.store import Connection, transaction

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt 5 refuses) anything longer


class UserError(ReadinessError, ValueError):
    """A user-management request that cannot be done; the message says why."""


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    email: str | None
    role: str
    active: bool
    created_at: datetime
    password_changed_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def check_password_rules(password: str) -> None:
    """Raise UserError unless the password is acceptable (length only; no hints, no composition rules)."""
    minimum = settings.get("min_password_length")
    if password is None or len(password) < minimum:
        raise UserError(f"A password needs at least {minimum} characters.")
    if password != password.strip():
        raise UserError("A password cannot start or end with a space (the login form would trim it).")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise UserError(f"A password can be at most {MAX_PASSWORD_BYTES} bytes long (bcrypt's limit).")


def hash_password(password: str) -> str:
    check_password_rules(password)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=settings.get("bcrypt_rounds"))).decode()


def password_matches(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


@functools.lru_cache(maxsize=4)
def _stand_in_hash(rounds: int) -> str:
    """A bcrypt hash of a random, never-kept password at cost ``rounds``, checked in place of an
    account's hash when there is no such (active) account: an unknown name costs a login the same."""
    return bcrypt.hashpw(secrets.token_urlsafe(24).encode(), bcrypt.gensalt(rounds=rounds)).decode()


def random_password() -> str:
    """A random password that meets the rules (printed once, never stored in clear)."""
    return secrets.token_urlsafe(15)  # 20 characters


def _normal(username: str) -> str:
    name = (username or "").strip().lower()
    if not USERNAME_RE.match(name):
        raise UserError("A user name is 2-32 characters: lower-case letters, digits, '.', '_' or '-', "
                        "starting with a letter or digit.")
    return name


def _role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"Role must be one of {', '.join(ROLES)}, not {role!r}.")
    return role


def login_credentials(con: Connection) -> list[tuple[str, str | None, str | None, str, str]]:
    """(username, display name, email, role, password hash) of every active account: what the login
    form checks passwords against."""
    return con.execute("SELECT username, display_name, email, role, password_hash FROM users WHERE active").fetchall()


def get_user(con: Connection, username: str) -> User | None:
    row = con.execute("SELECT username, display_name, email, role, active, created_at, password_changed_at "
                      "FROM users WHERE username = ?", [(username or "").strip().lower()]).fetchone()
    return User(*row) if row else None


def _require_user(con: Connection, username: str) -> User:
    user = get_user(con, username)
    if user is None:
        raise UserError(f"No user named {username!r}.")
    return user


def list_users(con: Connection, actor: Actor) -> list[dict[str, Any]]:
    """Every account with its role, status, granted pilots and open sessions (admins only)."""
    require(con, actor, "manage_users")
    cur = con.execute(
        """SELECT u.username, u.display_name, u.email, u.role, u.active, u.created_at, u.password_changed_at,
                  coalesce((SELECT string_agg(p.name, ', ' ORDER BY p.name) FROM grants g JOIN pilots p USING (pilot_id)
                            WHERE g.username = u.username), '') AS pilots,
                  (SELECT count(*) FROM auth_sessions s WHERE s.username = u.username AND s.ended_at IS NULL) AS open_sessions
           FROM users u ORDER BY u.username""")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def count_users(con: Connection) -> int:
    return con.execute("SELECT count(*) FROM users").fetchone()[0]


def _insert_user(con, actor: Actor, username: str, role: str, password: str, display_name: str | None,
                 email: str | None) -> User:
    name = _normal(username)
    if get_user(con, name):
        raise UserError(f"A user named {name!r} already exists.")
    now = _now()
    con.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, true, ?, ?, ?)",
                [name, display_name or name, email, _role(role), hash_password(password), now, actor.name, now])
    audit.record(con, actor, "user.add", f"user:{name}",
                 {"role": role, "display_name": display_name or name, "email": email})
    return _require_user(con, name)


def add_user(con: Connection, actor: Actor, username: str, role: str, password: str,
             display_name: str | None = None, email: str | None = None) -> User:
    """Create an account (admins only); audited. The password is stored as a bcrypt hash."""
    with transaction(con):
        require(con, actor, "manage_users")
        return _insert_user(con, actor, username, role, password, display_name, email)


def ensure_admin(con: Connection, actor: Actor) -> str | None:
    """First run: when there are no accounts, create ``admin`` and return its password (to print once).

    The password is ``admin_password`` from the settings when set (then None is returned: it is
    already known), else a random one.
    """
    with transaction(con):
        if count_users(con):
            return None
        given = settings.get("admin_password")
        password = given or random_password()
        _insert_user(con, actor, "admin", "admin", password, "Administrator", None)
    return None if given else password


def _end_sessions(con, username: str, reason: str) -> int:
    return con.execute("UPDATE auth_sessions SET ended_at = ?, end_reason = ? WHERE username = ? AND ended_at IS NULL",
                       [_now(), reason, username]).fetchone()[0]


def _last_admin_guard(con, user: User, what: str) -> None:
    if user.role == "admin":
        others = con.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active AND username <> ?",
                             [user.username]).fetchone()[0]
        if others == 0:
            raise UserError(f"Cannot {what} the last admin; make another admin first.")


def remove_user(con: Connection, actor: Actor, username: str) -> None:
    """Delete an account and its grants, ending its sessions (admins only); audited."""
    with transaction(con):
        require(con, actor, "manage_users")
        user = _require_user(con, username)
        _last_admin_guard(con, user, "remove")
        grants = con.execute("DELETE FROM grants WHERE username = ?", [user.username]).fetchone()[0]
        ended = _end_sessions(con, user.username, "account removed")
        con.execute("DELETE FROM users WHERE username = ?", [user.username])
        audit.record(con, actor, "user.remove", f"user:{user.username}",
                     {"before": {"role": user.role}, "grants_removed": grants, "sessions_ended": ended})


def set_role(con: Connection, actor: Actor, username: str, role: str) -> None:
    """Change an account's role (admins only), ending its sessions so the new role applies at once."""
    with transaction(con):
        require(con, actor, "manage_users")
        user = _require_user(con, username)
        _role(role)
        if user.role == role:
            raise UserError(f"{user.username} is already a {role}.")
        if role != "admin":
            _last_admin_guard(con, user, "demote")
        con.execute("UPDATE users SET role = ? WHERE username = ?", [role, user.username])
        ended = _end_sessions(con, user.username, "role changed")
        audit.record(con, actor, "user.set_role", f"user:{user.username}",
                     {"before": {"role": user.role}, "after": {"role": role}, "sessions_ended": ended})


def reset_password(con: Connection, actor: Actor, username: str, password: str) -> None:
    """Set a new password (admins for anyone; a user for themselves); ends the user's sessions."""
    with transaction(con):
        user = _require_user(con, username)
        if actor.name != user.username:
            require(con, actor, "manage_users")
        hashed = hash_password(password)
        con.execute("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE username = ?",
                    [hashed, _now(), user.username])
        ended = _end_sessions(con, user.username, "password changed")
        audit.record(con, actor, "user.reset_password", f"user:{user.username}", {"sessions_ended": ended})


def change_own_password(con: Connection, actor: Actor, current: str, new: str,
                        client: str | None = None) -> None:
    """A user changes their own password: the current one is checked (and throttled) first.

    Ends all of the user's sessions, this one included: they log in again with the new password.
    """
    if actor.cli:
        raise UserError("The command line has no password; use `users reset-password NAME`.")
    login(con, actor.name, current, client)  # Throttled / AccessDenied("Wrong user name or password.")
    if new == current:
        raise UserError("The new password must differ from the current one.")
    reset_password(con, actor, actor.name, new)


def grant(con: Connection, actor: Actor, username: str, pilot_name: str) -> bool:
    """Give an account access to a pilot (admins only); audited. False when it already had it."""
    with transaction(con):
        require(con, actor, "manage_users")
        user = _require_user(con, username)
        pilot = get_pilot(con, pilot_name)
        if con.execute("SELECT 1 FROM grants WHERE username = ? AND pilot_id = ?",
                       [user.username, pilot.pilot_id]).fetchone():
            return False
        con.execute("INSERT INTO grants VALUES (?, ?, ?, ?)", [user.username, pilot.pilot_id, _now(), actor.name])
        audit.record(con, actor, "grant.add", f"user:{user.username}/pilot:{pilot.pilot_id}", {"pilot": pilot.name})
        return True


def revoke(con: Connection, actor: Actor, username: str, pilot_name: str) -> bool:
    """Take a pilot away from an account (admins only); audited. False when it had no grant."""
    with transaction(con):
        require(con, actor, "manage_users")
        user = _require_user(con, username)
        pilot = get_pilot(con, pilot_name)
        gone = con.execute("DELETE FROM grants WHERE username = ? AND pilot_id = ?",
                           [user.username, pilot.pilot_id]).fetchone()[0]
        if not gone:
            return False
        audit.record(con, actor, "grant.remove", f"user:{user.username}/pilot:{pilot.pilot_id}", {"pilot": pilot.name})
        return True


# ------------------------------------------------------------------------------------------
# Login: throttle, check, sessions


class Throttled(AccessDenied):
    """Too many failed logins; ``retry_after`` seconds until the next attempt is considered."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


def _wait_left(con, column: str, value: str, now: datetime) -> float:
    window = now - timedelta(minutes=settings.get("login_window_minutes"))
    n, last = con.execute(f"SELECT count(*), max(ts) FROM login_failures WHERE {column} = ? AND ts >= ?",
                          [value, window]).fetchone()
    limit = settings.get("login_max_failures")
    if n < limit:
        return 0.0
    backoff = settings.get("login_backoff_s") * 2 ** (n - limit)
    return max(0.0, (last + timedelta(seconds=backoff) - now).total_seconds())


def throttle_wait(con: Connection, username: str, client: str | None) -> float:
    """Seconds until ``username`` (or ``client``) may try again; 0 when not throttled."""
    now = _now()
    wait = _wait_left(con, "username", (username or "").strip().lower(), now)
    if client:
        wait = max(wait, _wait_left(con, "client", client, now))
    return wait


def login(con: Connection, username: str, password: str, client: str | None = None) -> Actor:
    """Check a login attempt; audited whatever the outcome. Returns the actor, or raises.

    Raises Throttled (before the password is looked at) or AccessDenied (wrong name or
    password — neither the message nor the time it takes says which, and there is no hint).
    """
    name = (username or "").strip().lower()
    refusal: AccessDenied | None = None
    with transaction(con):  # the failure and its audit record are kept: refuse after the commit
        wait = throttle_wait(con, name, client)
        if wait > 0:
            audit.record(con, Actor(name or "?", None), "login.throttled", f"user:{name}",
                         {"client": client, "retry_after_s": round(wait)})
            refusal = Throttled(f"Too many failed logins. Try again in {int(wait) + 1} s.", wait)
        else:
            row = con.execute("SELECT password_hash, role, active FROM users WHERE username = ?", [name]).fetchone()
            account = row is not None and row[2]
            # bcrypt runs whether or not the account exists, so the answer's time does not tell.
            hashed = row[0] if account else _stand_in_hash(settings.get("bcrypt_rounds"))
            if password_matches(password or "", hashed) and account:
                con.execute("DELETE FROM login_failures WHERE username = ?", [name])
                return Actor(name, row[1])
            con.execute("INSERT INTO login_failures VALUES (?, ?, ?)", [name, client, _now()])
            audit.record(con, Actor(name or "?", None), "login.failure", f"user:{name}",
                         {"client": client, "known_user": row is not None})
            refusal = AccessDenied("Wrong user name or password.")
    raise refusal


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(con: Connection, actor: Actor, token: str, client: str | None = None) -> str:
    """Register the login session for a signed cookie token; audited as the login. Returns its id."""
    sid = session_id(token)
    now = _now()
    with transaction(con):
        con.execute("INSERT INTO auth_sessions VALUES (?, ?, ?, ?, ?, NULL, NULL) ON CONFLICT DO NOTHING",
                    [sid, actor.name, client, now, now])
        audit.record(con, actor, "login.success", f"user:{actor.name}", {"client": client, "session": sid[:12]})
    return sid


@dataclass(frozen=True)
class SessionCheck:
    actor: Actor | None
    reason: str | None  # why the session is not valid (user-facing), None when valid


def check_session(con: Connection, sid: str, *, touch: bool = True) -> SessionCheck:
    """Is login session ``sid`` still good? Ends it (recording why) when it has expired.

    ``touch`` records the activity (at most once a minute, to keep writes rare).
    """
    session = sessions.lookup(con, sid)
    if session is None:
        return SessionCheck(None, sessions.NOT_KNOWN)
    if session.ended_at is not None:
        return SessionCheck(None, sessions.ended_message(session.end_reason))
    now = _now()
    reason = sessions.expiry(session, now)
    if reason:
        end_session(con, sid, reason, Actor(session.username, session.role))
        return SessionCheck(None, sessions.ended_message(reason))
    if touch and now - session.last_seen > timedelta(seconds=60):
        con.execute("UPDATE auth_sessions SET last_seen = ? WHERE session_id = ?", [now, sid])
    return SessionCheck(Actor(session.username, session.role), None)


def end_session(con: Connection, sid: str, reason: str, actor: Actor) -> bool:
    """End a login session (logout or expiry); audited. False when it was already ended."""
    with transaction(con):
        n = con.execute("UPDATE auth_sessions SET ended_at = ?, end_reason = ? WHERE session_id = ? AND ended_at IS NULL",
                        [_now(), reason, sid]).fetchone()[0]
        if n:
            action = "logout" if reason == "logged out" else "session.end"
            audit.record(con, actor, action, f"user:{actor.name}", {"reason": reason, "session": sid[:12]})
    return bool(n)
