"""Pilots: the capabilities under review, and their profile."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from readiness.catalog import PROFILE_FIELDS, RISK_TIERS, Pilot, get_pilot
from readiness.errors import ReadinessError
from readiness.security import audit
from readiness.security.access import Actor, allowed, require, visible_pilot_ids
from readiness.store import Connection, transaction


class InvalidProfile(ReadinessError, ValueError):
    """A profile value is not acceptable; the message says which and why."""


def _validate(profile: dict[str, Any]) -> None:
    unknown = set(profile) - set(PROFILE_FIELDS)
    if unknown:
        raise InvalidProfile(f"Unknown pilot field(s): {', '.join(sorted(unknown))}.")
    tz = profile.get("time_zone")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidProfile(
                f"Unknown time zone {tz!r}: use an IANA name such as 'Europe/London' or 'UTC'."
            ) from None
    tier = profile.get("risk_tier")
    if tier is not None and tier not in RISK_TIERS:
        raise InvalidProfile(f"Risk tier must be one of {', '.join(RISK_TIERS)}, not {tier!r}.")


def create_pilot(con: Connection, name: str, actor: Actor, **profile: Any) -> Pilot:
    """Create a pilot (caller holds the transaction); audited. A non-admin creator is granted it."""
    require(con, actor, "create_pilot")
    name = (name or "").strip()
    if not name:
        raise InvalidProfile("A pilot needs a name.")
    _validate(profile)
    taken = con.execute("SELECT pilot_id FROM pilots WHERE name = ?", [name]).fetchone()
    if taken:
        raise InvalidProfile(_name_taken(con, actor, name, taken[0]))
    cols = ["name", "created_by", *profile]
    marks = ", ".join("?" for _ in cols)
    con.execute(
        f"INSERT INTO pilots ({', '.join(cols)}) VALUES ({marks})",
        [name, actor.name, *profile.values()],
    )
    pilot = get_pilot(con, name)
    if not actor.cli and actor.role != "admin":
        con.execute("INSERT INTO grants VALUES (?, ?, now(), ?)", [actor.name, pilot.pilot_id, actor.name])
    audit.record(con, actor, "pilot.create", f"pilot:{pilot.pilot_id}",
                 {"name": name, **{k: v for k, v in profile.items()}})
    return pilot


def _name_taken(con: Connection, actor: Actor, name: str, pilot_id: int) -> str:
    """The refusal of a name in use. It confirms the pilot only to someone who may read it; anyone
    else gets the same words for every such name."""
    if allowed(con, actor, "read_pilot", pilot_id):
        return f"A pilot named {name!r} already exists."
    return f"{name!r} cannot be used for a new pilot; choose another name."


def update_pilot(con: Connection, actor: Actor, pilot: Pilot, **profile: Any) -> Pilot:
    """Edit a pilot's profile (capability, sponsor, owner, dates, time zone, working hours, user-validation
    evidence); audited with before and after. The risk tier is not changed here: lowering it needs a
    second person (``readiness.review.conditions.request_tier_change``). A new time zone rebuilds the
    pilot's usage rollup, whose days are the pilot's local days."""
    if "risk_tier" in profile:
        raise InvalidProfile("Change the risk tier with a tier change request (lowering it needs a second person).")
    if "name" in profile:
        raise InvalidProfile("A pilot's name is its key and is not edited.")
    _validate(profile)
    with transaction(con):
        require(con, actor, "edit_pilot", pilot.pilot_id)
        current = get_pilot(con, pilot.name)
        changed = {k: v for k, v in profile.items() if getattr(current, k) != v}
        if not changed:
            return current
        con.execute(f"UPDATE pilots SET {', '.join(f'{k} = ?' for k in changed)} WHERE pilot_id = ?",
                    [*changed.values(), pilot.pilot_id])
        if "time_zone" in changed:
            from analysis.usage_rollup import (
                rebuild_usage_rollup,  # loads pandas: imported when used, so the command line starts without it
            )

            rebuild_usage_rollup(con, pilot.pilot_id)
        audit.record(con, actor, "pilot.edit", f"pilot:{pilot.pilot_id}",
                     {"pilot": pilot.name, "before": {k: getattr(current, k) for k in changed}, "after": changed})
        return get_pilot(con, pilot.name)


def pilot_for(con: Connection, actor: Actor, name: str) -> Pilot:
    """The pilot called ``name``, once ``actor`` is allowed to read it (PilotNotFound / AccessDenied)."""
    pilot = get_pilot(con, name)
    require(con, actor, "read_pilot", pilot.pilot_id)
    return pilot


def list_pilots(con: Connection, actor: Actor) -> list[dict[str, Any]]:
    """The pilots ``actor`` may read, with row counts per log kind, last batch time and data range."""
    visible = visible_pilot_ids(con, actor)
    cur = con.execute(
        """
        SELECT p.pilot_id, p.name, p.capability, p.owner, p.risk_tier, p.time_zone,
               coalesce(b.usage_rows, 0) AS usage_rows,
               coalesce(b.feedback_rows, 0) AS feedback_rows,
               coalesce(b.exception_rows, 0) AS exception_rows,
               coalesce(b.batches, 0) AS batches,
               coalesce(b.rejected_rows, 0) AS rejected_rows,
               b.first_ts, b.last_ts, b.last_ingest
        FROM pilots p
        LEFT JOIN (
            SELECT pilot_id,
                   sum(rows_loaded) FILTER (WHERE kind = 'usage') AS usage_rows,
                   sum(rows_loaded) FILTER (WHERE kind = 'feedback') AS feedback_rows,
                   sum(rows_loaded) FILTER (WHERE kind = 'exceptions') AS exception_rows,
                   count(*) AS batches, sum(rows_rejected) AS rejected_rows,
                   min(first_ts) AS first_ts, max(last_ts) AS last_ts,
                   max(finished_at) AS last_ingest
            FROM ingest_batches GROUP BY pilot_id
        ) b USING (pilot_id)
        WHERE ? OR list_contains(?, p.pilot_id)
        ORDER BY p.name
        """, [visible is None, sorted(visible or [])]
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


