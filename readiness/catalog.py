"""The pilot catalog's records: the Pilot, looked up by name, and the version of its data.

Reads only, no access checks: the modules that decide who may see a pilot (security) and the
workflow that creates and edits pilots (:mod:`readiness.pilots`) both build on it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, time

from readiness.errors import ReadinessError
from readiness.store import Connection

PROFILE_FIELDS = (
    "capability", "sponsor", "owner", "start_date", "end_date", "risk_tier", "time_zone",
    "work_days", "work_start", "work_end", "validated_by", "validated_on", "validation_method",
    "validation_result",
)


RISK_TIERS = ("low", "medium", "high")


class PilotNotFound(ReadinessError, LookupError):
    """No pilot of that name; the message lists the known ones."""


@dataclass(frozen=True)
class Pilot:
    pilot_id: int
    name: str
    capability: str | None
    sponsor: str | None
    owner: str | None
    start_date: date | None
    end_date: date | None
    risk_tier: str
    time_zone: str
    work_days: str
    work_start: time
    work_end: time
    validated_by: str | None
    validated_on: date | None
    validation_method: str | None
    validation_result: str | None


_COLUMNS = ", ".join(f.name for f in fields(Pilot))


def pilot_names(con: Connection) -> list[str]:
    """Return the names of all pilots, sorted."""
    return [r[0] for r in con.execute("SELECT name FROM pilots ORDER BY name").fetchall()]


def get_pilot(con: Connection, name: str) -> Pilot:
    """Return the pilot called ``name``; raise PilotNotFound naming the known pilots."""
    row = con.execute(f"SELECT {_COLUMNS} FROM pilots WHERE name = ?", [name]).fetchone()
    if row is None:
        known = pilot_names(con)
        hint = f"Known pilots: {', '.join(known)}." if known else "There are no pilots yet."
        raise PilotNotFound(f"No pilot named {name!r}. {hint} Use --create to make a new one.")
    return Pilot(*row)


def data_version(con: Connection, pilot_id: int | None = None) -> str:
    """A token that changes whenever a pilot's data changes (for cache keys)."""
    row = con.execute(
        "SELECT count(*), coalesce(max(batch_id), 0), coalesce(sum(rows_loaded), 0) FROM ingest_batches "
        "WHERE ? IS NULL OR pilot_id = ?",
        [pilot_id, pilot_id],
    ).fetchone()
    # Review edits of the pilot (notes, risks, conditions, decisions, profile) are audited on objects
    # 'pilot:<id>[/...]'. Logins, sessions, reveals and exports change nothing a page shows: counting
    # them would empty every cache of every pilot at each login.
    audit_seq = con.execute(
        "SELECT coalesce(max(seq), 0) FROM audit_log WHERE action NOT IN ('reveal', 'export') AND "
        "CASE WHEN ? IS NULL THEN object LIKE 'pilot:%' ELSE object = ? OR starts_with(object, ?) END",
        [pilot_id, f"pilot:{pilot_id}", f"pilot:{pilot_id}/"]).fetchone()[0]
    return f"{row[0]}-{row[1]}-{row[2]}-{audit_seq}"


def logs_version(version: str) -> str:
    """The part of a :func:`data_version` token that moves only with the pilot's batches (loads and
    deletions), not with edits of its review or profile."""
    return version.rsplit("-", 1)[0]


# Every pilot's data_version token in one query, built exactly as data_version builds one pilot's: the
# same batch counts and the same audit records (objects 'pilot:<id>' and 'pilot:<id>/...').
DATA_VERSIONS_SQL = """
    SELECT p.pilot_id,
           concat_ws('-', coalesce(b.n, 0), coalesce(b.last_batch, 0), coalesce(b.loaded, 0), coalesce(a.seq, 0))
             AS data_version
    FROM pilots p
    LEFT JOIN (SELECT pilot_id, count(*) AS n, max(batch_id) AS last_batch, sum(rows_loaded) AS loaded
               FROM ingest_batches GROUP BY pilot_id) b USING (pilot_id)
    LEFT JOIN (SELECT CAST(regexp_extract(object, '^pilot:([0-9]+)(/|$)', 1) AS INTEGER) AS pilot_id, max(seq) AS seq
               FROM audit_log WHERE action NOT IN ('reveal', 'export') AND regexp_matches(object, '^pilot:[0-9]+(/|$)')
               GROUP BY 1) a USING (pilot_id)"""


def data_versions(con: Connection) -> dict[int, str]:
    """Every pilot's :func:`data_version`, by pilot id, from one query."""
    return dict(con.execute(DATA_VERSIONS_SQL).fetchall())


def pilots_by_name(con: Connection, names: list[str]) -> list[Pilot]:
    """The pilots of these names, in that order (unknown names left out), from one query."""
    rows = {r[1]: Pilot(*r) for r in con.execute(f"SELECT {_COLUMNS} FROM pilots WHERE list_contains(?, name)",
                                                  [list(names)]).fetchall()}
    return [rows[n] for n in names if n in rows]
