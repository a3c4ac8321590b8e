"""Triage of failure modes: a mode's status, owner and note, one at a time or the long tail at once.

Every write checks the actor may edit the review and is audited in the same transaction.
"""

from __future__ import annotations

from analysis.failure_modes import STATUSES, untriaged_tail
from readiness.catalog import Pilot
from readiness.errors import InvalidChoice, NotFound
from readiness.security import audit
from readiness.security.access import Actor, require
from readiness.store import Connection, transaction


def annotate_mode(con: Connection, pilot: Pilot, mode_id: int, *, status: str,
                  owner: str | None, note: str | None, actor: Actor) -> None:
    """Set a mode's status, owner and note, audited, in one transaction.

    Raises InvalidChoice (a ValueError) for an unknown status, NotFound (a LookupError) for an unknown mode.
    """
    if status not in STATUSES:
        raise InvalidChoice(f"Unknown status {status!r}: use one of {', '.join(STATUSES)}.")
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        if not con.execute("SELECT 1 FROM failure_modes WHERE pilot_id = ? AND mode_id = ?",
                           [pilot.pilot_id, mode_id]).fetchone():
            raise NotFound(f"Pilot {pilot.name!r} has no failure mode {mode_id}.")
        con.execute(
            "INSERT INTO failure_mode_notes (pilot_id, mode_id, status, owner, note, updated_by, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, now()) ON CONFLICT (pilot_id, mode_id) DO UPDATE SET "
            "status = excluded.status, owner = excluded.owner, note = excluded.note, "
            "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            [pilot.pilot_id, mode_id, status, owner, note, actor.name])
        audit.record(con, actor, "failure_mode.annotate", f"pilot:{pilot.pilot_id}/failure_mode:{mode_id}",
                     {"pilot": pilot.name, "mode_id": mode_id, "status": status, "owner": owner, "note": note})


def annotate_tail(con: Connection, pilot: Pilot, *, max_count: int, status: str, note: str,
                  actor: Actor) -> list[int]:
    """Give every mode still 'new' with at most ``max_count`` exceptions ``status`` and ``note`` at once,
    in one transaction and one audit entry naming the modes; returns their ids.

    The long tail of rare modes is reviewed as a group: one by one, 229 Loghub modes would make the
    Failure modes step impossible to finish. Raises InvalidChoice (a ValueError) without a note or for 'new'.
    """
    if status not in STATUSES or status == "new":
        raise InvalidChoice(f"Mark them {', '.join(s for s in STATUSES if s != 'new')}, not {status!r}.")
    if not (note or "").strip():
        raise InvalidChoice("Say why in a note: the modes are triaged as a group, so the note is their record.")
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        tail = untriaged_tail(con, pilot, max_count)
        if tail:
            con.executemany(
                "INSERT INTO failure_mode_notes (pilot_id, mode_id, status, owner, note, updated_by, updated_at) "
                "VALUES (?, ?, ?, NULL, ?, ?, now()) ON CONFLICT (pilot_id, mode_id) DO UPDATE SET "
                "status = excluded.status, note = excluded.note, updated_by = excluded.updated_by, "
                "updated_at = excluded.updated_at",
                [[pilot.pilot_id, mode_id, status, note.strip(), actor.name] for mode_id, _ in tail])
            audit.record(con, actor, "failure_mode.annotate_tail", f"pilot:{pilot.pilot_id}/failure_modes", {
                "pilot": pilot.name, "max_count": int(max_count), "status": status, "note": note.strip(),
                "mode_ids": [m for m, _ in tail], "exceptions": sum(n for _, n in tail)})
    return [m for m, _ in tail]
