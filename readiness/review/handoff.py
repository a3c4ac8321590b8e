"""Hand-off: who runs the capability and how; the constraints register; the hardening backlog.

The hand-off record says who operates the capability, the support path, escalation rules (who is
called for what, when), how it is used, reviewed and changed, where its logs live and what work
moves to delivery teams. The constraints register lists known data, security, integration and
ownership constraints with owner and mitigation. The hardening backlog keeps **operational
requirements** (reliability, speed, access, data, support, failure modes) apart from **feature
requests**, so hardening scope does not balloon; it is seeded from feedback triage and failure
modes and can be edited.

Every write checks ``edit_review`` on the pilot and is audited (before / after) in one transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from readiness.catalog import Pilot
from readiness.errors import ReadinessError
from readiness.security import audit
from readiness.security.access import Actor, require
from readiness.store import Connection, next_id, transaction

HANDOFF_FIELDS = ("operating_owner", "support_path", "escalation", "how_used", "how_reviewed", "how_changed",
                  "logs_location", "delivery_work")
CONSTRAINT_AREAS = ("data", "security", "integration", "ownership")


class HandoffError(ReadinessError, ValueError):
    """A hand-off, constraint or backlog change that cannot be made as asked."""


def _now() -> datetime:
    return datetime.now(UTC)


def _dicts(cur) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def operating_owner(con: Connection, pilot_id: int) -> str | None:
    """The operating owner named on the Hand-off page, if any (no access check: for the library's
    own rules, which count it as the pilot's owner)."""
    row = con.execute("SELECT operating_owner FROM handoffs WHERE pilot_id = ?", [pilot_id]).fetchone()
    return ((row[0] or "").strip() or None) if row else None


def get_handoff(con: Connection, actor: Actor, pilot: Pilot) -> dict[str, Any]:
    """The hand-off record (empty fields when none yet); escalation as a list."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    rows = _dicts(con.execute("SELECT * FROM handoffs WHERE pilot_id = ?", [pilot.pilot_id]))
    out = rows[0] if rows else {f: None for f in HANDOFF_FIELDS}
    out["escalation"] = json.loads(out["escalation"]) if isinstance(out.get("escalation"), str) else (out.get("escalation") or [])
    return out


def set_handoff(con: Connection, actor: Actor, pilot: Pilot, **fields: Any) -> None:
    """Set hand-off fields; ``escalation`` is a list of {"who", "for", "when"}. Audited with before/after."""
    unknown = set(fields) - set(HANDOFF_FIELDS)
    if unknown:
        raise HandoffError(f"Unknown hand-off fields: {', '.join(sorted(unknown))}.")
    for rule in fields.get("escalation") or []:
        if not all((rule.get(k) or "").strip() for k in ("who", "for", "when")):
            raise HandoffError("Each escalation rule says who is called, for what, and when.")
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        before = get_handoff(con, actor, pilot)
        after = {f: fields.get(f, before.get(f)) for f in HANDOFF_FIELDS}
        values = [json.dumps(after[f]) if f == "escalation" else after[f] for f in HANDOFF_FIELDS]
        con.execute(f"""INSERT INTO handoffs (pilot_id, {', '.join(HANDOFF_FIELDS)}, updated_by, updated_at)
                        VALUES (?, {', '.join('?' for _ in HANDOFF_FIELDS)}, ?, ?)
                        ON CONFLICT (pilot_id) DO UPDATE SET
                        {', '.join(f'{f} = excluded.{f}' for f in HANDOFF_FIELDS)},
                        updated_by = excluded.updated_by, updated_at = excluded.updated_at""",
                    [pilot.pilot_id, *values, actor.name, _now()])
        audit.record(con, actor, "handoff.edit", f"pilot:{pilot.pilot_id}",
                     {"before": {f: before.get(f) for f in fields}, "after": {f: after[f] for f in fields}})


# ------------------------------------------------------------------------------------------
# Constraints register


def add_constraint(con: Connection, actor: Actor, pilot: Pilot, *, area: str, description: str,
                   owner: str | None = None, mitigation: str | None = None) -> int:
    if area not in CONSTRAINT_AREAS:
        raise HandoffError(f"Constraint area must be one of {', '.join(CONSTRAINT_AREAS)}, not {area!r}.")
    if not (description or "").strip():
        raise HandoffError("A constraint needs a description.")
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        cid = next_id(con, "constraint_id_seq")
        con.execute("INSERT INTO constraints (constraint_id, pilot_id, area, description, owner, mitigation, status, "
                    "updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)",
                    [cid, pilot.pilot_id, area, description.strip(), owner, mitigation, actor.name, _now()])
        audit.record(con, actor, "constraint.add", f"pilot:{pilot.pilot_id}/constraint:{cid}",
                     {"after": {"area": area, "description": description, "owner": owner, "mitigation": mitigation}})
    return cid


def update_constraint(con: Connection, actor: Actor, pilot: Pilot, constraint_id: int, **changes: Any) -> None:
    allowed = {"description", "owner", "mitigation", "status"}
    if set(changes) - allowed:
        raise HandoffError(f"Unknown constraint fields: {', '.join(sorted(set(changes) - allowed))}.")
    if changes.get("status", "open") not in ("open", "resolved"):
        raise HandoffError("A constraint is 'open' or 'resolved'.")
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        rows = _dicts(con.execute("SELECT * FROM constraints WHERE constraint_id = ? AND pilot_id = ?",
                                  [constraint_id, pilot.pilot_id]))
        if not rows:
            raise HandoffError(f"{pilot.name} has no constraint {constraint_id}.")
        before = {k: rows[0][k] for k in changes}
        con.execute(f"UPDATE constraints SET {', '.join(f'{k} = ?' for k in changes)}, updated_by = ?, updated_at = ? "
                    "WHERE constraint_id = ?", [*changes.values(), actor.name, _now(), constraint_id])
        audit.record(con, actor, "constraint.edit", f"pilot:{pilot.pilot_id}/constraint:{constraint_id}",
                     {"before": before, "after": changes})


def list_constraints(con: Connection, actor: Actor, pilot: Pilot) -> list[dict[str, Any]]:
    require(con, actor, "read_pilot", pilot.pilot_id)
    return _dicts(con.execute("SELECT * FROM constraints WHERE pilot_id = ? ORDER BY constraint_id", [pilot.pilot_id]))


# ------------------------------------------------------------------------------------------
# Hardening backlog


def seed_backlog(con: Connection, actor: Actor, pilot: Pilot, max_modes: int = 5) -> int:
    """Add backlog items from feedback triage (operational classes and feature requests) and from the
    most frequent failure modes not yet mitigated or accepted. Idempotent; returns how many were added."""
    from analysis import (  # loads pandas: imported when used, so the command line starts without it
        failure_modes,
        feedback,
    )
    from analysis.common import Empty  # loads pandas: imported when used, so the command line starts without it

    items: list[tuple[str, str, str, str]] = []  # kind, title, source, evidence
    triage = feedback.triage_table(con, pilot)
    if not isinstance(triage, Empty):
        for r in triage.itertuples():
            if r.comments and (r.operational or r.triage == "feature_request"):
                kind = "operational" if r.operational else "feature"
                label = r.triage.removeprefix("operational:").replace("_", " ")
                title = (f"Fix {label} issues raised in feedback" if r.operational
                         else "Consider the feature requests raised in feedback")
                items.append((kind, title, f"feedback:{r.triage}",
                              f"{r.comments} comments, e.g. “{(r.examples or [''])[0]}”"))
    modes = failure_modes.failure_modes(con, pilot)
    if not isinstance(modes, Empty):
        open_modes = modes[~modes["status"].isin(["mitigated", "accepted"])].head(max_modes)
        for r in open_modes.itertuples():
            items.append(("operational", f"Handle {r.error_type or 'error'}: {r.template}"[:200],
                          f"failure_mode:{r.mode_id}", f"{r.count:,} exceptions, {r.users} users, trend {r.trend}"))
    added = 0
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        for kind, title, source, evidence in items:
            if con.execute("SELECT 1 FROM backlog WHERE pilot_id = ? AND source = ?", [pilot.pilot_id, source]).fetchone():
                continue
            n = con.execute("INSERT INTO backlog (item_id, pilot_id, kind, title, source, evidence, status, updated_by, "
                            "updated_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)",
                            [next_id(con, "backlog_id_seq"), pilot.pilot_id, kind, title, source, evidence, actor.name,
                             _now()]).fetchone()[0]
            added += n
        if added:
            audit.record(con, actor, "backlog.seed", f"pilot:{pilot.pilot_id}", {"added": added})
    return added


def add_backlog_item(con: Connection, actor: Actor, pilot: Pilot, *, kind: str, title: str,
                     owner: str | None = None) -> int:
    if kind not in ("operational", "feature"):
        raise HandoffError("A backlog item is 'operational' or 'feature'.")
    if not (title or "").strip():
        raise HandoffError("A backlog item needs a title.")
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        n = con.execute("SELECT count(*) FROM backlog WHERE pilot_id = ?", [pilot.pilot_id]).fetchone()[0]
        item = next_id(con, "backlog_id_seq")
        con.execute("INSERT INTO backlog (item_id, pilot_id, kind, title, source, owner, status, updated_by, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)",
                    [item, pilot.pilot_id, kind, title.strip(), f"manual:{n + 1}", owner, actor.name, _now()])
        audit.record(con, actor, "backlog.add", f"pilot:{pilot.pilot_id}/backlog:{item}",
                     {"after": {"kind": kind, "title": title, "owner": owner}})
    return item


def list_backlog(con: Connection, actor: Actor, pilot: Pilot) -> dict[str, list[dict[str, Any]]]:
    """{"operational": [...], "feature": [...]} — kept apart on purpose."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    rows = _dicts(con.execute("SELECT * FROM backlog WHERE pilot_id = ? ORDER BY item_id", [pilot.pilot_id]))
    return {"operational": [r for r in rows if r["kind"] == "operational"],
            "feature": [r for r in rows if r["kind"] == "feature"]}
