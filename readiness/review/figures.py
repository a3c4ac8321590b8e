"""Each pilot's figures kept, not recomputed per view: its risk signals, condition states and
portfolio line, stored (table ``pilot_figures``) with the data version they were computed at.

* :func:`refresh` computes and stores one pilot's figures; :func:`refresh_stale` those of every
  pilot whose stored figures are stale or missing; :func:`keep_up` those whose stored figures a
  write has made stale (the command line calls it after each write command, the app after each
  page action).
* :func:`portfolio` reads every visible pilot's line in one query. What depends on the day — a review
  or a risk past its date, an expired waiver — is not stored: that query evaluates it against
  ``today``.

A row is stale when it was computed at another data version than the pilot's current one
(:func:`readiness.catalog.data_version`: it moves with every batch loaded or deleted and every
audited edit of the pilot's records), or when a waiver it counted has since expired
(``fresh_until``). Stale or missing rows are recomputed on read, for those pilots only, so the
figures are right even where a write path did not refresh them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from analysis import confidence
from readiness import catalog
from readiness.review import between, conditions, decisions, evidence, reviews, risks, signals
from readiness.security.access import Actor, system_actor, visible_pilot_ids
from readiness.store import Connection, transaction

# The between-review flags the portfolio query evaluates against the day; the others are stored.
DAY_FLAGS = ("next_review_overdue", "waiver_expired", "risk_overdue")
_SYSTEM = system_actor("figures")


def _today(today: date | None) -> date:
    return today or datetime.now(UTC).date()


def _signals(con: Connection, pilot: catalog.Pilot, version: str | None) -> list[dict[str, Any]]:
    """The pilot's risk signals as dicts, most severe first. The checks that read only the logs are
    taken from the stored figures when the pilot's batches have not changed since (``version``: its
    data version now): an edit of its records re-runs only the others."""
    kept = stored(con, pilot.pilot_id) if version is not None else None
    if kept is None or catalog.logs_version(kept["data_version"]) != catalog.logs_version(version):
        return [s.to_dict() for s in signals.compute_signals(con, _SYSTEM, pilot)]
    found = [s for s in kept["signals"] if signals.reads_only_logs(s["key"])]
    found += [s.to_dict() for s in signals.review_signals(con, _SYSTEM, pilot)]
    place = {spec.key: i for i, spec in enumerate(signals.signal_catalog())}
    return sorted(found, key=lambda s: (-signals.SEVERITIES.index(s["severity"]), place[s["key"]]))


def compute(con: Connection, pilot: catalog.Pilot, today: date | None = None,
            version: str | None = None) -> dict[str, Any]:
    """The pilot's figures as :func:`refresh` stores them (no access check: callers check the grant,
    or store the figures for everyone's later, checked, reads). With ``version`` (the pilot's data
    version now), the stored log-only signals are reused while its batches are unchanged."""
    today = _today(today)
    found = _signals(con, pilot, version)
    current = reviews.current_decision(con, pilot)
    # the exception rate's interval as kept with the pilot's evidence, when it is (else computed)
    conds = conditions.list_conditions(con, _SYSTEM, pilot, today,
                                       rates=evidence.read(con, pilot, confidence.rate_intervals, version))
    expiries = [c["waiver_expiry"] for c in conds if c["status"] == "waived" and c["waiver_expiry"]]
    return {
        "pilot_id": pilot.pilot_id,
        "decision": decisions.OUTCOMES[current["outcome"]] if current else "in review",
        "next_review": current["next_review"] if current else None,
        "open_high_risks": risks.open_high(con, pilot.pilot_id),
        "untriaged_high": len(risks.untriaged(con, pilot.pilot_id, found)),
        "conditions_set": sum(1 for c in conds if c["status"] == "met"),  # waivers are counted on read
        "conditions_total": len(conds),
        "flags": [f.message for f in between.flags(con, _SYSTEM, pilot, today, conds) if f.key not in DAY_FLAGS],
        "signals": found,
        "conditions": [{"area": c["area"], "title": c["title"], "required": c["required"], "status": c["status"],
                        "live_value": c["live_value"]} for c in conds],
        # the day after the first waiver still counted runs out: its condition's state changes then
        "fresh_until": min(expiries) + timedelta(days=1) if expiries else None,
    }


def refresh(con: Connection, pilot_id: int, today: date | None = None) -> dict[str, Any]:
    """Compute the pilot's figures and store them with the data version they were computed at.
    Not audited: they are derived from audited records, and do not move the data version."""
    pilot = _pilot(con, pilot_id)
    today = _today(today)
    with transaction(con):
        version = catalog.data_version(con, pilot_id)
        fig = compute(con, pilot, today, version)
        con.execute("DELETE FROM pilot_figures WHERE pilot_id = ?", [pilot_id])
        con.execute(
            """INSERT INTO pilot_figures (pilot_id, data_version, computed_on, fresh_until, decision, next_review,
                   open_high_risks, untriaged_high, conditions_set, conditions_total, flags, signals, conditions,
                   computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [pilot_id, version, today, fig["fresh_until"], fig["decision"], fig["next_review"],
             fig["open_high_risks"], fig["untriaged_high"], fig["conditions_set"], fig["conditions_total"],
             _json(fig["flags"]), _json(fig["signals"]), _json(fig["conditions"]), datetime.now(UTC)])
    return fig


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _pilot(con: Connection, pilot_id: int) -> catalog.Pilot:
    name = con.execute("SELECT name FROM pilots WHERE pilot_id = ?", [pilot_id]).fetchone()
    if name is None:
        raise catalog.PilotNotFound(f"No pilot with id {pilot_id}.")
    return catalog.get_pilot(con, name[0])


_STALE_SQL = f"""
    SELECT v.pilot_id FROM ({catalog.DATA_VERSIONS_SQL}) v LEFT JOIN pilot_figures f USING (pilot_id)
    WHERE (? OR list_contains(?, v.pilot_id)) AND (f.pilot_id IS NOT NULL OR NOT ?)
      AND (f.pilot_id IS NULL OR f.data_version <> v.data_version OR f.fresh_until <= ?)
    ORDER BY v.pilot_id"""


def stale(con: Connection, today: date | None = None, pilot_ids: set[int] | None = None,
          stored_only: bool = False) -> list[int]:
    """The pilots (of ``pilot_ids``; None: all) whose stored figures are stale or (unless
    ``stored_only``) missing."""
    ids = sorted(pilot_ids or [])
    return [r[0] for r in con.execute(_STALE_SQL, [pilot_ids is None, ids, stored_only, _today(today)]).fetchall()]


def refresh_stale(con: Connection, today: date | None = None, pilot_ids: set[int] | None = None) -> list[int]:
    """Recompute the figures of the pilots (of ``pilot_ids``; None: all) whose stored ones are
    missing or stale; returns their ids. One query when none is."""
    done = stale(con, today, pilot_ids)
    for pilot_id in done:
        refresh(con, pilot_id, today)
    return done


def keep_up(con: Connection, today: date | None = None) -> list[int]:
    """After a write: recompute the stored figures it made stale (a pilot never read has none to
    keep: its first read computes them); returns the pilots' ids. One query when none is stale."""
    done = stale(con, today, stored_only=True)
    for pilot_id in done:
        refresh(con, pilot_id, today)
    return done


# One row per pilot; the day ($today) decides overdue reviews and risks and
# which waivers still count. Flags read as between.flags words them, in its order.
_PORTFOLIO_SQL = f"""
    WITH cur AS (SELECT pilot_id, arg_max(review_id, number) AS review_id FROM reviews GROUP BY pilot_id),
    w AS (SELECT c.pilot_id,
                 count(*) FILTER (WHERE c.waiver_expiry IS NULL OR c.waiver_expiry >= $today) AS waived,
                 list('The waiver of ''' || c.title || ''' waiver expired on ' || CAST(c.waiver_expiry AS VARCHAR)
                      || '.' ORDER BY c.condition_id) FILTER (WHERE c.waiver_expiry < $today) AS expired
          FROM conditions c JOIN cur USING (review_id) WHERE c.status = 'waived' GROUP BY c.pilot_id),
    r AS (SELECT pilot_id, list('Risk ' || risk_id || ' (' || title || ') was due on ' || CAST(due AS VARCHAR)
                                || ' and is still open.' ORDER BY risk_id) AS overdue
          FROM risks WHERE status = 'open' AND due < $today GROUP BY pilot_id),
    b AS (SELECT pilot_id, max(last_ts) AS last_ts FROM ingest_batches GROUP BY pilot_id)
    SELECT p.name AS pilot, p.owner, p.risk_tier, f.decision, f.next_review,
           coalesce(f.next_review < $today, false) AS overdue, f.open_high_risks, f.untriaged_high,
           CASE WHEN f.conditions_total > 0
                THEN CAST(f.conditions_set + coalesce(w.waived, 0) AS VARCHAR) || ' / ' || f.conditions_total
                ELSE '—' END AS conditions,
           array_to_string(list_concat(coalesce(w.expired, []), coalesce(r.overdue, []),
                                       from_json(f.flags, '["VARCHAR"]')), '; ') AS flags,
           b.last_ts AS data_as_of,
           f.pilot_id IS NULL OR f.data_version <> v.data_version OR f.fresh_until <= $today AS stale
    FROM pilots p JOIN ({catalog.DATA_VERSIONS_SQL}) v USING (pilot_id)
    LEFT JOIN pilot_figures f USING (pilot_id) LEFT JOIN w USING (pilot_id) LEFT JOIN r USING (pilot_id)
    LEFT JOIN b USING (pilot_id)
    WHERE $all OR list_contains($ids, p.pilot_id)
    ORDER BY p.name"""


def portfolio(con: Connection, actor: Actor, today: date | None = None) -> list[dict[str, Any]]:
    """One row per pilot the actor may read, as :func:`readiness.review.between.portfolio` gives it
    (plus ``untriaged_high``), from the stored figures; stale ones are recomputed first."""
    visible = visible_pilot_ids(con, actor)
    today = _today(today)
    params = {"today": today, "all": visible is None, "ids": sorted(visible or [])}
    cur = con.execute(_PORTFOLIO_SQL, params)
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    if any(r["stale"] for r in rows):
        refresh_stale(con, today, visible)
        cur = con.execute(_PORTFOLIO_SQL, params)
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    for r in rows:
        del r["stale"]
    return rows


def stored(con: Connection, pilot_id: int) -> dict[str, Any] | None:
    """The pilot's stored figures as :func:`compute` gives them (None when none are stored)."""
    cur = con.execute("SELECT * FROM pilot_figures WHERE pilot_id = ?", [pilot_id])
    row = cur.fetchone()
    if row is None:
        return None
    out = dict(zip([d[0] for d in cur.description], row))
    for key in ("flags", "signals", "conditions"):
        out[key] = json.loads(out[key])
    return out


def current(con: Connection, pilot_id: int, version: str, today: date | None = None) -> dict[str, Any] | None:
    """The pilot's stored figures when they hold for ``version`` (its data version now) and ``today``;
    None when they are missing or stale (the caller computes instead)."""
    kept = stored(con, pilot_id)
    if kept is None or kept["data_version"] != version:
        return None
    if kept["fresh_until"] is not None and kept["fresh_until"] <= _today(today):
        return None
    return kept
