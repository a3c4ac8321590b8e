"""Exports in the shapes real tools write (tests/samples/real/) load with no options, mapped by name
and by content, and every headline figure equals the truth counted without the project's code.

In particular: a 1-5 `Score` is a rating, a 0/1 `feedback` flag is never the comment, a time column is
found by its values whatever its name, XES and analytics names map, nested JSON keys map, case ids
shared across users count once each, and an ambiguous day/month order is asked, not guessed.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC
from pathlib import Path

import pytest

from analysis.summary import summary
from readiness import catalog, store
from readiness.ingest import columns, formats
from readiness.ingest import load as ingest
from tests.helpers import ingest_one, query

SAMPLES = Path(__file__).parent / "samples" / "real"
TRUTH = json.loads((SAMPLES / "truth.json").read_text())
LOADABLE = sorted(name for name, t in TRUTH.items() if not t.get("ambiguous"))
SECTION_FIGURES = {
    "feedback": ("count", "rated", "scored", "comments", "mean_rating", "csat", "nps"),
    "usage": ("events", "users"),
    "exceptions": ("count",),
}


def _ingested(db: Path, path: Path, text: str, kind: str = "usage") -> ingest.IngestResult:
    """Write ``text`` to ``path`` and ingest it as ``kind``; it loads (the result says what)."""
    path.write_text(text)
    result = ingest_one(db, path, kind=kind)
    assert result.error is None, result.error
    return result


def _load(db: Path, name: str) -> ingest.IngestResult:
    return ingest_one(db, SAMPLES / name, kind=TRUTH[name]["kind"], pilot=name)


@pytest.mark.parametrize("name", LOADABLE)
def test_real_export_loads_with_no_options_and_its_figures_equal_the_truth(db: Path, name: str) -> None:
    truth = TRUTH[name]
    result = _load(db, name)
    assert result.error is None, result.error
    assert (result.rows_loaded, result.rows_rejected) == (truth["rows"], truth["rejected"])
    for canon, source in truth["expect_mapping"].items():
        assert result.mapping.get(canon) == source, (canon, result.mapping)
    for canon, source in truth.get("forbid_mapping", {}).items():
        assert result.mapping.get(canon) != source, (canon, result.mapping)
    with store.open_store(db) as con:
        figures = summary(con, catalog.get_pilot(con, name))
    section = figures[truth["kind"]]
    for key in SECTION_FIGURES[truth["kind"]]:
        want, got = truth[key], section[key]
        assert got == (pytest.approx(want, abs=1e-6) if isinstance(want, float) else want), (key, got, want)
    table = ingest.TABLES[truth["kind"]]
    first, last = query(db, f"SELECT strftime(min(ts) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S'), "
                            f"strftime(max(ts) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S') FROM {table}")[0]
    assert (first, last) == (truth["first_ts"][:19], truth["last_ts"][:19])


def test_each_content_choice_says_why(db: Path) -> None:
    # the summary of a load names the columns chosen by their values, and the name that misled
    reviews = _load(db, "product_reviews.tsv")
    assert any("'feedback' is named like comment but it holds only yes/no flags" in n for n in reviews.notes)
    food = _load(db, "food_reviews.csv")
    assert "rating from 'Score': 'Score' holds only whole numbers 1-5: star ratings" in food.notes[0]
    odd = _load(db, "feedback_date_named_oddly.csv")
    assert any(n.startswith("timestamp from 'Col A': by content: 100% of 150 sampled values read as times")
               for n in odd.notes)
    assert any(n.startswith("comment from 'Col C': by content: the longest free text") for n in odd.notes)
    assert "note: rating from 'Col B': by content: whole numbers 1-5" in odd.summary()


def test_process_mining_cases_count_once_each_and_the_reading_is_said(db: Path) -> None:
    truth = TRUTH["process_mining.csv"]
    _load(db, "process_mining.csv")
    with store.open_store(db) as con:
        usage = summary(con, catalog.get_pilot(con, "process_mining.csv"))["usage"]
    # a case is worked on by several resources: it is one session, not one per resource
    assert usage["sessions"] == truth["distinct_session_ids"] != truth["sessions"]
    assert "session ids are shared by several users" in usage["sessions_reading"]


def test_analytics_session_id_nested_in_properties_is_mapped(db: Path) -> None:
    result = _load(db, "analytics_export.jsonl")
    assert result.mapping["session_id"] == "properties.$session_id"
    with store.open_store(db) as con:
        usage = summary(con, catalog.get_pilot(con, "analytics_export.jsonl"))["usage"]
    assert usage["sessions"] == TRUTH["analytics_export.jsonl"]["sessions"]
    assert usage["sessions_reading"] == "A session is a distinct user and session id pair."


def test_ambiguous_day_and_month_are_asked_not_guessed(db: Path) -> None:
    pv = ingest.preview(SAMPLES / "ambiguous_dates.csv", "usage")
    assert any("day and month could be either way round" in p and "%d/%m/%Y %H:%M" in p and "%m/%d/%Y %H:%M" in p
               for p in pv.problems)
    result = _load(db, "ambiguous_dates.csv")
    assert result.rows_loaded == 0 and "day and month could be either way round" in result.error
    # the answer, given once, loads every row the way the user said
    answered = ingest_one(db, SAMPLES / "ambiguous_dates.csv", pilot="answered", time_format="%d/%m/%Y %H:%M")
    assert (answered.rows_loaded, answered.rows_rejected) == (150, 0)
    first, last = query(db, "SELECT strftime(min(ts) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M'), "
                            "strftime(max(ts) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M') FROM usage_events")[0]
    assert (first, last) == (TRUTH["ambiguous_dates.csv"]["first_ts"][:16], TRUTH["ambiguous_dates.csv"]["last_ts"][:16])


def test_a_missing_column_names_the_likely_candidates_by_content(tmp_path: Path) -> None:
    # no column is named like a time: the message names the column whose values are times, never
    # simply the first column
    path = tmp_path / "faults.csv"
    path.write_text("SuiteName,Raised,Who\n" + "".join(
        f"checkout,2011-01-{d:02d} 20:54:58,ann\n" for d in range(1, 20)) + "checkout,soon,bob\n")
    pv = ingest.preview(path, "exceptions")
    problem = next(p for p in pv.problems if "Required column(s) not found: message" in p)
    assert "No column looks like it by its content" in problem and "--map message=COLUMN" in problem
    assert pv.mapping.get("timestamp").sources == ("Raised",)  # 95% of its values read as times
    assert pv.mapping.get("timestamp").reason.startswith("by content: 95% of 20 sampled values read as times")
    words = columns.propose_mapping("usage", ["SuiteName", "Stamp"], profiles={
        "SuiteName": columns.ColumnProfile(20, 1, 0, 0, None, None, 0, 0, 0, 0, 8.0, 1.0),
        "Stamp": columns.ColumnProfile(20, 20, 0, 0, None, None, 0, 0, 8, 0, 16.0, 2.0, example="2011-01-12")})
    assert "Likely by content: 'Stamp' (40% of its values read as times)" in words.problems[0]
    assert "--map timestamp=Stamp" in words.problems[0]


def test_one_day_over_12_anywhere_in_the_column_settles_day_first(db: Path, tmp_path: Path) -> None:
    # the sample (first rows and a spread) holds only days of 12 or less; row 4,322 of 5,001 does not
    rows = [f"{(i * 7) % 12 + 1:02d}/{(i * 5) % 12 + 1:02d}/2026 10:{i % 60:02d},u{i % 9},open" for i in range(5000)]
    rows.insert(4321, "25/03/2026 10:00,u1,open")
    path = tmp_path / "late.csv"
    path.write_text("date,user,action\n" + "\n".join(rows) + "\n")
    assert "'%d/%m/%Y %H:%M'" in ingest.preview(path, "usage").time_mode
    result = ingest_one(db, path)
    assert (result.rows_loaded, result.rows_rejected) == (5001, 0)
    assert query(db, "SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d') FROM usage_events WHERE src_row = 4322") == [
        ("2026-03-25",)]


def test_the_load_says_which_check_rejected_rows_and_in_which_column(db: Path, tmp_path: Path) -> None:
    # a rating column with a stray 9 keeps its 1-5 reading; the row is rejected and the summary says why
    path = tmp_path / "stars.csv"
    path.write_text("ts,Stars,comment\n" + "".join(
        f"2026-03-0{1 + i % 9}T10:00:00Z,{9 if i == 7 else (5, 4, 4, 3, 2)[i % 5]},works for me\n" for i in range(50)))
    result = ingest_one(db, path, kind="feedback")
    assert (result.rows_loaded, result.rows_rejected) == (49, 1)
    assert result.mapping["rating"] == "Stars"
    assert "note: 1 row rejected in 'Stars', e.g. rating: 9.0 is outside 1-5" in result.summary()


def test_shapes_a_reviewer_found_misread(db: Path, tmp_path: Path) -> None:
    # a 0/1 'Recommended IND' is not the recommend score (NPS would read -100); an empty column whose name
    # holds 'time' inside a word ('sentiment') is not the time; '2015-02-24 11:35:52 -0800' is a time
    head = "Clothing ID,Review Text,Rating,Recommended IND,airline_sentiment_gold,tweet_created\n"
    texts = ("Runs small, sent it back", "Lovely fit and the fabric is soft", "Soft, warm and true to size")
    body = "".join(f'{i},"{texts[i % 3]}",'
                   f"{(5, 4, 2, 5, 3)[i % 5]},{i % 2},,2015-02-{10 + i % 9} 11:35:52 -0800\n" for i in range(40))
    path = tmp_path / "clothing.csv"
    path.write_text(head + body)
    result = ingest_one(db, path, kind="feedback")
    assert result.error is None, result.error
    assert "score" not in result.mapping and result.mapping["rating"] == "Rating"
    assert result.mapping["timestamp"] == "tweet_created" and result.mapping["comment"] == "Review Text"
    assert (result.rows_loaded, result.rows_rejected) == (40, 0)
    assert query(db, "SELECT strftime(min(ts) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') FROM feedback") == [
        ("2015-02-10 19:35",)]


def test_analytics_anonymous_ids_stand_in_for_a_blank_user_id(db: Path, tmp_path: Path) -> None:
    # Segment writes userId after sign-in and anonymousId before; Amplitude writes session -1 for none
    lines = [json.dumps({"type": "track", "event": "Viewed", "userId": f"u{i % 4}" if i % 3 else None,
                         "anonymousId": f"anon-{i % 5}", "timestamp": f"2026-03-02T10:{i:02d}:00Z",
                         "session_id": -1 if i % 4 == 0 else 1000 + i % 3}) for i in range(30)]
    path = tmp_path / "segment.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = ingest_one(db, path)
    assert result.mapping["user_id"] == "userId|anonymousId"
    assert (result.rows_loaded, result.rows_rejected) == (30, 0)
    anonymous = {f"anon-{i % 5}" for i in range(30) if not i % 3}
    assert {r[0] for r in query(db, "SELECT DISTINCT user_id FROM usage_events")} == {"u1", "u2", "u3", "u0"} | anonymous
    assert query(db, "SELECT count(*) FROM usage_events WHERE session_id = '-1'") == [(0,)]


def test_ga4_export_microsecond_times_and_pseudo_ids(db: Path, tmp_path: Path) -> None:
    # BigQuery's GA4 export: event_timestamp in microseconds (a string), user_id null until sign-in,
    # user_pseudo_id always there
    start = 1780300000_000000
    lines = [json.dumps({"event_date": "20260601", "event_timestamp": str(start + i * 61_000_123),
                         "event_name": ("page_view", "click")[i % 2], "user_id": f"u{i % 3}" if i % 4 == 0 else None,
                         "user_pseudo_id": f"{1000 + i % 7}.1780300000", "platform": "WEB"}) for i in range(40)]
    path = tmp_path / "ga4.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = ingest_one(db, path)
    assert result.mapping["user_id"] == "user_id|user_pseudo_id"
    assert (result.rows_loaded, result.rows_rejected) == (40, 0)
    assert "epoch microseconds" in result.time_note
    first, last = query(db, "SELECT strftime(min(ts) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f'), "
                            "strftime(max(ts) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f') FROM usage_events")[0]
    assert (first, last) == ("2026-06-01 07:46:40.000000", "2026-06-01 08:26:19.004797")


def test_nanosecond_epochs_are_times(db: Path, tmp_path: Path) -> None:
    # OpenTelemetry's and Go's UnixNano: 19 digits; read to the microsecond, exactly
    rows = "".join(f"{1780300000_123456789 + i * 1_000_000_001},u{i % 3},run\n" for i in range(12))
    path = tmp_path / "nanos.csv"
    path.write_text("time_unix_nano,user,event\n" + rows)
    result = ingest_one(db, path)
    assert (result.rows_loaded, result.rows_rejected) == (12, 0), result.summary()
    assert query(db, "SELECT strftime(min(ts) AT TIME ZONE 'UTC', '%H:%M:%S.%f') FROM usage_events") == [
        ("07:46:40.123456",)]


def test_a_snowflake_id_is_not_the_time(db: Path, tmp_path: Path) -> None:
    # Discord's and X's ids are 19-digit numbers in the range of epoch nanoseconds; the epoch
    # milliseconds beside them are the time
    rows = "".join(f"{1180300000_123456789 + i * 4_194_304_017},{1780300000123 + i * 60_000},u{i % 3},post\n"
                   for i in range(12))
    path = tmp_path / "messages.csv"
    path.write_text("message_id,posted,author,kind\n" + rows)
    result = ingest_one(db, path, overrides={"user_id": "author", "event": "kind"})
    assert result.mapping["timestamp"] == "posted", result.mapping
    # alone, the id is not taken for the time: the file asks for one
    alone = tmp_path / "ids.csv"
    alone.write_text("message_id,author,kind\n" + "".join(
        f"{1180300000_123456789 + i * 4_194_304_017},u{i % 3},post\n" for i in range(12)))
    result = ingest_one(db, alone, pilot="ids")
    assert result.error and "Required column(s) not found: timestamp" in result.error


def test_epoch_microseconds_written_with_a_fraction(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "float.jsonl"
    path.write_text("".join(json.dumps({"ts": 1780300000123456.0 + i * 1e6, "user": "u", "event": "x"}) + "\n"
                            for i in range(5)))
    result = ingest_one(db, path)
    assert (result.rows_loaded, result.rows_rejected) == (5, 0), result.summary()
    assert query(db, "SELECT strftime(min(ts) AT TIME ZONE 'UTC', '%H:%M:%S.%f') FROM usage_events") == [
        ("07:46:40.123456",)]


def test_a_nested_status_is_still_the_outcome(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl"
    path.write_text("".join(json.dumps({"timestamp": f"2026-03-01T10:00:0{i}Z", "user": {"id": "u"},
                                        "event": {"name": "open"}, "response": {"status": "ok"},
                                        "resource": {"type": "cloud_run_revision"}}) + "\n" for i in range(4)))
    result = ingest_one(db, path)
    assert result.mapping.get("outcome") == "response.status", result.mapping


def test_half_stars_with_a_decimal_comma_are_ratings(db: Path, tmp_path: Path) -> None:
    rows = "".join(f"0{1 + i % 9}.03.2026 10:00;b{i};{(4.5, 3, 5, 2.5, 4)[i % 5]};gut\n".replace(".5;", ",5;")
                   for i in range(30))
    path = tmp_path / "bewertungen.csv"
    path.write_text("Datum;Benutzer;Bewertung;Kommentar\n" + rows)
    result = ingest_one(db, path, kind="feedback")
    assert result.mapping["rating"] == "Bewertung" and result.rows_rejected == 0
    assert query(db, "SELECT avg(rating) FROM feedback") == [(pytest.approx((4.5 + 3 + 5 + 2.5 + 4) / 5),)]


def test_satisfaction_answers_in_words_are_ratings(db: Path, tmp_path: Path) -> None:
    # a SurveyMonkey-style export: the answers are words of a 1-5 scale, under a sub-header row
    labels = ("Very satisfied", "Satisfied", "Neither satisfied nor dissatisfied", "Dissatisfied", "Very dissatisfied",
              "Satisfied")
    path = tmp_path / "survey.csv"
    path.write_text('Respondent ID,Start Date,"Overall, how satisfied are you with the tool?",Other\n,,Response,\n'
                    + "".join(f"{1000 + i},03/{10 + i % 15}/2026 10:00:00 AM,{labels[i % 6]},x\n" for i in range(60)))
    result = ingest_one(db, path, kind="feedback")
    assert result.mapping["rating"] == "Overall, how satisfied are you with the tool?"
    # the sub-header row is the survey tool's, not a response: left out and said, not a reject
    assert (result.rows_loaded, result.rows_rejected) == (60, 0)
    assert "SurveyMonkey export" in result.format
    with store.open_store(db) as con:
        fb = summary(con, catalog.get_pilot(con, "pilot"))["feedback"]
    assert fb["rated"] == 60 and fb["mean_rating"] == pytest.approx((5 + 4 + 3 + 2 + 1 + 4) / 6)
    assert fb["csat"] == pytest.approx(3 / 6)


def test_every_share_is_over_the_rows_that_carry_its_value(db: Path, tmp_path: Path) -> None:
    # 12 entries: 8 rated, 6 scored, 7 with a comment; each share's base is its own, never all 12
    ratings = ["5", "5", "4", "2", "1", "", "4", "", "3", "5", "", ""]
    scores = ["10", "", "9", "7", "", "3", "0", "10", "", "", "", ""]
    comments = ["Great and I love it", "", "Terrible and broken", "", "Awful as it crashed again", "Works well", "",
                "I hate the slow export", "", "Excellent support", "Fine", ""]
    rows = [f"2026-03-0{1 + i % 9}T10:00:00Z,{r},{s},{c}" for i, (r, s, c) in enumerate(zip(ratings, scores, comments))]
    path = tmp_path / "mixed.csv"
    path.write_text("ts,rating,nps,comment\n" + "\n".join(rows) + "\n")
    assert ingest_one(db, path, kind="feedback").rows_loaded == 11  # the last row carries nothing: rejected
    usage = tmp_path / "usage.csv"
    usage.write_text("ts,user,event,outcome\n" + "".join(
        f"2026-03-02T10:0{i}:00Z,u{i},run,{('success', 'failed', '', 'ok', '')[i % 5]}\n" for i in range(10)))
    ingest_one(db, usage)
    with store.open_store(db) as con:
        p = catalog.get_pilot(con, "pilot")
        fb = summary(con, p)["feedback"]
        from analysis import usage as usage_evidence
        success = usage_evidence.task_success(con, p)
    assert (fb["count"], fb["rated"], fb["scored"], fb["comments"]) == (11, 8, 6, 7)
    assert fb["csat"] == pytest.approx(5 / 8)                    # 5, 5, 4, 4, 5 of 8 rated, not of 11
    assert fb["nps"] == pytest.approx(100 * (3 - 2) / 6)          # 10, 9, 10 against 3, 0 of 6 scored
    assert fb["negative_share"] == pytest.approx(3 / 7)           # terrible, awful, hate: of the 7 comments
    assert (success.attempts, success.successes) == (6, 4)        # outcomes given on 6 of 10 events


def test_a_file_without_a_header_row_keeps_its_first_line(db: Path, tmp_path: Path) -> None:
    # the first line is data (a time among its values): not taken as the header and lost
    path = tmp_path / "export.csv"
    path.write_text("".join(f"2026-03-0{1 + i % 9}T10:00:00Z,{(5, 4, 2)[i % 3]},works for me {i}\n" for i in range(12)))
    result = ingest_one(db, path, kind="feedback")
    assert "no header row" in result.format
    assert (result.rows_loaded, result.rows_rejected) == (12, 0)
    assert result.mapping == {"timestamp": "column1", "rating": "column2", "comment": "column3"}


def test_comments_not_in_english_are_left_out_of_the_negative_share(db: Path, tmp_path: Path) -> None:
    # VADER reads German 'die' (the article) as the English verb: every such comment would read negative
    german = ["Die App funktioniert nicht, sehr enttäuscht", "Leider stürzt die Anwendung immer ab",
              "Das ist gut, ich bin zufrieden", "Die Suche ist schnell und hilfreich", "Kein Export möglich, das nervt"]
    english = ["Great tool and I love it", "Terrible as it crashed", "Works well for me", "Slow export but fine",
               "Awful support with no reply", "Nice and quick"]
    path = tmp_path / "fb.csv"
    path.write_text("ts;Bewertung;Kommentar\n" + "".join(
        f"2026-03-0{1 + i % 9}T10:00:00Z;{(5, 2, 4, 3, 1)[i % 5]};{t}\n" for i, t in enumerate(german + english)))
    ingest_one(db, path, kind="feedback")
    with store.open_store(db) as con:
        figures = summary(con, catalog.get_pilot(con, "pilot"))
    assert figures["feedback"]["comments"] == 11
    assert figures["feedback"]["negative_share"] == pytest.approx(2 / 6)  # terrible, awful: of the 6 in English
    assert "5 of the 11 comments are not in English (German, for one)" in figures["notes"]["feedback"]
    path.write_text("ts;Kommentar\n" + "".join(f"2026-03-0{1 + i}T10:00:00Z;{t}\n" for i, t in enumerate(german)))
    ingest_one(db, path, kind="feedback", pilot="only German")
    with store.open_store(db) as con:
        fb = summary(con, catalog.get_pilot(con, "only German"))["feedback"]
    assert fb["negative_share"] is None


def test_only_a_survey_tools_header_rows_are_left_out(tmp_path: Path) -> None:
    # rows that merely look like them are responses: a first row with "Response" but ids filled, JSON
    # answers without import ids; a Qualtrics export without its question-text row loses one row
    from readiness.ingest import formats

    def read(name: str, text: str) -> formats.SourceFile:
        (tmp_path / name).write_text(text)
        work = tmp_path / f"work-{name}"
        work.mkdir()
        return formats.detect(tmp_path / name, work)

    looks = read("looks.csv", "id,when,answer,why\n7,2026-03-01 10:00:00,Response,x\n8,2026-03-02 10:00:00,Fine,y\n")
    assert looks.data_path == tmp_path / "looks.csv" and not looks.questions
    answers = read("json.csv", 'id,payload\n1,"{""plan"":""pro""}"\n2,"{""plan"":""free""}"\n')
    assert answers.data_path == tmp_path / "json.csv"
    ids_only = read("ids.csv", 'StartDate,Q1\n"{""ImportId"":""startDate"",""timeZone"":""Europe/Paris""}",'
                               '"{""ImportId"":""QID1""}"\n2026-03-01 10:00:00,Very satisfied\n')
    assert ids_only.data_path.read_text() == "StartDate,Q1\n2026-03-01 10:00:00,Very satisfied\n"
    assert ids_only.zones == {"StartDate": "Europe/Paris"} and not ids_only.questions
    assert "Qualtrics export: the row under the header (import ids) left out" in ids_only.describe()
    utc = read("utc.csv", 'StartDate,Q1\n"{""ImportId"":""startDate"",""timeZone"":""Z""}","{""ImportId"":""QID1""}"\n'
                          '2026-03-01 10:00:00,Very satisfied\n')
    assert utc.zones == {"StartDate": "UTC"}
    posix = read("posix.csv", 'StartDate,Q1\n"{""ImportId"":""startDate"",""timeZone"":""posix/Europe/Berlin""}",'
                              '"{""ImportId"":""QID1""}"\n2026-03-01 10:00:00,Very satisfied\n')
    assert posix.zones == {}


def _workbook(path: Path, sheets: dict[str, list[list]], *, date1904: bool = False, formats: dict | None = None) -> Path:
    """An .xlsx written by openpyxl as Excel writes one: ``sheets`` name -> rows (the first a header);
    ``formats`` column letter -> number format of its cells (a date format makes date cells)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    book.epoch = __import__("openpyxl").utils.datetime.CALENDAR_MAC_1904 if date1904 else book.epoch
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        for letter, fmt in (formats or {}).items():
            for cell in sheet[letter][1:]:
                cell.number_format = fmt
    book.save(path)
    return path


def test_a_workbook_reads_its_first_sheet_as_excel_shows_it(db: Path, tmp_path: Path) -> None:
    # date cells are the times Excel shows (to the second, a date alone at midnight), numbers as written,
    # a comment's line break kept; an empty row is no response and no reject; a text where a date
    # belongs is rejected with its row; the other sheet is named, not read
    from datetime import date, datetime

    rows = [["Submitted at", "Satisfaction (1-5)", "Comment"],
            [datetime(2026, 6, 1, 9, 30, 15), 5, "Quick and clear"],
            [datetime(2026, 6, 1, 17, 2, 59), 2, "Slow to load,\nand the export failed twice"],
            [None, None, None],
            [date(2026, 6, 3), 4, None],
            ["not recorded", 3, "Fine"]]
    path = _workbook(tmp_path / "survey.xlsx", {"Responses": rows, "Chart data": [["x", "y"], [1, 2]]},
                     formats={"A": "dd/mm/yyyy hh:mm:ss"})
    pv = ingest.preview(path, "feedback")
    assert pv.format.startswith("Excel workbook, sheet 'Responses'") and "'Chart data'" in pv.format
    result = ingest_one(db, path, kind="feedback")
    assert result.error is None, result.error
    assert result.mapping["timestamp"] == "Submitted at" and result.mapping["rating"] == "Satisfaction (1-5)"
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 3, 1)
    got = query(db, "SELECT src_row, strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S'), rating, comment "
                    "FROM feedback ORDER BY src_row")
    assert got == [(1, "2026-06-01 09:30:15", 5.0, "Quick and clear"),
                   (2, "2026-06-01 17:02:59", 2.0, "Slow to load,\nand the export failed twice"),
                   (4, "2026-06-03 00:00:00", 4.0, None)]
    ((row, reason),) = query(db, "SELECT src_row, reason FROM ingest_rejects")
    assert row == 5 and reason.startswith("timestamp: cannot read 'not recorded' as a time")


def test_a_workbook_in_the_1904_date_system_and_an_empty_first_sheet(db: Path, tmp_path: Path) -> None:
    # an old Mac workbook counts its dates from 1904; the first sheet holding no table, the next one is read
    from datetime import datetime

    rows = [["time", "user", "action"]] + [[datetime(2026, 3, 2, 10, i), f"u{i % 3}", "open"] for i in range(6)]
    path = _workbook(tmp_path / "usage.xlsx", {"Notes": [], "Log": rows}, date1904=True, formats={"A": "yyyy-mm-dd hh:mm"})
    result = ingest_one(db, path)
    assert result.error is None, result.error
    assert "sheet 'Log'" in result.format
    assert query(db, "SELECT strftime(min(ts) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M'), count(*), count(DISTINCT user_id) "
                     "FROM usage_events") == [("2026-03-02 10:00", 6, 3)]


@pytest.mark.parametrize(("members", "said"), [
    ({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}, "OpenDocument"),
    ({"[Content_Types].xml": b"<Types/>", "xl/workbook.bin": b"\x00"}, "binary Excel workbook (.xlsb)"),
    ({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}, "not an Excel workbook"),
])
def test_office_files_that_hold_no_readable_table_say_what_to_save(db: Path, tmp_path: Path, members: dict,
                                                                    said: str) -> None:
    import zipfile

    path = tmp_path / "export.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    result = ingest_one(db, path)
    assert result.error and said in result.error and "one file per archive" not in result.error


# --- shapes found misread by a read-only review of real exports (tools' documented formats) -----------

def test_google_forms_times_with_gmt_offsets(db: Path, tmp_path: Path) -> None:
    # Google Forms' own CSV download quotes every field and writes the responder's offset as 'GMT+1'
    rows = [("2024/03/01 8:20:09 AM GMT+1", "5"), ("2024/03/01 9:01:00 PM GMT+5:30", "3"),
            ("2024/03/02 11:15:00 AM GMT-4", "4"), ("2024/03/02 12:00:00 PM GMT", "2")]
    path = tmp_path / "Form responses 1.csv"
    path.write_text('"Timestamp","How satisfied are you with the assistant?"\n'
                    + "".join(f'"{t}","{r}"\n' for t, r in rows))
    result = ingest_one(db, path, kind="feedback")
    assert result.error is None, result.error
    assert (result.rows_loaded, result.rows_rejected) == (4, 0)
    assert [r[0] for r in query(db, "SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S') FROM feedback "
                                    "ORDER BY src_row")] == [
        "2024-03-01 07:20:09", "2024-03-01 15:31:00", "2024-03-02 15:15:00", "2024-03-02 12:00:00"]


def test_a_time_column_named_utc_is_read_as_utc_in_any_pilot(tmp_path: Path) -> None:
    # Typeform's 'Submit Date (UTC)', Application Insights' 'timestamp [UTC]': not the pilot's zone
    path = tmp_path / "typeform.csv"
    path.write_text("#,How would you rate it?,Submit Date (UTC)\n"
                    "a1,4,2024-03-04 09:00:00\na2,5,2024-03-04 10:30:00\n")
    pv = ingest.preview(path, "feedback", time_zone="Europe/Berlin")
    assert [r["timestamp"].astimezone(UTC).isoformat() for r in pv.parsed] == ["2024-03-04T09:00:00+00:00", "2024-03-04T10:30:00+00:00"]
    assert "as the column's name 'Submit Date (UTC)' says" in pv.format
    given = ingest.preview(path, "feedback", ingest.IngestOptions(time_zone="Europe/Berlin"),  # chosen: it wins
                           time_zone="Europe/Berlin")
    assert given.parsed[0]["timestamp"].astimezone(UTC).isoformat() == "2024-03-04T08:00:00+00:00"


def test_application_insights_exceptions_from_the_portal(db: Path, tmp_path: Path) -> None:
    # the portal's CSV: 'timestamp [UTC]' as '3/1/2024, 10:19:57.606 AM', the root cause in innermost*,
    # severityLevel 0-4 (1: information), and a version column ('1.4.2') that is no time
    head = ("timestamp [UTC],problemId,type,message,outerType,outerMessage,innermostType,innermostMessage,"
            "severityLevel,application_Version\n")
    inner = [("System.Collections.Generic.KeyNotFoundException", "The given key 'vat' was not present."),
             ("Microsoft.Data.SqlClient.SqlException", "Execution Timeout Expired.")]
    lines = []
    for i in range(30):
        t, m = inner[i % 2]
        lines.append(f'"3/{13 + i % 3}/2024, {1 + i % 11}:{i:02d}:57.606 {"AM" if i % 3 else "PM"}",p{i % 2},'
                     f'System.InvalidOperationException,,System.InvalidOperationException,Save failed,{t},"{m}",'
                     f'{1 if i % 5 == 0 else 3},1.4.2\n')
    path = tmp_path / "query_data.csv"
    path.write_text(head + "".join(lines))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert result.mapping["timestamp"] == "timestamp [UTC]" and result.mapping["error_type"] == "innermostType"
    assert result.mapping["message"] == "innermostMessage"
    assert (result.rows_loaded, result.rows_skipped, result.rows_rejected) == (24, 6, 0)
    assert query(db, "SELECT count(DISTINCT error_type), min(level), "
                     "strftime(min(ts) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%g') FROM exceptions") == [
        (2, "ERROR", "2024-03-13 14:12:57.606")]


def test_journald_json_export_reads_its_priorities(db: Path, tmp_path: Path) -> None:
    # journalctl -o json: __REALTIME_TIMESTAMP is epoch microseconds as a string, PRIORITY syslog's 0-7
    entries = [{"__REALTIME_TIMESTAMP": str(1709287200_000000 + i * 1_500_000), "PRIORITY": str((3, 6, 4, 6)[i % 4]),
                "SYSLOG_IDENTIFIER": "invoice-sync", "_SYSTEMD_UNIT": "invoice-sync.service",
                "MESSAGE": f"could not sync invoice {i}: KeyError 'vat'" if i % 4 == 0 else f"step {i}"}
               for i in range(40)]
    path = tmp_path / "journal.json"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert (result.rows_loaded, result.rows_skipped) == (20, 20)  # ERR and WARNING load; INFO is left out
    assert query(db, "SELECT list(DISTINCT level ORDER BY level) FROM exceptions") == [(["ERR", "WARNING"],)]
    assert query(db, "SELECT strftime(min(ts) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S') FROM exceptions") == [
        ("2024-03-01 10:00:00",)]


def test_python_json_loggers_and_structlog(db: Path, tmp_path: Path) -> None:
    trace = ("Traceback (most recent call last):\n  File \"/app/export.py\", line 41, in run\n    rows = load(batch)\n"
             "ValueError: export {n} crashed")
    pjl = [{"asctime": f"2024-03-01 10:{i:02d}:28,056", "levelname": "ERROR" if i % 3 == 0 else "INFO",
            "name": "export", "message": f"export {i} crashed" if i % 3 == 0 else "ok",
            **({"exc_info": trace.format(n=i)} if i % 3 == 0 else {})} for i in range(30)]
    path = tmp_path / "python-json-logger.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in pjl))
    result = ingest_one(db, path, kind="exceptions", pilot="pjl")
    assert (result.mapping["timestamp"], result.mapping["level"]) == ("asctime", "levelname")
    assert (result.rows_loaded, result.rows_skipped) == (10, 20)
    # structlog's JSONRenderer with format_exc_info: the traceback under 'exception', the message under 'event'
    slog = [{"event": f"export {i} crashed", "level": "error", "timestamp": f"2024-03-01T10:{i:02d}:00Z",
             "logger": "export", "exception": trace.format(n=i)} for i in range(12)]
    path = tmp_path / "structlog.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in slog))
    result = ingest_one(db, path, kind="exceptions", pilot="structlog")
    assert result.mapping["stack_trace"] == "exception" and "error_type" not in result.mapping
    assert query(db, "SELECT count(*), list(DISTINCT error_type) FROM exceptions e JOIN pilots p USING (pilot_id) "
                     "WHERE p.name = 'structlog'") == [(12, ["ValueError"])]


def test_a_dotnet_inner_exception_with_its_hresult_is_the_root_cause(db: Path, tmp_path: Path) -> None:
    record = ("2024-03-01 10:0{i}:00.000 +00:00 [ERR] Saving invoice {i} failed\n"
              "System.InvalidOperationException: Saving failed\n"
              " ---> Microsoft.Data.SqlClient.SqlException (0x80131904): Execution Timeout Expired.\n"
              "   at Microsoft.Data.SqlClient.SqlConnection.OnError(SqlException exception)\n"
              "   --- End of inner exception stack trace ---\n"
              "   at Invoices.Store.Save(Invoice invoice) in /src/Store.cs:line 88\n")
    path = tmp_path / "log.txt"
    path.write_text("".join(record.format(i=i) for i in range(4)))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert query(db, "SELECT DISTINCT error_type, message FROM exceptions") == [
        ("Microsoft.Data.SqlClient.SqlException", "Execution Timeout Expired.")]


def test_export_quirks_above_and_below_the_rows(db: Path, tmp_path: Path) -> None:
    # PowerShell's Export-Csv writes '#TYPE ...' above its header; a spreadsheet saved as CSV ends with
    # rows of empty fields: neither is a row, and the rows keep their numbers
    path = tmp_path / "events.csv"
    path.write_text('#TYPE System.Diagnostics.Eventing.Reader.EventLogRecord\r\n"TimeCreated","Id","LevelDisplayName",'
                    '"Message"\r\n' + "".join(f'"3/1{i}/2024 10:0{i}:00 AM","1000","{("Error", "Information")[i % 2]}",'
                                              f'"Faulting application name: app{i % 2}.exe"\r\n' for i in range(6))
                    + ",,,\r\n,,,\r\n")
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert (result.rows_read, result.rows_loaded, result.rows_skipped, result.rows_rejected) == (6, 3, 3, 0)
    assert [r[0] for r in query(db, "SELECT src_row FROM exceptions ORDER BY 1")] == [1, 3, 5]


@pytest.mark.parametrize(("document", "where"), [
    ({"events": "ROWS", "searchedLogStreams": [], "nextToken": "f/3"}, "'events'"),        # aws logs filter-log-events
    ({"took": 3, "hits": {"total": {"value": 8}, "hits": "ROWS"}}, "'hits.hits'"),         # Elasticsearch's search
])
def test_one_json_document_holding_its_rows_in_a_list(db: Path, tmp_path: Path, document: dict, where: str) -> None:
    rows = [{"timestamp": 1709287200000 + i * 60_000, "message": f"payment {i} failed: TimeoutError",
             "logStreamName": "2024/03/01/[$LATEST]ab"} for i in range(8)]
    doc = {k: (rows if v == "ROWS" else v) for k, v in document.items()}
    if "hits" in doc:
        doc["hits"]["hits"] = rows
    path = tmp_path / "export.json"
    path.write_text(json.dumps(doc, indent=2))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert where in result.format and (result.rows_loaded, result.rows_rejected) == (8, 0)


def test_usage_export_with_german_headers_maps_by_name(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "nutzung.csv"
    path.write_bytes(("\ufeffZeitstempel;Benutzer;Sitzung;Ereignis;Dauer_ms;Ergebnis;Abteilung\r\n" + "".join(
        f"0{1 + i % 9}.03.2024 10:{i:02d}:00;u{i % 4};s{i // 3};Rechnung geöffnet;{1200 + i},5;erfolgreich;Einkauf\r\n"
        for i in range(24))).encode("utf-8"))
    result = ingest_one(db, path)
    assert result.error is None, result.error
    assert result.mapping == {"timestamp": "Zeitstempel", "user_id": "Benutzer", "session_id": "Sitzung",
                              "event": "Ereignis", "duration_ms": "Dauer_ms", "outcome": "Ergebnis", "team": "Abteilung"}
    assert query(db, "SELECT count(*), count(DISTINCT user_id), min(duration_ms) FROM usage_events") == [(24, 4, 1200.5)]


def test_kibana_discover_times(db: Path, tmp_path: Path) -> None:
    _ingested(db, tmp_path / "discover.csv", '"@timestamp","log.level",message\n' + "".join(
        f'"Mar 1, 2024 @ 22:5{i}:51.783",error,"payment {i} failed"\n' for i in range(5)), kind="exceptions")
    assert query(db, "SELECT strftime(min(ts) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%g') FROM exceptions") == [
        ("2024-03-01 22:50:51.783",)]


def test_a_quiz_score_is_not_the_recommend_score(db: Path, tmp_path: Path) -> None:
    # Google Forms' quiz export: 'Score' is '7 / 10' (the quiz's points); the NPS is the question's
    path = tmp_path / "quiz.csv"
    why = ("The export is slow", "Love the shortcuts", "Needs a dark mode", "Search misses old invoices")
    path.write_text("Timestamp,Email Address,Score,How likely is it that you would recommend the assistant to a "
                    "colleague?,What one thing would you change?\n" + "".join(
                        f"3/{13 + i % 9}/2024 10:0{i % 10}:00,u{i}@corp.example,{i % 11} / 10,"
                        f"{(10, 9, 6, 8)[i % 4]},{why[i % 4]} ({i})\n" for i in range(20)))
    result = ingest_one(db, path, kind="feedback")
    assert result.error is None, result.error
    assert result.mapping["score"].startswith("How likely") and (result.rows_loaded, result.rows_rejected) == (20, 0)
    assert any("'Score'" in n and "not numbers" in n for n in result.notes), result.notes


def test_a_duration_in_seconds_is_stored_in_milliseconds(db: Path, tmp_path: Path) -> None:
    result = _ingested(db, tmp_path / "usage.csv", "timestamp,user,action,Duration (s)\n" + "".join(
        f"2024-03-01 10:0{i}:00,u{i % 2},open,{1 + i / 4}\n" for i in range(6)))
    assert result.mapping["duration_ms"] == "Duration (s)"
    assert query(db, "SELECT min(duration_ms), max(duration_ms) FROM usage_events") == [(1000.0, 2250.0)]


def test_a_flattened_export_s_dotted_headers_map_like_nested_keys(db: Path, tmp_path: Path) -> None:
    # PostHog's CSV export writes its properties as 'properties.$session_id'
    result = _ingested(db, tmp_path / "posthog.csv", "event,distinct_id,timestamp,properties.$session_id,"
                       "properties.$current_url\n" + "".join(
                           f"$pageview,u{i % 3},2024-03-01T10:0{i}:00Z,s{i // 3},https://app.example/x\n"
                           for i in range(9)))
    assert result.mapping["session_id"] == "properties.$session_id"
    assert query(db, "SELECT count(DISTINCT session_id) FROM usage_events") == [(3,)]


def test_a_report_s_title_lines_above_its_header_are_skipped(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_text("Usage report - Invoice assistant,,,\nGenerated 2024-03-31 by admin,,,\n,,,\n"
                    "Timestamp,User,Action,Duration (ms)\n"
                    + "".join(f"2024-03-01 10:0{i}:00,u{i % 3},search,{100 * i}\n" for i in range(6))
                    + "Total,,,1500\n")
    result = ingest_one(db, path)
    assert result.error is None, result.error
    assert "3 line(s) above the header skipped" in result.format
    assert (result.rows_loaded, result.rows_rejected) == (6, 1)  # the totals row is no event: rejected, said
    assert query(db, "SELECT min(src_row), count(DISTINCT user_id) FROM usage_events") == [(1, 3)]


def test_amplitude_anonymous_events_count_by_amplitude_id(db: Path, tmp_path: Path) -> None:
    lines = [json.dumps({"event_time": f"2024-03-01 09:{i:02d}:00.007362", "event_type": "invoice_opened",
                         "user_id": None if i % 3 == 0 else f"u{i % 4}@corp.example", "device_id": f"dev-{i % 5}",
                         "amplitude_id": 1000 + i % 4, "session_id": 1709283600000 + i // 4}) for i in range(24)]
    path = tmp_path / "amplitude.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = ingest_one(db, path)
    assert result.mapping["user_id"] == "user_id|amplitude_id"
    assert (result.rows_loaded, result.rows_rejected) == (24, 0)


def test_event_viewer_csv_whose_header_leaves_out_the_description(db: Path, tmp_path: Path) -> None:
    # Windows' Event Viewer 'Save All Events As... CSV': five names in the header, six fields a row
    rows = [("Error", "Application Error", "1000", "Faulting application name: invoices.exe, version: 1.4.2"),
            ("Information", "Invoices.Worker", "100", "Processed batch 232 in 515 ms."),
            ("Warning", "Invoices.Worker", "300", "ERP answered slowly (7 s).")]
    path = tmp_path / "application.csv"
    path.write_text("\ufeffLevel,Date and Time,Source,Event ID,Task Category\r\n" + "".join(
        f'{lv},3/{15 - i // 3}/2024 {1 + i % 12}:13:31 PM,{src},{eid},None,"{msg} ({i})"\r\n'
        for i, (lv, src, eid, msg) in enumerate(rows * 4)))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert result.mapping["message"] == "column6" and result.mapping["level"] == "Level"
    assert (result.rows_loaded, result.rows_skipped, result.rows_rejected) == (8, 4, 0)


def test_php_error_log_with_its_zone_and_uncaught_exceptions(db: Path, tmp_path: Path) -> None:
    fatal = ("[01-Mar-2024 10:4{i}:03 Europe/Berlin] PHP Fatal error:  Uncaught App\\Invoice\\SyncError: could not "
             "sync invoice {i} in /var/www/app/src/Invoice/Sync.php:57\nStack trace:\n"
             "#0 /var/www/app/src/Controller/InvoiceController.php(33): App\\Invoice\\Sync->run(110{i})\n#1 {{main}}\n"
             "  thrown in /var/www/app/src/Invoice/Sync.php on line 57\n")
    text = "".join(fatal.format(i=i) + f"[01-Mar-2024 10:4{i}:30 Europe/Berlin] PHP Notice:  Undefined index: x in "
                   f"/var/www/app/a.php on line 3\n[01-Mar-2024 10:4{i}:40 Europe/Berlin] PHP Warning:  Undefined "
                   f"array key \"vat\" in /var/www/app/src/Tax.php on line 7\n" for i in range(4))
    path = tmp_path / "php_errors.log"
    path.write_text(text)
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert "PHP error log" in result.format and "Europe/Berlin" in result.format
    assert (result.rows_loaded, result.rows_skipped) == (8, 4)  # Notice lines are information
    assert query(db, "SELECT strftime(min(ts) AT TIME ZONE 'UTC', '%H:%M:%S'), count(*) FILTER "
                     "(WHERE error_type = 'App\\Invoice\\SyncError' AND contains(stack_trace, '#0 ')) FROM exceptions") == [
        ("09:40:03", 4)]


def test_ga4_session_ids_in_its_event_params(db: Path, tmp_path: Path) -> None:
    # BigQuery's GA4 export keeps ga_session_id among event_params: key / typed value pairs
    def params(i: int) -> list:
        return [{"key": "ga_session_id", "value": {"string_value": None, "int_value": str(1709280000 + i // 4)}},
                {"key": "page_title", "value": {"string_value": "Invoices", "int_value": None}}]
    lines = [json.dumps({"event_timestamp": str(1709283600_000000 + i * 61_000_000), "event_name": "page_view",
                         "event_params": params(i), "user_id": None, "user_pseudo_id": f"{1000 + i // 8}.17"})
             for i in range(16)]
    path = tmp_path / "ga4.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = ingest_one(db, path)
    assert result.mapping["session_id"] == "event_params.ga_session_id"
    assert query(db, "SELECT count(DISTINCT session_id), count(*) FILTER (WHERE session_id IS NULL) FROM usage_events") == [
        (4, 0)]


def test_log_lines_inside_an_export_column_give_their_level(db: Path, tmp_path: Path) -> None:
    # Splunk's CSV export: the whole log4j line in _raw, no level column: INFO lines are left out
    lines = [(f"2024-03-01 10:{i:02d}:00,123 {'ERROR' if i % 3 == 0 else 'INFO'} [main] com.acme.Sync - "
              + (f"sync {i} failed\njava.net.ConnectException: Connection refused\n\tat com.acme.Sync.run(Sync.java:42)"
                 if i % 3 == 0 else f"synced invoice {i}")) for i in range(30)]
    path = tmp_path / "splunk.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["_time", "host", "source", "_raw"])
        w.writerows([f"2024-03-01T10:{i:02d}:00.123+00:00", "web01", "/var/log/app.log", line]
                    for i, line in enumerate(lines))
    result = ingest_one(db, path, kind="exceptions", pilot="splunk")
    assert result.error is None, result.error
    assert (result.rows_loaded, result.rows_skipped) == (10, 20)
    # CloudWatch Logs Insights: a Lambda's lines; START/END/REPORT are the platform's, an unhandled
    # error is '[ERROR] KeyError: ...' above its traceback (no exception line after the frames)
    rows = []
    for i in range(6):
        rows += [f"START RequestId: r{i} Version: $LATEST", f"[INFO]\t2024-03-01T10:0{i}:00.100Z\tr{i}\tbatch of 3",
                 "[ERROR] KeyError: 'vat'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 9, "
                 "in handler\n    rate = rates[row['vat']]", f"END RequestId: r{i}",
                 f"REPORT RequestId: r{i}\tDuration: 12.5 ms\tBilled Duration: 13 ms"]
    path = tmp_path / "insights.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["@timestamp", "@message"])
        w.writerows([f"2024-03-01 10:0{i // 5}:0{i % 5}.000", m] for i, m in enumerate(rows))
    result = ingest_one(db, path, kind="exceptions", pilot="lambda")
    assert result.error is None, result.error
    assert (result.rows_loaded, result.rows_skipped) == (6, 24)
    assert query(db, "SELECT DISTINCT error_type FROM exceptions e JOIN pilots p USING (pilot_id) "
                     "WHERE p.name = 'lambda'") == [("KeyError",)]


def test_an_issue_list_is_refused_not_counted_once_per_issue(db: Path, tmp_path: Path) -> None:
    # Sentry's issues table: one row per issue with count() events; loaded, 5 rows would read as 5 errors
    path = tmp_path / "issues.csv"
    path.write_text("issue,title,level,count(),count_unique(user),first_seen(),last_seen()\n" + "".join(
        f"API-{i},KeyError: 'k{i}',error,{100 * i + 7},{i + 2},2024-03-01T10:00:00+00:00,2024-03-09T10:00:00+00:00\n"
        for i in range(5)))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error and "is a list of issues" in result.error and "'count()'" in result.error
    assert query(db, "SELECT count(*) FROM exceptions") == [(0,)]
    assert any("list of issues" in p for p in ingest.preview(path, "exceptions").problems)


def test_partial_survey_responses_are_counted_and_left_out(db: Path, tmp_path: Path) -> None:
    # Typeform's CSV with partial responses included: 'Response Type' completed / partial
    path = tmp_path / "typeform.csv"
    path.write_text("#,How would you rate the assistant?,Response Type,Submit Date (UTC)\n" + "".join(
        f"r{i},{1 + i % 5},{'partial' if i % 4 == 0 else 'completed'},2024-03-04 09:{i:02d}:00\n" for i in range(20)))
    result = ingest_one(db, path, kind="feedback")
    assert (result.rows_read, result.rows_loaded, result.rows_skipped) == (20, 15, 5)
    assert "5 partial responses left out" in result.summary()
    assert query(db, "SELECT count(*) FROM feedback") == [(15,)]
    again = ingest_one(db, path, kind="feedback", pilot="all", all_levels=True)
    assert again.rows_loaded == 20


def test_zendesk_good_and_bad_satisfaction_is_csat(db: Path, tmp_path: Path) -> None:
    # a Zendesk view export: Satisfaction Good / Bad, or Offered / Unoffered (no answer)
    marks = ["Good"] * 19 + ["Bad"] + ["Offered", "Unoffered"] * 2
    path = tmp_path / "tickets.csv"
    path.write_text("ID,Subject,Requester,Status,Satisfaction,Created\n" + "".join(
        f"{1000 + i},Invoice {9000 + i} not syncing,Customer {i},Solved,{m},2026-03-02 09:{i:02d}\n"
        for i, m in enumerate(marks)))
    result = ingest_one(db, path, kind="feedback")
    assert result.error is None, result.error
    assert result.mapping["rating"] == "Satisfaction" and result.rows_rejected == 0
    with store.open_store(db) as con:
        fb = summary(con, catalog.get_pilot(con, "pilot"))["feedback"]
    assert (fb["rated"], round(fb["csat"], 2)) == (20, 0.95)


def test_opentelemetry_traces_give_their_exception_events(db: Path, tmp_path: Path) -> None:
    def span(i: int, error: str | None) -> dict:
        events = [{"timeUnixNano": str(1772442420_000000000 + i * 10**9), "name": "exception", "attributes": [
            {"key": "exception.type", "value": {"stringValue": error}},
            {"key": "exception.message", "value": {"stringValue": f"{error} in call {i}"}}]}] if error else []
        return {"traceId": f"{i:032x}", "spanId": f"{i:016x}", "name": "POST /invoices",
                "startTimeUnixNano": str(1772442420_000000000 + i * 10**9), "events": events,
                "attributes": [{"key": "enduser.id", "value": {"stringValue": f"u{i % 2}"}}]}
    doc = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "invoices"}}]},
                              "scopeSpans": [{"scope": {"name": "app"}, "spans": [
                                  span(i, ("KeyError", None, "TimeoutError")[i % 3]) for i in range(9)]}]}]}
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(doc, indent=1))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert (result.rows_loaded, result.rows_rejected) == (6, 0)
    assert query(db, "SELECT list(DISTINCT error_type ORDER BY error_type), min(component) FROM exceptions") == [
        (["KeyError", "TimeoutError"], "invoices")]


def test_apostrophes_in_a_csv_are_text_not_quotes(db: Path, tmp_path: Path) -> None:
    # Sentry's Discover CSV: Python's 'vat' keeps its quotes (the sniffer offered the apostrophe as the quote)
    _ingested(db, tmp_path / "discover.csv", "title,error.type,error.value,timestamp\n" + "".join(
        f"KeyError: 'vat',KeyError,'vat',2026-03-02T09:0{i}:00+00:00\n" for i in range(6)), kind="exceptions")
    assert query(db, "SELECT DISTINCT message FROM exceptions") == [("'vat'",)]


@pytest.mark.parametrize(("head", "row"), [
    ("id,counter,title,total_occurrences,first_occurrence_timestamp,last_occurrence_timestamp",
     "{i},{i},KeyError: 'vat',47,1772442420,1772528820"),                                        # Rollbar
    ("group.groupId,count,firstSeenTime,lastSeenTime",
     "G{i},47,2026-03-02T09:07:00Z,2026-03-03T09:07:00Z"),                                     # Error Reporting
])
def test_other_trackers_issue_lists_are_refused(db: Path, tmp_path: Path, head: str, row: str) -> None:
    path = tmp_path / "items.csv"
    path.write_text(head + "\n" + "".join(row.format(i=i) + "\n" for i in range(3)))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error and "is a list of issues" in result.error


# --- ordinary files the new readers must leave as they were (a read-only review's false positives) ---

def test_ordinary_columns_named_like_a_tool_s_keep_their_meaning(db: Path, tmp_path: Path) -> None:
    # an in-app 'finished' flag is no Qualtrics completion; a ticket's 'Priority' 1-5 is no syslog priority;
    # messages that mention a level are errors when the export types them
    fb = tmp_path / "fb.csv"
    fb.write_text("timestamp,rating,finished\n" + "".join(f"2026-03-02T09:{i:02d}:00Z,{1 + i % 5},{i % 2}\n"
                                                        for i in range(10)))
    assert ingest_one(db, fb, kind="feedback", pilot="fb").rows_loaded == 10
    ex = tmp_path / "ex.csv"
    msgs = ["invalid config: log level=debug is not allowed", "NOTICE: invoice 42 rejected by ERP",
            "DEBUG endpoint /x raised NullPointerException", "payment failed"]
    ex.write_text("timestamp,error_type,message,Priority\n" + "".join(
        f'2026-03-02T09:{i:02d}:00Z,E{i % 2},"{msgs[i % 4]}",{1 + i % 5}\n' for i in range(12)))
    r = ingest_one(db, ex, kind="exceptions", pilot="ex")
    assert (r.rows_loaded, r.rows_skipped) == (12, 0)


def test_a_one_line_json_file_with_a_list_inside_is_one_row(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"timestamp": "2026-03-02T09:00:00Z", "message": "boom", "error_type": "KeyError",
                                "frames": [{"file": "a.py", "line": 3}, {"file": "b.py", "line": 9}]}) + "\n")
    r = ingest_one(db, path, kind="exceptions")
    assert (r.error, r.rows_loaded) == (None, 1)


def test_a_wrapper_s_named_list_wins_over_a_longer_one(db: Path, tmp_path: Path) -> None:
    doc = {"searchedLogStreams": [{"logStreamName": f"s{i}", "searchedCompletely": True} for i in range(12)],
           "events": [{"timestamp": 1772442420000 + i, "message": f"[ERROR] KeyError: 'k{i}'"} for i in range(5)]}
    path = tmp_path / "filter.json"
    path.write_text(json.dumps(doc))
    r = ingest_one(db, path, kind="exceptions")
    assert "'events'" in r.format and r.rows_loaded == 5


def test_times_with_a_comma_are_asked_when_day_and_month_could_swap(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("when,user,event\n" + "".join(f'"3/{1 + i % 9}/2024, 14:0{i}:00",u{i},open\n' for i in range(6)))
    r = ingest_one(db, path)
    assert r.error and "either way round" in r.error


def test_a_us_12_hour_clock_reads_month_first_and_says_so(db: Path, tmp_path: Path) -> None:
    # SurveyMonkey's export of a survey run on the 1st to the 9th of March
    path = tmp_path / "t.csv"
    path.write_text("when,user,event\n" + "".join(f'"03/0{1 + i % 9}/2026 0{1 + i % 9}:15:00 PM",u{i},open\n'
                                                   for i in range(6)))
    r = ingest_one(db, path)
    assert r.error is None, r.error
    assert "'%m/%d/%Y %I:%M:%S %p'" in r.summary()
    assert query(db, "SELECT strftime(max(ts) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') FROM usage_events") == [
        ("2026-03-06 18:15",)]


def test_r_row_names_before_the_header_s_columns(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text('"timestamp","user","event"\n' + "".join(
        f'"{i + 1}","2026-03-02 09:0{i}:00","u{i % 2}","open"\n' for i in range(5)))
    r = ingest_one(db, path)
    assert (r.error, r.rows_loaded, r.mapping["user_id"]) == (None, 5, "user")


def test_a_workbook_s_hidden_sheet_and_title_rows(db: Path, tmp_path: Path) -> None:
    from datetime import datetime

    rows = [["Usage export"], [], ["time", "user", "action"]] + [
        [datetime(2026, 3, 2, 10, i), f"u{i % 3}", "open"] for i in range(6)]
    path = _workbook(tmp_path / "u.xlsx", {"Lookup": [["code", "name"], ["a", "b"]], "Data": rows},
                     formats={"A": "yyyy-mm-dd hh:mm"})
    from openpyxl import load_workbook

    book = load_workbook(path)
    book["Lookup"].sheet_state = "hidden"
    book.save(path)
    r = ingest_one(db, path)
    assert r.error is None, r.error
    assert "sheet 'Data'" in r.format and r.rows_loaded == 6
    assert query(db, "SELECT strftime(min(ts) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') FROM usage_events") == [
        ("2026-03-02 10:00",)]


def test_mixpanel_s_distinct_id_is_the_user(db: Path, tmp_path: Path) -> None:
    # Mixpanel's raw export: server-side events carry distinct_id only; web events $user_id once identified
    lines = [{"event": "Invoice Approved", "properties": {"time": 1772442420 + i, "distinct_id": d,
                                                         **({"$user_id": u} if u else {}), "$insert_id": f"i{i}"}}
             for i, (d, u) in enumerate([("maria", None), ("maria", None), ("maria", "maria"), ("chen", "chen"),
                                         ("$device:18e0a1", None), ("chen", "chen")])]
    path = tmp_path / "mixpanel.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    r = ingest_one(db, path)
    assert r.mapping["user_id"].startswith("properties.distinct_id") and (r.rows_loaded, r.rows_rejected) == (6, 0)
    assert query(db, "SELECT count(DISTINCT user_id) FROM usage_events") == [(3,)]


def test_segment_archive_page_calls_are_uses_and_identify_calls_are_not(db: Path, tmp_path: Path) -> None:
    import gzip

    calls = [("identify", None, None), ("page", None, "Invoices"), ("track", "Invoice Opened", None),
             ("track", "Invoice Approved", None), ("group", None, None), ("page", None, "Reports")]
    lines = [json.dumps({"anonymousId": f"anon-{i % 2}", "userId": f"u{i % 2}", "type": t, "messageId": f"m{i}",
                         "timestamp": f"2026-03-02T09:0{i}:00.000Z", "sentAt": f"2026-03-02T09:0{i}:01.000Z",
                         **({"event": e} if e else {}),
                         **({"name": n} if n else {}), "context": {"ip": "203.0.113.5"}})
             for i, (t, e, n) in enumerate(calls)]
    path = tmp_path / "segment.json.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    r = ingest_one(db, path)
    assert (r.rows_loaded, r.rows_skipped, r.rows_rejected) == (4, 2, 0)
    assert "identify, group and alias calls left out" in r.summary()
    assert [x[0] for x in query(db, "SELECT event FROM usage_events ORDER BY src_row")] == [
        "Invoices", "Invoice Opened", "Invoice Approved", "Reports"]


ORDINARY = Path(__file__).parent / "samples" / "ordinary"


@pytest.mark.parametrize(("name", "kind", "loaded", "rejected", "check"), [
    ("u_distinct.csv", "usage", 4, 0, "SELECT count(DISTINCT user_id) FROM usage_events"),          # 2 people
    ("u_notsegment.csv", "usage", 4, 1, "SELECT count(*) FROM usage_events WHERE event = 'group'"),  # a use
    ("f_allgood.csv", "feedback", 4, 0, "SELECT count(rating) FROM feedback"),  # 'Good' of 5 levels: not 5 stars
    ("e_dotted.csv", "exceptions", 3, 0, "SELECT count(DISTINCT error_type) FROM exceptions"),
    ("u_apos.csv", "usage", 4, 0, "SELECT count(*) FROM usage_events WHERE event = 'open, file'"),
    ("u_apos2.csv", "usage", 3, 0, "SELECT count(*) FROM usage_events WHERE event = 'say \"a, b\"'"),
    ("u_wrapper.json", "usage", 3, 0, "SELECT count(DISTINCT user_id) FROM usage_events"),
    # a client address beside blank user ids is no person; exam points are no HTTP status
    ("u_clientip.csv", "usage", 40, 20, "SELECT count(DISTINCT user_id) FROM usage_events"),
    ("u_points.csv", "usage", None, 0, "SELECT count(*) FROM usage_events WHERE outcome NOT SIMILAR TO '[0-9]+'"),
    # '@t'/'@m' of a non-Serilog tool with its own level; .NET's 0-5 beside 'host' is no syslog scale;
    # an upstream API's nested error message is not the line's
    ("e_atkeys.jsonl", "exceptions", 3, 0, "SELECT count(*) FROM exceptions WHERE level = 'INFORMATION'"),
    ("e_levels.jsonl", "exceptions", 6, 0, "SELECT count(*) FROM exceptions WHERE level IN ('CRIT', 'NOTICE')"),
    ("e_upstream.jsonl", "exceptions", 3, 0, "SELECT count(*) FROM exceptions WHERE message NOT LIKE '% failed for %'"),
    # a dropdown's reason is no comment; an account's creation is no response time; a 'Feedback
    # Response' is the comment, not the longest text (a user agent)
    ("f_reason.csv", "feedback", None, 0, "SELECT count(*) FROM feedback WHERE comment NOT LIKE '%(case %'"),
    ("f_created.csv", "feedback", None, 0, "SELECT count(*) FROM feedback WHERE year(ts) < 2024"),
    ("f_response.csv", "feedback", None, 0, "SELECT count(*) FROM feedback WHERE comment LIKE 'Mozilla%'"),
])
def test_ordinary_files_keep_their_reading(db: Path, name: str, kind: str, loaded: int, rejected: int,
                                           check: str) -> None:
    result = ingest_one(db, ORDINARY / name, kind=kind)
    assert result.error is None, result.error
    assert (loaded or result.rows_loaded, result.rows_rejected) == (result.rows_loaded, rejected)
    want = {"u_distinct.csv": 2, "u_notsegment.csv": 1, "f_allgood.csv": 0, "e_dotted.csv": 2, "u_apos.csv": 1,
            "u_apos2.csv": 1, "u_wrapper.json": 3, "u_clientip.csv": 3}.get(name, 0)
    assert query(db, check) == [(want,)]


def test_serilog_compact_json_clef_with_its_levels_left_out_when_information(db: Path, tmp_path: Path) -> None:
    # Serilog's CompactJsonFormatter (CLEF, as Seq reads it): no @l on Information lines, @x the .NET
    # exception, the message as its template (@mt) or rendered (@m); @l and @x first appear past the
    # first 5,000 lines here, as in a log that runs quietly for a while
    quiet = [{"@t": f"2024-03-01T08:{i // 3600 % 60:02d}:{i % 60:02d}.1Z", "@mt": "Processed {OrderId}",
              "OrderId": i, "SourceContext": "Shop.Orders"} for i in range(6000)]
    trace = ("System.InvalidOperationException: Card declined\r\n   at Shop.Payments.Charge(Order o) in "
             "/src/Payments.cs:line 42\r\n   at Shop.Orders.Checkout() in /src/Orders.cs:line 17")
    loud = [{"@t": f"2024-03-01T10:{i:02d}:00.5+01:00", "@mt": "Failed to charge order {OrderId}", "@l": "Error",
             "@x": trace, "OrderId": i, "SourceContext": "Shop.Payments"} if i % 2 else
            {"@t": f"2024-03-01T10:{i:02d}:00Z", "@m": f"Slow response from pricing ({i} ms)",
             "@mt": "Slow response from {Service} ({Elapsed} ms)", "@l": "Warning", "Service": "pricing", "Elapsed": i}
            for i in range(40)]
    path = tmp_path / "app.clef"
    path.write_text("".join(json.dumps(r) + "\n" for r in quiet + loud))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert {k: result.mapping.get(k) for k in ("timestamp", "level", "stack_trace")} == {
        "timestamp": "@t", "level": "@l", "stack_trace": "@x"}
    assert (result.rows_loaded, result.rows_skipped) == (40, 6000)
    assert query(db, "SELECT level, error_type, count(*) FROM exceptions GROUP BY ALL ORDER BY level") == [
        ("Error", "System.InvalidOperationException", 20), ("Warning", None, 20)]
    assert query(db, "SELECT min(message) FROM exceptions WHERE level = 'Warning'") == [("Slow response from pricing (0 ms)",)]


def test_serilog_json_formatter_s_exception_is_the_stack_trace(db: Path, tmp_path: Path) -> None:
    # Serilog's JsonFormatter: the whole exception (type, message, frames) under 'Exception'
    rows = [{"Timestamp": f"2024-03-01T10:00:{i:02d}.1234567+01:00", "Level": "Error" if i % 3 == 0 else "Information",
             "MessageTemplate": "Order {OrderId} failed", "RenderedMessage": f"Order {i} failed",
             **({"Exception": "System.TimeoutException: The operation has timed out.\r\n   at Npgsql.Connector.Read()"}
                if i % 3 == 0 else {}), "Properties": {"OrderId": i, "SourceContext": "Shop.Orders"}} for i in range(30)]
    path = tmp_path / "serilog.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert result.mapping.get("stack_trace") == "Exception" and "error_type" not in result.mapping
    assert (result.rows_loaded, result.rows_skipped) == (10, 20)
    assert query(db, "SELECT DISTINCT error_type, component FROM exceptions") == [
        ("System.TimeoutException", "Shop.Orders")]


def test_a_json_log_s_error_keys_first_written_late_in_a_large_file_map(db: Path, tmp_path: Path) -> None:
    # pino: the first 12,000 lines are requests (level 30); errors, with their 'err' object, come later
    lines = [{"level": 50, "time": 1709287200000 + i * 1000, "hostname": "web-1", "msg": "invoice failed",
              "err": {"type": "TypeError", "message": "Cannot read properties of undefined (reading 'vat')",
                      "stack": "TypeError: Cannot read properties of undefined (reading 'vat')\n    at total (/app/a.js:12:9)"}}
             if i > 12000 and i % 97 == 0 else
             {"level": 30, "time": 1709287200000 + i * 1000, "hostname": "web-1", "req": {"id": i, "url": "/invoices"},
              "msg": "request completed"} for i in range(30000)]
    path = tmp_path / "pino.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert (result.mapping.get("error_type"), result.mapping.get("stack_trace")) == ("err.type", "err.stack")
    assert (result.rows_loaded, result.rows_skipped) == (186, 29814)
    assert query(db, "SELECT DISTINCT error_type, message FROM exceptions") == [
        ("TypeError", "Cannot read properties of undefined (reading 'vat')")]


def test_a_key_on_a_dozen_late_lines_anywhere_in_a_multi_megabyte_json_log_maps(db: Path, tmp_path: Path) -> None:
    # python-json-logger: 21,000 request lines (3 MB); 'exc_info' only on error lines that fall
    # between any evenly spread sample's chunks: every line is searched for late keys
    def line(i: int, level: str, message: str) -> dict:
        return {"asctime": f"2024-03-05 10:{(i // 60) % 60:02d}:{i % 60:02d},123", "name": "app.api",
                "levelname": level, "message": message, "request_id": f"r{i:07d}", "path": f"/api/v1/items/{i % 97}"}
    lines = [json.dumps(line(i, "INFO", f"request {i} handled ok in 12ms for tenant acme-corporation"))
             for i in range(21000)]
    errors = list(range(5300, 21000, 1300))
    for i in errors:
        lines[i] = json.dumps({**line(i, "ERROR", "Unhandled error while handling request"), "exc_info": (
            'Traceback (most recent call last):\n  File "/app/db.py", line 9, in fetch\n    raise ConnectionError("db down")\n'
            "ConnectionError: db down")})
    path = tmp_path / "api.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert result.mapping.get("stack_trace") == "exc_info"
    assert (result.rows_loaded, result.rows_skipped) == (len(errors), 21000 - len(errors))
    assert query(db, "SELECT DISTINCT error_type FROM exceptions") == [("ConnectionError",)]


def test_a_session_id_among_key_value_pairs_only_in_late_lines_maps(db: Path, tmp_path: Path) -> None:
    # GA4: every line's event_params has the same shape (a list of key / typed value pairs), and
    # the session's pair takes the place of another from line 8,000: the pairs' keys are read from
    # every line
    def event(i: int) -> dict:
        params = [{"key": "page_title", "value": {"string_value": "Invoices", "int_value": None}},
                  {"key": "ga_session_id" if i >= 8000 else "engagement_time_msec",
                   "value": {"string_value": None, "int_value": str(1709280000 + i // 4)}}]
        return {"event_timestamp": str(1709283600_000000 + i * 1_000_000), "event_name": "page_view",
                "event_params": params, "user_pseudo_id": f"{1000 + i // 8}.17"}
    path = tmp_path / "ga4.jsonl"
    path.write_text("\n".join(json.dumps(event(i)) for i in range(8400)) + "\n")
    result = ingest_one(db, path)
    assert result.mapping["session_id"] == "event_params.ga_session_id"
    assert query(db, "SELECT count(DISTINCT session_id) FROM usage_events") == [(100,)]


@pytest.mark.parametrize("odd", [
    '{"ts":"2026-12-06T10:00:01Z","event":"login","user":{"id":"u1"},"user":{"plan":"pro"}}',  # a key written twice
    '{"ts":"2026-12-06T10:00:01Z","event":"login","user":{"id":"u1","plan":"pro",}}',  # a trailing comma
])
def test_a_nested_key_maps_when_the_first_line_of_its_shape_is_odd(db: Path, tmp_path: Path, odd: str) -> None:
    # one line of each shape is read for the nested keys of all: a line Python reads otherwise than
    # DuckDB (or not at all) must not hide user.id, which the lines after it write
    later = [json.dumps({"ts": f"2026-12-06T10:00:0{i}Z", "event": "view", "user": {"id": f"u{i}", "plan": "free"}})
             for i in range(2, 5)]
    first = '{"ts":"2026-12-06T10:00:00Z","event":"start","user":"system"}'
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([first, odd, *later]) + "\n")
    result = ingest_one(db, path)
    assert result.mapping["user_id"] == "user.id", result.mapping
    assert query(db, "SELECT user_id FROM usage_events WHERE src_row > 2 ORDER BY src_row") == [("u2",), ("u3",), ("u4",)]


def test_a_json_logs_columns_come_in_the_order_its_lines_write_them(tmp_path: Path) -> None:
    # what the preview lists: the first line's keys as written, then keys later lines add
    first = {"ts": "2024-03-01T10:00:00Z", "level": "info", "logger": "api", "msg": "ok", "request_id": "r1",
             "tenant": "acme", "duration_ms": 12, "user": {"id": "u1"}}
    later = {**first, "level": "error", "error": {"type": "KeyError", "stack": "Traceback ..."}}
    path = tmp_path / "app.jsonl"
    path.write_text("\n".join(json.dumps(later if i == 30 else first) for i in range(40)) + "\n")
    for _ in range(3):
        src = formats.detect(path, tmp_path)
        assert src.columns == ["ts", "level", "logger", "msg", "request_id", "tenant", "duration_ms", "user", "error",
                               "user.id", "error.type", "error.stack"]


def _dd_log(i: int, status: str, message: str, error: dict | None = None) -> dict:
    inner = {"http": {"status_code": 500 if error else 200}, **({"error": error} if error else {})}
    return {"id": f"AQAAAY{i:010d}", "type": "log",
            "attributes": {"status": status, "service": "invoices", "host": "web-01", "message": message,
                           "timestamp": f"2024-03-01T10:00:{i:02d}.123Z", "tags": ["env:prod"], "attributes": inner}}


def test_datadog_log_export_reads_its_status_as_the_level_and_its_nested_error(db: Path, tmp_path: Path) -> None:
    # Datadog's Logs API: {"data": [...]} with the status one level down and the error three
    logs = [_dd_log(i, ("info", "error", "warn", "debug")[i % 4], f"step {i}" if i % 4 != 1 else f"sync {i} failed",
                    {"kind": "KeyError", "message": "'vat'", "stack": "Traceback (most recent call last):\n"
                     "  File \"/app/sync.py\", line 7, in run\nKeyError: 'vat'"} if i % 4 == 1 else None)
            for i in range(20)]
    path = tmp_path / "extract-2024-03-01.json"
    path.write_text(json.dumps({"data": logs, "meta": {"page": {"after": None}}}, indent=2))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert (result.mapping.get("level"), result.mapping.get("error_type")) == (
        "attributes.status", "attributes.attributes.error.kind")
    assert (result.rows_loaded, result.rows_skipped) == (10, 10)  # error and warn load; info and debug do not
    assert query(db, "SELECT error_type, count(*) FROM exceptions GROUP BY ALL ORDER BY 1 NULLS LAST") == [
        ("KeyError", 5), (None, 5)]


def test_gelf_levels_are_syslog_s_and_its_full_message_is_the_trace(db: Path, tmp_path: Path) -> None:
    trace = "Traceback (most recent call last):\n  File \"/srv/app/sync.py\", line 7, in lookup\nKeyError: 'vat'"
    rows = [{"version": "1.1", "host": "web-01", "short_message": f"event {i}", "timestamp": 1709287200.5 + i,
             "level": (6, 3, 4, 7, 5)[i % 5], "_service": "invoices",
             **({"full_message": trace} if i % 5 == 1 else {})} for i in range(25)]
    path = tmp_path / "graylog.gelf.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert (result.rows_loaded, result.rows_skipped) == (10, 15)  # 3 ERR and 4 WARNING; 5, 6, 7 are information
    assert query(db, "SELECT level, error_type, count(*) FROM exceptions GROUP BY ALL ORDER BY 1") == [
        ("ERR", "KeyError", 5), ("WARNING", None, 5)]


def test_kibana_s_dash_in_empty_cells_is_no_value(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "discover.csv"
    path.write_text('"@timestamp","log.level","message","error.type","error.message"\n'
                    + "".join(f'"Mar 1, 2024 @ 10:0{i}:00.000",{("error", "warn")[i % 2]},"'
                              + (f'sync {i} failed",KeyError,"\'vat\'"' if i % 2 == 0 else 'retrying supplier lookup",-,-')
                              + "\n" for i in range(6)))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert query(db, "SELECT error_type, message, count(*) FROM exceptions GROUP BY ALL ORDER BY 1 NULLS LAST") == [
        ("KeyError", "'vat'", 3), (None, "retrying supplier lookup", 3)]


def test_google_cloud_entries_with_text_or_json_payloads(db: Path, tmp_path: Path) -> None:
    trace = "Traceback (most recent call last):\n  File \"/app/main.py\", line 9, in handle\nKeyError: 'vat'\n"
    entries = [{"insertId": f"i{i}", "timestamp": f"2024-03-01T10:00:{i:02d}.123456Z",
                "severity": ("INFO", "ERROR", "WARNING")[i % 3], "logName": "projects/p/logs/stderr",
                **({"textPayload": trace if i % 3 == 1 else f"GET /healthz {i}\n"} if i % 2 else
                   {"jsonPayload": {"message": f"could not sync invoice {i}" if i % 3 else "ok"}})}
               for i in range(12)]
    path = tmp_path / "downloaded-logs.json"
    path.write_text(json.dumps(entries, indent=2))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert (result.rows_loaded, result.rows_rejected, result.rows_skipped) == (8, 0, 4)
    assert query(db, "SELECT count(*) FILTER (WHERE error_type = 'KeyError'), count(*) FILTER (WHERE message IS NULL) "
                     "FROM exceptions") == [(2, 0)]


def test_a_json_access_log_s_status_codes_are_outcomes(db: Path, tmp_path: Path) -> None:
    # nginx with a JSON log_format: the signed-in user, else the client's address; status codes as outcomes
    rows = [{"time_iso8601": f"2026-03-02T08:{i:02d}:00+00:00", "remote_addr": f"203.0.113.{i % 3}",
             "remote_user": "alice" if i % 4 == 0 else "", "request": f"GET /invoices/{i} HTTP/1.1",
             "request_uri": f"/invoices/{i}", "status": str((200, 304, 404, 500)[i % 4]), "request_time": "0.150"}
            for i in range(20)]
    path = tmp_path / "access.json.log"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = ingest_one(db, path, kind="usage")
    assert result.error is None, result.error
    assert (result.rows_loaded, result.mapping.get("event")) == (20, "request_uri")
    assert query(db, "SELECT count(DISTINCT user_id) FROM usage_events") == [(4,)]  # alice and three addresses
    assert query(db, "SELECT outcome, count(*) FROM usage_events GROUP BY 1 ORDER BY 1") == [
        ("client error", 5), ("failure", 5), ("success", 10)]


@pytest.mark.parametrize(("head", "row", "expect"), [
    # Trustpilot: the review's text, not its title; its creation, not the company's reply
    ("Review Created (UTC),Review Title,Review Content,Review Stars,Company Reply Date (UTC)",
     '2026-03-0{d} 04:00:04,Quick,"Quick and easy, would use again {d}",{s},{reply}',
     {"comment": "Review Content", "timestamp": "Review Created (UTC)"}),
    # Zendesk's view export: Good / Bad and its comment, however often a comment repeats
    ("ID,Subject,Satisfaction Score,Satisfaction Comment,Requested",
     '{d},Login issue,{gb},"Thanks, quick fix",0{d} Mar 2026 12:00', {"comment": "Satisfaction Comment"}),
    # Medallia's likelihood to recommend and overall satisfaction
    ("Survey ID,Response Date,LTR,OSAT,Comments", '5500{d},3/1{d}/2026 4:15:02 PM,{n},{s},"fine {d}"',
     {"score": "LTR", "rating": "OSAT"}),
    ("Datum;Bewertung (1-5);Weiterempfehlung (0-10);Kommentar", '0{d}.03.2026 10:00;{s};{n};"gut {d}"',
     {"score": "Weiterempfehlung (0-10)"}),
])
def test_survey_and_review_exports_map_their_columns(db: Path, tmp_path: Path, head: str, row: str,
                                                     expect: dict) -> None:
    path = tmp_path / "export.csv"
    path.write_text(head + "\n" + "".join(row.format(d=d, s=1 + d % 5, n=d, gb=("Good", "Bad")[d % 2],
                                                     reply="2026-03-09 10:00:00" if d % 3 == 0 else "") + "\n"
                                          for d in range(1, 10)))
    result = ingest_one(db, path, kind="feedback")
    assert result.error is None, result.error
    assert result.rows_loaded == 9
    for canon, source in expect.items():
        assert result.mapping.get(canon) == source, (canon, result.mapping)


def test_usage_exports_with_german_and_heap_names(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "export_de.csv"
    path.write_text("Datum;Uhrzeit;Benutzer-ID;Ereignis\n"
                    + "".join(f"13.03.2026;09:{i:02d}:00;user{i % 3};Rechnung prüfen\n" for i in range(9)))
    result = ingest_one(db, path, kind="usage", pilot="de")
    assert result.error is None, result.error
    assert (result.mapping.get("timestamp"), result.mapping.get("user_id")) == ("Datum+Uhrzeit", "Benutzer-ID")
    assert query(db, "SELECT max(ts) AT TIME ZONE 'UTC' FROM usage_events")[0][0].strftime("%H:%M") == "09:08"
    path = tmp_path / "heap_all_events.csv"
    path.write_text("user_id,event_id,session_id,time,event_table_name\n"
                    + "".join(f"57192837465123{i % 2},{7000 + i},300{i % 3},2026-03-02 08:0{i}:24.000,approve_click\n"
                              for i in range(6)))
    result = ingest_one(db, path, kind="usage", pilot="heap")
    assert result.error is None, result.error
    assert result.mapping.get("event") == "event_table_name"


def test_amplitude_s_export_zip_of_hourly_gzip_parts_loads_whole(db: Path, tmp_path: Path) -> None:
    import gzip
    import zipfile

    def part(hour: int) -> bytes:
        return gzip.compress("".join(json.dumps({
            "event_time": f"2026-03-02 0{hour}:{i:02d}:00.000000", "user_id": f"u{i % 3}" if i % 4 else None,
            "amplitude_id": 1000 + i % 3, "event_type": "approve_click", "session_id": 1709366400000 + i % 2}) + "\n"
            for i in range(10)).encode())

    path = tmp_path / "amplitude_export_123456.zip"
    with zipfile.ZipFile(path, "w") as z:  # the API's shape: a folder of hourly parts, 10 sorting before 9
        for hour in (8, 9):
            z.writestr(f"123456/123456_2026-03-02_{hour}#0.json.gz", part(hour))
    result = ingest_one(db, path, kind="usage")
    assert result.error is None, result.error
    assert result.rows_loaded == 20
    assert query(db, "SELECT count(*) FILTER (WHERE user_id IS NULL), min(src_row), max(src_row) "
                     "FROM usage_events") == [(0, 1, 20)]


def test_a_slack_channel_export_leaves_its_channel_events_and_bots_out(db: Path, tmp_path: Path) -> None:
    messages = [{"type": "message", "subtype": "channel_join", "ts": "1772441044.000000", "user": "U01",
                 "text": "<@U01> has joined the channel"},
                {"type": "message", "subtype": "bot_message", "ts": "1772443504.000000", "bot_id": "B02",
                 "username": "Delighted", "text": "New NPS response: 9"}]
    messages += [{"client_msg_id": f"0000-{i}", "type": "message", "text": f"export breaks umlauts, case {i}",
                  "user": f"U0{i % 3}", "ts": f"17724{43204 + i * 60}.000100",
                  **({"subtype": "thread_broadcast"} if i == 5 else {})} for i in range(6)]  # a reply shown: a person's
    path = tmp_path / "2026-03-02.json"
    path.write_text(json.dumps(messages, indent=4))
    result = ingest_one(db, path, kind="feedback")
    assert result.error is None, result.error
    assert (result.rows_loaded, result.rows_skipped) == (6, 2)
    assert "category" not in result.mapping
    assert "2 channel events and bots' posts (joins, topic changes, integrations) left out" in result.summary()


def test_outcome_words_in_other_languages_count_as_success(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "export_de.csv"
    path.write_text("Zeitstempel;Benutzer;Ereignis;Ergebnis\n" + "".join(
        f"13.03.2026 09:{i:02d};user{i % 3};Rechnung prüfen;{('erfolgreich', 'Erfolgreich', 'Fehler')[i % 3]}\n"
        for i in range(9)))
    result = ingest_one(db, path, kind="usage")
    assert result.error is None, result.error
    with store.open_store(db) as con:
        figures = summary(con, catalog.get_pilot(con, "pilot"))
    assert figures["usage"]["task_success"] == pytest.approx(6 / 9, abs=1e-4)


def test_elastic_apm_errors_read_their_exception_chain_s_root_cause(db: Path, tmp_path: Path) -> None:
    def doc(i: int, exceptions: list[dict] | None, log: str | None = None) -> dict:
        error = {"id": f"e{i}", "grouping_key": f"g{i}", "culprit": "app.sync in lookup",
                 **({"exception": exceptions} if exceptions else {}),
                 **({"log": {"message": log, "level": "error"}} if log else {})}
        return {"@timestamp": f"2024-03-01T10:0{i}:00.000Z", "processor": {"name": "error", "event": "error"},
                "service": {"name": "invoices"}, "error": error, "user": {"id": f"u-{i % 2}"}}

    frames = [{"filename": "app/sync.py", "function": "lookup", "lineno": 7, "library_frame": False}]
    docs = [doc(0, [{"type": "KeyError", "message": "'vat'", "stacktrace": frames}]),
            doc(1, [{"type": "InvoiceSyncError", "message": "sync of invoice 9003 failed"},   # outermost first
                    {"type": "KeyError", "message": "'vat'", "stacktrace": frames}]),
            doc(2, [{"type": "java.net.SocketTimeoutException", "message": "Read timed out"}]),
            doc(3, None, log="payment 4242 declined by the gateway")]                         # a logged error
    path = tmp_path / "apm-errors.ndjson"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert (result.rows_loaded, result.rows_rejected) == (4, 0)
    assert query(db, "SELECT error_type, message FROM exceptions ORDER BY src_row") == [
        ("KeyError", "'vat'"), ("KeyError", "'vat'"), ("java.net.SocketTimeoutException", "Read timed out"),
        (None, "payment 4242 declined by the gateway")]


@pytest.mark.parametrize(("log", "crash"), [
    # Go: the panic a dying program prints, untimed, after its last information line
    ("2024/03/01 10:00:05 ERROR: sync of invoice 9001 failed\n2024/03/01 10:00:06 WARN: slow lookup: 1.2s\n"
     "2024/03/01 10:00:08 INFO: processed 120 invoices\n"
     "panic: runtime error: invalid memory address or nil pointer dereference\n\ngoroutine 17 [running]:\n"
     "main.(*Job).Run(0x0)\n\t/src/app/job.go:57 +0x1c\nexit status 2\n", "panic"),
    # gunicorn's stderr with Django's untimed 'Internal Server Error' and its traceback
    ("[2024-03-01 10:00:00 +0000] [4242] [ERROR] Worker timeout\n"
     "[2024-03-01 10:00:00 +0000] [4242] [WARNING] Worker with pid 4241 was terminated due to signal 9\n"
     "[2024-03-01 10:00:01 +0000] [4243] [INFO] Booting worker with pid: 4243\n"
     "Internal Server Error: /invoices/9001\nTraceback (most recent call last):\n"
     "  File \"/srv/app/views.py\", line 12, in show\n    vat = inv.lines['vat']\nKeyError: 'vat'\n", "KeyError"),
    # 'python worker.py >> app.log 2>&1': the uncaught traceback under the last INFO line
    ("2024-03-01 10:00:01,000 ERROR worker: sync of invoice 9001 failed\n"
     "2024-03-01 10:00:02,000 WARNING worker: slow lookup\n2024-03-01 10:00:03,000 INFO worker: batch 7 started\n"
     "Traceback (most recent call last):\n  File \"/app/worker.py\", line 9, in <module>\n    run()\n"
     "KeyError: 'vat'\n", "KeyError"),
])
def test_a_crash_printed_after_an_information_line_is_not_left_out(db: Path, tmp_path: Path, log: str, crash: str) -> None:
    path = tmp_path / "app.log"
    path.write_text(log)
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert (result.rows_loaded, result.rows_skipped) == (3, 0)
    assert query(db, "SELECT count(*) FROM exceptions WHERE error_type = ?", [crash]) == [(1,)]


def test_a_key_first_written_late_does_not_take_a_mapping_from_an_early_one(db: Path, tmp_path: Path) -> None:
    # a logging schema that added 'user_id' after line 5,200 of 6,000: 'user' holds every row's person
    rows = [{"ts": f"2024-03-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z", "user": f"u{i % 7}", "action": "open",
             **({"user_id": f"u{i % 7}"} if i >= 5200 else {})} for i in range(6000)]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = ingest_one(db, path)
    assert result.error is None, result.error
    assert (result.mapping.get("user_id"), result.rows_loaded, result.rows_rejected) == ("user", 6000, 0)


@pytest.mark.parametrize(("head", "row"), [
    ("Visitor ID,Account ID,Date,Page,Number of Events,Number of Minutes",            # Pendo's Data Explorer
     "v{i},acme,2026-03-0{d},Invoices,{n},{m}"),
    ("Date,Page path and screen class,Active users,Event count",                     # a GA4 report
     "2026030{d},/invoices/{i},{m},{n}"),
])
def test_a_usage_report_of_counts_per_row_is_refused_not_counted_once_per_row(db: Path, tmp_path: Path, head: str,
                                                                               row: str) -> None:
    path = tmp_path / "report.csv"
    path.write_text(head + "\n" + "".join(row.format(i=i, d=1 + i % 9, n=7 + i * 3, m=1 + i) + "\n" for i in range(12)))
    result = ingest_one(db, path, kind="usage")  # refused before its columns are mapped
    assert result.error and "report of counts" in result.error
    assert query(db, "SELECT count(*) FROM usage_events") == [(0,)]


def test_matomo_visits_load_one_row_per_action(db: Path, tmp_path: Path) -> None:
    # Live.getLastVisitsDetails (format=JSON): visits, each with its actions
    def visit(n: int, visitor: str, user: str | None, actions: list[dict]) -> dict:
        return {"idSite": "1", "idVisit": str(3000 + n), "visitorId": visitor, "userId": user, "visitorType": "new",
                "serverTimestamp": 1772441591 + n, "actions": str(len(actions)), "actionDetails": actions}

    def page(t: int, title: str) -> dict:
        return {"type": "action", "url": f"https://app.example.org/{title.lower()}", "pageTitle": title,
                "timeSpent": "60", "timestamp": 1772441220 + t}

    event = {"type": "event", "eventCategory": "invoices", "eventAction": "approve", "url": "https://app.example.org/i",
             "timestamp": 1772441400}
    visits = [visit(0, "5d3b0c6f2a1e9b77", None, [page(0, "Invoices"), event, page(300, "Reports")]),
              visit(1, "a1f00c2b3d4e5f60", "chen@example.org", [page(900, "Invoices")]),
              visit(2, "5d3b0c6f2a1e9b77", None, [page(1800, "Invoices"), page(1860, "Invoices")])]
    path = tmp_path / "matomo_Live.getLastVisitsDetails.json"
    path.write_text(json.dumps(visits, indent=1))
    result = ingest_one(db, path)
    assert result.error is None, result.error
    assert result.rows_loaded == 6
    assert query(db, "SELECT count(DISTINCT user_id), count(DISTINCT session_id) FROM usage_events") == [(2, 3)]
    assert query(db, "SELECT event, feature FROM usage_events WHERE src_row = 2") == [("approve", "invoices")]


def test_a_handled_error_s_traceback_under_a_debug_line_stays_left_out(db: Path, tmp_path: Path) -> None:
    # botocore: logger.debug("Exception received when sending HTTP request.", exc_info=True)
    record = ("2024-03-01 10:00:0{i},123 DEBUG botocore.endpoint: Exception received when sending HTTP request.\n"
              "Traceback (most recent call last):\n  File \"/app/venv/lib/python3.11/site-packages/urllib3/x.py\", "
              "line 9, in send\nConnectionResetError: [Errno 104] Connection reset by peer\n")
    path = tmp_path / "app.log"
    path.write_text("".join(record.format(i=i) for i in range(4))
                    + "2024-03-01 10:00:09,000 ERROR app.sync: sync of invoice 9001 failed\n")
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert (result.rows_loaded, result.rows_skipped) == (1, 4)


def test_a_column_empty_in_the_first_rows_keeps_its_name_s_rank(db: Path, tmp_path: Path) -> None:
    # an exception CSV whose exception_type and stack_trace are blank on its first 1,200 information
    # rows, beside a 'type' of request/job: the exception's own columns still map
    rows = [f"2024-03-01T10:00:00Z,INFO,request,,,ok {i}" for i in range(1200)]
    rows += [f"2024-03-01T11:00:0{i}Z,ERROR,job,KeyError,\"Traceback (most recent call last):\n  File \"\"a.py\"\", "
             f"line 1, in f\nKeyError: 'vat'\",sync {i} failed" for i in range(3)]
    path = tmp_path / "events.csv"
    path.write_text("time,level,type,exception_type,stack_trace,message\n" + "\n".join(rows) + "\n")
    result = ingest_one(db, path, kind="exceptions")
    assert result.error is None, result.error
    assert (result.mapping.get("error_type"), result.mapping.get("stack_trace")) == ("exception_type", "stack_trace")
    assert query(db, "SELECT DISTINCT error_type FROM exceptions") == [("KeyError",)]


def test_caddy_s_access_log_reads_its_duration_in_seconds(db: Path, tmp_path: Path) -> None:
    rows = [{"level": "info", "ts": 1772438413.27 + i, "logger": "http.log.access.log0", "msg": "handled request",
             "request": {"remote_ip": "203.0.113.5", "client_ip": f"203.0.113.{i % 3}", "method": "GET",
                         "host": "app.example.org", "uri": f"/invoices?page={i}", "headers": {"Accept": ["*/*"]}},
             "user_id": "alice" if i % 2 else "", "duration": 0.25 + i / 100, "size": 7534,
             "status": (200, 404)[i % 2], "resp_headers": {"Server": ["Caddy"]}} for i in range(6)]
    path = tmp_path / "caddy.log"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = ingest_one(db, path)
    assert result.error is None, result.error
    assert (result.rows_loaded, result.mapping.get("event")) == (6, "request.uri")
    assert query(db, "SELECT round(min(duration_ms)), round(max(duration_ms)), count(DISTINCT user_id) "
                     "FROM usage_events") == [(250.0, 300.0, 4)]  # alice and three addresses


def test_an_event_log_with_a_views_attribute_is_no_report(db: Path, tmp_path: Path) -> None:
    # one row per play or like, with the video's view count beside it: events, not counts
    path = tmp_path / "video_events.csv"
    path.write_text("time,user,event,video,views\n" + "".join(
        f"2026-03-02T08:{i:02d}:00Z,u{i % 5},{('play', 'like')[i % 2]},v{i % 3},{1000 + i * 37}\n" for i in range(30)))
    result = ingest_one(db, path)
    assert result.error is None, result.error
    assert result.rows_loaded == 30
