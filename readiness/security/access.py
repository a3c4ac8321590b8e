"""Who may do what: the one role matrix, per-pilot grants, and the check every read and write calls.

Roles (DESIGN.md): admin > reviewer > lead > viewer. Admins see every pilot; the others see the
pilots they are granted. The command line is an operator's tool: it acts as an admin, audited
as ``cli:<os user>``.

:func:`require` re-reads the actor's role, status and grant from the store on every call, so a
role change, a revoked grant or a removed account takes effect at the next action, not at the
next login. For every action but reading a pilot it also asks whether the actor's login session is
still open (:func:`require_open_session`): a logout, a password reset or an idle timeout then stops
a download too, whose callable runs in Streamlit's download handler, outside app.py's login check.
Library functions that read a pilot or write anything call it first; the pages call it again at
the top (defence in depth), before any cached read.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from readiness.errors import ReadinessError
from readiness.security import sessions
from readiness.store import Connection

ROLES = ("admin", "reviewer", "lead", "viewer")

# action -> (roles allowed, needs a grant on the pilot, what it is)
MATRIX: dict[str, tuple[frozenset[str], bool, str]] = {
    "read_pilot": (frozenset(ROLES), True, "open a pilot's evidence, risks and decisions"),
    "create_pilot": (frozenset({"admin", "reviewer"}), False, "create a pilot"),
    "ingest": (frozenset({"admin", "reviewer"}), True, "load logs into a pilot"),
    "delete_batch": (frozenset({"admin", "reviewer"}), True, "delete an ingested batch"),
    "edit_pilot": (frozenset({"admin", "reviewer"}), True, "edit the pilot's profile"),
    "change_risk_tier": (frozenset({"admin", "reviewer"}), True, "propose a new risk tier"),
    "edit_review": (frozenset({"admin", "reviewer"}), True,
                    "edit risks, conditions, hand-off and failure-mode annotations"),
    "approve": (frozenset({"admin", "lead"}), True, "approve a waiver or tier change (not one's own)"),
    "record_decision": (frozenset({"admin", "reviewer"}), True, "record the review's decision"),
    "accept_handoff": (frozenset(ROLES), True, "accept a hand-off (only the named receiver)"),
    "export": (frozenset({"admin", "reviewer", "lead"}), True, "download CSV / playbook exports"),
    "reveal_personal_data": (frozenset({"admin", "reviewer"}), True, "show unmasked personal data"),
    "manage_users": (frozenset({"admin"}), False, "add and remove users, set roles and grants"),
    "verify_audit": (frozenset({"admin"}), False, "read and verify the audit log"),
    "backup": (frozenset({"admin"}), False, "back up or restore the whole store"),
}
ACTIONS = tuple(MATRIX)
# Reads of a pilot run only in a page's run, after app.py has checked the login session in that
# same run (readiness.web.login.authenticate); asking again costs about 2 ms a read, 18 reads on Portfolio. What
# can run outside a page's run (a download's callable) is an export, and is asked.
SESSION_CHECKED_BY_THE_PAGE = frozenset({"read_pilot"})


class AccessDenied(ReadinessError, PermissionError):
    """The actor may not do this; the message says why in a user's words."""


@dataclass(frozen=True)
class Actor:
    """Someone acting on the store: a logged-in user or the command line.

    ``session``: the id of the login session a user acts in (readiness.security.users); the app's actors
    carry it, and they act only while it is open. None: the command line, the app's own
    housekeeping, or a library caller that has no login session.
    """

    name: str
    role: str
    cli: bool = False
    session: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def cli_actor() -> Actor:
    """The command line's actor: admin rights, named ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (e.g. a container with an unknown uid)
        user = "unknown"
    return Actor(f"cli:{user}", "admin", cli=True)


def system_actor(name: str) -> Actor:
    """An actor for the app's own housekeeping (e.g. loading the demo on first run)."""
    return Actor(name, "admin", cli=True)


def current_role(con: Connection, actor: Actor) -> str:
    """The actor's role as the store says now; AccessDenied for a removed or disabled account."""
    if actor.cli:
        return actor.role
    row = con.execute("SELECT role, active FROM users WHERE username = ?", [actor.name]).fetchone()
    if row is None or not row[1]:
        raise AccessDenied(f"The account {actor.name!r} no longer exists or is disabled.")
    return row[0]


def require_open_session(con: Connection, actor: Actor) -> None:
    """Raise AccessDenied when ``actor`` acts in a login session that has ended (logout, password or
    role change, removal, idle timeout, lifetime), or in someone else's. No session: nothing to check.

    Reads only: a session found expired here is ended (and audited) by the app's next check
    (:func:`readiness.security.users.check_session`); here the refusal is all."""
    if actor.session is None:
        return
    session = sessions.lookup(con, actor.session)
    if session is None:
        raise AccessDenied(sessions.NOT_KNOWN)
    reason = session.end_reason if session.ended_at is not None else sessions.expiry(session)
    if reason:
        raise AccessDenied(sessions.ended_message(reason))
    if session.username != actor.name:
        raise AccessDenied("This login session belongs to another account; please log in again.")


def has_grant(con: Connection, actor: Actor, pilot_id: int) -> bool:
    return con.execute("SELECT 1 FROM grants WHERE username = ? AND pilot_id = ?",
                       [actor.name, pilot_id]).fetchone() is not None


def allowed(con: Connection, actor: Actor, action: str, pilot_id: int | None = None) -> bool:
    """True when :func:`require` would pass (for deciding what to offer; never instead of require)."""
    try:
        require(con, actor, action, pilot_id)
    except AccessDenied:
        return False
    return True


def allowed_on_all(con: Connection, actor: Actor, action: str, pilot_ids: list[int]) -> bool:
    """True when :func:`allowed` holds for every one of ``pilot_ids``: the role and session checked
    once, the grants in one query (for offering an action over a whole portfolio)."""
    ids = set(pilot_ids)
    if not ids or not allowed(con, actor, action, min(ids)):
        return not ids
    if not MATRIX[action][1]:
        return True
    visible = visible_pilot_ids(con, actor)  # None: every pilot (an admin)
    return visible is None or ids <= visible


def require(con: Connection, actor: Actor, action: str, pilot_id: int | None = None,
            *, requested_by: str | None = None, receiver: str | None = None) -> str:
    """Raise AccessDenied unless ``actor`` may do ``action`` (on ``pilot_id``). Returns the role.

    ``requested_by``: for approvals, who asked (nobody approves their own request).
    ``receiver``: for accepting a hand-off, the named receiving owner.
    """
    if action not in MATRIX:
        raise ValueError(f"Unknown action {action!r}")
    roles, needs_grant, what = MATRIX[action]
    if action not in SESSION_CHECKED_BY_THE_PAGE:
        require_open_session(con, actor)
    role = current_role(con, actor)
    if role not in roles:
        raise AccessDenied(f"A {role} may not {what}.")
    if needs_grant:
        if pilot_id is None:
            raise ValueError(f"Action {action!r} needs a pilot")
        if role != "admin" and not has_grant(con, actor, pilot_id):
            raise AccessDenied(f"{actor.name} has no access to this pilot; an admin can grant it.")
    if action == "approve" and requested_by is not None and requested_by == actor.name:
        raise AccessDenied("Nobody approves their own request: another lead or an admin must approve it.")
    if action == "accept_handoff" and receiver is not None and receiver != actor.name:
        raise AccessDenied(f"Only the named receiving owner ({receiver}) can accept this hand-off.")
    return role


def visible_pilot_ids(con: Connection, actor: Actor) -> set[int] | None:
    """The pilots the actor may read: None means all (admins and the command line)."""
    if current_role(con, actor) == "admin":
        return None
    return {r[0] for r in con.execute("SELECT pilot_id FROM grants WHERE username = ?", [actor.name]).fetchall()}
