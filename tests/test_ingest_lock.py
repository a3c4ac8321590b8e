"""Ingest never locks reviewers out: a page opened during a command-line ingest answers with the
data as it was until the batch lands; a batch killed at any step is whole or absent, and
`maintain` removes what it left; the lake's files follow the store through migration,
deletion, a move and --dedupe-rows."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_ROOT, ingest_one, make_pilot, query, write

from analysis import usage
from readiness import catalog, cli, store
from readiness.ingest import batches
from readiness.security.access import Actor
from readiness.store import lake, migrations, postgres

DEPLOYMENTS = ("embedded", "organisation")
OP = Actor("cli:test", "admin", cli=True)
ROWS = 1_000_000  # a few seconds of loading on the shared 2-core machine
PILOT = "pilot"


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ROWS usage events as CSV, written by DuckDB."""
    path = tmp_path_factory.mktemp("lock") / "usage.csv"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT strftime(TIMESTAMP '2026-07-06 08:00:00' + to_seconds((i * 37) % (60 * 86400)),
                                          '%Y-%m-%dT%H:%M:%SZ') AS time, 'user' || (i % 700) AS user_id,
                                 ['open', 'triage', 'export'][1 + i % 3] AS event, 's' || (i // 40) AS session_id,
                                 ['ok', 'error'][1 + (i % 9 = 0)::INT] AS outcome
                          FROM range({ROWS}) t(i)) TO '{path}' (HEADER)""")
    con.close()
    return path


def _seeded(db: Path, tmp_path: Path) -> int:
    """A store with the pilot and a first batch of 50 events; returns the events a page shows."""
    make_pilot(db, PILOT)
    rows = "".join(f"2026-07-0{1 + i % 5}T09:00:00Z,first{i % 7},open,s{i // 5}\n" for i in range(50))
    assert ingest_one(db, write(tmp_path / "first.csv", "ts,user,event,session\n" + rows)).rows_loaded == 50
    return 50


def _ingest(db: Path, path: Path) -> subprocess.Popen:
    deployment = ("READINESS_DATABASE_URL", "READINESS_LAKE_DATA_PATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith("READINESS_") or k in deployment}
    return subprocess.Popen([sys.executable, "-m", "readiness", "ingest", "--db", str(db), "--pilot", PILOT,
                             "--kind", "usage", str(path)], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _page(db: Path) -> int:
    """What a page does: open the store (waiting at most 2 s), then the pilot's usage totals."""
    with store.open_store(db, timeout=2.0) as con:
        return usage.totals(con, catalog.get_pilot(con, PILOT)).events


def test_a_page_during_an_ingest_answers_with_the_old_data_until_the_batch_lands(big_csv: Path, db: Path,
                                                                                tmp_path: Path):
    before = _seeded(db, tmp_path)
    proc = _ingest(db, big_csv)
    seen, waits = [], []
    while proc.poll() is None:
        t0 = time.perf_counter()
        seen.append(_page(db))  # StoreBusy would fail the test: pages are never refused
        waits.append(time.perf_counter() - t0)
        time.sleep(0.1)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    seen.append(_page(db))
    assert len(seen) >= 5, "the ingest ended before the page could look"
    assert set(seen) <= {before, before + ROWS}  # never a part of the batch
    first_new = seen.index(before + ROWS)
    assert seen[:first_new] == [before] * first_new and seen[first_new:] == [before + ROWS] * (len(seen) - first_new)
    assert first_new >= 3, seen  # the old figures were shown while the file loaded
    print(f"\npage during a {ROWS:,}-row ingest: {len(waits)} answers, worst {max(waits):.2f} s")


def _lock_holder(path: Path) -> int | None:
    """The PID holding the store file's lock, read without taking it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        probe = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        kind, _w, _s, _l, pid = struct.unpack("hhqqi4x", fcntl.fcntl(fd, fcntl.F_GETLK, probe))
        return None if kind == fcntl.F_UNLCK else pid
    finally:
        os.close(fd)


def _wait_for_landing(db: Path, proc: subprocess.Popen) -> None:
    """Wait until the ingest ``proc`` is in its short landing step: it holds the store file's lock
    (embedded); or (organisation) it has committed the batch's events in the lake, in its writer's
    turn, and not yet its records, which make them count. The step lasts tens of milliseconds: each
    look is a query on a connection opened before."""
    if not postgres.is_organisation(db):
        return _wait_for(proc, lambda: _lock_holder(db) == proc.pid, "it began to land the batch")
    with store.open_store(db) as con:
        def in_lake() -> int:
            return con.execute("SELECT count(DISTINCT batch_id) FROM lake.main.usage_events").fetchone()[0]
        before = in_lake()
        return _wait_for(proc, lambda: in_lake() > before, "it committed its events in the lake")


def _wait_for(proc: subprocess.Popen, ready, what: str) -> None:
    while not ready():
        assert proc.poll() is None, f"the ingest ended before {what}: {proc.stderr.read()}"
        time.sleep(0.001)


def _parts(db: Path, table: str = "*") -> list[Path]:
    return sorted(lake.parts_dir(db).glob(f"{table}/*.parquet"))


def _new_files(db: Path, proc: subprocess.Popen, table: str) -> Callable[[], bool]:
    """Whether the ingest ``proc`` has written its file of ``table`` (named after its PID)."""
    return lambda: bool(list(lake.parts_dir(db).glob(f"{table}/*-{proc.pid}-*.parquet")))


MOMENTS = {
    # reading the file: its work folder exists, no Parquet file yet
    "staging": lambda db, proc: _wait_for(proc, lambda: list((db.parent / "uploads").glob(f"ingest-*-{proc.pid}-*")),
                                          "its work folder appeared"),
    # every Parquet file written (the rollup's team file is the last), the batch not yet landed
    "files written": lambda db, proc: _wait_for(proc, _new_files(db, proc, "usage_by_team"), "its files were written"),
    # the short step: the ingest holds the store once its files are written
    "landing": lambda db, proc: (MOMENTS["files written"](db, proc), _wait_for_landing(db, proc)),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_kill_9_leaves_the_batch_whole_or_absent_and_maintain_cleans_up(big_csv: Path, db: Path, tmp_path: Path,
                                                                       moment: str, capsys):
    before = _seeded(db, tmp_path)
    kept = _parts(db)
    proc = _ingest(db, big_csv)
    MOMENTS[moment](db, proc)
    proc.send_signal(signal.SIGKILL)
    landed = proc.wait(timeout=60) == 0  # it may have finished just before the kill
    events = _page(db)
    assert events in (before, before + ROWS)
    whole = events == before + ROWS
    assert query(db, "SELECT count(*) FROM ingest_batches") == [(2 if whole else 1,)]
    assert query(db, "SELECT count(*) FROM usage_by_session") != [(0,)]
    if moment != "staging" and not whole:
        assert len(_parts(db)) == len(kept) + 5  # the killed ingest left its files
    capsys.readouterr()
    assert cli.main(["maintain", "--db", str(db)]) == 0
    listed = {lake.parts_dir(db) / r[0] for r in query(db, "SELECT path FROM lake_files WHERE path <> ''")}
    assert set(_parts(db)) == listed  # only listed files remain
    if postgres.is_organisation(db):  # and the lake holds the rows of listed batches only
        assert query(db, "SELECT DISTINCT batch_id FROM lake.main.usage_events ORDER BY 1") == query(
            db, "SELECT DISTINCT batch_id FROM lake_files WHERE tbl = 'usage_events' ORDER BY 1")
    assert not list((db.parent / "uploads").glob("ingest-*"))
    assert cli.main(["audit", "verify", "--db", str(db)]) == 0
    assert "Audit log intact" in capsys.readouterr().out
    # the file loads (again) as usual: nothing half-remembered
    again = ingest_one(db, big_csv, create=False)
    assert again.duplicate == whole and _page(db) == before + ROWS
    with capsys.disabled():
        print(f"\nkill -9 while {moment}: {'landed' if landed else 'killed'}, batch {'whole' if whole else 'absent'}")


def _csv(rows: list[tuple[str, str]]) -> str:
    return "ts,user,event,session,feature\n" + "".join(f"{ts},{u},open,s-{u},f1\n" for ts, u in rows)


def _evidence(db: Path) -> dict[str, int]:
    return {t: query(db, f"SELECT count(*) FROM {t}")[0][0] for t in lake.USAGE_TABLES}


def test_a_store_from_before_the_lake_migrates_and_its_batches_delete_from_all_evidence(tmp_path: Path, monkeypatch):
    # a batch as the release before the lake stored it: rows in tables, made here through today's
    # ingest in another store and copied over
    src, db = tmp_path / "src.duckdb", tmp_path / "old.duckdb"
    make_pilot(src, PILOT)
    old = ingest_one(src, write(tmp_path / "old.csv", _csv([("2026-07-01T09:00:00Z", "ann")] * 3)))
    copied = ("usage_events", "ingest_batches", "usage_rollup_state", *lake.USAGE_TABLES[1:])
    with store.open_store(src) as con:
        for t in copied:
            con.execute(f"COPY (SELECT * FROM {t}) TO '{tmp_path / t}.parquet' (FORMAT parquet)")
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", [x for x in migrations.MIGRATIONS if x[0] < 12])
        make_pilot(db, PILOT)
        with store.open_store(db) as con:
            for t in copied:
                con.execute(f"INSERT INTO {t} BY NAME SELECT * FROM read_parquet('{tmp_path / t}.parquet')")
            con.execute("CREATE OR REPLACE SEQUENCE batch_id_seq START 100")  # past the copied batch
    store.forget_migrated(db)
    assert query(db, "SELECT count(*) FROM usage_events_local") == [(3,)]  # kept where they were
    new = ingest_one(db, write(tmp_path / "new.csv", _csv([("2026-07-02T09:00:00Z", "bob")] * 4)))
    assert query(db, "SELECT count(*) FROM usage_events_local") == [(3,)]
    assert query(db, "SELECT batch_id, count(*) FROM usage_events GROUP BY ALL ORDER BY 1") == [
        (old.batch_id, 3), (new.batch_id, 4)]
    assert _page(db) == 7
    # a re-sent file is still known, and --dedupe-rows compares with rows in both places
    assert ingest_one(db, tmp_path / "new.csv").duplicate
    both = write(tmp_path / "both.csv", _csv([("2026-07-01T09:00:00Z", "ann")] * 3 + [("2026-07-02T09:00:00Z", "bob")]
                                            + [("2026-07-03T09:00:00Z", "cy")]))
    r = ingest_one(db, both, dedupe_rows=True)
    assert (r.rows_loaded, r.rows_duplicate) == (1, 4)
    files = _parts(db)
    with store.open_store(db) as con:
        batches.delete_batch(con, new.batch_id, OP)
        batches.delete_batch(con, old.batch_id, OP)
    # every piece of evidence lost the batches' rows; the new batch's files are gone from the disk
    assert _evidence(db) == {"usage_events": 1, "usage_by_segment": 1, "usage_by_session": 1,
                             "usage_by_feature": 1, "usage_by_team": 1}
    assert query(db, "SELECT DISTINCT batch_id FROM lake_files") == [(r.batch_id,)]
    assert len(_parts(db)) == 5 and len(files) == 10 and set(_parts(db)) < set(files)
    assert _page(db) == 1


def test_a_moved_store_reads_its_own_files(tmp_path: Path):
    db = tmp_path / "a" / "store.duckdb"
    make_pilot(db, PILOT)
    ingest_one(db, write(tmp_path / "u.csv", _csv([("2026-07-01T09:00:00Z", "ann")] * 3)))
    (tmp_path / "b").mkdir()
    moved = tmp_path / "b" / "store.duckdb"
    for suffix in ("", ".audit-key", ".audit-head"):
        shutil.move(f"{db}{suffix}", f"{moved}{suffix}")
    shutil.move(f"{db}.parts", f"{moved}.parts")
    assert _page(moved) == 3
    view = query(moved, "SELECT sql FROM duckdb_views() WHERE view_name = 'usage_events'")[0][0]
    assert str(lake.parts_dir(moved)) in view and str(lake.parts_dir(db)) not in view


def test_maintain_removes_only_unlisted_files_of_gone_processes(tmp_path: Path, capsys):
    db = tmp_path / "store.duckdb"
    _seeded(db, tmp_path)
    listed = set(_parts(db))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = lake.new_part(db, "usage_events").name.split("-")[0]
    folder = lake.parts_dir(db) / "usage_events"
    gone = folder / f"{host}-{dead.stdout.strip()}-0123.parquet"     # an ingest killed before landing
    running = folder / f"{host}-{os.getpid()}-4567.parquet"          # an ingest still on its way
    elsewhere = folder / f"otherhost-{dead.stdout.strip()}-89ab.parquet"  # another machine's: not ours to judge
    for f in (gone, running, elsewhere):
        f.write_bytes(b"PAR1")
    capsys.readouterr()
    assert cli.main(["maintain", "--db", str(db)]) == 0
    assert "Removed 1 Parquet file(s)" in capsys.readouterr().out
    assert set(_parts(db)) == listed | {running, elsewhere}
    assert query(db, "SELECT details->>'files_removed' FROM audit_log WHERE action = 'maintain'") == [("1",)]
    assert _page(db) == 50
