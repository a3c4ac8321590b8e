"""Real logs: the six Loghub-2k structured CSVs ingest whole as exceptions.

Each file has 2,000 rows numbered by LineId, the message in Content, the time split over date/time
columns in its own notation, and EventId/EventTemplate (parser output that is not a log column).
Data: ../shared/data/loghub-2k relative to the project root (skipped when absent).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import ingest_one, query

from readiness.ingest import load as ingest

LOGHUB = Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub-2k"

# system -> (IngestOptions, UTC time of LineId 1, UTC time of LineId 2000), read off the files by hand
CASES = {
    "HDFS": (dict(overrides={"timestamp": "Date+Time"}, time_format="%y%m%d %H%M%S"),  # 081109 + 203615
             "2008-11-09 20:36:15.000", "2008-11-11 10:20:17.000"),
    "Hadoop": (dict(overrides={"timestamp": "Date+Time"}),                              # 2015-10-18 + 18:01:47,978
               "2015-10-18 18:01:47.978", "2015-10-18 18:10:55.202"),
    "Zookeeper": (dict(overrides={"timestamp": "Date+Time"}),                           # 2015-07-29 + 17:41:44,747
                  "2015-07-29 17:41:44.747", "2015-08-10 18:12:34.004"),
    "Spark": (dict(overrides={"timestamp": "Date+Time"}, time_format="%y/%m/%d %H:%M:%S"),  # 17/06/09 + 20:10:40
              "2017-06-09 20:10:40.000", "2017-06-09 20:11:11.000"),
    "OpenStack": (dict(overrides={"timestamp": "Date+Time"}),                           # 2017-05-16 + 00:00:00.008
                  "2017-05-16 00:00:00.008", "2017-05-16 00:14:47.687"),
    "Linux": (dict(overrides={"timestamp": "Month+Date+Time"}, year=2005),              # Jun + 14 + 15:16:01
              "2005-06-14 15:16:01.000", "2005-07-27 14:42:00.000"),
}

pytestmark = pytest.mark.skipif(not LOGHUB.is_dir(), reason=f"Loghub-2k data not found at {LOGHUB}")


def _csv(system: str) -> Path:
    return LOGHUB / system / f"{system}_2k.log_structured.csv"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, ingest.IngestResult]]:
    """Each system ingested once into its own store (the assertions below share the load)."""
    out = {}
    for system, (opts, _, _) in CASES.items():
        if not _csv(system).exists():
            continue
        db = tmp_path_factory.mktemp(system.lower()) / "store.duckdb"
        # every line, whatever its level: these tests check that the whole file reads right
        out[system] = (db, ingest_one(db, _csv(system), kind="exceptions", pilot=system.lower(), all_levels=True,
                                      **opts))
    return out


@pytest.mark.parametrize("system", sorted(CASES))
def test_loghub_file_loads_all_2000_rows(loaded, system: str) -> None:
    # every row loads, message from Content, time from the date/time columns
    if system not in loaded:
        pytest.skip(f"{_csv(system)} not found")
    db, result = loaded[system]
    assert result.error is None, result.error
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_duplicate) == (2000, 2000, 0, 0)
    assert result.mapping["message"] == "Content"
    assert result.mapping["timestamp"] == CASES[system][0]["overrides"]["timestamp"]
    assert query(db, "SELECT count(*) FROM exceptions") == [(2000,)]
    assert result.zoneless_rows == 2000  # no Loghub time carries a zone: all read in the pilot's zone (UTC)


@pytest.mark.parametrize("system", sorted(CASES))
def test_loghub_rows_keep_line_id_and_content(loaded, system: str) -> None:
    # src_row equals LineId for every row; LineId itself is kept in attributes
    if system not in loaded:
        pytest.skip(f"{_csv(system)} not found")
    db, _ = loaded[system]
    assert query(db, "SELECT count(*) FROM exceptions WHERE src_row = CAST(attributes->>'LineId' AS BIGINT)") == [(2000,)]
    assert query(db, "SELECT min(src_row), max(src_row), count(DISTINCT src_row) FROM exceptions") == [(1, 2000, 2000)]
    # the message is the Content column, verbatim (compare with the file read independently)
    import duckdb
    con = duckdb.connect()
    try:
        expected = con.execute("SELECT CAST(LineId AS BIGINT), Content FROM read_csv(?, all_varchar = true) "
                               "WHERE CAST(LineId AS BIGINT) IN (1, 1000, 2000) ORDER BY 1",
                               [str(_csv(system))]).fetchall()
    finally:
        con.close()
    got = query(db, "SELECT src_row, message FROM exceptions WHERE src_row IN (1, 1000, 2000) ORDER BY 1")
    assert got == expected


@pytest.mark.parametrize("system", sorted(CASES))
def test_loghub_times_are_read_from_date_and_time_columns(loaded, system: str) -> None:
    if system not in loaded:
        pytest.skip(f"{_csv(system)} not found")
    db, _ = loaded[system]
    _, first, last = CASES[system]
    fmt = "strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%g')"
    rows = query(db, f"SELECT src_row, {fmt} FROM exceptions WHERE src_row IN (1, 2000) ORDER BY 1")
    assert rows == [(1, first), (2000, last)]


@pytest.mark.parametrize("system", sorted(CASES))
def test_loghub_event_id_and_template_stay_in_attributes(loaded, system: str) -> None:
    # EventId / EventTemplate are parser output, not mapped to any canonical column
    if system not in loaded:
        pytest.skip(f"{_csv(system)} not found")
    db, result = loaded[system]
    mapped_sources = {s for spec in result.mapping.values() for s in spec.split("+")}
    assert not {"EventId", "EventTemplate", "LineId"} & mapped_sources
    assert query(db, "SELECT count(*) FROM exceptions WHERE (attributes->>'EventId') IS NOT NULL "
                     "AND (attributes->>'EventTemplate') IS NOT NULL") == [(2000,)]
    attrs = json.loads(query(db, "SELECT attributes FROM exceptions WHERE src_row = 1")[0][0])
    assert attrs["EventId"].startswith("E")
    for col in ("error_type", "stack_trace", "user_id", "session_id"):
        assert query(db, f"SELECT count(*) FROM exceptions WHERE {col} LIKE 'E%' AND {col} = (attributes->>'EventId')") == [(0,)]


@pytest.mark.parametrize("system", sorted(CASES))
def test_loghub_information_lines_are_left_out_by_default(tmp_path: Path, system: str) -> None:
    # By default an exception log keeps its warnings and errors: HDFS's 1,920 INFO lines of 2,000 are
    # counted, not loaded. Linux's Level column holds a host name ('combo'): no line is information.
    if not _csv(system).exists():
        pytest.skip(f"{_csv(system)} not found")
    import duckdb
    con = duckdb.connect()
    try:
        info, kept = con.execute("SELECT count(*) FILTER (WHERE Level IN ('INFO', 'DEBUG')), "
                                 "list(DISTINCT LineId::BIGINT ORDER BY LineId::BIGINT) FILTER (WHERE Level NOT IN ('INFO', 'DEBUG')) "
                                 "FROM read_csv(?, all_varchar = true)", [str(_csv(system))]).fetchone()
    finally:
        con.close()
    db = tmp_path / "store.duckdb"
    r = ingest_one(db, _csv(system), kind="exceptions", pilot=system.lower(), **CASES[system][0])
    assert (r.rows_read, r.rows_loaded, r.rows_skipped, r.rows_rejected) == (2000, 2000 - info, info, 0)
    assert info == {"HDFS": 1920, "Hadoop": 1040, "OpenStack": 1969, "Spark": 2000, "Zookeeper": 669, "Linux": 0}[system]
    assert [row for (row,) in query(db, "SELECT src_row FROM exceptions ORDER BY src_row")] == (kept or [])


def test_loghub_linux_needs_only_its_year(tmp_path: Path) -> None:
    # its Month, Date (day) and Time columns are proposed joined; the year is the one thing to give
    if not _csv("Linux").exists():
        pytest.skip(f"{_csv('Linux')} not found")
    r = ingest_one(tmp_path / "store.duckdb", _csv("Linux"), kind="exceptions", pilot="linux", year=2005)
    assert (r.mapping["timestamp"], r.rows_loaded, r.rows_rejected) == ("Month+Date+Time", 2000, 0)
