"""Which segments (team, feature, user group) differ from the rest of the pilot beyond chance.

For each segment value, three figures are compared with the same figure over every other value:
task success (attempts by users in that value), exceptions per 1,000 events and CSAT (both through
the user: a user belongs to the team or user group most of their usage carries; features are not
a user's, so only task success is compared by feature). The comparison is a z-test on the
difference with cluster-robust standard errors (users are the clusters; each rating is its own),
and the p-values of every comparison shown on a page are adjusted together by Holm's method, so
that "differs beyond chance" holds for the whole list at the confidence level, not for each line.

Only per-(value, user) aggregates leave DuckDB. Usage is read from the usage rollup
(``usage_by_segment``) when it answers for the pilot, else from the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis import intervals, usage
from analysis.common import NO_FILTERS, SEGMENTS, Filters, frame, local_day_sql, shown_value, table_columns, where
from analysis.intervals import Interval
from readiness.catalog import Pilot
from readiness.store import Connection

MIN_USERS = intervals.MIN_CLUSTERS  # a segment value with fewer users (or ratings: MIN_RATINGS) is not compared
MIN_RATINGS = 10
METRICS = ("task_success", "per_1k_events", "csat")
LABELS = {"task_success": "task success", "per_1k_events": "exceptions per 1,000 events", "csat": "CSAT"}
USER_SEGMENTS = ("team", "user_group")   # a user's own: exceptions and ratings are compared by these
USER_GROUP_SQL = "attributes->>'user_group'"   # the events keep a user group among their source columns


@dataclass(frozen=True)
class Difference:
    segment: str            # team | feature | user_group
    value: str              # as shown (personal data masked)
    metric: str             # task_success | per_1k_events | csat
    inside: Interval        # the figure within the value, with its interval
    rest: float             # the same figure over every other value
    p: float                # two-sided, unadjusted
    p_holm: float           # adjusted over every comparison made together

    def text(self) -> str:
        """'Procurement: task success 71% (64%–77%) against 90% elsewhere'."""
        fmt = "{:,.1f}" if self.metric == "per_1k_events" else "{:.0%}"
        iv = self.inside
        return (f"{self.value}: {LABELS[self.metric]} {fmt.format(iv.value)} ({fmt.format(iv.low)}–"
                f"{fmt.format(iv.high)}) against {fmt.format(self.rest)} elsewhere")


def _usage_rows(con: Connection, pilot: Pilot, filters: Filters) -> tuple[str, list[Any]]:
    """A subquery: day, user_id, team, feature, user_group, events, outcomes, successes (blank = NULL)."""
    if usage._reads_rollup(con, pilot, filters):
        clauses, params = ["pilot_id = ?"], [pilot.pilot_id]
        for op, value in ((">=", filters.start), ("<=", filters.end)):
            if value:
                clauses.append(f"day {op} ?")
                params.append(value)
        for name, value in sorted(filters.segment.items()):
            clauses.append(f"{name} = ?")
            params.append(value)
        return (f"(SELECT day, user_id, team, feature, user_group, events, outcomes, successes "
                f"FROM usage_by_segment WHERE {' AND '.join(clauses)})"), params
    cond, params = where(pilot, filters, table_columns(con, "usage_events"))
    blank = usage._blank
    return (f"(SELECT {local_day_sql(pilot)} AS day, user_id, {blank('team')} AS team, {blank('feature')} AS feature, "
            f"{blank(USER_GROUP_SQL)} AS user_group, "
            f"1 AS events, {usage._RAW_OUTCOME} FROM usage_events WHERE {cond} AND user_id IS NOT NULL)"), params


def _clusters(con, pilot: Pilot, filters: Filters, segment: str) -> dict[str, pd.DataFrame]:
    """Per metric, one row per (value, user) — or per value for CSAT — with num and den."""
    rows, params = _usage_rows(con, pilot, filters)
    out = {"task_success": frame(con, f"""
        SELECT {segment} AS value, user_id, sum(successes) AS num, sum(outcomes) AS den FROM {rows}
        WHERE {segment} IS NOT NULL GROUP BY ALL HAVING sum(outcomes) > 0 ORDER BY value, user_id""", params)}
    if segment not in USER_SEGMENTS:
        return out
    main = (f"WITH r AS (SELECT * FROM {rows}), us AS (SELECT user_id, {segment} AS value, sum(events) AS n "
            f"FROM r WHERE {segment} IS NOT NULL GROUP BY ALL), "
            "main AS (SELECT user_id, arg_max(value, n) AS value FROM us GROUP BY user_id)")
    exc, exc_params = where(pilot, filters if not filters.segment else Filters(filters.start, filters.end),
                            table_columns(con, "exceptions"))
    out["per_1k_events"] = frame(con, f"""{main},
        ev AS (SELECT user_id, sum(events) AS den FROM r GROUP BY user_id),
        x AS (SELECT user_id, count(*) AS num FROM exceptions WHERE {exc} AND failure_mode IS NOT NULL GROUP BY user_id)
        SELECT main.value, main.user_id, 1000.0 * coalesce(x.num, 0) AS num, ev.den
        FROM main JOIN ev USING (user_id) LEFT JOIN x USING (user_id) ORDER BY value, user_id""",
                                 [*params, *exc_params])
    fb, fb_params = where(pilot, Filters(filters.start, filters.end), table_columns(con, "feedback"))
    out["csat"] = frame(con, f"""{main}
        SELECT main.value, count(*) FILTER (WHERE f.rating >= 4) AS num, count(*) AS den
        FROM feedback f JOIN main USING (user_id) WHERE {fb} AND f.rating IS NOT NULL GROUP BY ALL ORDER BY value""",
                        [*params, *fb_params])
    return out


def _compare(metric: str, df: pd.DataFrame, level: float) -> list[tuple[str, Interval, float, float]]:
    """(value, its interval, the rest's figure, p) for each value with enough data."""
    out = []
    for value in df["value"].unique():
        inside, rest = df[df["value"] == value], df[df["value"] != value]
        if rest.empty:
            continue
        if metric == "csat":  # one row per value: counts of independent ratings
            k, n, rk, rn = int(inside["num"].sum()), int(inside["den"].sum()), int(rest["num"].sum()), int(rest["den"].sum())
            if n < MIN_RATINGS or not rn:
                continue
            iv = intervals.wilson(k, n, level)
            p = intervals.difference_p((k / n, np.sqrt(k / n * (1 - k / n) / n)),
                                       (rk / rn, np.sqrt(rk / rn * (1 - rk / rn) / rn)))
            out.append((value, iv, rk / rn, p))
            continue
        if len(inside) < MIN_USERS:
            continue
        num, den = inside["num"].to_numpy(float), inside["den"].to_numpy(float)
        iv = intervals.cluster_ratio(num, den, level)
        rest_value = float(rest["num"].sum() / rest["den"].sum())
        p = intervals.difference_p((iv.value, intervals.ratio_se(num, den)),
                                   (rest_value, intervals.ratio_se(rest["num"].to_numpy(float), rest["den"].to_numpy(float))))
        out.append((value, iv, rest_value, p))
    return out


def differences(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS,
                level: float | None = None) -> list[Difference]:
    """The segment values whose task success, exception rate or CSAT differs from the rest beyond chance
    (Holm-adjusted p below 1 - level), largest difference first; [] when none does or nothing compares."""
    level = level or intervals.level_default()
    found: list[tuple[str, str, str, Interval, float, float]] = []
    for segment in SEGMENTS:
        if segment in filters.segment:
            continue  # within one team, "the rest" of that team is no other team
        for metric, df in _clusters(con, pilot, filters, segment).items():
            if not df.empty:
                found += [(segment, value, metric, iv, rest, p) for value, iv, rest, p in _compare(metric, df, level)]
    adjusted = intervals.holm([f[5] for f in found])
    shown = [Difference(seg, shown_value(value), metric, iv, rest, p, q)
             for (seg, value, metric, iv, rest, p), q in zip(found, adjusted) if q < 1 - level]
    return sorted(shown, key=lambda d: -abs(d.inside.value - d.rest) / (abs(d.rest) or 1))
