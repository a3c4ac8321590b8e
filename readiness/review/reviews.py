"""Review cycles and their current decision: what the conditions, decisions and hand-off all read.

A pilot's reviews are numbered from 1; the next opens from the current decision of the one before
("the previous review's outcome is the next one's requirements"). Decisions are append-only: a
newer one supersedes, and the current decision is the one nothing supersedes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from readiness.pilots import Pilot
from readiness.security import audit
from readiness.security.access import Actor
from readiness.store import Connection


def now() -> datetime:
    return datetime.now(UTC)


def dict_rows(cur) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def current_review(con: Connection, pilot: Pilot) -> dict[str, Any] | None:
    rows = dict_rows(con.execute("SELECT * FROM reviews WHERE pilot_id = ? ORDER BY number DESC LIMIT 1",
                              [pilot.pilot_id]))
    return rows[0] if rows else None


def open_next(con: Connection, actor: Actor, pilot: Pilot) -> dict[str, Any]:
    """Open the next review of ``pilot`` from its current decision, audited; the caller holds the
    transaction and has checked the actor may."""
    last = current_review(con, pilot)
    previous = current_decision(con, pilot) if last else None
    number = (last["number"] + 1) if last else 1
    con.execute("INSERT INTO reviews (pilot_id, number, opened_at, opened_by, previous_decision_id) "
                "VALUES (?, ?, ?, ?, ?)",
                [pilot.pilot_id, number, now(), actor.name, previous["decision_id"] if previous else None])
    review = current_review(con, pilot)
    carried = json.loads(previous["conditions"]) if previous and previous["conditions"] else []
    audit.record(con, actor, "review.open", f"pilot:{pilot.pilot_id}/review:{number}",
                 {"pilot": pilot.name, "previous_decision": previous["decision_id"] if previous else None,
                  "carried_conditions": carried})
    return review


def decision_rows(con, pilot_id: int, review_id: int | None = None) -> list[dict[str, Any]]:
    return dict_rows(con.execute(
        """SELECT d.*, r.number AS review_number,
                  NOT EXISTS (SELECT 1 FROM decisions s WHERE s.supersedes = d.decision_id) AS current,
                  a.accepted_by, a.accepted_at
           FROM decisions d JOIN reviews r USING (review_id)
           LEFT JOIN handoff_acceptances a USING (decision_id)
           WHERE d.pilot_id = ? AND (? IS NULL OR d.review_id = ?)
           ORDER BY d.decision_id""", [pilot_id, review_id, review_id]))


def current_decision(con: Connection, pilot: Pilot, review_id: int | None = None) -> dict[str, Any] | None:
    """The current (not superseded) decision of the latest review that has one, or of ``review_id``."""
    rows = [r for r in decision_rows(con, pilot.pilot_id, review_id) if r["current"]]
    return rows[-1] if rows else None


def get_decision(con: Connection, pilot: Pilot, decision_id: int | None) -> dict[str, Any] | None:
    """One decision of ``pilot`` by id (None when there is none)."""
    rows = [r for r in decision_rows(con, pilot.pilot_id) if r["decision_id"] == decision_id]
    return rows[0] if rows else None
