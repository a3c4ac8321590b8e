"""Crash safety: SIGKILL an ingest at ten moments, from start-up and migration
to the commit; each time the store opens, the batch is whole or absent, the next ingest is not
blocked, and the audit chain verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_ROOT, write

from readiness import cli, store
from readiness.store.migrations import MIGRATIONS

# Large enough that loading takes about as long as starting up on the 2-core machine, small
# enough that the ten kills and their checks stay well under 40 s.
ROWS = 100_000
PILOT = "crash pilot"
LATEST = max(v for v, _name, _step in MIGRATIONS)


@pytest.fixture(scope="session")
def big_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gzip CSV of ROWS usage events, made once with DuckDB's COPY."""
    path = tmp_path_factory.mktemp("crash") / "usage.csv.gz"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT strftime(TIMESTAMP '2026-07-06 08:00:00' + to_seconds((i * 37) % (70 * 86400)),
                                          '%Y-%m-%dT%H:%M:%SZ') AS time,
                                 'user' || (i % 500) AS user_id, ['open', 'triage', 'export'][1 + i % 3] AS event,
                                 's' || (i // 20) AS session_id, (i * 31) % 5000 AS duration_ms
                          FROM range({ROWS}) t(i)) TO '{path}' (HEADER, COMPRESSION gzip)""")
    con.close()
    return path


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("READINESS_")}


def _ingest(db: Path, path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "readiness", "ingest", "--db", str(db), "--pilot", PILOT,
                             "--kind", "usage", "--create", str(path)], cwd=PROJECT_ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _peek(db: Path) -> str:
    """Where the kill left the store, read without changing it (for the report only)."""
    if not db.exists():
        return "no store yet"
    con = store.scratch(db)
    try:
        has = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations' "
                          "AND database_name = current_database()").fetchone()[0]
        version = con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] if has else 0
        if (version or 0) < LATEST:
            return f"migrating (schema {version or 0} of {LATEST})"
        return "committed" if con.execute("SELECT count(*) FROM ingest_batches").fetchone()[0] else "loading"
    finally:
        con.close()


def _batch_whole_or_absent(db: Path) -> bool:
    """True when the big batch is whole, False when absent; fails the test when it is anything else."""
    with store.open_store(db, timeout=5) as con:  # opens: a WAL replays, unfinished migrations finish
        batches = con.execute("SELECT b.batch_id, b.rows_read, b.rows_loaded FROM ingest_batches b "
                              "JOIN pilots p USING (pilot_id) WHERE p.name = ?", [PILOT]).fetchall()
        events = con.execute("SELECT batch_id, count(*) FROM usage_events GROUP BY ALL").fetchall()
        rejects = con.execute("SELECT count(*) FROM ingest_rejects").fetchone()[0]
    if not batches:
        assert (events, rejects) == ([], 0), "rows of a batch that has no batch record"
        return False
    ((batch_id, read, loaded),) = batches
    assert (read, loaded, rejects) == (ROWS, ROWS, 0)
    assert events == [(batch_id, ROWS)]
    return True


def _store_appears(proc: subprocess.Popen, db: Path) -> float:
    """Wait until the process has created the store file (or ended); return the time then."""
    while proc.poll() is None and not db.exists():
        time.sleep(0.002)
    return time.monotonic()


def test_sigkill_during_ingest_leaves_the_batch_whole_or_absent(big_batch: Path, tmp_path: Path, capsys) -> None:
    # Measure one undisturbed ingest on a fresh store: Python's start-up, then (from the moment the
    # store file appears) migrations, load and commit. The kills are timed from the store's
    # appearance, so that a slower or faster start-up on a busy machine does not shift them all
    # before or after the work on the store.
    started = time.monotonic()
    proc = _ingest(tmp_path / "measure" / "store.duckdb", big_batch)
    store_at = _store_appears(proc, tmp_path / "measure" / "store.duckdb")
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    startup, duration = store_at - started, time.monotonic() - store_at
    report = []
    # one kill during start-up (before the store is touched), then ten from 5% to 95% of the work
    for i, share in enumerate([None, 0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95]):
        db = tmp_path / f"kill-{i}" / "store.duckdb"
        proc = _ingest(db, big_batch)
        if share is None:
            time.sleep(startup / 2)
        else:
            time.sleep(max(0.0, _store_appears(proc, db) + share * duration - time.monotonic()))
        proc.send_signal(signal.SIGKILL)
        finished = proc.wait(timeout=60) == 0  # it may have finished just before the kill
        where = "finished" if finished else _peek(db)
        whole = _batch_whole_or_absent(db)
        # the next process is not blocked by a stale lock or a half-made key file: it loads a file
        small = write(db.parent / "next.csv", f"ts,user,event\n2026-07-0{1 + i % 9}T10:00:00Z,next{i},open\n")
        capsys.readouterr()
        assert cli.main(["ingest", "--db", str(db), "--pilot", PILOT, "--kind", "usage", "--create", str(small)]) == 0, \
            capsys.readouterr().err
        with store.open_store(db) as con:  # the big batch is as it was beside the new one
            assert con.execute("SELECT count(*) FROM usage_events").fetchone()[0] == (ROWS if whole else 0) + 1
        # and the killed ingest's work folder (its decompressed copy of the file) is gone
        assert list((db.parent / "uploads").glob("ingest-*")) == []
        assert cli.main(["audit", "verify", "--db", str(db)]) == 0, capsys.readouterr()
        assert "Audit log intact" in capsys.readouterr().out
        report.append(f"{'start-up' if share is None else f'{share:.0%}'}: {where}, batch {'whole' if whole else 'absent'}")
    with capsys.disabled():
        print(f"\ncrash test: {ROWS:,} rows; undisturbed: start-up {startup:.1f} s, then {duration:.1f} s on the store; "
              "killed at " + "; ".join(report))
