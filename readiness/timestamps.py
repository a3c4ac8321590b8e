"""Reading log times: recognise how a column writes its times and build the SQL that parses them.

Every parsed time is a TIMESTAMPTZ instant (stored as UTC). Values without a zone are read in
the pilot's time zone: ingest sets the session's TimeZone to it, so DuckDB's casts of zone-less
text and of plain TIMESTAMPs land in that zone. The summary reports how many rows that concerned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EPOCH_S = re.compile(r"^\s*\d{9,11}(\.\d+)?\s*$")
_EPOCH_MS = re.compile(r"^\s*\d{12,14}(\.\d+)?\s*$")
_DATE_LIKE = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}")
_COMMA_MILLIS = re.compile(r"\d{2}:\d{2}:\d{2},\d{1,9}")
YEARLESS_FORMAT = "%b %d %H:%M:%S"  # syslog: "Jun 14 15:16:01"


@dataclass(frozen=True)
class TimeMode:
    kind: str              # iso | iso_comma | epoch_s | epoch_ms | format | native
    time_format: str | None = None
    year: int | None = None
    zoned: bool | None = None   # True: values carry their zone; False: read in the pilot's zone; None: mixed/by row

    def describe(self, time_zone: str) -> str:
        where = f"values without a zone are read as {time_zone}"
        return {
            "iso": f"ISO 8601 text; {where}",
            "iso_comma": f"ISO 8601 text with a comma before the fraction of a second; {where}",
            "epoch_s": "Unix epoch seconds (UTC)",
            "epoch_ms": "Unix epoch milliseconds (UTC)",
            "format": f"--time-format {self.time_format!r}"
                      + (f" with --year {self.year}" if self.year else "")
                      + ("" if self.zoned else f"; read as {time_zone}"),
            "native": "typed timestamps in the file" + ("" if self.zoned else f"; read as {time_zone}"),
        }[self.kind]


def detect_mode(samples: list[str], source_type: str = "VARCHAR",
                time_format: str | None = None, year: int | None = None) -> TimeMode:
    """Choose how to read a time column from sample values (text) and its source type."""
    if time_format or year:
        fmt = time_format or YEARLESS_FORMAT
        zoned = "%z" in fmt or "%Z" in fmt
        return TimeMode("format", fmt, year, zoned)
    t = source_type.upper()
    if "TIME ZONE" in t:
        return TimeMode("native", zoned=True)
    if t.startswith(("TIMESTAMP", "DATE")):
        return TimeMode("native", zoned=False)
    values = [s for s in samples if s is not None and str(s).strip()]
    # epochs when most values are and no value looks like a date (the others are garbage, rejected by row)
    if values and not any(_DATE_LIKE.match(str(v)) for v in values):
        for pattern, kind in ((_EPOCH_S, "epoch_s"), (_EPOCH_MS, "epoch_ms")):
            if sum(bool(pattern.match(str(v))) for v in values) * 2 > len(values):
                return TimeMode(kind, zoned=True)
    # zoned=None: whether a row carried its zone is counted row by row (a sample could miss one)
    zoned = None
    if values and sum(bool(_COMMA_MILLIS.search(str(v))) for v in values) > len(values) / 2:
        return TimeMode("iso_comma", zoned=zoned)
    return TimeMode("iso", zoned=zoned)


def parse_sql(raw: str, mode: TimeMode) -> str:
    """SQL turning the expression ``raw`` into a TIMESTAMPTZ, NULL where it cannot be read."""
    if mode.kind == "native":
        return f"CAST({raw} AS TIMESTAMPTZ)"
    if mode.kind == "epoch_s":
        return f"to_timestamp(try_cast({raw} AS DOUBLE))"
    if mode.kind == "epoch_ms":
        return f"to_timestamp(try_cast({raw} AS DOUBLE) / 1000.0)"
    if mode.kind == "iso_comma":
        return rf"try_cast(regexp_replace({raw}, '(\d{{2}}:\d{{2}}:\d{{2}}),(\d)', '\1.\2') AS TIMESTAMPTZ)"
    if mode.kind == "format":
        fmt = mode.time_format.replace("'", "''")
        value = f"trim({raw})"
        if mode.year:
            value, fmt = f"'{int(mode.year)} ' || {value}", f"%Y {fmt}"
        return f"CAST(try_strptime({value}, '{fmt}') AS TIMESTAMPTZ)"
    # numbers in an ISO column are not epochs (they do not parse); a comma before the fraction
    # of a second is tried only where the plain cast failed
    return (rf"coalesce(try_cast({raw} AS TIMESTAMPTZ), "
            rf"try_cast(regexp_replace({raw}, '(\d{{2}}:\d{{2}}:\d{{2}}),(\d)', '\1.\2') AS TIMESTAMPTZ))")


def zoneless_sql(raw: str, mode: TimeMode) -> str:
    """SQL that is true for a row whose time text carried no zone (cheap string tests, no regex)."""
    if mode.zoned is True:
        return "false"
    if mode.zoned is False:
        return "true"
# a zone is at the end: Z, UTC/GMT, or an offset (+02:00, -0500) within the last 6 characters;
    # a bare date (10 characters) has '-' there but no zone. Cheap string tests, no regex.
    return (f"(length({raw}) <= 10 OR NOT (contains(right({raw}, 6), '+') OR contains(right({raw}, 6), '-') "
            f"OR right({raw}, 1) IN ('Z', 'z') OR right({raw}, 3) IN ('UTC', 'GMT')))")


def hint(mode: TimeMode) -> str:
    """What to tell a user whose times could not be read."""
    if mode.kind == "format":
        return f"check --time-format {mode.time_format!r}"
    if mode.kind in ("epoch_s", "epoch_ms"):
        unit = "seconds" if mode.kind == "epoch_s" else "milliseconds"
        return f"expected Unix epoch {unit} like the other rows; give --time-format if the column mixes formats"
    return ("expected ISO 8601 (2026-07-06T09:30:00+01:00), 'YYYY-MM-DD HH:MM:SS' or epoch "
            "seconds; give --time-format for anything else")
