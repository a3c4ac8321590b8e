"""Frozen copy of analysis/usage.py as of commit 65eec5c (before the rollup): every figure from a scan of
the raw usage_events. The reference the rollup-based analysis/usage.py must equal (tests/test_usage_rollup.py).
Do not edit except to follow changes of definition made in analysis/usage.py."""
# ruff: noqa


from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from analysis.common import (
    NO_FILTERS,
    Empty,
    Filters,
    frame,
    local_day_sql,
    local_week_sql,
    table_columns,
    week_days_in,
    where,
)
from readiness.catalog import Pilot

TABLE = "usage_events"

# Feature hints. A feature is judged on how many of its users come back and how often it works.
KEEP_REPEAT_RATE = 0.5    # at least half its users use it in 2+ distinct weeks: it has become a habit
KEEP_SUCCESS_RATE = 0.9   # and 9 in 10 attempts succeed: good enough to run in operations
FIX_SUCCESS_RATE = 0.9    # people come back to it but more than 1 in 10 attempts fail: worth fixing
DROP_REPEAT_RATE = 0.2    # fewer than 1 in 5 users ever come back to it: it is not wanted
# Between DROP and KEEP repeat rates with good (or unknown) success the hint is "watch": not enough
# return use to call it a habit, too much to drop.

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
    busiest_team: str | None    # None when no event has a team (see team_reason)
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


def _base(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters) -> tuple[str, list[Any]]:
    """The filtered events as a SQL subquery with local day and week (with its parameters)."""
    cond, params = where(pilot, filters, table_columns(con, TABLE))
    sql = (f"(SELECT user_id, {_blank('session_id')} AS session_id, {_blank('feature')} AS feature, "
           f"lower({_blank('outcome')}) AS outcome, {_blank('team')} AS team, "
           f"{local_day_sql(pilot)} AS day, {local_week_sql(pilot)} AS week "
           f"FROM {TABLE} WHERE {cond} AND user_id IS NOT NULL)")
    return sql, params


def _describe(filters: Filters) -> str:
    parts = []
    if filters.start or filters.end:
        parts.append(f"{filters.start or '…'} to {filters.end or '…'}")
    parts += [f"{k} = {v}" for k, v in sorted(filters.segment.items())]
    return ", ".join(parts)


def _check(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters,
           needs: tuple[str, ...] = ()) -> Empty | dict[str, Any]:
    """Empty when there is nothing to show (and why), else the probe counts.

    One scan of the filtered events in the usual case; the pilot's unfiltered events are only
    counted when something is missing, to tell "not loaded" from "not under these filters".
    """
    base, params = _base(con, pilot, filters)
    counts = ", ".join(f"count({c}) AS {c}" for c in _NEEDS)
    events, *cols = con.execute(f"SELECT count(*), {counts} FROM {base}", params).fetchone()
    probe: dict[str, Any] = {"events": events, **dict(zip(_NEEDS, cols))}
    if not all(probe.values()):
        everywhere = ", ".join(f"count({_blank(c)})" for c in _NEEDS)
        pilot_events, *all_cols = con.execute(
            f"SELECT count(*), {everywhere} FROM {TABLE} WHERE pilot_id = ? AND user_id IS NOT NULL",
            [pilot.pilot_id]).fetchone()
        if not pilot_events:
            return Empty("No usage events have been loaded for this pilot.")
        probe.update({f"all_{k}": v for k, v in zip(_NEEDS, all_cols)})
    if not events:
        return Empty(f"No usage events match the filters ({_describe(filters)}).")
    for col in needs:
        reason = _missing(probe, col, filters)
        if reason:
            return Empty(reason)
    return probe


def _missing(probe: dict[str, Any], col: str, filters: Filters) -> str | None:
    if probe[col]:
        return None
    noun, consequence = _NEEDS[col]
    if not probe[f"all_{col}"]:
        return f"No usage events have {noun}, so {consequence}."
    return f"No usage events matching the filters ({_describe(filters)}) have {noun}, so {consequence}."


def _pct_change(new: int, old: int) -> float | None:
    return None if not old else 100.0 * (new - old) / old


def _success_sql(col: str = "outcome") -> str:
    values = ", ".join(f"'{v}'" for v in SUCCESS_VALUES)
    return f"({col} IN ({values}))"


# --------------------------------------------------------------------------------------------
# Evidence


def totals(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters = NO_FILTERS) -> Totals | Empty:
    """Events, users, sessions, active days, first/last local day and mean DAU."""
    probe = _check(con, pilot, filters)
    if isinstance(probe, Empty):
        return probe
    base, params = _base(con, pilot, filters)
    # grouping first (parallel hash aggregates) is faster than count(DISTINCT (a, b)) on millions of rows
    row = con.execute(
        f"""WITH ud AS (SELECT user_id, day, count(*) AS n FROM {base} GROUP BY ALL),
                us AS (SELECT count(*) AS s FROM (SELECT DISTINCT user_id, session_id FROM {base}
                                                  WHERE session_id IS NOT NULL))
            SELECT sum(n), count(DISTINCT user_id), (SELECT s FROM us), count(DISTINCT day), min(day), max(day),
                   count(*) / count(DISTINCT day) FROM ud""",
        params + params,
    ).fetchone()
    events, users, sessions, days, first, last, dau = row
    reason = _missing(probe, "session_id", filters)
    if not reason:  # shared case ids (a process-mining log) count once each: decided over the whole pilot
        everything, all_params = _base(con, pilot, NO_FILTERS)
        ids = {r[0]: r[1] for r in con.execute(
            f"SELECT session_id, count(DISTINCT user_id) FROM {everything} WHERE session_id IS NOT NULL GROUP BY 1",
            all_params).fetchall()}
        most = con.execute(f"SELECT max(n) FROM (SELECT count(DISTINCT session_id) AS n FROM {everything} "
                           f"WHERE session_id IS NOT NULL GROUP BY user_id)", all_params).fetchone()[0] or 0
        if len(ids) >= 10 and sum(n > 1 for n in ids.values()) >= 0.2 * len(ids) and len(ids) > most:
            sessions = con.execute(f"SELECT count(DISTINCT session_id) FROM {base}", params).fetchone()[0]
    return Totals(int(events), int(users), None if reason else int(sessions), int(days), first, last,
                  float(dau), sessions_reason=reason)


def dau_mean(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters = NO_FILTERS) -> float | Empty:
    """Mean distinct users per local calendar day, over days with at least one event."""
    t = totals(con, pilot, filters)
    return t if isinstance(t, Empty) else t.dau_mean


def active_users(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
    """Daily series from the first to the last day with data (days without events included, dau 0).

    Columns: day, dau, wau (distinct users in the 7 days ending that day), mau (28 days),
    stickiness (dau / mau; NULL when mau is 0). Windows only see events inside the filters.
    Computed in one pass over user-days: each active user-day covers the following window-1
    days up to that user's next active day, so the covering intervals never overlap per user.
    """
    probe = _check(con, pilot, filters)
    if isinstance(probe, Empty):
        return probe
    base, params = _base(con, pilot, filters)
    sql = f"""
    WITH ud AS (SELECT DISTINCT user_id, day FROM {base}),
    iv AS (
        SELECT day, coalesce(lead(day) OVER (PARTITION BY user_id ORDER BY day), DATE '9999-12-31') AS nxt
        FROM ud
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


def _date_cond(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters) -> tuple[str, list[Any]]:
    """Boolean SQL: the event lies inside the filters' date range (segment not applied)."""
    cond, params = where(pilot, Filters(filters.start, filters.end), table_columns(con, TABLE))
    return cond, params


def _user_weeks(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters) -> tuple[str, list[Any]]:
    """SQL CTEs: firsts(user_id, first_week) over all the pilot's data, and uw(user_id, week,
    in_window) over the segment-filtered events, in_window when a matching event lies in the date range."""
    cols = table_columns(con, TABLE)
    seg_cond, seg_params = where(pilot, Filters(segment=filters.segment), cols)
    date_cond, date_params = _date_cond(con, pilot, filters)
    week = local_week_sql(pilot)
    sql = f"""
    firsts AS (
        SELECT user_id, min({week}) AS first_week FROM {TABLE}
        WHERE pilot_id = ? AND user_id IS NOT NULL GROUP BY user_id
    ),
    uw AS (
        SELECT user_id, {week} AS week, bool_or({date_cond}) AS in_window
        FROM {TABLE} WHERE {seg_cond} AND user_id IS NOT NULL GROUP BY ALL
    )"""
    return sql, [pilot.pilot_id, *date_params, *seg_params]


def retention(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
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


def lifecycle(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
    """Per week from the first to the last week with matching events (quiet weeks included):
    week, active, new, returning, resurrecting, dormant.

    new: first-ever pilot event is in that week; returning: also active the week before;
    resurrecting: not active the week before, but seen before; dormant: active the week before
    but not this week — a separate non-negative count (negate it to chart it below the axis).
    new + returning + resurrecting = active. "The week before" uses the segment filter but
    not the date range.
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
    span, span_params = _base(con, pilot, Filters(start=filters.start, end=filters.end))
    first, last = con.execute(f"SELECT min(day), max(day) FROM {span}", span_params).fetchone()
    df["days"] = week_days_in(df["week"], first, last)  # read from the raw events
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


def feature_adoption(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
    """Per feature: feature, users, events, share_of_users (of all active users), repeat_users
    (users of it in 2+ distinct weeks), repeat_rate, success_rate (NULL without outcomes), hint
    (keep / fix / watch / drop, see the constants at the top) and hint_reason. Most users first.
    """
    probe = _check(con, pilot, filters, needs=("feature",))
    if isinstance(probe, Empty):
        return probe
    base, params = _base(con, pilot, filters)
    sql = f"""
    WITH ev AS (SELECT * FROM {base}),
    everyone AS (SELECT count(DISTINCT user_id) AS n FROM ev),
    uf AS (SELECT feature, user_id, count(DISTINCT week) AS weeks FROM ev WHERE feature IS NOT NULL GROUP BY ALL),
    per AS (
        SELECT feature, count(*) AS events,
               count(outcome) AS attempts, count(*) FILTER (WHERE {_success_sql()}) AS successes
        FROM ev WHERE feature IS NOT NULL GROUP BY feature
    )
    SELECT per.feature, count(uf.user_id) AS users, any_value(per.events) AS events,
           count(uf.user_id) / any_value(everyone.n) AS share_of_users,
           count(*) FILTER (WHERE uf.weeks >= 2) AS repeat_users,
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
    return df[["feature", "users", "events", "share_of_users", "repeat_users", "repeat_rate",
               "success_rate", "hint", "hint_reason"]]


def task_success(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters = NO_FILTERS) -> TaskSuccess | Empty:
    """Success rate over events with a non-blank outcome, overall, per feature and per week.

    Success: outcome in SUCCESS_VALUES (case-insensitive); every other non-blank outcome is a failure.
    Events without a feature are grouped as '(no feature)'.
    """
    probe = _check(con, pilot, filters, needs=("outcome",))
    if isinstance(probe, Empty):
        return probe
    base, params = _base(con, pilot, filters)
    agg = f"count(*) AS attempts, count(*) FILTER (WHERE {_success_sql()}) AS successes"
    sql = f"""
    WITH ev AS (SELECT * FROM {base} WHERE outcome IS NOT NULL)
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
    return TaskSuccess(attempts, successes, successes / attempts, feats, weeks)


def concentration(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters = NO_FILTERS) -> Concentration | Empty:
    """How concentrated use is: share of events from the top 10% of users (at least one user), the
    fewest users making half of all events, and the busiest team with its share of events
    (None with team_reason when no event has a team). Ties are broken by user id."""
    probe = _check(con, pilot, filters)
    if isinstance(probe, Empty):
        return probe
    base, params = _base(con, pilot, filters)
    sql = f"""
    WITH ev AS (SELECT * FROM {base}),
    pu AS (SELECT user_id, count(*) AS n FROM ev GROUP BY user_id),
    ranked AS (
        SELECT n, row_number() OVER (ORDER BY n DESC, user_id) AS rk,
               sum(n) OVER (ORDER BY n DESC, user_id ROWS UNBOUNDED PRECEDING) AS cum
        FROM pu
    ),
    tot AS (SELECT sum(n) AS events, count(*) AS users,
                   greatest(1, CAST(ceil(count(*) * ?) AS BIGINT)) AS top FROM pu),
    team AS (SELECT team, count(*) AS n FROM ev WHERE team IS NOT NULL GROUP BY team ORDER BY n DESC, team LIMIT 1)
    SELECT tot.events, tot.users, tot.top,
           (SELECT sum(n) FROM ranked WHERE rk <= tot.top) AS top_events,
           (SELECT min(rk) FROM ranked WHERE 2 * cum >= tot.events) AS half,
           (SELECT team FROM team) AS team, (SELECT n FROM team) AS team_events
    FROM tot
    """
    events, users, top, top_events, half, team, team_events = con.execute(
        sql, [*params, TOP_USER_SHARE]).fetchone()
    reason = _missing(probe, "team", filters)
    return Concentration(int(events), int(users), int(top), top_events / events, int(half),
                         None if reason else team, None if reason else team_events / events,
                         team_reason=reason)


def trend(con: duckdb.DuckDBPyConnection, pilot: Pilot, filters: Filters = NO_FILTERS) -> Trend | Empty:
    """Events and active users in the 28 days ending on the last day with data vs the 28 days before."""
    probe = _check(con, pilot, filters)
    if isinstance(probe, Empty):
        return probe
    base, params = _base(con, pilot, filters)
    sql = f"""
    WITH ev AS (SELECT * FROM {base}),
    b AS (SELECT max(day) AS last, min(day) AS first FROM ev)
    SELECT b.last, b.first,
           count(*) FILTER (WHERE day > b.last - {TREND_DAYS}),
           count(*) FILTER (WHERE day <= b.last - {TREND_DAYS} AND day > b.last - {2 * TREND_DAYS}),
           count(DISTINCT user_id) FILTER (WHERE day > b.last - {TREND_DAYS}),
           count(DISTINCT user_id) FILTER (WHERE day <= b.last - {TREND_DAYS} AND day > b.last - {2 * TREND_DAYS})
    FROM ev, b GROUP BY b.last, b.first
    """
    last, first, e_new, e_old, u_new, u_old = con.execute(sql, params).fetchone()
    recent_start = date.fromordinal(last.toordinal() - TREND_DAYS + 1)
    prior_start = date.fromordinal(last.toordinal() - 2 * TREND_DAYS + 1)
    return Trend(last, recent_start, prior_start, int(e_new), int(e_old), _pct_change(e_new, e_old),
                 int(u_new), int(u_old), _pct_change(u_new, u_old), prior_complete=first <= prior_start)
