"""What every evidence function shares: filters, the pilot's calendar, and empty results that say why.

Evidence functions take ``(con, pilot, filters)`` and return a small DataFrame or dataclass.
Days and weeks are the pilot's calendar days in its time zone: ``local_day_sql`` gives the SQL.
Only aggregates leave DuckDB; parameters are always bound.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from readiness.catalog import Pilot
from readiness.security import privacy
from readiness.store import Connection
from readiness.zones import utc_offsets

SEGMENTS = ("team", "feature", "user_group")  # user_group: attributes->>'user_group' where present


@dataclass(frozen=True)
class Filters:
    """Date range (pilot's calendar days, inclusive) and segment, e.g. {"team": "Procurement"}."""
    start: date | None = None
    end: date | None = None
    segment: dict[str, str] = field(default_factory=dict)

    def key(self) -> tuple:
        """Hashable form for cache keys."""
        return (self.start, self.end, tuple(sorted(self.segment.items())))


NO_FILTERS = Filters()


@dataclass
class Empty:
    """An evidence result with nothing to show, and why (e.g. 'No feedback has been loaded')."""
    reason: str
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __bool__(self) -> bool:
        return False


def local_ts_sql(pilot: Pilot, column: str = "ts") -> str:
    """SQL for the pilot's local wall-clock time of a TIMESTAMPTZ column (a TIMESTAMP).

    Integer arithmetic on the instant plus the zone's UTC offset, looked up among the zone's
    transitions (newest first): about ten times faster than ICU's timezone() on millions of rows.
    Instants before 2000 or past the table use ICU.
    """
    tz = pilot.time_zone.replace("'", "''")
    changes = utc_offsets(pilot.time_zone)
    end_us = changes[0][0]
    offset = "CASE " + " ".join(f"WHEN epoch_us({column}) >= {at} THEN {off}" for at, off in changes[1:]) + " END"
    fast = f"make_timestamp(epoch_us({column}) + {offset})"
    return (f"CASE WHEN epoch_us({column}) >= {changes[-1][0]} AND epoch_us({column}) < {end_us} "
            f"THEN {fast} ELSE timezone('{tz}', {column}) END")


def week_days_in(weeks: pd.Series, first: date | None, last: date | None) -> pd.Series:
    """For each week (its Monday), how many of its 7 days lie between ``first`` and ``last``
    (inclusive): 7 for a whole week, fewer for a week the dates or the data cut short."""
    if first is None or last is None:
        return pd.Series([7] * len(weeks), index=weeks.index, dtype="int64")
    start = pd.to_datetime(weeks).clip(lower=pd.Timestamp(first))
    end = (pd.to_datetime(weeks) + pd.Timedelta(days=6)).clip(upper=pd.Timestamp(last))
    return ((end - start).dt.days + 1).clip(lower=0).astype("int64")


def local_day_sql(pilot: Pilot, column: str = "ts") -> str:
    """SQL for the pilot's calendar day of a TIMESTAMPTZ column."""
    return f"CAST({local_ts_sql(pilot, column)} AS DATE)"


def local_week_sql(pilot: Pilot, column: str = "ts") -> str:
    """SQL for the Monday starting the pilot's calendar week of a TIMESTAMPTZ column."""
    return f"CAST(date_trunc('week', {local_ts_sql(pilot, column)}) AS DATE)"


def no_match(noun: str, total: int, filters: Filters) -> str:
    """Why filtered evidence is empty although ``total`` rows of it are loaded, in the reviewer's
    terms: which dates and which segment, and how to see the rows again. ``noun``: e.g.
    "feedback entries". It names only the dates actually picked, and says when the rows do not
    carry the segment's column."""
    why = []
    if filters.start or filters.end:
        why.append(f"falls within {filters.start or '…'} to {filters.end or '…'} (pilot-local days)")
    why += [f"has {name.replace('_', ' ')} = {shown_value(value)}" for name, value in sorted(filters.segment.items())]
    text = f"None of the pilot's {total:,} {noun} {' and '.join(why) or 'matches the filters'}."
    if filters.segment:
        text += (" A segment matches only the rows that carry its column (as loaded, or among the source "
                 "columns kept); choose Everyone in the sidebar to see them all.")
    return text


def where(pilot: Pilot, filters: Filters, table_columns: set[str], alias: str = "") -> tuple[str, list[Any]]:
    """WHERE clause and bound parameters for a pilot's rows under ``filters``.

    A segment on a column the table lacks matches nothing, so that a team filter never
    silently shows every team.
    """
    a = f"{alias}." if alias else ""
    clauses, params = [f"{a}pilot_id = ?"], [pilot.pilot_id]
    day = local_day_sql(pilot, f"{a}ts")
    if filters.start:
        clauses.append(f"{day} >= ?")
        params.append(filters.start)
    if filters.end:
        clauses.append(f"{day} <= ?")
        params.append(filters.end)
    for name, value in sorted(filters.segment.items()):
        if name not in SEGMENTS:
            clauses.append("false")
            continue
        # A column the table lacks is looked for among the kept source columns (attributes); ->> in
        # parentheses, as DuckDB 1.5 binds it looser than = and AND.
        clauses.append(f"{a}{name} = ?" if name in table_columns else f"({a}attributes->>'{name}') = ?")
        params.append(value)
    return " AND ".join(clauses), params


def shown_value(value: str | None) -> str | None:
    """A segment value (team, feature, user group) as shown: as it is, or, when it holds personal
    data, a stable pseudonym such as ``[phone 3f2a9c]`` (two such values stay apart). The picker,
    the address bar and every message that names a segment show this, never the stored value."""
    return privacy.mask_id(value)


def segment_options(con: Connection, pilot_id: int, limit: int = 200) -> dict[str, list[str]]:
    """The values each segment takes in the pilot's usage (from the rollup, not the raw events),
    e.g. {"team": ["Finance", ...], "feature": [...]}; segments with no values are left out.

    The values as stored, to filter by (``Filters.segment``); never to show: see
    :func:`segment_choices` for the labels a picker offers."""
    out: dict[str, list[str]] = {}
    for name in SEGMENTS:
        rows = con.execute(f"""SELECT DISTINCT {name} FROM usage_by_segment
            WHERE pilot_id = ? AND nullif(trim({name}), '') IS NOT NULL ORDER BY 1 LIMIT ?""",
                           [pilot_id, limit]).fetchall()
        if rows:
            out[name] = [r[0] for r in rows]
    return out


def frame(con: Connection, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    """Run an aggregate query and return its (small) result as a DataFrame."""
    with warnings.catch_warnings():
        # duckdb 2.0's .df() calls DataFrame.drop(inplace=True) on TIMESTAMPTZ columns (pandas 3.1 warns)
        warnings.filterwarnings("ignore", message="The inplace keyword")
        return con.execute(sql, params or []).df()


def table_columns(con: Connection, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}


def segment_choices(con: Connection, pilot_id: int, limit: int = 200) -> dict[str, dict[str, str]]:
    """What a segment picker offers: per segment, ``{shown: stored}`` in the stored values' order,
    e.g. {"team": {"Finance": "Finance", "[phone 3f2a9c]": "Call 555-123-4567"}}.

    Show the keys (in the picker, and in the address bar: a link never carries personal data);
    filter by the values (``Filters(segment={name: stored})``). :func:`resolve_segment` maps a
    shown value from a link back."""
    return {name: {shown_value(v): v for v in values} for name, values in segment_options(con, pilot_id, limit).items()}


def resolve_segment(choices: dict[str, dict[str, str]], name: str, shown: str) -> str | None:
    """The stored value behind a shown segment value (e.g. from the address bar), or None when the
    pilot's usage has no such value. A stored value that is shown as it is resolves to itself."""
    return choices.get(name, {}).get(shown)
