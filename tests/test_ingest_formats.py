"""Ingest: every accepted file format loads with the right counts; columns map; preview loads nothing.

Covered: CSV with any delimiter, quoted multi-line fields, JSON Lines, JSON array,
Parquet, gzip of each (detected by content), synonyms, --map overrides, preview.
"""
from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import ingest_one, make_pilot, query, snapshot, utc, write

from readiness.ingest import load as ingest
from readiness.ingest.formats import UnusableFile

USAGE_ROWS = [  # (time, user, event)
    ("2026-07-06T09:00:00Z", "ann", "open"),
    ("2026-07-06T09:05:00Z", "bob", "search"),
    ("2026-07-06T09:10:00Z", "cy", "close"),
]
EXPECTED_UTC = ["2026-07-06 09:00:00", "2026-07-06 09:05:00", "2026-07-06 09:10:00"]


def _csv(delim: str) -> str:
    lines = [delim.join(("timestamp", "user_id", "event", "note"))]
    lines += [delim.join((t, u, e, f"note {i}")) for i, (t, u, e) in enumerate(USAGE_ROWS, 1)]
    return "\n".join(lines) + "\n"


def _jsonl() -> str:
    return "".join(json.dumps({"timestamp": t, "user_id": u, "event": e, "note": f"note {i}"}) + "\n"
                   for i, (t, u, e) in enumerate(USAGE_ROWS, 1))


def _json_array() -> str:
    return json.dumps([{"timestamp": t, "user_id": u, "event": e, "note": f"note {i}"}
                       for i, (t, u, e) in enumerate(USAGE_ROWS, 1)], indent=2)


def _parquet(path: Path) -> Path:
    table = pa.table({
        "timestamp": pa.array([datetime.fromisoformat(t) for t, _, _ in USAGE_ROWS], pa.timestamp("us", tz="UTC")),
        "user_id": [u for _, u, _ in USAGE_ROWS],
        "event": [e for _, _, e in USAGE_ROWS],
        "note": [f"note {i}" for i in range(1, len(USAGE_ROWS) + 1)],
    })
    pq.write_table(table, path)
    return path


def _gzip(src: Path, dst: Path) -> Path:
    dst.write_bytes(gzip.compress(src.read_bytes()))
    return dst


def _assert_loaded_usage(db: Path, result: ingest.IngestResult) -> None:
    """The three USAGE_ROWS landed whole: counts, instants, users, src_row 1..3, note in attributes."""
    assert result.error is None, result.error
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_duplicate) == (3, 3, 0, 0)
    assert utc(db, "usage_events") == EXPECTED_UTC
    rows = query(db, "SELECT src_row, user_id, event, attributes->>'note' FROM usage_events ORDER BY src_row")
    assert rows == [(1, "ann", "open", "note 1"), (2, "bob", "search", "note 2"), (3, "cy", "close", "note 3")]


# --- CSV dialects -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("delim, shown", [(",", "comma"), (";", "semicolon"), ("\t", "tab")])
def test_csv_any_delimiter_loads_every_row(db: Path, tmp_path: Path, delim: str, shown: str) -> None:
    # CSV with `,` `;` and tab delimiters
    path = write(tmp_path / "usage.csv", _csv(delim))
    result = ingest_one(db, path)
    assert result.format.startswith(f"CSV ({shown}-delimited")
    _assert_loaded_usage(db, result)


def test_csv_quoted_multiline_field_is_one_row(db: Path, tmp_path: Path) -> None:
    # a record spanning several lines counts as one row; later rows keep their record number
    text = ('timestamp,user_id,event,comment\n'
            '2026-07-06T09:00:00Z,ann,open,"first line\nsecond line\nthird, with a comma"\n'
            '2026-07-06T09:05:00Z,bob,search,plain\n'
            '2026-07-06T09:10:00Z,cy,close,"two\nlines"\n'
            '2026-07-06T09:15:00Z,dee,open,last\n')
    result = ingest_one(db, write(tmp_path / "multi.csv", text))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 4, 0)
    rows = query(db, "SELECT src_row, user_id, attributes->>'comment' FROM usage_events ORDER BY src_row")
    assert rows == [(1, "ann", "first line\nsecond line\nthird, with a comma"), (2, "bob", "plain"),
                    (3, "cy", "two\nlines"), (4, "dee", "last")]


def test_csv_bad_row_after_multiline_record_reports_record_and_physical_line(db: Path, tmp_path: Path) -> None:
    # a reject's row is the record number; its line is where it starts in the file (line 1 = header)
    text = ('timestamp,user_id,event,comment\n'
            '2026-07-06T09:00:00Z,ann,open,"a\nb\nc"\n'       # row 1, lines 2-4
            '2026-07-06T09:05:00Z,bob,search,x,EXTRA\n'       # row 2, line 5: too many columns
            '2026-07-06T09:10:00Z,cy,close,ok\n')             # row 3, line 6
    make_pilot(db)
    result = ingest_one(db, write(tmp_path / "multi_bad.csv", text))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    assert query(db, "SELECT src_row, user_id FROM usage_events ORDER BY src_row") == [(1, "ann"), (3, "cy")]
    rejects = query(db, "SELECT src_row, line_no, reason FROM ingest_rejects")
    assert len(rejects) == 1
    row, line, reason = rejects[0]
    assert (row, line) == (2, 5)
    assert "too many columns" in reason


# --- JSON and Parquet -------------------------------------------------------------------------------------

def test_json_lines(db: Path, tmp_path: Path) -> None:
    # JSONL
    result = ingest_one(db, write(tmp_path / "usage.jsonl", _jsonl()))
    assert result.format == "JSON Lines"
    _assert_loaded_usage(db, result)


def test_json_array(db: Path, tmp_path: Path) -> None:
    # a JSON array of objects
    result = ingest_one(db, write(tmp_path / "usage.json", _json_array()))
    assert result.format == "JSON array"
    _assert_loaded_usage(db, result)


def test_parquet_with_typed_timestamps(db: Path, tmp_path: Path) -> None:
    # Parquet (TIMESTAMP WITH TIME ZONE column, read natively)
    result = ingest_one(db, _parquet(tmp_path / "usage.parquet"))
    assert result.format == "Parquet"
    _assert_loaded_usage(db, result)
    assert result.zoneless_rows == 0


def test_parquet_naive_timestamps_are_read_in_pilot_zone(db: Path, tmp_path: Path) -> None:
    # A Parquet TIMESTAMP without zone is wall-clock time in the pilot's zone (Paris: UTC+2 in July).
    path = tmp_path / "naive.parquet"
    pq.write_table(pa.table({"ts": pa.array([datetime(2026, 7, 6, 10, 0)], pa.timestamp("us")),
                             "user_id": ["ann"], "event": ["open"]}), path)
    make_pilot(db, time_zone="Europe/Paris")
    result = ingest_one(db, path)
    assert result.rows_loaded == 1
    assert result.zoneless_rows == 1
    assert utc(db, "usage_events") == ["2026-07-06 08:00:00"]


def test_parquet_written_by_duckdb_copy(db: Path, tmp_path: Path) -> None:
    # Parquet from DuckDB COPY, timestamps as text: rows keep their order and src_row
    import duckdb
    path = tmp_path / "copy.parquet"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT '2026-07-06T09:' || lpad(CAST(i AS VARCHAR), 2, '0') || ':00Z' AS time,
                            'u' || i AS user, 'evt' AS event FROM range(50) t(i))
                    TO '{path}' (FORMAT parquet)""")
    con.close()
    result = ingest_one(db, path)
    assert (result.rows_read, result.rows_loaded) == (50, 50)
    rows = query(db, "SELECT src_row, user_id, strftime(ts AT TIME ZONE 'UTC', '%M') FROM usage_events ORDER BY src_row")
    assert rows == [(i + 1, f"u{i}", f"{i:02d}") for i in range(50)]


# --- gzip and detection by content -------------------------------------------------------------------------

@pytest.mark.parametrize("inner", ["csv", "jsonl", "parquet"])
def test_gzip_of_each_format(db: Path, tmp_path: Path, inner: str) -> None:
    # gzip of CSV, of JSONL and of Parquet
    if inner == "parquet":
        src = _parquet(tmp_path / "usage.parquet")
    else:
        src = write(tmp_path / f"usage.{inner}", _csv(",") if inner == "csv" else _jsonl())
    result = ingest_one(db, _gzip(src, tmp_path / f"usage.{inner}.gz"))
    assert result.format.endswith("gzip-compressed")
    assert result.format.startswith({"csv": "CSV", "jsonl": "JSON Lines", "parquet": "Parquet"}[inner])
    _assert_loaded_usage(db, result)


@pytest.mark.parametrize("inner", ["csv", "parquet"])
def test_gzip_detected_by_content_not_name(db: Path, tmp_path: Path, inner: str) -> None:
    # a gzip file named .dat is still recognised
    src = _parquet(tmp_path / "u.parquet") if inner == "parquet" else write(tmp_path / "u.csv", _csv(";"))
    result = ingest_one(db, _gzip(src, tmp_path / "export.dat"))
    assert "gzip" in result.format
    _assert_loaded_usage(db, result)


@pytest.mark.parametrize("content, name, fmt", [
    (_jsonl(), "x.csv", "JSON Lines"),
    (_csv(","), "x.json", "CSV"),
    (_json_array(), "x.txt", "JSON array"),
])
def test_format_detected_from_content_not_name(db: Path, tmp_path: Path, content: str, name: str, fmt: str) -> None:
    # format comes from the bytes, whatever the extension says
    result = ingest_one(db, write(tmp_path / name, content))
    assert result.format.startswith(fmt)
    _assert_loaded_usage(db, result)


def test_parquet_named_csv_is_read_as_parquet(db: Path, tmp_path: Path) -> None:
    path = _parquet(tmp_path / "p.parquet").rename(tmp_path / "looks_like.csv")
    result = ingest_one(db, path)
    assert result.format == "Parquet"
    _assert_loaded_usage(db, result)


# --- column mapping ----------------------------------------------------------------------------------------

def test_synonyms_map_and_unmapped_columns_land_in_attributes(db: Path, tmp_path: Path) -> None:
    # time/uid/action map automatically; client_version and host are kept in attributes
    text = ("time,uid,action,Duration,client_version,host\n"
            "2026-07-06T09:00:00Z,ann,open,1500,1.4.2,web-01\n")
    result = ingest_one(db, write(tmp_path / "syn.csv", text))
    assert result.rows_loaded == 1
    assert result.mapping == {"timestamp": "time", "user_id": "uid", "event": "action", "duration_ms": "Duration"}
    row = query(db, "SELECT user_id, event, duration_ms, attributes FROM usage_events")[0]
    assert row[:3] == ("ann", "open", 1500.0)
    assert json.loads(row[3]) == {"client_version": "1.4.2", "host": "web-01"}


def test_feedback_synonyms(db: Path, tmp_path: Path) -> None:
    text = ("created_at,user_email,stars,nps,comment,browser\n"
            "2026-07-06T09:00:00Z,ann@example.com,4,9,Works well,firefox\n")
    result = ingest_one(db, write(tmp_path / "fb.csv", text), kind="feedback")
    assert result.rows_loaded == 1
    row = query(db, "SELECT user_id, rating, score, comment, attributes->>'browser' FROM feedback")[0]
    assert row == ("ann@example.com", 4.0, 9.0, "Works well", "firefox")


def test_exception_synonyms_from_json_lines(db: Path, tmp_path: Path) -> None:
    text = json.dumps({"@timestamp": "2026-07-06T09:00:00Z", "uid": "ann", "error_message": "boom",
                       "severity": "ERROR", "extra": {"k": [1, 2]}}) + "\n"
    result = ingest_one(db, write(tmp_path / "exc.jsonl", text), kind="exceptions")
    assert result.rows_loaded == 1
    row = query(db, "SELECT user_id, message, level, attributes FROM exceptions")[0]
    assert row[:3] == ("ann", "boom", "ERROR")
    assert json.loads(row[3]) == {"extra": {"k": [1, 2]}}  # nested JSON kept as JSON, mapped keys removed


def test_map_override_for_oddly_named_columns(db: Path, tmp_path: Path) -> None:
    # --map maps columns no synonym knows
    text = "When_It_Happened,Who,What_Was_Done,zz\n2026-07-06T09:00:00Z,ann,open,1\n"
    path = write(tmp_path / "odd.csv", text)
    overrides = {"timestamp": "When_It_Happened", "user_id": "Who", "event": "What_Was_Done"}
    result = ingest_one(db, path, overrides=overrides)
    assert result.error is None
    assert result.rows_loaded == 1
    assert query(db, "SELECT user_id, event, attributes->>'zz' FROM usage_events") == [("ann", "open", "1")]


def test_map_override_wins_over_synonym(db: Path, tmp_path: Path) -> None:
    # the file has both 'user' (a synonym) and 'email'; --map user_id=email picks email, 'user' goes to attributes
    text = "ts,user,email,event\n2026-07-06T09:00:00Z,Ann,ann@example.com,open\n"
    ingest_one(db, write(tmp_path / "o.csv", text), overrides={"user_id": "email"})
    assert query(db, "SELECT user_id, attributes->>'user' FROM usage_events") == [("ann@example.com", "Ann")]


def test_map_override_naming_a_missing_column_is_unusable_and_lists_columns(db: Path, tmp_path: Path) -> None:
    # an override naming a column the file lacks: nothing loads, the error lists the columns found
    make_pilot(db)
    before = snapshot(db)
    path = write(tmp_path / "usage.csv", _csv(","))
    result = ingest_one(db, path, create=False, overrides={"timestamp": "created"})
    assert result.error is not None
    assert "'created'" in result.error
    assert "Columns found: timestamp, user_id, event, note" in result.error
    assert result.batch_id is None and result.rows_loaded == 0
    assert snapshot(db) == before
    with pytest.raises(UnusableFile, match="no column 'created'"):
        ingest.plan_file(path, "usage", ingest.IngestOptions(overrides={"timestamp": "created"}), tmp_path)


def test_missing_required_column_names_it_and_suggests_map(db: Path, tmp_path: Path) -> None:
    make_pilot(db)
    before = snapshot(db)
    result = ingest_one(db, write(tmp_path / "noevent.csv", "time,user\n2026-07-06T09:00:00Z,ann\n"), create=False)
    assert "Required column(s) not found: event" in result.error
    assert "Columns found: time, user" in result.error
    assert "--map" in result.error
    assert snapshot(db) == before


# --- preview -----------------------------------------------------------------------------------------------

PREVIEW_CSV = ("time,uid,action,client_version\n"
               "2026-07-06 10:00:00,ann,open,1.2\n"
               "2026-07-06T10:00:00Z,bob,,1.3\n"
               "not a time,cy,search,1.4\n")


def test_preview_describes_the_file(tmp_path: Path) -> None:
    # preview returns format, columns, mapping with reasons, first rows and problems
    pv = ingest.preview(write(tmp_path / "p.csv", PREVIEW_CSV), "usage", time_zone="Europe/Paris")
    assert pv.format.startswith("CSV (comma-delimited")
    assert pv.columns == ["time", "uid", "action", "client_version"]
    reasons = {c.canonical: (c.sources, c.reason) for c in pv.mapping.columns}
    assert reasons == {"timestamp": (("time",), "'time' is a synonym of timestamp"),
                       "user_id": (("uid",), "'uid' is a synonym of user_id"),
                       "event": (("action",), "'action' is a synonym of event")}
    assert pv.mapping.unmapped == ["client_version"]
    assert [r["uid"] for r in pv.rows] == ["ann", "bob", "cy"]  # the file's rows as found
    assert pv.rows[0]["time"] == "2026-07-06 10:00:00"
    # ... and as they would load: a zone-less time read in Paris, the bad rows flagged with their reason
    first = pv.parsed[0]
    assert first["row"] == 1 and first["problem"] is None
    assert first["timestamp"].astimezone(UTC) == datetime(2026, 7, 6, 8, 0, tzinfo=UTC)
    assert pv.parsed[1]["problem"] == "event: missing value"
    assert pv.parsed[2]["problem"].startswith("timestamp: cannot read 'not a time' as a time")
    assert "Europe/Paris" in pv.time_mode
    assert any("2 of the first 3 rows would be rejected" in p for p in pv.problems)
    assert any("have no zone" in p and "Europe/Paris" in p for p in pv.problems)
    d = pv.as_dict()
    assert d["kept_in_attributes"] == ["client_version"]
    assert d["mapping"][0]["reason"] == "'time' is a synonym of timestamp"


def test_preview_reports_missing_columns_and_bad_overrides(tmp_path: Path) -> None:
    pv = ingest.preview(write(tmp_path / "ab.csv", "a,b\n1,2\n"), "usage")
    assert pv.rows == [{"a": "1", "b": "2"}]
    assert pv.parsed == []
    assert any("Required column(s) not found: timestamp, user_id, event" in p for p in pv.problems)
    pv = ingest.preview(write(tmp_path / "p.csv", PREVIEW_CSV), "usage",
                        opts=ingest.IngestOptions(overrides={"timestamp": "nope"}))
    assert any("no column 'nope'" in p and "Columns found: time, uid, action, client_version" in p
               for p in pv.problems)


def test_preview_reports_rows_with_wrong_column_count(tmp_path: Path) -> None:
    text = "ts,user_id,event\n2026-07-06T10:00:00Z,a,x\n2026-07-06T10:00:00Z,b,x,EXTRA\n"
    pv = ingest.preview(write(tmp_path / "w.csv", text), "usage")
    assert any("cannot be split into the header's columns" in p for p in pv.problems)


def test_preview_loads_nothing(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # preview takes no store and changes none, not even the default one
    default_store = tmp_path / "default.duckdb"
    monkeypatch.setenv("READINESS_DB", str(default_store))
    make_pilot(db)
    before = snapshot(db)
    for name, content in (("p.csv", PREVIEW_CSV), ("p.jsonl", _jsonl()), ("p.json", _json_array())):
        pv = ingest.preview(write(tmp_path / name, content), "usage")
        assert pv.rows
    pv = ingest.preview(_parquet(tmp_path / "p.parquet"), "usage")
    assert len(pv.parsed) == 3
    assert snapshot(db) == before
    assert not default_store.exists()


def test_preview_of_unreadable_file_raises(tmp_path: Path) -> None:
    with pytest.raises(UnusableFile, match="empty"):
        ingest.preview(write(tmp_path / "empty.csv", ""), "usage")


def test_gzip_bomb_is_refused_past_the_decompressed_cap(db: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # .gz of each format, with a cap on the decompressed size
    monkeypatch.setenv("READINESS_MAX_DECOMPRESSED_MB", "1")
    body = "ts,user_id,event\n" + "2026-07-06T10:00:00Z,user,open\n" * 80_000  # about 2.5 MB
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(body.encode()))
    make_pilot(db)
    before = snapshot(db)
    result = ingest_one(db, path)
    assert result.error and "more than 1 MB" in result.error and "READINESS_MAX_DECOMPRESSED_MB" in result.error
    assert snapshot(db) == before


@pytest.mark.parametrize("quoted", [False, True])
def test_a_file_bigger_than_its_head_sample_previews_and_loads_whole(db: Path, tmp_path: Path, quoted: bool) -> None:
    # the first rows of a big file are read from a sample of its head (whole lines), the load from
    # all of it: the preview checks its first rows, the load every row
    import duckdb

    from readiness.ingest import formats
    path = tmp_path / "usage.csv"
    rows = 8 * 1024 * 1024 // 45 + 5_000
    quote = "'\"' || " if quoted else ""
    end = " || '\"'" if quoted else ""
    with duckdb.connect() as con:
        con.execute(f"""COPY (SELECT strftime(TIMESTAMP '2026-05-04 08:00:00' + to_seconds(i), '%Y-%m-%dT%H:%M:%SZ') AS time,
                                     {quote}'user' || (i % 97){end} AS user, 'open_invoice' AS event, 'success' AS outcome
                              FROM range({rows}) t(i)) TO '{path}' (HEADER true, QUOTE '', DELIMITER ',')""")
    assert path.stat().st_size > formats.SNIFF_HEAD_BYTES
    pv = ingest.preview(path, "usage")
    assert pv.format.startswith("CSV") and pv.rows_checked > 0 and pv.rows_rejected == 0 and not pv.problems
    assert {c.canonical: c.sources for c in pv.mapping.columns}["user_id"] == ("user",)
    result = ingest_one(db, path)
    assert (result.rows_loaded, result.rows_rejected) == (rows, 0)
    assert query(db, "SELECT count(DISTINCT user_id) FROM usage_events") == [(97,)]


def test_json_lines_with_lines_of_only_spaces_skip_them(db: Path, tmp_path: Path) -> None:
    # a line of spaces, Unicode's too (a no-break space, an ideographic space), is blank, not a broken row
    rows = [json.dumps({"timestamp": f"2026-05-04T08:0{i}:00Z", "user_id": "ann", "event": "open"}) for i in range(3)]
    path = tmp_path / "usage.jsonl"
    path.write_text("\n".join([rows[0], "   ", rows[1], "\u00a0", "\u3000 ", rows[2]]) + "\n", encoding="utf-8")
    result = ingest_one(db, path)
    assert (result.rows_loaded, result.rows_rejected) == (3, 0)
