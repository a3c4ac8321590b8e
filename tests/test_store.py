"""The store: migrations at start-up, the process model's lock handling, settings."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from readiness import catalog, pilots, settings, store
from readiness.security import audit
from readiness.security.access import Actor
from readiness.store import migrations
from readiness.store.migrations import MIGRATIONS
from tests.helpers import held_by_another_process, wait_until

ROOT = Path(__file__).resolve().parents[1]
LATEST = max(v for v, _name, _sql in MIGRATIONS)


def test_fresh_store_has_schema_and_reopening_applies_nothing(tmp_path):
    db = tmp_path / "s.duckdb"
    with store.open_store(db) as con:
        assert store.schema_version(con) == LATEST
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    assert {"pilots", "ingest_batches", "usage_events", "feedback", "exceptions", "ingest_rejects",
            "audit_log"} <= tables
    store.forget_migrated(db)
    with store.open_store(db) as con:
        assert store.migrate(con) == []  # already current
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)


def test_a_lower_version_added_later_is_still_applied(tmp_path, monkeypatch):
    # A version that lands in the list after a higher one (built on another branch) is still applied:
    # a store migrated to [1, 2, 4] gets 3.
    db = tmp_path / "gap.duckdb"
    without_3 = [m for m in MIGRATIONS if m[0] != 3]
    monkeypatch.setattr(migrations, "MIGRATIONS", without_3)
    with store.open_store(db) as con:
        assert con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall() == \
            [(m[0],) for m in without_3]
    store.forget_migrated(db)
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS)
    with store.open_store(db) as con:
        assert con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall() == \
            [(m[0],) for m in MIGRATIONS]
        assert con.execute("SELECT count(*) FROM users").fetchone()[0] == 0  # version 3's table exists now
        assert store.migrate(con) == []


def test_two_processes_starting_at_once_both_get_a_migrated_store(tmp_path):
    db = tmp_path / "race.duckdb"
    code = textwrap.dedent(f"""
        from readiness import store
        with store.open_store({str(db)!r}, timeout=30) as con:
            print(store.schema_version(con))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outs
    assert [o[0].strip() for o in outs] == [str(LATEST)] * 4


def test_an_empty_store_file_opens_as_a_new_store(tmp_path):
    # what a creator that died before writing the header leaves (DuckDB itself calls it invalid)
    db = tmp_path / "empty.duckdb"
    db.touch()
    with store.open_store(db) as con:
        assert store.schema_version(con) == LATEST
    assert db.stat().st_size > 0


def test_busy_store_gives_a_clear_message_not_a_lock_error(tmp_path):
    db = tmp_path / "held.duckdb"
    with held_by_another_process(db) as holder:
        store.forget_migrated(db)
        start = time.monotonic()
        with pytest.raises(store.StoreBusy) as err:
            store.connect(db, timeout=1.0)
        assert time.monotonic() - start >= 1.0  # it retried before giving up
        text = str(err.value)
        assert "busy" in text and f"PID {holder.pid}" in text and "run the command again" in text
        assert "Conflicting lock" not in text


def test_write_and_its_audit_record_land_together_or_not_at_all(tmp_path):
    with store.open_store(tmp_path / "a.duckdb") as con:
        with pytest.raises(RuntimeError):
            with store.transaction(con):
                pilots.create_pilot(con, "Rolled back", Actor("tester", "admin", cli=True))
                raise RuntimeError("boom")
        assert catalog.pilot_names(con) == []
        assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0
        with store.transaction(con):
            pilots.create_pilot(con, "Kept", Actor("tester", "admin", cli=True), time_zone="Europe/Paris")
        rec = audit.recent(con)[0]
        assert (rec["actor"], rec["action"]) == ("tester", "pilot.create")


def test_pilot_profile_is_validated(tmp_path):
    with store.open_store(tmp_path / "p.duckdb") as con:
        with pytest.raises(pilots.InvalidProfile, match="Unknown time zone"):
            pilots.create_pilot(con, "X", Actor("t", "admin", cli=True), time_zone="Mars/Olympus")
        with pytest.raises(pilots.InvalidProfile, match="Risk tier"):
            pilots.create_pilot(con, "X", Actor("t", "admin", cli=True), risk_tier="extreme")


def test_db_path_comes_from_override_then_env_then_default(monkeypatch, tmp_path):
    monkeypatch.delenv("READINESS_DB", raising=False)
    assert settings.is_default_db(settings.db_path())
    monkeypatch.setenv("READINESS_DB", str(tmp_path / "env.duckdb"))
    assert settings.db_path() == tmp_path / "env.duckdb"
    assert not settings.is_default_db(settings.db_path())
    assert settings.db_path(tmp_path / "flag.duckdb") == tmp_path / "flag.duckdb"
    monkeypatch.setenv("READINESS_LOCK_TIMEOUT_S", "2.5")
    assert settings.get("lock_timeout_s") == 2.5


def test_secrets_file_is_read_again_when_an_operator_edits_it(monkeypatch, tmp_path):
    # settings come from .streamlit/secrets.toml after the environment; it is parsed once per version
    (tmp_path / ".streamlit").mkdir()
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    monkeypatch.setattr(settings, "PROJECT_ROOT", tmp_path)
    monkeypatch.delenv("READINESS_PREVIEW_ROWS", raising=False)
    assert settings.get("preview_rows") == 10
    secrets.write_text("[readiness]\npreview_rows = 7\n")
    assert settings.get("preview_rows") == 7
    secrets.write_text("[readiness]\npreview_rows = 25\n")
    now = time.time() + 5  # a later modification time, as an edit some seconds on would have
    os.utime(secrets, (now, now))
    assert settings.get("preview_rows") == 25
    secrets.unlink()
    assert settings.get("preview_rows") == 10


def test_threads_opening_and_closing_the_store_at_once_never_conflict(tmp_path):
    """The app serves sessions on threads of one process, each opening and closing the store."""
    import threading

    db = tmp_path / "threads.duckdb"
    store.open_store(db).__enter__().close()
    errors: list[str] = []

    def work() -> None:
        for _ in range(150):
            try:
                with store.open_store(db) as con:
                    con.execute("SELECT count(*) FROM pilots").fetchall()
            except Exception as err:  # e.g. DuckDB's "Unique file handle conflict"
                errors.append(str(err)[:200])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_held_open_keeps_the_store_for_the_block_only(tmp_path):
    # the app keeps the store's DuckDB instance open for one script run, even between its units of
    # work; once the run ends another process can take the file (the CLI writing between reruns)
    db = tmp_path / "run.duckdb"
    with store.open_store(db) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    code = (f"import duckdb; c = duckdb.connect({str(db)!r}); c.execute('INSERT INTO t VALUES (3)'); "
            "print(c.execute('SELECT count(*) FROM t').fetchone()[0])")
    with store.held_open(db):
        with store.open_store(db) as a:
            a.execute("INSERT INTO t VALUES (2)")
        # no unit of work is open now, yet the file is still this process's
        inside = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert inside.returncode != 0 and "lock" in inside.stderr.lower()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "3", out.stderr


def test_held_open_runs_its_block_at_once_when_another_process_holds_the_store(tmp_path):
    db = tmp_path / "busy.duckdb"
    with held_by_another_process(db):
        start = time.monotonic()
        ran = False
        with store.held_open(db):  # no wait and no error here: each unit of work reports on its own
            ran = True
        assert ran and time.monotonic() - start < 1.0


def test_a_new_store_file_is_readable_by_its_owner_only(tmp_path):
    # it holds personal data and password hashes
    db = tmp_path / "private.duckdb"
    with store.open_store(db) as con:
        con.execute("SELECT 1")
    assert db.stat().st_mode & 0o777 == 0o600


def test_a_process_waiting_for_the_store_gets_in_between_units_of_work_of_a_held_run(tmp_path):
    # under steady use the app is nearly always in a script run; holding the instance for whole runs
    # would starve a command-line ingest. While a writer waits (its marker), a run holds the file
    # only unit by unit, as without held_open.
    db = tmp_path / "shared.duckdb"
    with store.open_store(db) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    waiter = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)  # lives on
    marker = db.with_name(f"{db.name}.waiting-{waiter.pid}-1")
    code = f"import duckdb; duckdb.connect({str(db)!r}).execute('INSERT INTO t VALUES (2)'); print('in')"
    try:
        with store.held_open(db):  # no writer waits: the run keeps the file
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
            assert out.returncode != 0 and "lock" in out.stderr.lower()
        marker.touch()
        with store.held_open(db):  # a writer waits: between units of work the file is free
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
            assert out.stdout.strip() == "in", out.stderr
    finally:
        waiter.kill()
        waiter.wait()
    with store.held_open(db):  # the waiter is gone: its marker is cleared and the run holds the file again
        assert not marker.exists()


def test_connect_marks_that_it_waits_and_clears_the_mark(tmp_path):
    import threading

    db = tmp_path / "held2.duckdb"
    outcome: list[BaseException] = []

    def wait_for_it() -> None:
        try:
            store.connect(db, timeout=1.5)
        except store.StoreBusy as err:
            outcome.append(err)

    with held_by_another_process(db):
        store.forget_migrated(db)
        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        marks = wait_until(lambda: list(tmp_path.glob("held2.duckdb.waiting-*")), "connect never marked its wait")
        waiter.join()
    assert len(marks) == 1 and len(outcome) == 1  # marked while it waited, then gave up
    assert list(tmp_path.glob("held2.duckdb.waiting-*")) == []


def test_a_waiting_command_gets_in_while_pages_keep_opening_the_store(tmp_path):
    # pages in a steady stream, each holding the file 0.3 s with a blink between them: a command
    # that retried on its own clock would land in a blink only by luck and say "busy" at its timeout
    db = tmp_path / "polled.duckdb"
    with store.open_store(db):
        pass
    store.forget_migrated(db)
    pages = textwrap.dedent(f"""
        import sys, time
        from readiness import store
        opened = 0
        while time.monotonic() < {time.monotonic()} + 60:  # until the test kills it
            with store.open_store({str(db)!r}, timeout=2.0):
                opened += 1
                if opened == 1:
                    print("polling", flush=True)
                time.sleep(0.3)
            time.sleep(0.002)
    """)
    poller = subprocess.Popen([sys.executable, "-c", pages], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert poller.stdout.readline().strip() == "polling", poller.stderr.read()
        for _ in range(3):  # each time: in within the time pages give way, never refused
            start = time.monotonic()
            con = store.connect(db, timeout=5.0)
            took = time.monotonic() - start
            store.close(con)
            assert took < 1.5, f"a waiting command got in only after {took:.1f} s"
            time.sleep(0.5)
        assert poller.poll() is None, poller.stderr.read()  # no page was refused meanwhile
    finally:
        poller.kill()
        poller.wait()
