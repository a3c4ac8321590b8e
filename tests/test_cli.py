"""The ingest command line, run as a user runs it: ``python -m readiness ingest ...`` in a subprocess.
What a test only needs beforehand (a pilot, a first batch) is made through the library, in this process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from helpers import HOLDER, ingest_one, make_pilot, query, snapshot, utc, wait_until, write

PROJECT_ROOT = Path(__file__).resolve().parents[1]

JSON_KEYS = {"file", "batch_id", "rows_read", "rows_loaded", "rows_rejected", "rows_duplicate", "rows_skipped",
             "duplicate", "mapping"}
GOOD = "ts,user_id,event\n2026-07-06T10:00:00Z,ann,open\n2026-07-06T10:05:00Z,bob,open\nnever,cy,open\n"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("READINESS_")}
    env.update(extra)
    return env


def cli(*args: str | Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "readiness", *map(str, args)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout, env=_env(**env))


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_ingest_json_lines_and_exit_0(db: Path, tmp_path: Path) -> None:
    # every file loaded -> exit 0; --json prints one object per file per line
    a = write(tmp_path / "a.csv", GOOD)
    b = write(tmp_path / "b.jsonl", json.dumps({"time": "2026-07-06T11:00:00Z", "uid": "dee", "action": "x"}) + "\n")
    proc = cli("ingest", "--pilot", "Invoices", "--kind", "usage", "--create", "--json", "--db", db, a, b)
    assert proc.returncode == 0, proc.stderr
    records = json_lines(proc.stdout)
    assert [set(r) - {"notes"} for r in records] == [JSON_KEYS, JSON_KEYS]  # notes: only when there is one
    assert records[0]["notes"] == ["1 row rejected in 'ts', e.g. timestamp: cannot read 'never' as a time (expected "
                                   "ISO 8601 (2026-07-06T09:30:00+01:00), 'YYYY-MM-DD HH:MM:SS', epoch seconds or a "
                                   "common layout such as '02.03.2026 09:15'; give a time format for anything else "
                                   "(--time-format, or Time format on the Sources page))"]
    assert [(r["file"], r["rows_read"], r["rows_loaded"], r["rows_rejected"], r["rows_duplicate"], r["duplicate"])
            for r in records] == [("a.csv", 3, 2, 1, 0, False), ("b.jsonl", 1, 1, 0, 0, False)]
    assert records[0]["batch_id"] != records[1]["batch_id"]
    assert query(db, "SELECT count(*) FROM usage_events") == [(3,)]
    # written as the command-line actor
    assert query(db, "SELECT count(*) FROM audit_log WHERE action = 'ingest' AND actor LIKE 'cli:%'") == [(2,)]


def test_duplicate_file_exits_0_and_says_duplicate(db: Path, tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", GOOD)
    assert ingest_one(db, a, pilot="p").rows_loaded == 2
    proc = cli("ingest", "--pilot", "p", "--kind", "usage", "--json", "--db", db, a)
    assert proc.returncode == 0, proc.stderr
    (record,) = json_lines(proc.stdout)
    assert record["duplicate"] is True and record["rows_loaded"] == 0
    assert query(db, "SELECT count(*) FROM usage_events") == [(2,)]


def test_unusable_file_exits_2_and_the_others_still_load(db: Path, tmp_path: Path) -> None:
    # any unusable file -> exit 2, its JSON record carries the error
    good = write(tmp_path / "good.csv", GOOD)
    empty = write(tmp_path / "empty.csv", "")
    proc = cli("ingest", "--pilot", "p", "--kind", "usage", "--create", "--json", "--db", db, empty, good)
    assert proc.returncode == 2
    bad_rec, good_rec = json_lines(proc.stdout)
    assert bad_rec["file"] == "empty.csv" and "empty" in bad_rec["error"] and bad_rec["batch_id"] is None
    assert good_rec["rows_loaded"] == 2 and "error" not in good_rec
    assert "Traceback" not in proc.stderr


def test_human_output_names_file_and_reason(db: Path, tmp_path: Path) -> None:
    missing = write(tmp_path / "noevent.csv", "ts,user_id\n2026-07-06T10:00:00Z,ann\n")
    good = write(tmp_path / "good.csv", GOOD)
    proc = cli("ingest", "--pilot", "p", "--kind", "usage", "--create", "--db", db, good, missing)
    assert proc.returncode == 2
    assert "good.csv: batch" in proc.stdout and "2 loaded, 1 rejected" in proc.stdout
    assert "noevent.csv: NOT LOADED." in proc.stderr
    assert "Required column(s) not found: event" in proc.stderr
    assert "1 of 2 file(s) not loaded: noevent.csv" in proc.stderr


def test_a_missing_column_s_hint_names_a_column_nothing_else_took(db: Path, tmp_path: Path) -> None:
    # not simply the first column found, which is usually the time column, already mapped
    missing = write(tmp_path / "who.csv", "When;Employee;Action\n2026-03-02 09:15;ann;open\n")
    proc = cli("ingest", "--pilot", "p", "--kind", "usage", "--create", "--db", db, missing)
    assert proc.returncode == 2 and "--map user_id=Employee" in proc.stderr
    fixed = cli("ingest", "--pilot", "p", "--kind", "usage", "--db", db, "--map", "user_id=Employee", missing)
    assert fixed.returncode == 0 and "1 loaded" in fixed.stdout


def test_map_time_format_and_year_options(db: Path, tmp_path: Path) -> None:
    make_pilot(db, "p", time_zone="Europe/Paris")
    two_cols = write(tmp_path / "hdfs.csv", "Date,Time,Who,Content\n081109,203615,ann,x\n")
    proc = cli("ingest", "--pilot", "p", "--kind", "usage", "--map", "timestamp=Date+Time", "--map", "user_id=Who",
               "--map", "event=Content", "--time-format", "%y%m%d %H%M%S", "--json", "--db", db, two_cols)
    assert proc.returncode == 0, proc.stderr
    syslog = write(tmp_path / "syslog.csv", "ts,user_id,event\nJun 14 15:16:01,ann,x\n")
    proc = cli("ingest", "--pilot", "p", "--kind", "usage", "--year", "2005", "--json", "--db", db, syslog)
    assert proc.returncode == 0, proc.stderr
    # zone-less times are read in Paris: UTC+1 in November 2008, UTC+2 in June 2005
    assert utc(db, "usage_events") == ["2008-11-09 19:36:15", "2005-06-14 13:16:01"]


def test_dedupe_rows_option(db: Path, tmp_path: Path) -> None:
    header = "ts,user_id,event\n"
    old = "2026-07-06T10:00:00Z,ann,open\n"
    f1 = write(tmp_path / "mon.csv", header + old)
    f2 = write(tmp_path / "tue.csv", header + old + "2026-07-07T10:00:00Z,bob,open\n")
    assert ingest_one(db, f1, pilot="p").rows_loaded == 1
    proc = cli("ingest", "--pilot", "p", "--kind", "usage", "--dedupe-rows", "--json", "--db", db, f2)
    assert proc.returncode == 0, proc.stderr
    (rec,) = json_lines(proc.stdout)
    assert (rec["rows_loaded"], rec["rows_duplicate"]) == (1, 1)


def test_unknown_pilot_without_create_lists_known_pilots(db: Path, tmp_path: Path) -> None:
    # a typo in --pilot must not silently create a pilot
    make_pilot(db, "Invoice triage")
    make_pilot(db, "Contract search")
    before = snapshot(db)
    proc = cli("ingest", "--pilot", "Invoice triag", "--kind", "usage", "--db", db, write(tmp_path / "a.csv", GOOD))
    assert proc.returncode != 0
    assert "No pilot named 'Invoice triag'" in proc.stderr
    assert "Known pilots: Contract search, Invoice triage" in proc.stderr
    assert "--create" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(db) == before


def test_bad_map_argument_is_a_usage_error(db: Path, tmp_path: Path) -> None:
    proc = cli("ingest", "--pilot", "p", "--kind", "usage", "--create", "--map", "timestamp", "--db", db,
               write(tmp_path / "a.csv", GOOD))
    assert proc.returncode == 2
    assert "canonical=source" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- the store held by another process ------------------------------------------------------------------------

def _hold(db: Path) -> subprocess.Popen:
    """Another process holding the store at ``db`` until its standard input is closed."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "ready"
    return holder


def test_busy_store_fails_cleanly_naming_the_holder(db: Path, tmp_path: Path) -> None:
    # another process holds the store past READINESS_LOCK_TIMEOUT_S: clear message, no traceback
    make_pilot(db, "p")
    holder = _hold(db)
    try:
        started = time.monotonic()
        proc = cli("ingest", "--pilot", "p", "--kind", "usage", "--db", db, write(tmp_path / "a.csv", GOOD),
                   READINESS_LOCK_TIMEOUT_S="2")
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode != 0
    assert "busy" in proc.stderr
    assert f"PID {holder.pid}" in proc.stderr
    assert "READINESS_LOCK_TIMEOUT_S" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert 2 <= waited < 30
    assert query(db, "SELECT count(*) FROM usage_events") == [(0,)]


def test_store_released_within_timeout_ingest_succeeds(db: Path, tmp_path: Path) -> None:
    # the holder lets go once the ingest is waiting for the store (its marker file says
    # so); with a 60 s timeout the ingest then loads
    make_pilot(db, "p")
    holder = _hold(db)
    ingest = subprocess.Popen([sys.executable, "-m", "readiness", "ingest", "--pilot", "p", "--kind", "usage", "--json",
                               "--db", str(db), str(write(tmp_path / "a.csv", GOOD))], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env(READINESS_LOCK_TIMEOUT_S="60"))
    try:
        wait_until(lambda: list(db.parent.glob(f"{db.name}.waiting-{ingest.pid}-*")), "the ingest never waited")
        holder.stdin.close()  # lets go
        out, err = ingest.communicate(timeout=60)
    finally:
        ingest.kill()
        holder.kill()
        holder.wait()
    assert ingest.returncode == 0, err
    (rec,) = json_lines(out)
    assert rec["rows_loaded"] == 2


def test_batches_rejects_pilots_and_delete_as_an_operator_sees_them(db: Path, tmp_path: Path) -> None:
    # a wrong batch can be removed with `batches delete ID` (audited; rows and rejects go with it)
    assert ingest_one(db, write(tmp_path / "u.csv", GOOD), pilot="p").rows_loaded == 2
    listed = cli("batches", "--db", db, "--pilot", "p")
    assert listed.returncode == 0 and "u.csv" in listed.stdout
    rejects = cli("rejects", "--db", db, "--pilot", "p")
    assert "timestamp: cannot read 'never'" in rejects.stdout
    pilots_out = cli("pilots", "--db", db)
    assert "p " in pilots_out.stdout and "2" in pilots_out.stdout
    deleted = cli("batches", "--db", db, "delete", "1")
    assert deleted.returncode == 0 and "2 rows and 1 rejected rows removed" in deleted.stdout
    assert query(db, "SELECT count(*) FROM usage_events") == [(0,)]
    assert query(db, "SELECT count(*) FROM ingest_rejects") == [(0,)]
    assert query(db, "SELECT actor LIKE 'cli:%', action FROM audit_log ORDER BY seq DESC LIMIT 1") == [(True, "batch.delete")]
    missing = cli("batches", "--db", db, "delete", "99")
    assert missing.returncode == 2 and "No batch 99" in missing.stderr and "Traceback" not in missing.stderr


def test_preview_command_shows_mapping_and_loads_nothing(db: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "@timestamp;Content;host\n2026-07-06 10:00:00;disk full;a\n")
    out = cli("preview", "--db", db, "--kind", "exceptions", "--time-zone", "Europe/Paris", path)
    assert out.returncode == 0, out.stderr
    assert "semicolon-delimited" in out.stdout
    assert "'Content' is a synonym of message" in out.stdout
    assert "Kept in attributes: host" in out.stdout
    assert "2026-07-06 08:00:00+00:00" in out.stdout  # zone-less time read in Paris, shown in UTC
    assert not db.exists()


def test_summary_json_and_failure_mode_assignments(db: Path, tmp_path: Path) -> None:
    # `summary --json` headline figures; `failure-modes --assignments` one row per exception
    usage = write(tmp_path / "u.csv", "ts,user_id,session_id,event\n"
                  "2026-07-06T09:00:00Z,ann,s1,open\n2026-07-06T10:00:00Z,bob,s2,open\n"
                  "2026-07-07T09:00:00Z,ann,s3,open\n2026-07-07T09:05:00Z,ann,s3,save\n")
    fb = write(tmp_path / "f.csv", "ts,stars,comment\n2026-07-06T12:00:00Z,5,great\n2026-07-06T13:00:00Z,2,slow\n")
    exc = write(tmp_path / "e.csv", "ts,error_type,message\n"
                "2026-07-06T09:01:00Z,TimeoutError,Timeout after 3000 ms calling https://erp.example/a/1\n"
                "2026-07-06T09:02:00Z,TimeoutError,Timeout after 5000 ms calling https://erp.example/a/2\n"
                "2026-07-07T09:03:00Z,KeyError,missing key 'vat' in record 7\n")
    for kind, path in (("usage", usage), ("feedback", fb), ("exceptions", exc)):
        assert ingest_one(db, path, kind, pilot="p").error is None
    out = cli("summary", "--db", db, "--pilot", "p", "--json")
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    assert figures["usage"]["events"] == 4 and figures["usage"]["users"] == 2 and figures["usage"]["sessions"] == 3
    assert figures["usage"]["dau_mean"] == 1.5  # 2 users on the 6th, 1 on the 7th
    assert figures["feedback"]["count"] == 2 and figures["feedback"]["mean_rating"] == 3.5
    assert figures["feedback"]["csat"] is None  # 2 ratings: too few for a share, and the note says so
    assert (figures["feedback"]["rated"], figures["feedback"]["comments"], figures["feedback"]["scored"]) == (2, 2, 0)
    assert "Only 2 ratings: CSAT needs at least 5." in figures["notes"]["feedback"]
    assert figures["exceptions"]["count"] == 3 and figures["exceptions"]["failure_modes"] == 2
    assert figures["exceptions"]["per_1k_events"] == 750.0
    assert figures["data_as_of"].startswith("2026-07-07")
    out_csv = tmp_path / "modes.csv"
    listed = cli("failure-modes", "--db", db, "--pilot", "p", "--assignments", out_csv)
    assert listed.returncode == 0 and "Timeout after <num> ms calling <url>" in listed.stdout
    lines = out_csv.read_text().splitlines()
    assert lines[0] == "batch_id,row,failure_mode"
    rows = [line.split(",") for line in lines[1:]]
    assert [r[1] for r in rows] == ["1", "2", "3"]
    assert rows[0][2] == rows[1][2] != rows[2][2]  # the two timeouts share a mode


def test_the_command_line_starts_without_pandas_or_the_demo_generator() -> None:
    """`python -m readiness ... --help` loads neither pandas (0.6 s) nor the demo generator (0.5 s):
    commands that need them import them, so help answers well under the 1.5 s it takes with both."""
    probe = "import sys, readiness.cli; print(sorted(m for m in ('pandas', 'readiness.demo_data') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    assert out.stdout.strip() == "[]", out.stdout
