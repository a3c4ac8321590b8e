"""What each column of a file holds, from a sample of its values: the content half of the mapping.

One DuckDB query over the file's first rows (``SAMPLE_ROWS``) unpivots every column to (column,
value) and aggregates per column: how many values read as numbers, whole numbers, flags, times;
their range, length and variety. :func:`readiness.ingest.columns.propose_mapping` decides with it.
"""

from __future__ import annotations

from readiness import store
from readiness.ingest import formats, linelogs, timestamps
from readiness.ingest.columns import GOOD_BAD, RATING_LABELS, UNANSWERED, ColumnProfile
from readiness.ingest.formats import SourceFile
from readiness.ingest.loadplan import lit
from readiness.store import DatabaseError

SAMPLE_ROWS = 1000
# Unix epoch seconds (and milli-, micro-, nanoseconds) from 2000 to 2040: numbers outside are ids or counts.
EPOCH_S = (946_684_800, 2_208_988_800)
EPOCH_UNITS = (1, 1000, 1_000_000, 1_000_000_000)
FLAGS = ("0", "1", "true", "false", "yes", "no", "y", "n", "t", "f")
# Layouts a time column is recognised by (besides ISO 8601, which the cast reads), as DuckDB's
# strptime writes them; two-digit numeric years are left out (which part is the year?).
TIME_LAYOUTS = tuple(f for f in timestamps.COMMON_FORMATS if "%y" not in f) + timestamps.MONTH_NAME_SHORT_YEAR


def _values_sql(src: SourceFile) -> tuple[str, list[str]]:
    """SELECT of the first rows with one text column per source column (named c1, c2, ...)."""
    names = [src.staged(c) for c in src.columns]
    if src.format == "csv":
        # the head's last row, cut inside a quoted value, is skipped like any unreadable row
        reader = formats.csv_reader_sql(src, lenient=True, path=formats.head_sample(src))
        cols = ", ".join(f"CAST({n} AS VARCHAR) AS {n}" for n in names)
        return f"SELECT {cols} FROM {reader} LIMIT {SAMPLE_ROWS}", names
    if src.format == "parquet":
        cols = ", ".join(f"CAST({n} AS VARCHAR) AS {n}" for n in names)
        return f"SELECT {cols} FROM {formats.parquet_reader_sql(src)} LIMIT {SAMPLE_ROWS}", names
    # JSON and line logs: each row as its object (a line log's fields as a struct), the rows that are none left out
    if src.line_format:
        rows = formats.records_reader_sql(src, limit_lines=20 * SAMPLE_ROWS)
        cols = ", ".join(f"_j[{lit(c)}] AS {src.staged(c)}" for c in src.columns)
    else:
        rows = formats.rows_reader_sql(src)
        cols = ", ".join(f"{src.json_value_sql(c)} AS {src.staged(c)}" for c in src.columns)
    return (f"SELECT {cols} FROM {formats.objects_sql(src, rows)} WHERE {formats.parsed_sql(src)} "
            f"LIMIT {SAMPLE_ROWS}"), names


# a log level's names (Datadog's status adds 'ok')
LEVEL_NAMES = (*linelogs.LEVEL_WORDS, *linelogs.LEVEL_ABBREVIATIONS, "OK")


def profile_columns(src: SourceFile) -> dict[str, ColumnProfile]:
    """A profile of every column of ``src`` from its first rows; {} when the sample cannot be read
    (the load then says why, with the usual words)."""
    if not src.columns:
        return {}
    select, names = _values_sql(src)
    layouts = "[" + ", ".join(lit(f) for f in TIME_LAYOUTS) + "]"
    num = "try_cast(replace(v, ',', '.') AS DOUBLE)"
    query = f"""
        WITH s AS ({select}),
        u AS (SELECT col, trim(v) AS v FROM (UNPIVOT s ON {', '.join(names)} INTO NAME col VALUE v) WHERE trim(v) <> ''),
        t AS (SELECT col, v, CASE WHEN isfinite({num}) THEN {num} END AS n FROM u)
        SELECT col, count(*), count(DISTINCT v), count(n), count(*) FILTER (WHERE n * 2 = round(n * 2)),
               min(n), max(n), count(*) FILTER (WHERE n > 5),
               count(*) FILTER (WHERE lower(v) IN ({', '.join(lit(f) for f in FLAGS)})),
               count(*) FILTER (WHERE n IS NULL AND (year(try_cast(v AS TIMESTAMPTZ)) >= 1900  -- not '1.4.2'
                                                     OR year(try_strptime(v, {layouts})) >= 1900
                                                     OR year(try_strptime(regexp_replace(v, {lit(timestamps.GMT_OFFSET)}, ''),
                                                                          {layouts})) >= 1900)),
               count(*) FILTER (WHERE {' OR '.join(f"n BETWEEN {EPOCH_S[0] * k} AND {EPOCH_S[1] * k}" for k in EPOCH_UNITS)}),
               avg(length(v)), avg(length(v) - length(replace(v, ' ', '')) + 1),
               count(*) FILTER (WHERE v[1] IN ('{{', '[') AND json_valid(v)), min(v),
               count(*) FILTER (WHERE lower(v) IN ({', '.join(lit(k) for k in RATING_LABELS)})),
               count(*) FILTER (WHERE lower(v) IN ({', '.join(lit(k) for k in GOOD_BAD)})),
               count(*) FILTER (WHERE lower(v) IN ({', '.join(lit(k) for k in UNANSWERED)})),
               count(*) FILTER (WHERE lower(v) IN ({', '.join(lit(k) for k in RATING_LABELS if k not in GOOD_BAD)})),
               count(*) FILTER (WHERE lower(v) = 'bad'),
               count(*) FILTER (WHERE contains(v, chr(10)) AND regexp_matches(v, '\n[ \t]')),
               count(*) FILTER (WHERE upper(v) IN ({', '.join(lit(w) for w in LEVEL_NAMES)}))
        FROM t GROUP BY col"""
    con = store.scratch()
    try:
        rows = con.execute(query).fetchall()
    except DatabaseError:
        return {}
    finally:
        con.close()
    by_staged = {src.staged(c): c for c in src.columns}
    out = {c: ColumnProfile(0, 0, 0, 0, None, None, 0, 0, 0, 0, 0.0, 0.0, late=c in src.late) for c in src.columns}
    for col, *fig, example, labels, good_bad, unanswered, other_labels, bad, traces, levels in rows:
        values, distinct, numeric, integers, low, high, over_five, flags, times, epochs, length, words, nested = fig
        out[by_staged[col]] = ColumnProfile(values, distinct, numeric, integers, low, high, over_five, flags, times,
                                            epochs, float(length), float(words), nested, example, labels, good_bad,
                                            bad, unanswered, other_labels, traces, levels,
                                            by_staged[col] in src.late)
    return out
