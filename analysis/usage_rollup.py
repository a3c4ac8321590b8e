"""The usage rollup: per-batch aggregates of a pilot's usage events by local calendar day.

Usage evidence (``analysis.usage``) reads these tables instead of the raw ``usage_events``
(a scan of 10M events takes ~0.5 s on 2 cores). On the 10M-event bench the segment grain has 4.0M
rows (its teams change within sessions, the worst case), sessions 0.34M, features 2.0M, teams 1.7k;
keeping them costs ~5 s of a 10M-event batch's ingest (12–17 s without). Tables (migration 4):

* ``usage_by_segment`` — (day, user, session, team, feature, user_group): events, outcomes,
  successes. Every segment a filter can name, as loaded (a filter compares the raw value);
  read when a segment filter is set.
* ``usage_by_session`` — (day, user, session), with the events having a team / a feature:
  users, sessions, days, retention, lifecycle, trend, concentration and the "is it missing" probes.
* ``usage_by_feature`` — (day, user, trimmed feature): feature adoption and task success.
* ``usage_by_team`` — (day, trimmed team): the busiest team.
* ``usage_rollup_state`` — the time zone the pilot's rollup was built in.

Every row keeps its ``batch_id``: a new batch adds its own aggregates (nothing existing is
rewritten), deleting a batch deletes exactly its aggregates, and readers aggregate again over
batches. Each table is a view (:mod:`readiness.store.lake`): a new batch's aggregates are
computed with its events in the ingest's scratch database and kept as Parquet files beside the
store; the functions here write the local tables (``usage_by_segment_local`` ...), and a
rebuild moves the pilot's aggregates into them (its files are unlisted). Sessions are trimmed (blank = NULL) like every usage figure; team and feature keep the
loaded value in ``usage_by_segment`` (filters match it exactly) and are trimmed in the others.
Events without a user are left out, as every usage figure leaves them out.

The day depends on the pilot's time zone, and success on ``usage.SUCCESS_VALUES``: when either
changes, call :func:`rebuild_usage_rollup`. Until then evidence sees the zone differ from
``usage_rollup_state`` and reads the raw events (same results, slower), and the pilot's next
usage ingest rebuilds the rollup.
"""

from __future__ import annotations

from analysis.common import local_day_sql
from analysis.usage import _blank as blank_sql
from analysis.usage import _success_sql as success_sql
from readiness.catalog import Pilot, get_pilot
from readiness.store import Connection, lake

MANY_OUTCOMES = 1000  # distinct outcome values above which each row's outcome is judged as it is read
ROLLUP_TABLES = ("usage_by_segment", "usage_by_session", "usage_by_feature", "usage_by_team")


def _pilot(con: Connection, pilot_id: int) -> Pilot:
    name = con.execute("SELECT name FROM pilots WHERE pilot_id = ?", [pilot_id]).fetchone()[0]
    return get_pilot(con, name)


def _built_zone(con: Connection, pilot_id: int) -> str | None:
    row = con.execute("SELECT time_zone FROM usage_rollup_state WHERE pilot_id = ?", [pilot_id]).fetchone()
    return row[0] if row else None


def _outcome_counts(con: Connection, cond: str, params: list, events: str = "usage_events") -> tuple[str, str, list]:
    """The segment grain's (outcomes, successes) aggregates over usage_events rows matching
    ``cond``, and their parameters. An outcome column holds a few distinct values: each is judged
    once (trimmed, lower-cased) and the rows are matched against the lists of values that count,
    which costs a tenth of judging every row's text (10M rows: 0.06 s against 0.7 s). A column with
    many distinct values is judged row by row."""
    outcomes, successes, distinct = con.execute(f"""
        SELECT list(o) FILTER (WHERE {blank_sql('o')} IS NOT NULL),
               list(o) FILTER (WHERE {success_sql(f"lower({blank_sql('o')})")}), count(*)
        FROM (SELECT DISTINCT outcome AS o FROM {events} WHERE {cond} AND outcome IS NOT NULL)""", params).fetchone()
    if distinct > MANY_OUTCOMES:
        kept = blank_sql("outcome")
        return f"count({kept})", f"count(*) FILTER (WHERE {success_sql(f'lower({kept})')})", []
    return ("count(*) FILTER (WHERE list_contains(?::VARCHAR[], outcome))",
            "count(*) FILTER (WHERE list_contains(?::VARCHAR[], outcome))", [outcomes or [], successes or []])


def _add(con: Connection, pilot: Pilot, batch_id: int | None, events: str = "usage_events") -> None:
    """Insert the aggregates of one batch (or, with None, of all the pilot's batches) of ``events``
    (the usage events, or a subquery standing for them) into the local tables; the coarser grains
    read the segments just written there."""
    cond, params = "pilot_id = ?", [pilot.pilot_id]
    if batch_id is not None:
        cond, params = cond + " AND batch_id = ?", params + [batch_id]
    outcomes, successes, lists = _outcome_counts(con, cond, params, events)
    con.execute(f"""
        INSERT INTO usage_by_segment_local
        SELECT pilot_id, batch_id, {local_day_sql(pilot)}, user_id, {blank_sql('session_id')}, team, feature,
               CASE WHEN attributes IS NOT NULL THEN attributes->>'user_group' END,  -- skips JSON work when none
               count(*), {outcomes}, {successes}
        FROM {events} WHERE {cond} AND user_id IS NOT NULL GROUP BY ALL""", lists + params)
    con.execute(f"""
        INSERT INTO usage_by_session_local
        SELECT pilot_id, batch_id, day, user_id, session_id, sum(events), sum(outcomes), sum(successes),
               coalesce(sum(events) FILTER (WHERE {blank_sql('team')} IS NOT NULL), 0),
               coalesce(sum(events) FILTER (WHERE {blank_sql('feature')} IS NOT NULL), 0)
        FROM usage_by_segment_local WHERE {cond} GROUP BY ALL""", params)
    con.execute(f"""
        INSERT INTO usage_by_feature_local
        SELECT pilot_id, batch_id, day, user_id, {blank_sql('feature')}, sum(events), sum(outcomes), sum(successes)
        FROM usage_by_segment_local WHERE {cond} GROUP BY ALL""", params)
    con.execute(f"""
        INSERT INTO usage_by_team_local
        SELECT pilot_id, batch_id, day, {blank_sql('team')}, sum(events)
        FROM usage_by_segment_local WHERE {cond} GROUP BY ALL""", params)


def _set_state(con: Connection, pilot: Pilot) -> None:
    con.execute("DELETE FROM usage_rollup_state WHERE pilot_id = ?", [pilot.pilot_id])
    con.execute("INSERT INTO usage_rollup_state VALUES (?, ?, now())", [pilot.pilot_id, pilot.time_zone])


def rebuild_usage_rollup(con: Connection, pilot_id: int, events: str = "usage_events") -> None:
    """Recompute the pilot's rollup from its ``events`` (the usage events, or a subquery standing
    for them) in its current time zone (caller holds the transaction); e.g. after the pilot's time
    zone changed."""
    pilot = _pilot(con, pilot_id)
    lake.unregister(con, "pilot_id = ?", [pilot_id], ROLLUP_TABLES)
    for table in ROLLUP_TABLES:
        con.execute(f"DELETE FROM {lake.local(table)} WHERE pilot_id = ?", [pilot_id])
    _add(con, pilot, None, events)
    _set_state(con, pilot)


def update_usage_rollup(con: Connection, pilot_id: int, batch_id: int | None) -> None:
    """Keep the rollup equal to the events after a usage batch landed (``batch_id``) or was deleted
    (None: the aggregates of batches that no longer exist go). Runs inside the batch's transaction.
    Rebuilds instead when the rollup was built in another time zone (or never)."""
    pilot = _pilot(con, pilot_id)
    if _built_zone(con, pilot_id) != pilot.time_zone:
        rebuild_usage_rollup(con, pilot_id)
        return
    if batch_id is not None:
        _add(con, pilot, batch_id)
        return
    for table in ROLLUP_TABLES:  # a deleted batch's files were unlisted with the batch
        con.execute(f"""DELETE FROM {lake.local(table)} WHERE pilot_id = ? AND batch_id NOT IN
                        (SELECT batch_id FROM ingest_batches WHERE pilot_id = ? AND kind = 'usage')""",
                    [pilot_id, pilot_id])


def staged_rollup_fits(con: Connection, pilot_id: int, zone: str | None) -> bool:
    """Whether a usage batch's aggregates, computed apart from the store with its pilot in time
    zone ``zone``, can join the pilot's rollup as they are: the rollup is built in the pilot's
    current zone, and that is ``zone``. A pilot's first usage batch starts its rollup in its zone.
    When they cannot, the caller rebuilds the rollup (:func:`rebuild_usage_rollup`)."""
    pilot = _pilot(con, pilot_id)
    if zone != pilot.time_zone:
        return False
    built = _built_zone(con, pilot_id)
    if built is None and not con.execute("SELECT count(*) FROM ingest_batches WHERE pilot_id = ? AND kind = 'usage'",
                                         [pilot_id]).fetchone()[0]:
        _set_state(con, pilot)
        return True
    return built == zone
