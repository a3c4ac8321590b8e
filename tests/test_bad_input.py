"""The bad-input corpus (tests/samples/bad/, made by make_bad.py): every file gets a clear outcome.

For each file, through the command line and through the upload page's library
calls (``uploads.preview_upload`` for the preview, ``uploads.ingest_uploads`` for the Load button):
a short message without traceback text, exit code 2 for an unusable file and 0 when it loads,
``rows_read = rows_loaded + rows_rejected + rows_duplicate``, and no batch half there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PROJECT_ROOT, make_pilot, page_file, query
from streamlit.testing.v1 import AppTest

from readiness import cli
from readiness.ingest import load as ingest
from readiness.ingest import uploads
from readiness.review import export
from readiness.security.access import Actor

BAD = PROJECT_ROOT / "tests" / "samples" / "bad"
sys.path.insert(0, str(BAD))
import make_bad  # noqa: E402

OP = Actor("test", "admin", cli=True)
TABLES = {"usage": "usage_events", "feedback": "feedback", "exceptions": "exceptions"}
# What a user must never see: Python's and DuckDB's own words for a failure.
LEAKS = ("Traceback", "Error:", "Exception", "Binder", "Conversion", "Invalid Input", "upload-", "/tmp/",
         "File \"")


def rejected(why: str) -> tuple:
    return ("rejected", why)


def loads(rows: int, rejects: int) -> tuple:
    return ("loads", rows, rejects)


# file -> (kind, expected outcome). "rejected": nothing loads and the message contains the text.
CORPUS: dict[str, tuple[str, tuple]] = {
    "latin1.csv": ("usage", loads(3, 0)),
    "utf16.csv": ("usage", loads(3, 0)),
    "utf16_tab.txt": ("usage", loads(3, 0)),
    "utf8_bom.csv": ("usage", loads(3, 0)),
    "ragged_rows.csv": ("usage", loads(5, 2)),
    "unclosed_quote.csv": ("usage", loads(5, 1)),            # the broken record swallows the next line
    "unclosed_quote_unquoted.csv": ("usage", loads(7, 0)),   # no quoting in the file: the quote is text
    "binary_junk.csv": ("usage", rejected("not a recognised format (binary content)")),
    "spreadsheet.csv": ("usage", rejected("is an Excel workbook with no worksheet")),
    "sqlite.csv": ("usage", rejected("an SQLite database")),
    "html_error_page.csv": ("usage", rejected("is a web page (HTML)")),
    "truncated.csv.gz": ("usage", rejected("looks like gzip but cannot be decompressed")),
    "empty.csv.gz": ("usage", rejected("the file is empty")),
    "truncated.parquet": ("usage", rejected("the file is cut short (its Parquet footer is missing)")),
    "parquet_no_time.parquet": ("usage", rejected("Required column(s) not found: timestamp")),
    "broken_line.jsonl": ("usage", loads(2, 1)),
    "jsonl_not_objects.jsonl": ("usage", loads(1, 4)),
    "cut_short.json": ("usage", rejected("the JSON ends before it is complete")),
    "json_object.json": ("usage", rejected("is one JSON object, not a list of rows")),
    "deeply_nested.json": ("usage", loads(2, 0)),          # read as text: the deep payload is kept in attributes
    "empty.csv": ("usage", rejected("the file is empty")),
    "whitespace_only.csv": ("usage", rejected("the file is empty")),
    "header_only.csv": ("usage", rejected("has a header but no rows")),
    # the time column is found by its values; nothing says which column is the user or the event
    "blank_header_names.csv": ("usage", rejected("Required column(s) not found: user_id, event")),
    "wrong_kind.csv": ("usage", rejected("Required column(s) not found: event")),
    "duplicate_headers.csv": ("usage", loads(2, 0)),
    "null_timestamps.csv": ("usage", rejected("every row was rejected (4 x timestamp: missing value)")),  # the last row is empty: not a row
    "nul_bytes.csv": ("usage", loads(2, 1)),
    "timestamps_mixed.csv": ("usage", loads(5, 3)),         # five ways to write a time load; epoch + 2 garbage
    "epoch_and_garbage.csv": ("usage", loads(4, 1)),
    "years_out_of_range.csv": ("usage", loads(2, 2)),       # 9999 loads; 0001 (before 1900) and 30 February do not
    "crlf_mixed.csv": ("usage", loads(5, 0)),
    "semicolon_decimal_comma.csv": ("usage", loads(3, 0)),
    "excel_sep_line.csv": ("usage", loads(2, 0)),
    "feedback_injection.csv": ("feedback", loads(4, 0)),
    "emoji_rtl.csv": ("feedback", loads(3, 0)),
    "bad_ratings.csv": ("feedback", loads(2, 3)),
    # made by make_bad.make_large into a temp folder (too big to commit)
    "long_line.csv": ("usage", loads(4, 1)),  # its 2 MB duration is no finite number: that row is rejected
    "long_field.csv": ("feedback", loads(2, 0)),
    "wide_5000_columns.csv": ("usage", loads(3, 0)),
    "gzip_bomb.csv.gz": ("usage", rejected("decompresses to more than 1 MB, the limit")),
}


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_bad.make_large(tmp_path_factory.mktemp("large"))


@pytest.fixture(autouse=True)
def _small_decompression_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READINESS_MAX_DECOMPRESSED_MB", "1")  # the bomb decompresses to 64 MB


def _path(name: str, large: dict[str, Path]) -> Path:
    return large[name] if name in large else BAD / name


def _no_leak(text: str) -> None:
    for word in LEAKS:
        assert word not in text, f"{word!r} shown to the user: {text}"


def _store_state(db: Path, pilot: str, kind: str) -> dict:
    """The pilot's batches and what they hold, as a user would count it."""
    rows = query(db, "SELECT b.batch_id, rows_read, rows_loaded, rows_rejected, rows_duplicate FROM ingest_batches b "
                     "JOIN pilots p USING (pilot_id) WHERE p.name = ?", [pilot])
    events = query(db, f"SELECT count(*) FROM {TABLES[kind]} JOIN pilots p USING (pilot_id) WHERE p.name = ?",
                   [pilot])[0][0]
    rejects = query(db, "SELECT count(*) FROM ingest_rejects JOIN pilots p USING (pilot_id) WHERE p.name = ?",
                    [pilot])[0][0]
    return {"batches": rows, "events": events, "rejects": rejects}


def _check_store(db: Path, pilot: str, kind: str, expected: tuple) -> None:
    state = _store_state(db, pilot, kind)
    if expected[0] == "rejected":  # nothing of it anywhere
        assert state == {"batches": [], "events": 0, "rejects": 0}
        return
    (batch_id, read, loaded, rejected_, duplicate), = state["batches"]
    assert (loaded, rejected_) == expected[1:]
    assert read == loaded + rejected_ + duplicate
    assert state["events"] == loaded and state["rejects"] == rejected_
    assert query(db, "SELECT count(*) FROM audit_log WHERE action = 'ingest' AND object = ?",
                 [f"batch:{batch_id}"]) == [(1,)]


@pytest.mark.parametrize("name", list(CORPUS))
def test_bad_file_through_the_command_line_and_the_upload_page(name: str, db: Path, large: dict[str, Path],
                                                               capsys: pytest.CaptureFixture) -> None:
    kind, expected = CORPUS[name]
    path = _path(name, large)
    make_pilot(db, "cli")
    make_pilot(db, "upload")
    audit_before = query(db, "SELECT count(*) FROM audit_log")[0][0]

    code = cli.main(["ingest", "--db", str(db), "--pilot", "cli", "--kind", kind, str(path)])
    out, err = capsys.readouterr()
    _no_leak(out + err)
    if expected[0] == "rejected":
        assert code == 2
        assert f"{name}: NOT LOADED." in err and expected[1] in err
    else:
        assert code == 0, err
        assert f"{expected[1]:,} loaded, {expected[2]:,} rejected" in out
    _check_store(db, "cli", kind, expected)

    # The Sources page: preview of the upload, then the Load button.
    try:
        with path.open("rb") as f:
            shown = uploads.preview_upload(db, name, f, kind)
    except ingest.UnusableFile as err_:
        assert expected[0] == "rejected", f"a loadable file failed its preview: {err_}"
        assert str(err_).startswith(f"{name}: ") and expected[1] in str(err_)
        _no_leak(str(err_))
    else:
        assert shown.file == name
        for problem in shown.problems:
            _no_leak(problem)
    if name in large or expected[0] != "rejected":
        return  # the Load button runs the same ingest as the command line above; refused small files check it
    with path.open("rb") as f:
        (result,) = uploads.ingest_uploads(db, "upload", kind, [(name, f)], actor=OP)
    _no_leak(result.summary())
    assert result.file == name
    assert result.error and expected[1] in result.error and result.batch_id is None
    _check_store(db, "upload", kind, expected)
    assert query(db, "SELECT count(*) FROM audit_log")[0][0] == audit_before  # nothing written, not even audit


def test_exit_codes_of_real_processes(db: Path, tmp_path: Path) -> None:
    """As an operator runs it: 0 when the file loads, 2 when any file is unusable (the others still load)."""
    def run(*files: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "readiness", "ingest", "--db", str(db), "--pilot", "p",
                               "--create", "--kind", "usage", *[str(BAD / f) for f in files]],
                              cwd=PROJECT_ROOT, capture_output=True, text=True,
                              env={**os.environ, "READINESS_DEBUG": ""})
    ok = run("ragged_rows.csv")
    assert ok.returncode == 0 and "5 loaded, 2 rejected" in ok.stdout
    mixed = run("truncated.parquet", "spreadsheet.csv", "latin1.csv")
    assert mixed.returncode == 2
    assert "latin1.csv: batch" in mixed.stdout and "2 of 3 file(s) not loaded" in mixed.stderr
    _no_leak(mixed.stdout + mixed.stderr)


def test_text_as_the_user_wrote_it(db: Path) -> None:
    """Latin-1, UTF-16, a BOM, emoji and right-to-left text arrive as the characters they were."""
    for name in ("latin1.csv", "utf16.csv", "utf8_bom.csv"):
        cli.main(["ingest", "--db", str(db), "--pilot", name, "--create", "--kind", "usage", str(BAD / name)])
        assert query(db, "SELECT list(team ORDER BY src_row) FROM usage_events e JOIN pilots p USING (pilot_id) "
                         "WHERE p.name = ?", [name]) == [(["Comptabilité", "Réseau", "Ærø"],)]
    cli.main(["ingest", "--db", str(db), "--pilot", "fb", "--create", "--kind", "feedback", str(BAD / "emoji_rtl.csv")])
    users_ = [r[0] for r in query(db, "SELECT user_id FROM feedback ORDER BY src_row")]
    assert users_ == ["\u05d3\u05e0\u05d4", "\u0645\u0631\u064a\u0645", "zoë"]


def test_formula_and_script_in_a_comment_stay_text(db: Path) -> None:
    """Stored verbatim; a CSV export neutralises the formula; the Feedback page draws the script as text."""
    cli.main(["ingest", "--db", str(db), "--pilot", "p", "--create", "--kind", "feedback",
              str(BAD / "feedback_injection.csv")])
    comments = [r[0] for r in query(db, "SELECT comment FROM feedback ORDER BY src_row")]
    assert comments[0] == '=HYPERLINK("http://evil","x")' and comments[1] == "<script>alert(1)</script>"
    csv_text = export.csv_bytes([{"comment": c} for c in comments], ["comment"]).decode("utf-8-sig")
    assert "'=HYPERLINK" in csv_text and "'+cmd" in csv_text
    assert "\r\n=HYPERLINK" not in csv_text and "\r\n+cmd" not in csv_text

    old = os.environ.get("READINESS_DB")
    os.environ["READINESS_DB"] = str(db)
    try:
        drawn = []
        for page in ("feedback", "sources"):
            at = AppTest.from_file(page_file(page), default_timeout=120)
            at.session_state["_rr_actor"] = OP
            at.session_state["_rr_pilot"] = "p"
            at.run()
            assert not at.exception, [e.value for e in at.exception]
            for el in list(at.markdown) + list(at.caption) + list(at.info) + list(at.warning) + list(at.error):
                assert "<script>" not in el.value and "<img" not in el.value, el.value
            drawn += [str(v) for df in at.dataframe for v in df.value.to_numpy().ravel()]
    finally:
        if old is None:
            os.environ.pop("READINESS_DB", None)
        else:
            os.environ["READINESS_DB"] = old
    assert any("<script>alert(1)</script>" in v for v in drawn)  # shown, as text in a table cell


def test_corpus_is_what_the_script_makes() -> None:
    """The committed files are the script's output (re-run make_bad.py after changing it)."""
    made = make_bad.small_files()
    on_disk = {p.name for p in BAD.iterdir() if p.is_file() and p.suffix != ".py"}
    assert on_disk == set(made)
    assert all((BAD / n).read_bytes() == data for n, data in made.items())
    assert len(made) >= 30
    assert set(CORPUS) == set(made) | {"long_line.csv", "long_field.csv", "wide_5000_columns.csv",
                                       "gzip_bomb.csv.gz"}
