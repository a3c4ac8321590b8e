"""The column mapping as choices (Sources page): the mapping table's rows, what stops a file loading,
the preview's rejected rows, times and line-log records, and the mapping of an earlier batch of the
same shape offered again."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import ingest_one, make_pilot, query

from readiness import catalog, store
from readiness.ingest import column_choices
from readiness.ingest import load as ingest
from readiness.ingest.column_choices import DETECTED, OTHER
from readiness.security import users
from readiness.security.access import AccessDenied, Actor

SAMPLES = Path(__file__).parent / "samples"
OP = Actor("test", "admin", cli=True)
UNKNOWN = "Zeitpunkt,Mitarbeiter,Vorgang,Kostenstelle\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_table_lists_every_field_required_first_with_how_its_column_was_found(tmp_path: Path) -> None:
    f = write(tmp_path / "w.csv", UNKNOWN + "03.03.2026 09:00,anna,prüfen,K1\n03.03.2026 09:05,ben,buchen,K2\n")
    found = ingest.preview(f, "usage")
    rows = column_choices.field_choices(found.mapping, found.columns)
    assert [r.field for r in rows] == ["timestamp", "user_id", "event", "session_id", "feature", "duration_ms",
                                       "outcome", "team"]
    assert [r.need for r in rows[:4]] == ["required", "required", "required", "optional"]
    stamp, user = rows[0], rows[1]
    assert (stamp.chosen, stamp.how) == ("Zeitpunkt", "by content") and "read as times" in stamp.reason
    assert (user.chosen, user.how) == ("", "no column found")
    assert user.options == ("", "Zeitpunkt", "Mitarbeiter", "Vorgang", "Kostenstelle")
    assert column_choices.option_label("", found.columns, required=True) == "— choose a column —"
    assert column_choices.option_label("", found.columns, required=False) == "— none —"
    assert column_choices.load_blockers(found) == ["no column chosen for user_id, event"]
    # the time format typed under "other" is tried on the file's times before anything else is chosen
    assert column_choices.raw_times(found) == ["03.03.2026 09:00", "03.03.2026 09:05"]


def test_a_choice_reruns_the_preview_with_the_rows_it_would_reject(tmp_path: Path) -> None:
    f = write(tmp_path / "w.csv", UNKNOWN + "03.03.2026 09:00,anna,prüfen,K1\n03.03.2026 09:05,,buchen,K2\n"
                                            "04.03.2026 14:30,anna,prüfen,K1\n")
    choices = {"user_id": "Mitarbeiter", "event": "Vorgang", "team": ""}
    found = ingest.preview(f, "usage", ingest.IngestOptions(overrides=column_choices.choices_as_overrides(choices, "usage")),
                           time_zone="Europe/Berlin")
    rows = {r.field: r for r in column_choices.field_choices(found.mapping, found.columns)}
    assert (rows["user_id"].chosen, rows["user_id"].how) == ("Mitarbeiter", "your choice")
    assert found.mapping.unmapped == ["Kostenstelle"]
    assert column_choices.load_blockers(found) == []
    assert [(r["row"], r["column"], r["reason"]) for r in found.rejected_rows] == [(2, "Mitarbeiter", "user_id: missing value")]
    assert [p["user_id"] for p in found.parsed] == ["anna", None, "anna"]
    # the time reading, with three times as written beside how they were read, in the zone asked for
    assert column_choices.example_times(found, "Europe/Berlin") == [
        ("03.03.2026 09:00", "2026-03-03 09:00:00 CET"), ("03.03.2026 09:05", "2026-03-03 09:05:00 CET"),
        ("04.03.2026 14:30", "2026-03-04 14:30:00 CET")]


def test_a_file_none_of_whose_rows_would_load_is_stopped(tmp_path: Path) -> None:
    f = write(tmp_path / "w.csv", "ts,user,event\n2026.03.04-09h00,zoe,open\n2026.03.04-09h30,zoe,save\n")
    found = ingest.preview(f, "usage")
    assert column_choices.load_blockers(found) == ["every one of the first 2 rows would be rejected"]
    assert all("cannot read '2026.03.04-09h" in r["reason"] for r in found.rejected_rows)
    # the layout typed under "other" is tried on the times at once, then read by the preview
    assert column_choices.read_with("%Y.%m.%d-%Hh%M", ["2026.03.04-09h00"]) == [("2026.03.04-09h00", "2026-03-04 09:00:00")]
    assert column_choices.read_with("%d.%m.%Y", ["2026.03.04-09h00"])[0][1].startswith("not read")
    fixed = ingest.preview(f, "usage", ingest.IngestOptions(time_format="%Y.%m.%d-%Hh%M"))
    assert column_choices.load_blockers(fixed) == [] and not fixed.rejected_rows


def test_the_time_layouts_read_as_examples_and_a_yearless_one_says_so() -> None:
    assert column_choices.layout_label("%d.%m.%Y %H:%M") == "14.03.2026 09:05   (%d.%m.%Y %H:%M)"
    assert column_choices.layout_label(DETECTED, "ISO 8601 text") == "As recognised: ISO 8601 text"
    assert [column_choices.time_choice(f) for f in (None, "%d.%m.%Y %H:%M", "%Y.%m.%d-%Hh%M")] == [
        DETECTED, "%d.%m.%Y %H:%M", OTHER]
    assert column_choices.read_with("%b %d %H:%M:%S", ["Feb 29 15:16:01"]) == [
        ("Feb 29 15:16:01", "02-29 15:16:01 (no year: give it under Year)")]


def test_a_column_whose_name_holds_a_plus_is_one_column(tmp_path: Path) -> None:
    f = write(tmp_path / "w.csv", "when,who,Date+Time\n2026-03-03T09:00:00Z,ann,open\n")
    found = ingest.preview(f, "usage", ingest.IngestOptions(overrides={"event": "Date+Time"}))
    assert found.mapping.get("event").sources == ("Date+Time",)
    assert column_choices.option_label("Date+Time", found.columns, required=True) == "Date+Time"
    assert column_choices.option_label("Date+Time", ["Date", "Time"], required=True) == "Date + Time (joined)"


def test_a_line_log_shows_records_beside_their_lines_and_the_lines_not_read() -> None:
    found = ingest.preview(SAMPLES / "raw" / "access_combined.log", "usage")
    assert found.format.startswith("web access log")
    first = found.line_records[0]
    assert first["line"] == 1 and first["raw"].startswith("10.0.1.1 - chen [17/May/2026:10:05:32 +0000]")
    assert first["read"]["event"] == "POST /invoice/{id}" and first["read"]["user"] == "chen"
    assert [(r["line"], r["raw"]) for r in found.rejected_rows] == [
        (151, '10.0.0.9 - - [17/May/2026:12:00:00 +0000] "GET /broken HTTP/1.1 200 512')]
    # an application log's record: its header line and the stack trace under it, beside what was read
    app = ingest.preview(SAMPLES / "raw" / "java_app.log", "exceptions")
    failed = app.line_records[1]
    assert failed["line"] == 2 and failed["raw"].count("\n") == 6 and "Caused by: java.net.Socket" in failed["raw"]
    assert failed["read"]["error_type"] == "java.net.SocketTimeoutException"
    assert failed["read"]["stack_trace"] in failed["raw"]


@pytest.fixture
def pilot_store(db: Path) -> Path:
    make_pilot(db, "p")
    make_pilot(db, "other")
    return db


def test_the_next_file_of_the_same_shape_is_offered_the_mapping_it_was_loaded_with(pilot_store: Path,
                                                                                    tmp_path: Path) -> None:
    week1 = write(tmp_path / "week1.csv", UNKNOWN + "03.03.2026 09:00,anna,prüfen,K1\n")
    ingest_one(pilot_store, week1, pilot="p", overrides={"user_id": "Mitarbeiter", "event": "Vorgang"})
    ingest_one(pilot_store, write(tmp_path / "x.csv", "ts,user,event\n2026-03-03T09:00:00Z,a,b\n"), pilot="p")
    with store.open_store(pilot_store) as con:
        p = catalog.get_pilot(con, "p")
        past = column_choices.mapping_of_same_shape(con, OP, p, "usage",
                                                    ["Kostenstelle", "Vorgang", "Zeitpunkt", "Mitarbeiter"])
        assert (past.file_name, past.mapping["user_id"], past.mapping["event"]) == ("week1.csv", "Mitarbeiter", "Vorgang")
        assert past.mapping["team"] == ""  # left out then: left out again
        assert column_choices.batch_mapping(con, OP, p, past.batch_id) == {
            "timestamp": "Zeitpunkt", "user_id": "Mitarbeiter", "event": "Vorgang"}
        # another shape, another kind, another pilot: nothing offered
        assert column_choices.mapping_of_same_shape(con, OP, p, "usage", ["Zeitpunkt", "Mitarbeiter", "Vorgang"]) is None
        assert column_choices.mapping_of_same_shape(con, OP, p, "feedback", list(UNKNOWN.strip().split(","))) is None
        assert column_choices.mapping_of_same_shape(con, OP, catalog.get_pilot(con, "other"), "usage",
                                                    UNKNOWN.strip().split(",")) is None
        users.add_user(con, OP, "vic", "viewer", "viewer password long enough")
        with pytest.raises(AccessDenied):  # the lookup reads the pilot's batches: its reader's right
            column_choices.mapping_of_same_shape(con, Actor("vic", "viewer"), p, "usage", UNKNOWN.strip().split(","))
    # the choices as overrides make the same mapping for the next week's file
    week2 = write(tmp_path / "week2.csv", UNKNOWN + "10.03.2026 08:00,carla,prüfen,K3\n")
    found = ingest.preview(week2, "usage", ingest.IngestOptions(overrides=column_choices.choices_as_overrides(past.mapping, "usage")))
    rows = {r.field: r for r in column_choices.field_choices(found.mapping, found.columns, "week1.csv")}
    assert (rows["user_id"].chosen, rows["user_id"].how) == ("Mitarbeiter", "as in week1.csv")
    assert (rows["team"].chosen, rows["team"].how) == ("", "none, as in week1.csv")
    assert column_choices.load_blockers(found) == []


def test_times_without_a_zone_are_read_in_the_zone_chosen_for_the_file(pilot_store: Path, tmp_path: Path) -> None:
    f = write(tmp_path / "local.csv", "ts,user,event\n2026-03-03 09:00:00,ann,open\n")
    ingest_one(pilot_store, f, pilot="p", time_zone="America/New_York")
    ts, options = query(pilot_store, "SELECT ts, json_extract_string(options, '$.time_zone') FROM usage_events "
                                     "JOIN ingest_batches USING (batch_id)")[0]
    assert ts == datetime(2026, 3, 3, 14, 0, tzinfo=UTC) and options == "America/New_York"


def test_nested_keys_are_offered_by_their_dotted_path() -> None:
    found = ingest.preview(SAMPLES / "real" / "analytics_export.jsonl", "usage")
    rows = {r.field: r for r in column_choices.field_choices(found.mapping, found.columns)}
    assert {"properties.$session_id", "properties.$current_url", "properties.plan"} <= set(rows["feature"].options)
    assert rows["session_id"].chosen == "properties.$session_id"
    chosen = ingest.preview(SAMPLES / "real" / "analytics_export.jsonl", "usage",
                            ingest.IngestOptions(overrides={"feature": "properties.$current_url"}))
    assert chosen.parsed[0]["feature"].startswith("http")


def test_a_wide_export_whose_headers_are_questions_previews_in_moments(tmp_path: Path) -> None:
    # the application-log layouts were tried on the header with Python's backtracking regex: ten
    # spaced questions took 14 s, twenty would have taken hours; a choice on the page reruns the preview
    questions = [f"How satisfied are you with part {i} of the service" for i in range(20)]
    rows = [",".join(["2026-03-03T09:00:00Z", "ann", *(str(i % 5 + 1) for i in range(20))])] * 5
    f = write(tmp_path / "survey.csv", ",".join(["Submitted at", "Respondent", *questions]) + "\n" + "\n".join(rows) + "\n")
    started = time.perf_counter()
    found = ingest.preview(f, "feedback")
    assert time.perf_counter() - started < 10
    assert found.format.startswith("CSV") and found.mapping.get("rating").sources == (questions[0],)
