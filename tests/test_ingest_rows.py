"""Ingest, row by row: times, rejects, duplicates, unusable files, atomic batches, batch deletion and audit."""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from helpers import ingest_one, make_pilot, query, snapshot, utc, write, write_bytes

from readiness import catalog, pilots, store
from readiness.ingest import batches
from readiness.ingest import load as ingest
from readiness.security import audit
from readiness.security.access import Actor

OP = Actor("test", "admin", cli=True)


def _usage_csv(times: list[str], header: str = "ts,user_id,event") -> str:
    return header + "\n" + "".join(f"{t},user{i},open\n" for i, t in enumerate(times, 1))


# --- timestamps ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("2026-07-06T10:00:00Z", "2026-07-06 10:00:00"),
    ("2026-07-06T10:00:00.250Z", "2026-07-06 10:00:00"),
    ("2026-07-06T10:00:00+02:00", "2026-07-06 08:00:00"),
    ("2026-07-06 10:00:00-05:00", "2026-07-06 15:00:00"),
    # a zone's abbreviation is the offset it names
    ("2026-07-06 10:00:00 CEST", "2026-07-06 08:00:00"),
    ("2026-12-06 10:00:00 CET", "2026-12-06 09:00:00"),
    ("2026-07-06 10:00:00 BST", "2026-07-06 09:00:00"),  # British Summer Time, not Bangladesh's
    ("2026-07-06 10:00:00.250 PDT", "2026-07-06 17:00:00"),
    ("2026-12-06 10:00:00 PST", "2026-12-06 18:00:00"),
    ("2026-07-06 10:00:00 EDT", "2026-07-06 14:00:00"),
    ("2026-12-06 10:00:00 EST", "2026-12-06 15:00:00"),
    ("2026-12-06 10:00:00.123 UTC", "2026-12-06 10:00:00"),
])
def test_iso_times_with_zone_are_that_instant(db: Path, tmp_path: Path, value: str, expected: str) -> None:
    # ISO with Z and with an offset; the pilot's own zone (Paris) must not shift them
    make_pilot(db, time_zone="Europe/Paris")
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv([value])))
    assert result.rows_loaded == 1
    assert result.zoneless_rows == 0
    assert utc(db, "usage_events") == [expected]


def test_an_ambiguous_zone_abbreviation_is_rejected_saying_why(db: Path, tmp_path: Path) -> None:
    make_pilot(db, time_zone="Europe/Paris")
    times = ["2026-07-06 10:00:00 CEST", "2026-07-06 10:00:00 IST", "2026-07-06 10:00:00 CST", "2026-07-06 10:00:00 QQQ"]
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv(times)))
    assert (result.rows_loaded, result.rows_rejected, result.zoneless_rows) == (1, 3, 0)
    reasons = [r[0] for r in query(db, "SELECT reason FROM ingest_rejects ORDER BY src_row")]
    assert "'IST' names more than one zone (India +05:30, Ireland +01:00 or Israel +02:00)" in reasons[0]
    assert "'CST' names more than one zone" in reasons[1]
    assert "'QQQ' is not a time zone abbreviation this reads" in reasons[2]
    assert all("write times with an offset" in r for r in reasons)


def test_zoneless_times_are_read_in_the_pilot_zone_and_counted(db: Path, tmp_path: Path) -> None:
    # pilot in Europe/Paris, '2026-07-06 10:00:00' is 08:00 UTC (summer) and '2026-01-06 10:00:00' 09:00 UTC
    make_pilot(db, time_zone="Europe/Paris")
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv(["2026-07-06 10:00:00", "2026-01-06 10:00:00"])))
    assert result.rows_loaded == 2
    assert result.zoneless_rows == 2
    assert "Europe/Paris" in result.time_note
    assert "2 rows had no time zone" in result.summary()
    assert utc(db, "usage_events") == ["2026-07-06 08:00:00", "2026-01-06 09:00:00"]
    assert query(db, "SELECT zoneless_rows FROM ingest_batches") == [(2,)]


def test_mixed_zoned_and_zoneless_times_count_only_the_zoneless(db: Path, tmp_path: Path) -> None:
    make_pilot(db, time_zone="Europe/Paris")
    times = ["2026-07-06 10:00:00", "2026-07-06T10:00:00Z", "2026-07-06T10:00:00+02:00", "2026-07-06T10:00:00"]
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv(times)))
    assert result.rows_loaded == 4
    assert result.zoneless_rows == 2
    assert utc(db, "usage_events") == ["2026-07-06 08:00:00", "2026-07-06 10:00:00",
                                       "2026-07-06 08:00:00", "2026-07-06 08:00:00"]


def test_zoneless_row_outside_the_sample_is_still_counted(db: Path, tmp_path: Path) -> None:
    make_pilot(db, time_zone="Europe/Paris")
    times = ["2026-07-06T10:00:00Z"] * 30000
    times[15000] = "2026-07-06 10:00:00"  # one export line without its zone
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv(times)))
    assert result.rows_loaded == 30000
    assert utc(db, "usage_events", "src_row = 15001") == ["2026-07-06 08:00:00"]  # read in Paris...
    assert result.zoneless_rows == 1  # ...and the user must be told so


@pytest.mark.parametrize("value, epoch", [
    ("1783324800", 1783324800.0),          # epoch seconds
    ("1783324800123", 1783324800.123),     # epoch milliseconds
])
def test_epoch_times_are_utc(db: Path, tmp_path: Path, value: str, epoch: float) -> None:
    # epoch seconds and milliseconds are UTC instants, whatever the pilot's zone
    make_pilot(db, time_zone="Europe/Paris")
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv([value])))
    assert result.rows_loaded == 1 and result.zoneless_rows == 0
    assert utc(db, "usage_events") == ["2026-07-06 08:00:00"]
    assert query(db, "SELECT epoch(ts) FROM usage_events")[0][0] == pytest.approx(epoch)


def test_epoch_numbers_in_json_lines(db: Path, tmp_path: Path) -> None:
    text = "".join(json.dumps({"ts": t, "user_id": "u", "event": "e"}) + "\n" for t in (1783324800, 1783328400))
    result = ingest_one(db, write(tmp_path / "t.jsonl", text))
    assert result.rows_loaded == 2
    assert utc(db, "usage_events") == ["2026-07-06 08:00:00", "2026-07-06 09:00:00"]


def test_time_format_option(db: Path, tmp_path: Path) -> None:
    # --time-format '%d/%m/%Y %H:%M' (day first); zone-less, so read in the pilot's zone
    make_pilot(db, time_zone="Europe/Paris")
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv(["06/07/2026 10:00", "12/01/2026 23:30"])),
                        time_format="%d/%m/%Y %H:%M")
    assert result.rows_loaded == 2
    assert result.zoneless_rows == 2
    assert utc(db, "usage_events") == ["2026-07-06 08:00:00", "2026-01-12 22:30:00"]


def test_time_format_with_zone_directive(db: Path, tmp_path: Path) -> None:
    make_pilot(db, time_zone="Europe/Paris")
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv(["06/07/2026 10:00 +0000"])),
                        time_format="%d/%m/%Y %H:%M %z")
    assert result.rows_loaded == 1 and result.zoneless_rows == 0
    assert utc(db, "usage_events") == ["2026-07-06 10:00:00"]


def test_time_from_two_columns_with_map(db: Path, tmp_path: Path) -> None:
    # --map timestamp=Date+Time joins the two columns
    make_pilot(db, time_zone="Europe/Paris")
    text = "Date,Time,user_id,event\n2026-07-06,10:00:00,ann,open\n2026-07-07,23:59:59,bob,open\n"
    result = ingest_one(db, write(tmp_path / "t.csv", text), overrides={"timestamp": "Date+Time"})
    assert result.rows_loaded == 2
    assert result.mapping["timestamp"] == "Date+Time"
    assert utc(db, "usage_events") == ["2026-07-06 08:00:00", "2026-07-07 21:59:59"]
    # both source columns feed the time, so neither is copied into attributes
    assert query(db, "SELECT count(*) FROM usage_events WHERE attributes IS NOT NULL") == [(0,)]


def test_date_and_time_columns_are_joined_without_map(db: Path, tmp_path: Path) -> None:
    text = "date,time,user,event\n2026-07-06,10:00:00,ann,open\n"
    result = ingest_one(db, write(tmp_path / "t.csv", text))
    assert result.mapping["timestamp"] == "date+time"
    assert utc(db, "usage_events") == ["2026-07-06 10:00:00"]


def test_syslog_times_with_year(db: Path, tmp_path: Path) -> None:
    # --year for syslog 'Jun 14 15:16:01' (no year in the text), also space-padded days
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv(["Jun 14 15:16:01", "Jul  4 01:02:03"])), year=2005)
    assert result.rows_loaded == 2
    assert utc(db, "usage_events") == ["2005-06-14 15:16:01", "2005-07-04 01:02:03"]


def test_two_digit_years_are_not_read_as_the_first_century(db: Path, tmp_path: Path) -> None:
    # Loghub's Spark log writes '17/06/09 20:10:40': DuckDB's cast reads it as the year 17. Read year
    # first (log4j's 'yy/MM/dd') when nothing tells the orders apart, and the preview says so
    path = write(tmp_path / "short.csv", _usage_csv(["17/06/09 20:10:40", "17/06/09 20:11:02"]))
    p = ingest.preview(path, "usage")
    assert p.rows_rejected == 0
    assert p.time_mode.startswith("times written as '%y/%m/%d %H:%M:%S', recognised from the file (two-digit year "
                                  "first, as logging libraries write it)")
    assert ingest_one(db, path).rows_loaded == 2
    assert utc(db, "usage_events") == ["2017-06-09 20:10:40", "2017-06-09 20:11:02"]


@pytest.mark.parametrize(("times", "expected"), [
    # day first: read year first, 1 and 28 March 2026 would be 27 years apart
    (["01/03/26 09:00", "28/03/26 17:30"], ["2026-03-01 09:00:00", "2026-03-28 17:30:00"]),
    # month first: 14 is no month, and year first would span a year
    (["03/14/26 09:00:00.250", "03/15/26 10:00:00.5"], ["2026-03-14 09:00:00", "2026-03-15 10:00:00"]),
    # year first: the days run on within a month, where day-first years would run a year apart
    (["26.03.14 09:00", "26.03.15 10:00"], ["2026-03-14 09:00:00", "2026-03-15 10:00:00"]),
])
def test_two_digit_years_are_read_in_the_order_that_keeps_times_together(db: Path, tmp_path: Path, times: list[str],
                                                                         expected: list[str]) -> None:
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv(times)))
    assert (result.rows_loaded, result.rows_rejected) == (2, 0)
    assert utc(db, "usage_events") == expected


def test_two_digit_years_day_or_month_first_is_not_guessed(db: Path, tmp_path: Path) -> None:
    # '05/06/99': 99 is no day, so the year is last; 5 June or 6 May, the file cannot tell
    p = ingest.preview(write(tmp_path / "t.csv", _usage_csv(["05/06/99 09:00", "05/06/99 10:00"])), "usage")
    assert p.every_row_rejected and "day and month could be either way round" in p.time_mode


def _dated(path: Path, when: str) -> Path:
    """``path`` with its modification time set to ``when`` (local wall clock, as the file system keeps it)."""
    import os
    from datetime import datetime

    stamp = datetime.fromisoformat(when).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_syslog_month_day_and_time_columns_are_joined_and_a_missing_year_is_assumed(db: Path, tmp_path: Path) -> None:
    # Loghub's Linux log: Month, Date (the day) and Time columns. All three are proposed, not Date+Time
    # (every row would fail on '1 00:21:28' with no word of the month or the year). The year is the
    # file's last change's, and the preview says so
    text = "Month,Date,Time,user,event\nJun,14,15:16:01,ann,open\nJul,4,01:02:03,bob,open\n"
    path = _dated(write(tmp_path / "syslog.csv", text), "2005-08-01 12:00:00")
    p = ingest.preview(path, "usage")
    assert p.mapping.as_dict()["timestamp"] == "Month+Date+Time" and p.rows_rejected == 0
    assert "no year is written: 2005 assumed, the year the file last changed (2005-08-01)" in p.time_mode
    result = ingest_one(db, path)
    assert (result.rows_loaded, result.mapping["timestamp"]) == (2, "Month+Date+Time")
    assert utc(db, "usage_events") == ["2005-06-14 15:16:01", "2005-07-04 01:02:03"]
    ingest_one(db, path, pilot="given", year=2004)  # a year given wins
    assert utc(db, "usage_events", "pilot_id = (SELECT pilot_id FROM pilots WHERE name = 'given')") == [
        "2004-06-14 15:16:01", "2004-07-04 01:02:03"]


def test_a_yearless_time_after_the_files_last_change_is_from_the_year_before(db: Path, tmp_path: Path) -> None:
    # a log of the turn of the year, last written on 2 January 2027
    path = _dated(write(tmp_path / "t.csv", _usage_csv(["Dec 30 23:00:00", "Jan  2 08:00:00"])), "2027-01-02 09:00:00")
    assert ingest_one(db, path).rows_loaded == 2
    assert utc(db, "usage_events") == ["2026-12-30 23:00:00", "2027-01-02 08:00:00"]


@pytest.mark.parametrize("times, expected", [
    (["14.03.2026 09:15", "02.07.2026 18:00"], ["2026-03-14 08:15:00", "2026-07-02 16:00:00"]),  # day first
    (["03/14/2026 1:05 PM", "07/02/2026 9:00 AM"], ["2026-03-14 12:05:00", "2026-07-02 07:00:00"]),  # US
    (['"14/Mar/2026:10:00:00 +0100"', '"02/Jul/2026:10:00:00 +0000"'],  # an access log's, with its zone
     ["2026-03-14 09:00:00", "2026-07-02 10:00:00"]),
])
def test_common_layouts_are_recognised_without_a_time_format(db: Path, tmp_path: Path, times: list[str],
                                                             expected: list[str]) -> None:
    # no --time-format needed; the pilot is in Berlin (UTC+1, +2 in summer)
    make_pilot(db, time_zone="Europe/Berlin")
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv(times)))
    assert (result.rows_loaded, result.rows_rejected) == (2, 0)
    assert utc(db, "usage_events") == expected
    assert "recognised from the file" in result.time_note


def test_day_and_month_either_way_round_are_not_guessed(db: Path, tmp_path: Path) -> None:
    make_pilot(db)
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv(["02/03/2026 10:00", "05/04/2026 11:00"])))
    assert result.rows_loaded == 0  # 2 March or 3 February: only the user knows; every row rejected: not loaded
    assert "either way round" in result.error and "'%d/%m/%Y %H:%M' or '%m/%d/%Y %H:%M'" in result.error
    result = ingest_one(db, write(tmp_path / "t2.csv", _usage_csv(["02/03/2026 10:00", "13/04/2026 11:00"])))
    assert result.rows_loaded == 2 and utc(db, "usage_events")[0] == "2026-03-02 10:00:00"  # a day over 12 settles it


def test_unreadable_times_name_the_value_and_the_fix(db: Path, tmp_path: Path) -> None:
    make_pilot(db)
    result = ingest_one(db, write(tmp_path / "t.csv", _usage_csv(["2026-07-06T10:00:00Z", "Jun 14 15:16:01"])))
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    (reason,) = query(db, "SELECT reason FROM ingest_rejects")[0]
    assert "cannot read 'Jun 14 15:16:01' as a time" in reason
    assert "--time-format" in reason


# --- rejects ------------------------------------------------------------------------------------------------

BAD_TIME_ROW, MISSING_USER_ROW, SHORT_ROW = 10, 50, 75


def _hundred_rows_three_bad() -> str:
    lines = ["timestamp,user_id,event,feature"]
    for i in range(1, 101):
        ts = f"2026-07-06T{i // 60:02d}:{i % 60:02d}:00Z"
        if i == BAD_TIME_ROW:
            lines.append(f"yesterday-ish,user{i},open,search")
        elif i == MISSING_USER_ROW:
            lines.append(f"{ts},,open,search")
        elif i == SHORT_ROW:
            lines.append(f"{ts},user{i},open")  # one column short
        else:
            lines.append(f"{ts},user{i},open,search")
    return "\n".join(lines) + "\n"


def test_hundred_rows_with_three_bad_rows(db: Path, tmp_path: Path) -> None:
    # 97 loaded + 3 rejected, with the right row numbers and readable reasons
    make_pilot(db)
    result = ingest_one(db, write(tmp_path / "hundred.csv", _hundred_rows_three_bad()))
    assert result.error is None
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_duplicate) == (100, 97, 3, 0)
    assert result.rows_read == result.rows_loaded + result.rows_rejected + result.rows_duplicate

    loaded = [r[0] for r in query(db, "SELECT src_row FROM usage_events ORDER BY src_row")]
    assert loaded == [i for i in range(1, 101) if i not in (BAD_TIME_ROW, MISSING_USER_ROW, SHORT_ROW)]
    # every loaded row's user came from its own line: src_row matches the data
    assert query(db, "SELECT count(*) FROM usage_events WHERE user_id <> 'user' || src_row") == [(0,)]

    with store.open_store(db) as con:
        rejects = batches.list_rejects(con, OP, catalog.get_pilot(con, "pilot"), reveal=True)
    assert [r["row"] for r in rejects] == [BAD_TIME_ROW, MISSING_USER_ROW, SHORT_ROW]
    by_row = {r["row"]: r for r in rejects}
    assert by_row[BAD_TIME_ROW]["reason"].startswith("timestamp: cannot read 'yesterday-ish' as a time")
    assert by_row[BAD_TIME_ROW]["column"] == "timestamp"
    assert by_row[MISSING_USER_ROW]["reason"] == "user_id: missing value"
    assert by_row[MISSING_USER_ROW]["column"] == "user_id"
    assert by_row[SHORT_ROW]["reason"].startswith("row: too few columns")
    assert json.loads(by_row[BAD_TIME_ROW]["raw"]) == {"timestamp": "yesterday-ish", "user_id": f"user{BAD_TIME_ROW}",
                                                        "event": "open", "feature": "search"}
    assert "user75,open" in by_row[SHORT_ROW]["raw"]
    assert all(r["file_name"] == "hundred.csv" and r["batch_id"] == result.batch_id for r in rejects)
    assert query(db, "SELECT rows_read, rows_loaded, rows_rejected FROM ingest_batches") == [(100, 97, 3)]


def test_reject_line_number_is_given_when_rows_and_lines_differ(db: Path, tmp_path: Path) -> None:
    # LF file: a record spans lines 2-3, so the bad row 2 starts on line 4 and the reject says so
    text = 'ts,user_id,event,c\n2026-07-06T10:00:00Z,a,x,"1\n2"\n2026-07-06T10:00:00Z,b,x,3,4\n'
    make_pilot(db)
    ingest_one(db, write(tmp_path / "lf.csv", text))
    assert query(db, "SELECT src_row, line_no, raw FROM ingest_rejects") == [
        (2, 4, "2026-07-06T10:00:00Z,b,x,3,4")]


CRLF_BAD_ROW = b"ts,user_id,event\r\n2026-07-06T10:00:00Z,a,x\r\n2026-07-06T10:00:00Z,b,x,EXTRA\r\n2026-07-06T10:00:00Z,c,x\r\n"


def test_crlf_file_loads_with_right_rows(db: Path, tmp_path: Path) -> None:
    result = ingest_one(db, write_bytes(tmp_path / "windows.csv", CRLF_BAD_ROW))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    assert query(db, "SELECT src_row, user_id FROM usage_events ORDER BY 1") == [(1, "a"), (3, "c")]
    assert query(db, "SELECT src_row FROM ingest_rejects") == [(2,)]


def test_crlf_reject_reports_the_right_line(db: Path, tmp_path: Path) -> None:
    # row 2 is on physical line 3 (line 1 is the header): the reject must not point the user at line 2
    ingest_one(db, write_bytes(tmp_path / "windows.csv", CRLF_BAD_ROW))
    (line,) = query(db, "SELECT line_no FROM ingest_rejects")[0]
    assert line in (None, 3)  # None means "the same as row + 1"


def test_crlf_reject_raw_text_is_the_row(db: Path, tmp_path: Path) -> None:
    ingest_one(db, write_bytes(tmp_path / "windows.csv", CRLF_BAD_ROW))
    assert query(db, "SELECT raw FROM ingest_rejects") == [("2026-07-06T10:00:00Z,b,x,EXTRA",)]


def test_blank_line_before_bad_row_keeps_rows_in_file_order(db: Path, tmp_path: Path) -> None:
    # a blank line must not make a later reject and the rows after it trade places
    # (not rows a=1 b=2 d=3 and the reject c=4)
    text = ("ts,user_id,event\n2026-07-06T10:00:00Z,a,x\n\n2026-07-06T10:00:00Z,b,x\n"
            "2026-07-06T10:00:00Z,c,x,EXTRA\n2026-07-06T10:00:00Z,d,x\n")
    make_pilot(db)
    result = ingest_one(db, write(tmp_path / "blank.csv", text))
    assert (result.rows_loaded, result.rows_rejected) == (3, 1)
    good = query(db, "SELECT src_row, user_id FROM usage_events")
    (bad_row,) = query(db, "SELECT src_row FROM ingest_rejects")[0]
    numbered = sorted(good + [(bad_row, "c")])
    assert [u for _, u in numbered] == ["a", "b", "c", "d"]  # row numbers follow the file's order
    assert len({r for r, _ in numbered}) == 4


@pytest.mark.parametrize("column", ["rowid", "_ord"])
def test_csv_column_with_internal_name_is_kept_in_attributes(db: Path, tmp_path: Path, column: str) -> None:
    # e.g. a SQLite or Oracle export keeps its ROWID column
    text = f"ts,user_id,event,{column}\n2026-07-06T10:00:00Z,a,x,77\n2026-07-06T10:00:00Z,b,x,78\n"
    result = ingest_one(db, write(tmp_path / "export.csv", text))
    assert result.rows_loaded == 2
    assert query(db, f"SELECT src_row, attributes->>'{column}' FROM usage_events ORDER BY 1") == [
        (1, "77"), (2, "78")]


def test_feedback_rating_and_score_ranges(db: Path, tmp_path: Path) -> None:
    text = ("created_at,stars,nps,comment\n"
            "2026-07-06T09:00:00Z,5,10,great\n"
            "2026-07-06T09:00:00Z,7,,\n"          # rating outside 1-5
            "2026-07-06T09:00:00Z,,11,\n"         # score outside 0-10
            "2026-07-06T09:00:00Z,five,,\n"       # not a number
            "2026-07-06T09:00:00Z,,,\n"           # none of rating / score / comment
            "2026-07-06T09:00:00Z,,,only words\n")
    make_pilot(db)
    result = ingest_one(db, write(tmp_path / "fb.csv", text), kind="feedback")
    assert (result.rows_loaded, result.rows_rejected) == (2, 4)
    assert query(db, "SELECT src_row, rating, score, comment FROM feedback ORDER BY src_row") == [
        (1, 5.0, 10.0, "great"), (6, None, None, "only words")]
    reasons = [r[0] for r in query(db, "SELECT reason FROM ingest_rejects ORDER BY src_row")]
    assert reasons == ["rating: 7.0 is outside 1-5", "score: 11.0 is outside 0-10", "rating: 'five' is not a number",
                       "rating / score / comment: all empty (a row needs at least one)"]


def test_durations_that_are_not_finite_numbers_are_rejected(db: Path, tmp_path: Path) -> None:
    # 'inf', 'NaN' and a number too large for a double would otherwise load as inf / NaN and
    # poison every mean and sum of durations
    text = ("ts,user_id,event,duration_ms\n"
            "2026-07-06T09:00:00Z,u1,open,250\n"
            "2026-07-06T09:00:00Z,u1,open,inf\n"
            "2026-07-06T09:00:00Z,u1,open,NaN\n"
            "2026-07-06T09:00:00Z,u1,open,1e400\n"
            "2026-07-06T09:00:00Z,u1,open,\n")
    make_pilot(db)
    result = ingest_one(db, write(tmp_path / "u.csv", text))
    assert (result.rows_loaded, result.rows_rejected) == (2, 3)
    assert query(db, "SELECT src_row, duration_ms FROM usage_events ORDER BY src_row") == [(1, 250.0), (5, None)]
    assert [r[0] for r in query(db, "SELECT reason FROM ingest_rejects ORDER BY src_row")] == [
        "duration_ms: 'inf' is not a number", "duration_ms: 'NaN' is not a number",
        "duration_ms: '1e400' is not a number"]


def test_broken_json_line_is_rejected_with_its_line(db: Path, tmp_path: Path) -> None:
    text = ('{"ts": "2026-07-06T10:00:00Z", "user_id": "a", "event": "x"}\n'
            '{"ts": "2026-07-06T10:00:00Z", "user_id": "b", \n'
            '{"ts": "2026-07-06T10:00:00Z", "user_id": "c", "event": "x"}\n')
    make_pilot(db)
    result = ingest_one(db, write(tmp_path / "t.jsonl", text))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    assert query(db, "SELECT src_row, line_no, reason FROM ingest_rejects") == [
        (2, 2, "row: not a JSON object (broken JSON line)")]
    assert query(db, "SELECT src_row, user_id FROM usage_events ORDER BY 1") == [(1, "a"), (3, "c")]


def test_json_lines_blank_lines_keep_line_numbers_and_are_not_rows(db: Path, tmp_path: Path) -> None:
    # a JSON Lines file read in one pass: blank lines are not rows (not read, not rejected), yet every
    # row keeps its line number, and a bad line in a big file is rejected at its own line
    lines = [json.dumps({"ts": "2026-07-06T10:00:00Z", "user_id": f"u{i}", "event": "x"}) for i in range(1, 200_001)]
    lines[9] = ""                                       # line 10: blank
    lines[99_999] = "   "                               # line 100000: blank (spaces)
    lines[150_000] = '{"ts": "2026-07-06T10:00:00Z", '  # line 150001: broken
    lines[180_000] = '{"ts": "yesterday", "user_id": "u180001", "event": "x"}'  # line 180001: bad time
    make_pilot(db)
    result = ingest_one(db, write(tmp_path / "big.jsonl", "\n".join(lines) + "\n"))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (199_998, 199_996, 2)
    assert query(db, "SELECT count(*), count(*) FILTER (WHERE user_id <> 'u' || src_row), max(src_row) "
                     "FROM usage_events") == [(199_996, 0, 200_000)]
    assert query(db, "SELECT src_row, line_no, left(reason, 20) FROM ingest_rejects ORDER BY 1") == [
        (150_001, 150_001, "row: not a JSON obje"), (180_001, 180_001, "timestamp: cannot re")]


# --- duplicates ---------------------------------------------------------------------------------------------

def test_same_file_again_even_renamed_is_a_duplicate(db: Path, tmp_path: Path) -> None:
    # same bytes under another name: reported duplicate, not loaded twice
    first = write(tmp_path / "monday.csv", _usage_csv(["2026-07-06T10:00:00Z", "2026-07-06T11:00:00Z"]))
    copy = tmp_path / "monday (copy).csv"
    shutil.copyfile(first, copy)
    r1 = ingest_one(db, first)
    assert r1.rows_loaded == 2
    r2 = ingest_one(db, copy)
    assert r2.duplicate is True
    assert r2.duplicate_of == r1.batch_id
    assert r2.rows_loaded == 0 and r2.batch_id is None and r2.error is None
    assert f"duplicate of batch {r1.batch_id}" in r2.summary()
    assert f"To load it with other options, delete batch {r1.batch_id} first." in r2.summary()
    assert query(db, "SELECT count(*) FROM usage_events") == [(2,)]
    assert query(db, "SELECT count(*) FROM ingest_batches") == [(1,)]
    # within one call as well
    results = ingest.ingest_files(db, "pilot", "usage", [first, copy], actor=Actor("test", "admin", cli=True))
    assert [r.duplicate for r in results] == [True, True]
    assert query(db, "SELECT count(*) FROM usage_events") == [(2,)]


def test_same_file_for_another_pilot_or_kind_is_not_a_duplicate(db: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", "ts,user_id,event,comment\n2026-07-06T10:00:00Z,a,open,nice\n")
    assert ingest_one(db, path, pilot="alpha").rows_loaded == 1
    assert ingest_one(db, path, pilot="beta").rows_loaded == 1
    assert ingest_one(db, path, pilot="alpha", kind="feedback").rows_loaded == 1
    assert query(db, "SELECT count(*) FROM usage_events") == [(2,)]


def test_same_size_but_different_content_is_loaded(db: Path, tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", _usage_csv(["2026-07-06T10:00:00Z"]))
    b = write(tmp_path / "b.csv", _usage_csv(["2026-07-06T11:00:00Z"]))
    assert a.stat().st_size == b.stat().st_size
    assert ingest_one(db, a).rows_loaded == 1
    r = ingest_one(db, b)
    assert not r.duplicate and r.rows_loaded == 1


def test_dedupe_rows_on_cumulative_export(db: Path, tmp_path: Path) -> None:
    # file 2 = file 1's rows + new rows; --dedupe-rows loads only the new ones
    old = [f"2026-07-06T10:{m:02d}:00Z" for m in range(10)]
    new = [f"2026-07-06T11:{m:02d}:00Z" for m in range(4)]
    header = "ts,user_id,event,client\n"
    rows = [f"{t},user{i},open,web\n" for i, t in enumerate(old + new)]
    f1 = write(tmp_path / "export_mon.csv", header + "".join(rows[:10]))
    f2 = write(tmp_path / "export_tue.csv", header + "".join(rows))
    assert ingest_one(db, f1, dedupe_rows=True).rows_loaded == 10
    r2 = ingest_one(db, f2, dedupe_rows=True)
    assert (r2.rows_read, r2.rows_loaded, r2.rows_rejected, r2.rows_duplicate) == (14, 4, 0, 10)
    assert query(db, "SELECT count(*) FROM usage_events") == [(14,)]
    assert query(db, "SELECT src_row FROM usage_events WHERE batch_id = ? ORDER BY 1", [r2.batch_id]) == [
        (11,), (12,), (13,), (14,)]
    assert query(db, "SELECT rows_duplicate FROM ingest_batches WHERE batch_id = ?", [r2.batch_id]) == [(10,)]


def test_dedupe_rows_with_rejects_keeps_counts_consistent(db: Path, tmp_path: Path) -> None:
    header = "ts,user_id,event\n"
    f1 = write(tmp_path / "a.csv", header + "2026-07-06T10:00:00Z,a,open\n")
    f2 = write(tmp_path / "b.csv", header + "2026-07-06T10:00:00Z,a,open\nnever,b,open\n2026-07-06T11:00:00Z,c,open\n")
    ingest_one(db, f1)
    r = ingest_one(db, f2, dedupe_rows=True)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected, r.rows_duplicate) == (3, 1, 1, 1)
    assert query(db, "SELECT src_row FROM ingest_rejects") == [(2,)]


def test_without_dedupe_overlapping_rows_load_again(db: Path, tmp_path: Path) -> None:
    header = "ts,user_id,event\n"
    ingest_one(db, write(tmp_path / "a.csv", header + "2026-07-06T10:00:00Z,a,open\n"))
    r = ingest_one(db, write(tmp_path / "b.csv", header + "2026-07-06T10:00:00Z,a,open\n2026-07-06T11:00:00Z,b,x\n"))
    assert (r.rows_loaded, r.rows_duplicate) == (2, 0)


def test_dedupe_rows_only_duplicates_is_not_an_error(db: Path, tmp_path: Path) -> None:
    header = "ts,user_id,event\n"
    ingest_one(db, write(tmp_path / "a.csv", header + "2026-07-06T10:00:00Z,a,open\n"))
    r = ingest_one(db, write(tmp_path / "b.csv", header + "2026-07-06T10:00:00Z,a,open\n\n"), dedupe_rows=True)
    assert r.error is None
    assert (r.rows_loaded, r.rows_duplicate) == (0, 1)


# --- unusable files -----------------------------------------------------------------------------------------

UNUSABLE = {
    "empty.csv": (b"", "empty"),
    "blank.csv": (b"\n \n\t\n", "empty"),
    "garbage.bin": (bytes(range(128)) * 16, "not a recognised format (binary content)"),
    "image.png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, ""),  # any error will do
    "no_event.csv": (b"ts,user_id,action_taken\n2026-07-06T10:00:00Z,a,open\n",
                     "Required column(s) not found: event. Columns found: ts, user_id, action_taken"),
    "bad.gz": (b"\x1f\x8b\x08\x00garbage that is not deflate", "cannot be decompressed"),
    "half.jsonl": (b'{"ts": "2026-07-06T10:00:00Z", "user_id"\n', "not a complete JSON object"),
    "all_bad.csv": (b"ts,user_id,event\nmonday,a,open\ntuesday,b,open\n", "every row was rejected"),
}


@pytest.mark.parametrize("name", sorted(UNUSABLE))
def test_unusable_file_is_reported_and_changes_nothing(db: Path, tmp_path: Path, name: str) -> None:
    # empty file, binary garbage, missing required column...: error set, store unchanged
    content, message = UNUSABLE[name]
    path = tmp_path / name
    path.write_bytes(content)
    make_pilot(db)
    before = snapshot(db)
    result = ingest_one(db, path, create=False)
    assert result.file == name
    assert result.error is not None and message in result.error
    assert result.summary().startswith(f"{name}: NOT LOADED.")
    assert (result.batch_id, result.rows_loaded) == (None, 0)
    assert snapshot(db) == before


def test_a_damaged_workbook_upload_is_refused_saying_what_to_do(db: Path, tmp_path: Path) -> None:
    # A workbook without its list of sheets: told so, what to do, and which formats are accepted.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet>" + "<row/>" * 500 + "</worksheet>")
    path = tmp_path / "usage.xlsx"
    path.write_bytes(buf.getvalue())
    make_pilot(db)
    before = snapshot(db)
    result = ingest_one(db, path, create=False)
    assert snapshot(db) == before
    assert "is an Excel workbook without its list of sheets" in result.error
    assert "Accepted: CSV/TSV, JSON Lines, JSON array, Parquet" in result.error


def test_missing_file_is_reported(db: Path, tmp_path: Path) -> None:
    make_pilot(db)
    before = snapshot(db)
    result = ingest_one(db, tmp_path / "nowhere.csv", create=False)
    assert "no such file" in result.error
    assert snapshot(db) == before


def test_ingest_file_raises_unusable_file(db: Path, tmp_path: Path) -> None:
    make_pilot(db)
    path = write(tmp_path / "empty.csv", "")
    with store.open_store(db) as con:
        pilot = catalog.get_pilot(con, "pilot")
        with pytest.raises(ingest.UnusableFile, match="empty.csv: the file is empty"):
            ingest.ingest_file(con, pilot, "usage", path, actor=Actor("test", "admin", cli=True))


def test_one_unusable_file_does_not_stop_the_others(db: Path, tmp_path: Path) -> None:
    good1 = write(tmp_path / "a.csv", _usage_csv(["2026-07-06T10:00:00Z"]))
    bad = write(tmp_path / "b.csv", "")
    good2 = write(tmp_path / "c.csv", _usage_csv(["2026-07-06T11:00:00Z", "2026-07-06T12:00:00Z"]))
    results = ingest.ingest_files(db, "pilot", "usage", [good1, bad, good2], actor=Actor("test", "admin", cli=True), create=True)
    assert [(r.file, r.rows_loaded, r.error is None) for r in results] == [("a.csv", 1, True), ("b.csv", 0, False),
                                                                          ("c.csv", 2, True)]
    assert query(db, "SELECT count(*) FROM usage_events") == [(3,)]


def test_unknown_pilot_without_create_names_the_known_pilots(db: Path, tmp_path: Path) -> None:
    make_pilot(db, "alpha")
    make_pilot(db, "beta")
    before = snapshot(db)
    with pytest.raises(catalog.PilotNotFound, match="Known pilots: alpha, beta"):
        ingest_one(db, write(tmp_path / "a.csv", _usage_csv(["2026-07-06T10:00:00Z"])), pilot="gamma", create=False)
    assert snapshot(db) == before


# --- atomic batches -----------------------------------------------------------------------------------------

def test_batch_failing_midway_leaves_nothing(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # rows (and rejects) were inserted, then the audit write fails: the whole batch rolls back
    make_pilot(db)
    ingest_one(db, write(tmp_path / "earlier.csv", _usage_csv(["2026-07-06T09:00:00Z"])))
    before = snapshot(db)
    path = write(tmp_path / "hundred.csv", _hundred_rows_three_bad())

    def failing_record(con, *args, **kwargs):
        inserted = con.execute("SELECT count(*) FROM usage_events").fetchone()[0]
        assert inserted == 1 + 97  # the rows really were inserted before the failure
        raise RuntimeError("disk full while auditing")

    monkeypatch.setattr(audit, "record", failing_record)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest_one(db, path)
    monkeypatch.undo()
    assert snapshot(db) == before
    assert query(db, "SELECT count(*) FROM ingest_batches WHERE file_name = 'hundred.csv'") == [(0,)]
    # nothing half-remembered: the same file now loads in full, not as a duplicate
    result = ingest_one(db, path)
    assert not result.duplicate and result.rows_loaded == 97


def test_failure_late_in_the_landing_transaction_rolls_back(db: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    make_pilot(db)
    before = snapshot(db)

    def boom(con, *args, **kwargs):
        # the batch's audit entry, its transaction's last step: the rows and the record went in
        assert con.execute("SELECT count(*) FROM usage_events").fetchone()[0] == 5
        raise RuntimeError("connection lost")

    monkeypatch.setattr(ingest.audit, "record", boom)
    with pytest.raises(RuntimeError):
        ingest_one(db, write(tmp_path / "a.csv", _usage_csv(["2026-07-06T09:00:00Z"] * 5)))
    assert snapshot(db) == before


# --- provenance, batches, audit -----------------------------------------------------------------------------

def test_rows_keep_batch_id_and_one_based_src_row(db: Path, tmp_path: Path) -> None:
    # each row remembers its batch and its 1-based row in the file
    r1 = ingest_one(db, write(tmp_path / "a.csv", _usage_csv(["2026-07-06T09:00:00Z"] * 3)))
    r2 = ingest_one(db, write(tmp_path / "b.jsonl", "".join(
        json.dumps({"ts": "2026-07-06T10:00:00Z", "user_id": f"u{i}", "event": "e"}) + "\n" for i in range(2))))
    assert r1.batch_id != r2.batch_id
    assert query(db, "SELECT batch_id, src_row FROM usage_events ORDER BY batch_id, src_row") == [
        (r1.batch_id, 1), (r1.batch_id, 2), (r1.batch_id, 3), (r2.batch_id, 1), (r2.batch_id, 2)]
    with store.open_store(db) as con:
        listed = batches.list_batches(con, OP, catalog.get_pilot(con, "pilot"))
    assert [(b["batch_id"], b["file_name"], b["rows_loaded"]) for b in listed] == [
        (r2.batch_id, "b.jsonl", 2), (r1.batch_id, "a.csv", 3)]
    assert listed[1]["format"].startswith("CSV")
    assert len(listed[1]["sha256"]) == 64


def test_big_csv_rows_keep_their_file_row_across_threads_and_chunks(db: Path, tmp_path: Path) -> None:
    # a CSV of 300,000 rows (several reader chunks and row groups, read by parallel threads in one
    # pass): every row keeps its own row number, and rejects in the middle shift nothing
    lines = [f"2026-07-06 09:{i % 60:02d}:00,u{i},open\n" for i in range(1, 300_001)]
    lines[123_455] = "2026-07-06 09:00:00,u123456,open,EXTRA\n"   # the reader cannot split it
    lines[250_000] = "not a time,u250001,open\n"                  # a check rejects it
    result = ingest_one(db, write(tmp_path / "big.csv", "ts,user_id,event\n" + "".join(lines)))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (300_000, 299_998, 2)
    assert query(db, "SELECT count(*), min(src_row), max(src_row), count(*) FILTER (WHERE user_id <> 'u' || src_row) "
                     "FROM usage_events") == [(299_998, 1, 300_000, 0)]
    assert query(db, "SELECT src_row, reason LIKE 'row: too many columns%', reason LIKE 'timestamp: cannot read%' "
                     "FROM ingest_rejects ORDER BY src_row") == [(123_456, True, False), (250_001, False, True)]
    assert query(db, "SELECT raw FROM ingest_rejects WHERE src_row = 250001") == [
        ('{"ts":"not a time","user_id":"u250001","event":"open"}',)]
    assert result.zoneless_rows == 299_998


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_other_line_endings_after_the_sniffed_head_still_load_in_order(db: Path, tmp_path: Path, ending: str) -> None:
    # LF in the first 8 MB (what the dialect is judged on), CRLF or CR after: every row loads, in order
    lines = [f"2026-07-06T09:00:00Z,u{i},open" + ("\n" if i <= 280_000 else ending) for i in range(1, 300_001)]
    result = ingest_one(db, write(tmp_path / "late_cr.csv", "ts,user_id,event\n" + "".join(lines)))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (300_000, 300_000, 0)
    assert query(db, "SELECT count(*) FILTER (WHERE user_id <> 'u' || src_row OR event <> 'open'), max(src_row) "
                     "FROM usage_events") == [(0, 300_000)]


def test_every_ingest_writes_an_audit_record(db: Path, tmp_path: Path) -> None:
    # action 'ingest', object the batch, details with the counts
    r1 = ingest_one(db, write(tmp_path / "hundred.csv", _hundred_rows_three_bad()))
    r2 = ingest_one(db, write(tmp_path / "fb.csv", "created_at,stars\n2026-07-06T09:00:00Z,4\n"), kind="feedback")
    rows = query(db, "SELECT actor, object, details FROM audit_log WHERE action = 'ingest' ORDER BY seq")
    assert [(a, o) for a, o, _ in rows] == [("test", f"batch:{r1.batch_id}"), ("test", f"batch:{r2.batch_id}")]
    details = json.loads(rows[0][2])
    assert details["file"] == "hundred.csv" and details["kind"] == "usage" and details["pilot"] == "pilot"
    assert (details["rows_read"], details["rows_loaded"], details["rows_rejected"]) == (100, 97, 3)
    assert len(details["sha256"]) == 64


def test_list_pilots_counts_rows_per_kind(db: Path, tmp_path: Path) -> None:
    ingest_one(db, write(tmp_path / "u.csv", _usage_csv(["2026-07-06T09:00:00Z"] * 3)))
    ingest_one(db, write(tmp_path / "f.csv", "created_at,stars\n2026-07-06T09:00:00Z,4\n"), kind="feedback")
    ingest_one(db, write(tmp_path / "e.csv", "ts,msg\n2026-07-06T09:00:00Z,boom\n2026-07-06T09:01:00Z,bang\n"),
               kind="exceptions")
    with store.open_store(db) as con:
        (p,) = pilots.list_pilots(con, OP)
    assert (p["usage_rows"], p["feedback_rows"], p["exception_rows"], p["batches"]) == (3, 1, 2, 3)


def test_delete_batch_removes_rows_and_rejects_and_is_audited(db: Path, tmp_path: Path) -> None:
    # deleting a batch takes its rows and rejects away, leaves other batches, and is audited
    path = write(tmp_path / "hundred.csv", _hundred_rows_three_bad())
    r1 = ingest_one(db, path)
    r2 = ingest_one(db, write(tmp_path / "other.csv", "ts,user_id,event\n2026-07-06T09:00:00Z,a,x\nbad,b,x\n"))
    with store.open_store(db) as con:
        removed = batches.delete_batch(con, r1.batch_id, Actor("alice", "admin", cli=True))
    assert (removed["rows_deleted"], removed["rejects_deleted"]) == (97, 3)
    assert query(db, "SELECT batch_id, count(*) FROM usage_events GROUP BY 1") == [(r2.batch_id, 1)]
    assert query(db, "SELECT batch_id, count(*) FROM ingest_rejects GROUP BY 1") == [(r2.batch_id, 1)]
    assert query(db, "SELECT batch_id FROM ingest_batches") == [(r2.batch_id,)]
    audit_rows = query(db, "SELECT actor, object, details FROM audit_log WHERE action = 'batch.delete'")
    assert len(audit_rows) == 1
    actor, obj, details = audit_rows[0]
    assert (actor, obj) == ("alice", f"batch:{r1.batch_id}")
    details = json.loads(details)
    assert (details["file"], details["rows_deleted"], details["rejects_deleted"]) == ("hundred.csv", 97, 3)
    with store.open_store(db) as con:
        (p,) = pilots.list_pilots(con, OP)
        assert p["usage_rows"] == 1
        with pytest.raises(batches.BatchNotFound):
            batches.delete_batch(con, r1.batch_id, Actor("alice", "admin", cli=True))
    # once deleted, the same file can be loaded again
    again = ingest_one(db, path)
    assert not again.duplicate and again.rows_loaded == 97


def test_header_only_file_and_yearless_format_say_what_to_do(db: Path, tmp_path: Path) -> None:
    # an unusable file gets a message that says what was wrong and what to do
    make_pilot(db)
    (empty,) = ingest.ingest_files(db, "pilot", "usage", [write(tmp_path / "h.csv", "ts,user_id,event\n")],
                                   actor=Actor("test", "admin", cli=True))
    assert "header but no rows" in empty.error
    text = "ts,user_id,event\n14/06 10:00,a,x\n"
    (r,) = ingest.ingest_files(db, "pilot", "usage", [write(tmp_path / "y.csv", text)], actor=Actor("test", "admin", cli=True),
                               opts=ingest.IngestOptions(time_format="%d/%m %H:%M"))
    assert "has no year" in r.error and "--year" in r.error
