"""Usage evidence: how much the piloted capability is used, by whom, how often they come back.

Every function takes ``(con, pilot, filters)`` and returns a small DataFrame or dataclass, or
``Empty(reason)`` when the pilot has no usage (or none under the filters), or when the figure
needs a column the usage lacks (session ids, outcomes, teams, features). Nothing raises for
missing data. All work runs in DuckDB with bound parameters; only aggregates come back.

Source: the usage rollup kept at ingest (``analysis.usage_rollup``), not the raw events. Each
figure is one query over ``_view``: per (day, user, session), per (day, user, feature) or per
(day, team) sums of events, outcomes and successes — from the rollup's coarse tables without a
segment filter, from ``usage_by_segment`` with one, and from ``usage_events`` (one row per event)
when the rollup cannot answer: it was built in another time zone than the pilot's, or a segment
names a column other than team / feature / user_group. All three give the same results (pinned by
tests/test_usage_rollup.py against the raw-scan implementation in tests/usage_reference.py).
On the 10M-event bench (2 cores) warm p50 is 30–125 ms per function, instead of 0.2–0.8 s.

Calendar: days and weeks are the pilot's local calendar days and Monday-start weeks
(``common.local_day_sql`` / ``local_week_sql``). A value counts as "missing" when it is NULL or
blank.

Definitions (see each function's docstring for its columns):

* sessions — distinct (user_id, session_id) pairs, so per-user session counters do not collide.
* WAU / MAU — distinct users in the 7 / 28 calendar days ending on the day (inside the filter
  window, so the first days of a window see shorter history).
* retention — cohort = Monday of the user's first-EVER usage week in the pilot (ignoring
  filters); a user is in a cohort row when they have an event matching the filters; week_N = %
  of that cohort active (matching the filters) in week cohort+N; NULL where that week is after
  the last week with matching data (not yet observable). Only cohorts whose week falls inside
  the date filter are shown.
* lifecycle — for each week W with matching events: new (first-ever pilot week is W),
  returning (also active in W-1), resurrecting (not active in W-1 but first seen before W),
  dormant (active in W-1 but not in W), reported as a separate non-negative count.
  new + returning + resurrecting = active. "Active in W-1" honours the segment filter but not
  the date filter, so the first week of a date window is not shown as all-resurrecting.
* trend — the 28 days ending on the last day with (matching) data vs the 28 days before those.
* feature hints — drop / fix / keep / watch, from the constants below (drop wins over fix).
* task success — outcome in SUCCESS_VALUES (case-insensitive) over events with a non-blank outcome.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from analysis.common import (
    NO_FILTERS,
    SEGMENTS,
    Empty,
    Filters,
    frame,
    local_day_sql,
    shown_value,
    table_columns,
    week_days_in,
    where,
)
from readiness.catalog import Pilot
from readiness.security import privacy
from readiness.store import Connection

TABLE = "usage_events"

# Feature hints. A feature is judged on how many of its users come back and how often it works.
KEEP_REPEAT_RATE = 0.5    # at least half its users use it in 2+ distinct weeks: it has become a habit
KEEP_SUCCESS_RATE = 0.9   # and 9 in 10 attempts succeed: good enough to run in operations
FIX_SUCCESS_RATE = 0.9    # people come back to it but more than 1 in 10 attempts fail: worth fixing
DROP_REPEAT_RATE = 0.2    # fewer than 1 in 5 users ever come back to it: it is not wanted
# Between DROP and KEEP repeat rates with good (or unknown) success the hint is "watch": not enough
# return use to call it a habit, too much to drop.

# How sessions are counted. A session id is usually a user's own (per-user counters repeat across
# users), so a session is a distinct (user, session id) pair. In a process-mining log the "session"
# is a case several people work on: when at least this share of ids spans several users, each
# distinct id is one session.
SHARED_IDS = 0.2
MIN_CASE_IDS = 10
SESSION_PAIRS = "A session is a distinct user and session id pair."
SESSION_CASES = ("{shared:,} of {ids:,} session ids are shared by several users (cases, as in a process-mining "
                 "log), so each distinct id counts as one session.")

# Outcome values (lower-cased, trimmed) that count as success; any other non-blank value is a failure.
SUCCESS_VALUES = ("success", "ok", "succeeded", "completed", "true", "1",
                  "successful", "complete", "done", "passed",
                  # German, French, Spanish, Dutch
                  "erfolg", "erfolgreich", "succès", "succes", "réussi", "reussi", "éxito", "exito", "exitoso",
                  "correcto", "geslaagd", "gelukt", "succesvol")

TOP_USER_SHARE = 0.10     # concentration: share of events from the top 10% of users (at least 1 user)
TREND_DAYS = 28           # trend: the last 4 weeks vs the 4 weeks before them

_NEEDS = {
    # column -> (plural noun for the reason, what cannot be done)
    "session_id": ("session ids", "sessions cannot be counted"),
    "outcome": ("outcomes", "task success cannot be measured"),
    "team": ("teams", "usage cannot be split by team"),
    "feature": ("features", "feature adoption cannot be measured"),
}


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class Totals:
    events: int
    users: int
    sessions: int | None        # None when no event has a session id (see sessions_reason)
    active_days: int
    first_day: date
    last_day: date
    dau_mean: float             # mean distinct users per calendar day, over days with any event
    sessions_reason: str | None = None
    sessions_reading: str = SESSION_PAIRS   # how sessions were counted, said on the page


@dataclass
class TaskSuccess:
    attempts: int               # events with a non-blank outcome
    successes: int
    success_rate: float
    by_feature: pd.DataFrame    # feature, attempts, successes, success_rate (most attempts first)
    by_week: pd.DataFrame       # week, attempts, successes, success_rate (by week)


@dataclass
class Concentration:
    events: int
    users: int
    top_users: int              # the top 10% of users by events, at least 1
    top_share: float            # share of all events those users made
    users_for_half: int         # fewest users who together make at least half of all events
    busiest_team: str | None    # as shown (masked); None when no event has a team (see team_reason)
    busiest_team_share: float | None
    team_reason: str | None = None


@dataclass
class Trend:
    last_day: date              # last day with data; the recent window ends here
    recent_start: date          # recent window: recent_start .. last_day (28 days)
    prior_start: date           # prior window: prior_start .. recent_start - 1 (28 days)
    events_recent: int
    events_prior: int
    events_change_pct: float | None     # None when the prior window has no events
    users_recent: int
    users_prior: int
    users_change_pct: float | None
    prior_complete: bool        # False when data starts after prior_start (prior window partly empty)


# --------------------------------------------------------------------------------------------
# Shared plumbing


def _blank(col: str) -> str:
    return f"NULLIF(trim({col}), '')"


def _success_sql(col: str = "outcome") -> str:
    values = ", ".join(f"'{v}'" for v in SUCCESS_VALUES)
    return f"({col} IN ({values}))"


_RAW_OUTCOME = (f"CAST({_blank('outcome')} IS NOT NULL AS INTEGER) AS outcomes, "
                f"CAST(coalesce({_success_sql('lower(' + _blank('outcome') + ')')}, false) AS INTEGER) AS successes")


# Segment filters the rollup can apply (usage_by_segment has these columns); any other segment
# name is answered from the raw events, with the same meaning as common.where gives it.
ROLLUP_SEGMENTS = frozenset(SEGMENTS)

# The three relations every figure is computed from, in the same columns whichever source answers:
# the rollup's coarse tables (no segment filter), usage_by_segment (a segment filter), or the raw
# events, one row per event (rollup not usable). Rows may repeat a key (one per batch): queries
# always aggregate. Trimmed session, feature and team; NULL when blank.
_VIEWS = {
    "session": {
        "rollup": "day, user_id, session_id, events, outcomes, successes, with_team, with_feature",
        "segment": (f"day, user_id, session_id, events, outcomes, successes, "
                    f"CASE WHEN {_blank('team')} IS NOT NULL THEN events ELSE 0 END AS with_team, "
                    f"CASE WHEN {_blank('feature')} IS NOT NULL THEN events ELSE 0 END AS with_feature"),
        "raw": (f"{{day}} AS day, user_id, {_blank('session_id')} AS session_id, 1 AS events, "
                f"{_RAW_OUTCOME}, "
                f"CAST({_blank('team')} IS NOT NULL AS INTEGER) AS with_team, "
                f"CAST({_blank('feature')} IS NOT NULL AS INTEGER) AS with_feature"),
    },
    "feature": {
        "rollup": "day, user_id, feature, events, outcomes, successes",
        "segment": f"day, user_id, {_blank('feature')} AS feature, events, outcomes, successes",
        "raw": f"{{day}} AS day, user_id, {_blank('feature')} AS feature, 1 AS events, {_RAW_OUTCOME}",
    },
    "team": {
        "rollup": "day, team, events",
        "segment": f"day, {_blank('team')} AS team, events",
        "raw": f"{{day}} AS day, {_blank('team')} AS team, 1 AS events",
    },
}


def _reads_rollup(con: Connection, pilot: Pilot, filters: Filters) -> bool:
    """True when the rollup answers for the pilot under these filters: it was built in the pilot's
    time zone, and every segment filter is one it keeps."""
    if not ROLLUP_SEGMENTS.issuperset(filters.segment):
        return False
    row = con.execute("SELECT time_zone FROM usage_rollup_state WHERE pilot_id = ?", [pilot.pilot_id]).fetchone()
    return row is not None and row[0] == pilot.time_zone


def _view(con: Connection, pilot: Pilot, filters: Filters, kind: str) -> tuple[str, list[Any]]:
    """A subquery over the pilot's usage under ``filters`` with the columns of ``_VIEWS[kind]``,
    plus ``week`` (Monday of the day), and its parameters."""
    week = "CAST(date_trunc('week', day) AS DATE) AS week"
    if not _reads_rollup(con, pilot, filters):
        cond, params = where(pilot, filters, table_columns(con, TABLE))
        cols = _VIEWS[kind]["raw"].format(day=local_day_sql(pilot))
        return f"(SELECT *, {week} FROM (SELECT {cols} FROM {TABLE} WHERE {cond} AND user_id IS NOT NULL))", params
    clauses, params = ["pilot_id = ?"], [pilot.pilot_id]
    if filters.start:
        clauses.append("day >= ?")
        params.append(filters.start)
    if filters.end:
        clauses.append("day <= ?")
        params.append(filters.end)
    for name, value in sorted(filters.segment.items()):
        clauses.append(f"{name} = ?")
        params.append(value)
    table, source = (f"usage_by_{kind}", "rollup") if not filters.segment else ("usage_by_segment", "segment")
    return f"(SELECT {_VIEWS[kind][source]}, {week} FROM {table} WHERE {' AND '.join(clauses)})", params


def _describe(filters: Filters) -> str:
    parts = []
    if filters.start or filters.end:
        parts.append(f"{filters.start or '…'} to {filters.end or '…'}")
    parts += [f"{k} = {shown_value(v)}" for k, v in sorted(filters.segment.items())]
    return ", ".join(parts)


def _check(con: Connection, pilot: Pilot, filters: Filters,
           needs: tuple[str, ...] = ()) -> Empty | dict[str, Any]:
    """Empty when there is nothing to show (and why), else the probe counts.

    One pass over the filtered usage in the usual case; the pilot's unfiltered usage is only
    counted when something is missing, to tell "not loaded" from "not under these filters".
    """
    probe: dict[str, Any] = dict(zip(("events", *_NEEDS), _probe(con, pilot, filters)))
    if not all(probe.values()):
        pilot_events, *all_cols = _probe(con, pilot, NO_FILTERS)
        if not pilot_events:
            return Empty("No usage events have been loaded for this pilot.")
        probe.update({f"all_{k}": v for k, v in zip(_NEEDS, all_cols)})
    if not probe["events"]:
        return Empty(f"No usage events match the filters ({_describe(filters)}).")
    for col in needs:
        reason = _missing(probe, col, filters)
        if reason:
            return Empty(reason)
    return probe


def _probe(con: Connection, pilot: Pilot, filters: Filters) -> tuple[int, ...]:
    """Events, and events with a session id, an outcome, a team, a feature (in ``_NEEDS`` order)."""
    view, params = _view(con, pilot, filters, "session")
    return con.execute(
        f"""SELECT coalesce(sum(events), 0), coalesce(sum(events) FILTER (WHERE session_id IS NOT NULL), 0),
                   coalesce(sum(outcomes), 0), coalesce(sum(with_team), 0), coalesce(sum(with_feature), 0)
            FROM {view}""", params).fetchone()


def _missing(probe: dict[str, Any], col: str, filters: Filters) -> str | None:
    if probe[col]:
        return None
    noun, consequence = _NEEDS[col]
    if not probe[f"all_{col}"]:
        return f"No usage events have {noun}, so {consequence}."
    return f"No usage events matching the filters ({_describe(filters)}) have {noun}, so {consequence}."


def _pct_change(new: int, old: int) -> float | None:
    return None if not old else 100.0 * (new - old) / old


# --------------------------------------------------------------------------------------------
# Evidence


def session_reading(con: Connection, pilot: Pilot) -> tuple[bool, str]:
    """(whether each distinct session id is one session, the sentence saying how sessions are
    counted), decided over the whole pilot so that every filtered view counts the same way.

    Ids are shared cases when there are at least :data:`MIN_CASE_IDS`, at least :data:`SHARED_IDS`
    of them span several users, and there are more ids than any one user has: per-user session
    counters (1, 2, 3 for every user) also repeat across users, but some user has them all.
    """
    base, params = _view(con, pilot, NO_FILTERS, "session")
    ids, shared, most_per_user = con.execute(
        f"""WITH pairs AS (SELECT DISTINCT user_id, session_id FROM {base} WHERE session_id IS NOT NULL),
                 per_id AS (SELECT count(*) AS users FROM pairs GROUP BY session_id)
            SELECT count(*), count(*) FILTER (WHERE users > 1),
                   (SELECT max(n) FROM (SELECT count(*) AS n FROM pairs GROUP BY user_id)) FROM per_id""",
        params).fetchone()
    cases = ids >= MIN_CASE_IDS and shared >= SHARED_IDS * ids and ids > (most_per_user or 0)
    return cases, (SESSION_CASES.format(shared=shared, ids=ids) if cases else SESSION_PAIRS)


def totals(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> Totals | Empty:
    """Events, users, sessions, active days, first/last local day and mean DAU.

    Sessions are distinct (user, session id) pairs, or distinct ids where they are shared cases
    (:func:`session_reading`); ``sessions_reading`` says which.
    """
    probe = _check(con, pilot, filters)
    if isinstance(probe, Empty):
        return probe
    base, params = _view(con, pilot, filters, "session")
    # grouping first (parallel hash aggregates) is faster than count(DISTINCT (a, b)) on many rows
    row = con.execute(
        f"""WITH ud AS (SELECT user_id, day, sum(events) AS n FROM {base} GROUP BY ALL),
                pairs AS (SELECT DISTINCT user_id, session_id FROM {base} WHERE session_id IS NOT NULL),
                us AS (SELECT count(*) AS pairs, count(DISTINCT session_id) AS ids FROM pairs)
            SELECT sum(n), count(DISTINCT user_id), (SELECT pairs FROM us), (SELECT ids FROM us),
                   count(DISTINCT day), min(day), max(day), count(*) / count(DISTINCT day) FROM ud""",
        params + params,
    ).fetchone()
    events, users, pairs, ids, days, first, last, dau = row
    reason = _missing(probe, "session_id", filters)
    cases, reading = session_reading(con, pilot) if not reason else (False, SESSION_PAIRS)
    return Totals(int(events), int(users), None if reason else int(ids if cases else pairs), int(days), first, last,
                  float(dau), sessions_reason=reason, sessions_reading=reading)


def dau_mean(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> float | Empty:
    """Mean distinct users per local calendar day, over days with at least one event."""
    t = totals(con, pilot, filters)
    return t if isinstance(t, Empty) else t.dau_mean


def active_users(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
    """Daily series from the first to the last day with data (days without events included, dau 0).

    Columns: day, dau, wau (distinct users in the 7 days ending that day), mau (28 days),
    stickiness (dau / mau; NULL when mau is 0). Windows only see events inside the filters.
    Computed in one pass over user-days: each active user-day covers the following window-1
    days up to that user's next active day, so the covering intervals never overlap per user.
    """
    probe = _check(con, pilot, filters)
    if isinstance(probe, Empty):
        return probe
    base, params = _view(con, pilot, filters, "session")
    sql = f"""
    WITH ud AS (SELECT DISTINCT user_id, day FROM {base}),
    -- each user's days in order, paired with the next (unnest pads the shorter list with NULL):
    -- a parallel hash aggregate, faster than lead() OVER (PARTITION BY user_id ORDER BY day)
    by_user AS (SELECT list(day ORDER BY day) AS days FROM ud GROUP BY user_id),
    iv AS (
        SELECT day, coalesce(nxt, DATE '9999-12-31') AS nxt
        FROM (SELECT unnest(days) AS day, unnest(days[2:]) AS nxt FROM by_user)
    ),
    span AS (SELECT min(day) AS d0, max(day) AS d1 FROM ud),
    cal AS (SELECT CAST(d AS DATE) AS day FROM span, range(d0, d1 + 1, INTERVAL 1 DAY) t(d)),
    deltas AS (
        SELECT day, 1 AS w, 1 AS m FROM iv
        UNION ALL SELECT least(day + 7, nxt), -1, 0 FROM iv
        UNION ALL SELECT least(day + 28, nxt), 0, -1 FROM iv
    ),
    per_day AS (SELECT day, sum(w) AS w, sum(m) AS m FROM deltas GROUP BY day),
    dau AS (SELECT day, count(*) AS dau FROM ud GROUP BY day)
    SELECT cal.day,
           coalesce(dau.dau, 0) AS dau,
           sum(coalesce(per_day.w, 0)) OVER (ORDER BY cal.day) AS wau,
           sum(coalesce(per_day.m, 0)) OVER (ORDER BY cal.day) AS mau
    FROM cal LEFT JOIN dau USING (day) LEFT JOIN per_day USING (day)
    ORDER BY cal.day
    """
    df = frame(con, sql, params)
    for col in ("dau", "wau", "mau"):
        df[col] = df[col].astype("int64")
    df["stickiness"] = (df["dau"] / df["mau"]).where(df["mau"] > 0)
    df["day"] = pd.to_datetime(df["day"]).dt.date
    return df


def _user_weeks(con: Connection, pilot: Pilot, filters: Filters) -> tuple[str, list[Any]]:
    """SQL CTEs: firsts(user_id, first_week) over all the pilot's data, and uw(user_id, week,
    in_window) over the segment-filtered usage, in_window when a matching event lies in the date range."""
    everything, all_params = _view(con, pilot, NO_FILTERS, "session")
    segment, seg_params = _view(con, pilot, Filters(segment=filters.segment), "session")
    date_cond, date_params = ["true"], []
    if filters.start:
        date_cond.append("day >= ?")
        date_params.append(filters.start)
    if filters.end:
        date_cond.append("day <= ?")
        date_params.append(filters.end)
    sql = f"""
    firsts AS (
        SELECT user_id, CAST(date_trunc('week', min(day)) AS DATE) AS first_week FROM {everything} GROUP BY user_id
    ),
    uw AS (
        SELECT user_id, week, bool_or({' AND '.join(date_cond)}) AS in_window FROM {segment} GROUP BY ALL
    )"""
    return sql, [*all_params, *date_params, *seg_params]


def retention(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
    """Weekly cohort matrix: cohort (Monday), size, week_0 .. week_k (% of the cohort active N weeks later).

    Cohort = the week of the user's first-ever event in the pilot (all data, no filters). Members are
    users with at least one event matching the filters; only cohorts inside the date range are shown.
    Cells after the last week with matching data are NULL (not yet observable).
    """
    probe = _check(con, pilot, filters)
    if isinstance(probe, Empty):
        return probe
    ctes, params = _user_weeks(con, pilot, filters)
    sql = f"""
    WITH {ctes},
    active AS (SELECT user_id, week FROM uw WHERE in_window),
    bounds AS (SELECT min(week) AS w0, max(week) AS w1 FROM active),
    members AS (
        SELECT DISTINCT a.user_id, f.first_week AS cohort
        FROM active a JOIN firsts f USING (user_id), bounds WHERE f.first_week >= bounds.w0
    ),
    sizes AS (SELECT cohort, count(*) AS size FROM members GROUP BY cohort),
    cells AS (
        SELECT m.cohort, datediff('day', m.cohort, a.week) // 7 AS n,
               count(DISTINCT a.user_id) AS users
        FROM members m JOIN active a USING (user_id) GROUP BY ALL
    )
    SELECT s.cohort, s.size, bounds.w1 AS last_week, c.n, c.users
    FROM sizes s JOIN cells c USING (cohort), bounds ORDER BY s.cohort, c.n
    """
    cells = frame(con, sql, params)
    if cells.empty:
        return Empty(f"No users were first seen inside the filters ({_describe(filters)}), so there are no cohorts.")
    cells["cohort"] = pd.to_datetime(cells["cohort"]).dt.date
    cells["last_week"] = pd.to_datetime(cells["last_week"]).dt.date
    sizes = cells.drop_duplicates("cohort")[["cohort", "size", "last_week"]]
    first_cohort, last_week = sizes["cohort"].min(), sizes["last_week"].iloc[0]
    k = max(0, (last_week - first_cohort).days // 7)
    lookup = {(r.cohort, int(r.n)): int(r.users) for r in cells.itertuples()}
    rows = []
    for r in sizes.itertuples():
        row: dict[str, Any] = {"cohort": r.cohort, "size": int(r.size)}
        observable = (last_week - r.cohort).days // 7
        for n in range(k + 1):
            row[f"week_{n}"] = (100.0 * lookup.get((r.cohort, n), 0) / r.size) if n <= observable else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def lifecycle(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
    """Per week from the first to the last week with matching events (quiet weeks included):
    week, active, new, returning, resurrecting, dormant.

    new: first-ever pilot event is in that week; returning: also active the week before;
    resurrecting: not active the week before, but seen before; dormant: active the week before
    but not this week — a separate non-negative count (negate it to chart it below the axis).
    new + returning + resurrecting = active. "The week before" uses the segment filter but
    not the date range. days: how many of the week's 7 days lie within the dates and the
    pilot's data (fewer for a week the range or the data cuts short, where fewer users can be
    active and more look gone quiet).
    """
    probe = _check(con, pilot, filters)
    if isinstance(probe, Empty):
        return probe
    ctes, params = _user_weeks(con, pilot, filters)
    sql = f"""
    WITH {ctes},
    span AS (SELECT min(week) AS w0, max(week) AS w1 FROM uw WHERE in_window),
    weeks AS (SELECT CAST(w AS DATE) AS week FROM span, range(w0, w1 + 7, INTERVAL 7 DAY) t(w)),
    cur AS (
        SELECT u.week, u.user_id, f.first_week,
               EXISTS (SELECT 1 FROM uw p WHERE p.user_id = u.user_id AND p.week = u.week - 7) AS prev
        FROM uw u JOIN firsts f USING (user_id) WHERE u.in_window
    ),
    counts AS (
        SELECT week, count(*) AS active,
               count(*) FILTER (WHERE first_week = week) AS new,
               count(*) FILTER (WHERE prev) AS returning,
               count(*) FILTER (WHERE NOT prev AND first_week < week) AS resurrecting
        FROM cur GROUP BY week
    ),
    dormant AS (
        SELECT w.week, count(p.user_id) AS dormant
        FROM weeks w JOIN uw p ON p.week = w.week - 7
        WHERE NOT EXISTS (SELECT 1 FROM uw c WHERE c.user_id = p.user_id AND c.week = w.week AND c.in_window)
        GROUP BY w.week
    )
    SELECT w.week, coalesce(c.active, 0) AS active, coalesce(c.new, 0) AS new,
           coalesce(c.returning, 0) AS returning, coalesce(c.resurrecting, 0) AS resurrecting,
           coalesce(d.dormant, 0) AS dormant
    FROM weeks w LEFT JOIN counts c USING (week) LEFT JOIN dormant d USING (week) ORDER BY w.week
    """
    df = frame(con, sql, params)
    df["week"] = pd.to_datetime(df["week"]).dt.date
    for col in ("active", "new", "returning", "resurrecting", "dormant"):
        df[col] = df[col].astype("int64")
    span, span_params = _view(con, pilot, Filters(start=filters.start, end=filters.end), "session")
    first, last = con.execute(f"SELECT min(day), max(day) FROM {span}", span_params).fetchone()
    df["days"] = week_days_in(df["week"], first, last)
    return df


def _hint(repeat_rate: float, success: float | None) -> tuple[str, str]:
    ok = "success not recorded" if success is None or pd.isna(success) else f"{success:.0%} success"
    if repeat_rate < DROP_REPEAT_RATE:
        return "drop", f"only {repeat_rate:.0%} of its users came back in another week (< {DROP_REPEAT_RATE:.0%}); {ok}"
    if success is not None and not pd.isna(success) and success < FIX_SUCCESS_RATE:
        return "fix", (f"{repeat_rate:.0%} of its users came back, but only {success:.0%} of attempts "
                       f"succeed (< {FIX_SUCCESS_RATE:.0%})")
    if repeat_rate >= KEEP_REPEAT_RATE:
        return "keep", f"{repeat_rate:.0%} of its users came back in another week (≥ {KEEP_REPEAT_RATE:.0%}); {ok}"
    return "watch", (f"{repeat_rate:.0%} of its users came back: between {DROP_REPEAT_RATE:.0%} and "
                     f"{KEEP_REPEAT_RATE:.0%}; {ok}")


def feature_adoption(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
    """Per feature: feature, users, events, share_of_users (of all active users), repeat_users
    (users of it in 2+ distinct weeks), repeat_rate, success_rate (NULL without outcomes), hint
    (keep / fix / watch / drop, see the constants at the top) and hint_reason. Most users first.
    """
    probe = _check(con, pilot, filters, needs=("feature",))
    if isinstance(probe, Empty):
        return probe
    base, params = _view(con, pilot, filters, "feature")
    sql = f"""
    WITH ev AS (SELECT * FROM {base}),
    everyone AS (SELECT count(DISTINCT user_id) AS n FROM ev),
    -- used in 2+ distinct weeks = its first and last day lie in different weeks (3x faster than counting weeks)
    uf AS (SELECT feature, user_id, date_trunc('week', min(day)) < date_trunc('week', max(day)) AS repeat
           FROM ev WHERE feature IS NOT NULL GROUP BY ALL),
    per AS (
        SELECT feature, CAST(sum(events) AS BIGINT) AS events,
               CAST(sum(outcomes) AS BIGINT) AS attempts, CAST(sum(successes) AS BIGINT) AS successes
        FROM ev WHERE feature IS NOT NULL GROUP BY feature
    )
    SELECT per.feature, count(uf.user_id) AS users, any_value(per.events) AS events,
           count(uf.user_id) / any_value(everyone.n) AS share_of_users,
           count(*) FILTER (WHERE uf.repeat) AS repeat_users,
           any_value(per.attempts) AS attempts, any_value(per.successes) AS successes
    FROM per JOIN uf USING (feature), everyone
    GROUP BY per.feature ORDER BY users DESC, per.feature
    """
    df = frame(con, sql, params)
    for col in ("users", "events", "repeat_users"):
        df[col] = df[col].astype("int64")
    df["repeat_rate"] = df["repeat_users"] / df["users"]
    df["success_rate"] = (df["successes"] / df["attempts"]).where(df["attempts"] > 0)
    hints = [_hint(r, s) for r, s in zip(df["repeat_rate"], df["success_rate"])]
    df["hint"] = [h for h, _ in hints]
    df["hint_reason"] = [why for _, why in hints]
    return privacy.mask_frame(df[["feature", "users", "events", "share_of_users", "repeat_users", "repeat_rate",
                                  "success_rate", "hint", "hint_reason"]])  # a feature name is shown: masked


def task_success(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> TaskSuccess | Empty:
    """Success rate over events with a non-blank outcome, overall, per feature and per week.

    Success: outcome in SUCCESS_VALUES (case-insensitive); every other non-blank outcome is a failure.
    Events without a feature are grouped as '(no feature)'.
    """
    probe = _check(con, pilot, filters, needs=("outcome",))
    if isinstance(probe, Empty):
        return probe
    base, params = _view(con, pilot, filters, "feature")
    agg = "CAST(sum(outcomes) AS BIGINT) AS attempts, CAST(sum(successes) AS BIGINT) AS successes"
    sql = f"""
    WITH ev AS (SELECT * FROM {base} WHERE outcomes > 0)
    SELECT 'feature' AS kind, coalesce(feature, '(no feature)') AS key, NULL::DATE AS week, {agg}
    FROM ev GROUP BY 2
    UNION ALL
    SELECT 'week', NULL, week, {agg} FROM ev GROUP BY week
    """
    df = frame(con, sql, params)
    df["success_rate"] = df["successes"] / df["attempts"]
    feats = (df[df["kind"] == "feature"].rename(columns={"key": "feature"})
             [["feature", "attempts", "successes", "success_rate"]]
             .sort_values(["attempts", "feature"], ascending=[False, True]).reset_index(drop=True))
    weeks = df[df["kind"] == "week"][["week", "attempts", "successes", "success_rate"]].copy()
    weeks["week"] = pd.to_datetime(weeks["week"]).dt.date
    weeks = weeks.sort_values("week").reset_index(drop=True)
    for d in (feats, weeks):
        d["attempts"] = d["attempts"].astype("int64")
        d["successes"] = d["successes"].astype("int64")
    attempts, successes = int(feats["attempts"].sum()), int(feats["successes"].sum())
    return TaskSuccess(attempts, successes, successes / attempts, privacy.mask_frame(feats), weeks)


def concentration(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> Concentration | Empty:
    """How concentrated use is: share of events from the top 10% of users (at least one user), the
    fewest users making half of all events, and the busiest team with its share of events
    (None with team_reason when no event has a team). Ties are broken by user id."""
    probe = _check(con, pilot, filters)
    if isinstance(probe, Empty):
        return probe
    base, params = _view(con, pilot, filters, "session")
    teams, team_params = _view(con, pilot, filters, "team")
    sql = f"""
    WITH ev AS (SELECT * FROM {base}),
    pu AS (SELECT user_id, CAST(sum(events) AS BIGINT) AS n FROM ev GROUP BY user_id),
    ranked AS (
        SELECT n, row_number() OVER (ORDER BY n DESC, user_id) AS rk,
               sum(n) OVER (ORDER BY n DESC, user_id ROWS UNBOUNDED PRECEDING) AS cum
        FROM pu
    ),
    tot AS (SELECT sum(n) AS events, count(*) AS users,
                   greatest(1, CAST(ceil(count(*) * ?) AS BIGINT)) AS top FROM pu),
    team AS ({_BUSIEST_TEAM.format(teams=teams)})
    SELECT tot.events, tot.users, tot.top,
           (SELECT sum(n) FROM ranked WHERE rk <= tot.top) AS top_events,
           (SELECT min(rk) FROM ranked WHERE 2 * cum >= tot.events) AS half,
           (SELECT team FROM team) AS team, (SELECT n FROM team) AS team_events
    FROM tot
    """
    events, users, top, top_events, half, team, team_events = con.execute(
        sql, [*params, TOP_USER_SHARE, *team_params]).fetchone()
    reason = _missing(probe, "team", filters)
    return Concentration(int(events), int(users), int(top), top_events / events, int(half),
                         None if reason else shown_value(team), None if reason else team_events / events,
                         team_reason=reason)


# The team with the most events (ties by name); over a "team" _view.
_BUSIEST_TEAM = ("SELECT team, CAST(sum(events) AS BIGINT) AS n FROM {teams} WHERE team IS NOT NULL "
                 "GROUP BY team ORDER BY n DESC, team LIMIT 1")


def busiest_team(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> str | None:
    """The busiest team's name as stored, to select its rows by (a signal's ``rows``); never for
    showing: :func:`concentration` gives the name as shown (masked)."""
    teams, params = _view(con, pilot, filters, "team")
    row = con.execute(_BUSIEST_TEAM.format(teams=teams), params).fetchone()
    return row[0] if row else None


def trend(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> Trend | Empty:
    """Events and active users in the 28 days ending on the last day with data vs the 28 days before."""
    probe = _check(con, pilot, filters)
    if isinstance(probe, Empty):
        return probe
    base, params = _view(con, pilot, filters, "session")
    sql = f"""
    WITH ev AS (SELECT * FROM {base}),
    b AS (SELECT max(day) AS last, min(day) AS first FROM ev)
    SELECT b.last, b.first,
           coalesce(sum(events) FILTER (WHERE day > b.last - {TREND_DAYS}), 0),
           coalesce(sum(events) FILTER (WHERE day <= b.last - {TREND_DAYS} AND day > b.last - {2 * TREND_DAYS}), 0),
           count(DISTINCT user_id) FILTER (WHERE day > b.last - {TREND_DAYS}),
           count(DISTINCT user_id) FILTER (WHERE day <= b.last - {TREND_DAYS} AND day > b.last - {2 * TREND_DAYS})
    FROM ev, b GROUP BY b.last, b.first
    """
    last, first, e_new, e_old, u_new, u_old = con.execute(sql, params).fetchone()
    recent_start = date.fromordinal(last.toordinal() - TREND_DAYS + 1)
    prior_start = date.fromordinal(last.toordinal() - 2 * TREND_DAYS + 1)
    return Trend(last, recent_start, prior_start, int(e_new), int(e_old), _pct_change(e_new, e_old),
                 int(u_new), int(u_old), _pct_change(u_new, u_old), prior_complete=first <= prior_start)
