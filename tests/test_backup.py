"""Backup and restore: a round trip, a backup beside a writer in another process,
a tampered backup, refusals, and the audit chain after a restore."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_ROOT, ingest_one, make_pilot, query, snapshot, write

from readiness import backup, cli, store
from readiness.catalog import get_pilot
from readiness.review import decisions
from readiness.security import audit, users
from readiness.security.access import Actor
from readiness.store import lake, migrations
from readiness.store.migrations import MIGRATIONS

OP = Actor("cli:test", "admin", cli=True)
USAGE = "ts,user,event\n" + "".join(f"2026-03-0{1 + i % 5}T10:0{i % 10}:00Z,user{i % 4},open\n" for i in range(30))


def _cli(*args: str | Path, **env: str) -> subprocess.CompletedProcess:
    """Run ``python -m readiness`` as an operator would, in its own process."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("READINESS_")} | env
    return subprocess.run([sys.executable, "-m", "readiness", *map(str, args)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120, env=full)


SIDECARS = ("", ".audit-key", ".audit-head")


@pytest.fixture(scope="module")
def _made_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real store: a pilot, one ingested batch, one decision (made once, copied per test)."""
    db = tmp_path_factory.mktemp("template") / "store.duckdb"
    ingest_one(db, write(db.parent / "u.csv", USAGE), pilot="p")
    with store.open_store(db) as con:
        decisions.record_decision(con, OP, get_pilot(con, "p"), outcome="harden", rationale="Too few users yet",
                                  owner="Tom Brennan", next_review=date.today() + timedelta(days=30))
        users.add_user(con, OP, "rita", "reviewer", "a long enough password")
        users.start_session(con, Actor("rita", "reviewer"), "rita's cookie token")
        con.execute("CHECKPOINT")
    return db


@pytest.fixture
def pilot_db(_made_once: Path, db: Path) -> Path:
    """This test's own copy of the small store, with its audit key and head."""
    for suffix in SIDECARS:
        shutil.copy2(f"{_made_once}{suffix}", f"{db}{suffix}")
    shutil.copytree(f"{_made_once}.parts", f"{db}.parts")  # the batches' Parquet files
    return db


def _verify(db: Path) -> audit.Verification:
    with store.open_store(db) as con:
        return audit.verify(con)


def test_round_trip_restores_the_store_as_it_was_and_the_chain_verifies(pilot_db: Path, tmp_path: Path,
                                                                        capsys) -> None:
    out = tmp_path / "backups" / "monday"
    assert cli.main(["backup", "--db", str(pilot_db), "--out", str(out)]) == 0
    at_backup = snapshot(pilot_db)
    decided = query(pilot_db, "SELECT decision_id, outcome, rationale FROM decisions")
    # the backup holds its own audit record, saying who and where to
    assert query(pilot_db, "SELECT actor LIKE 'cli:%', details->>'out' FROM audit_log WHERE action = 'backup'") == [
        (True, str(out.resolve()))]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tables"]["usage_events"] == 30 and manifest["tables"]["decisions"] == 1
    assert manifest["audit_head"]["seq"] == at_backup["audit_max_seq"]
    assert manifest["schema_version"] == max(v for v, _n, _s in MIGRATIONS)
    # the batch's Parquet files (its events and usage rollup) travel with the store
    parts = {n for n in manifest["files"] if n.startswith("parts/")}
    assert set(manifest["files"]) - parts == {"store.duckdb", "audit-key", "audit-head"}
    assert sorted(n.split("/")[1] for n in parts) == sorted(lake.USAGE_TABLES)  # the pilot has usage only

    # the store moves on: another batch, another decision
    ingest_one(pilot_db, write(tmp_path / "later.csv", "ts,user,event\n2026-03-09T10:00:00Z,eve,open\n"), pilot="p")
    with store.open_store(pilot_db) as con:
        decisions.record_decision(con, OP, get_pilot(con, "p"), outcome="stop", rationale="Changed our minds",
                                  owner="Tom Brennan")
    assert snapshot(pilot_db) != at_backup

    held = duckdb.connect(str(out / "store.duckdb"), read_only=True)  # the backup holds rita's open login
    assert held.execute("SELECT username FROM auth_sessions WHERE ended_at IS NULL").fetchall() == [("rita",)]
    held.close()
    capsys.readouterr()
    assert cli.main(["restore", "--db", str(pilot_db), "--from", str(out), "--force"]) == 0
    said = capsys.readouterr().out
    assert "Audit log intact" in said and "before-restore-" in said
    restored = snapshot(pilot_db)
    assert {k: v for k, v in restored.items() if k not in ("audit_log", "audit_max_seq")} == \
        {k: v for k, v in at_backup.items() if k not in ("audit_log", "audit_max_seq")}
    assert query(pilot_db, "SELECT decision_id, outcome, rationale FROM decisions") == decided
    # one record more than at backup time: "restored from DIR"
    assert restored["audit_max_seq"] == at_backup["audit_max_seq"] + 1
    assert query(pilot_db, "SELECT action, details->>'from' FROM audit_log ORDER BY seq DESC LIMIT 1") == [
        ("restore", str(out.resolve()))]
    # a login open at backup time is not honoured again after the restore
    with store.open_store(pilot_db) as con:
        assert users.check_session(con, users.session_id("rita's cookie token"), touch=False).actor is None
    assert _verify(pilot_db).ok
    proc = _cli("audit", "verify", "--db", pilot_db)
    assert proc.returncode == 0 and "Audit log intact" in proc.stdout, proc.stdout + proc.stderr

    # the store it replaced was moved aside whole, and can itself be restored
    (aside,) = tmp_path.glob("store.duckdb.before-restore-*")
    assert json.loads((aside / "manifest.json").read_text())["tables"]["decisions"] == 2
    assert json.loads((aside / "manifest.json").read_text())["tables"]["usage_events"] == 31
    backup.restore(tmp_path / "aside.duckdb", aside, OP)
    assert query(tmp_path / "aside.duckdb", "SELECT count(*) FROM usage_events") == [(31,)]
    # the later batch's files, no longer listed by the restored store, are what `maintain` removes
    assert query(pilot_db, "SELECT count(*) FROM usage_events") == [(30,)]
    proc = _cli("maintain", "--db", pilot_db)
    assert proc.returncode == 0, proc.stderr
    assert sorted(f.name for f in Path(f"{pilot_db}.parts").rglob("*.parquet")) == sorted(
        Path(n).name for n in parts)
    assert cli.main(["restore", "--db", str(tmp_path / "again.duckdb"), "--from", str(aside)]) == 0
    assert query(tmp_path / "again.duckdb", "SELECT count(*) FROM decisions") == [(2,)]


def test_backup_keeps_the_audit_key_private(pilot_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "b"
    backup.backup(pilot_db, out, OP)
    assert stat.S_IMODE((out / "audit-key").stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert (out / "audit-key").read_bytes() == Path(f"{pilot_db}.audit-key").read_bytes()
    backup.restore(tmp_path / "r.duckdb", out, OP)
    assert stat.S_IMODE(Path(f"{tmp_path / 'r.duckdb'}.audit-key").stat().st_mode) == 0o600


_HOLDER = """
import sys
from readiness import pilots, store
from readiness.security.access import Actor
con = store.connect(sys.argv[1])
with store.transaction(con):
    pilots.create_pilot(con, "written during the backup", Actor("cli:holder", "admin", cli=True))
    print("holding", flush=True)
    sys.stdin.readline()  # hold the write transaction until the test says so
store.close(con)
"""


def test_backup_beside_a_writer_in_another_process_waits_or_says_busy(pilot_db: Path, tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(pilot_db)], cwd=PROJECT_ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "holding"
        # a short wait: the store stays busy, so the backup says so and leaves nothing behind
        busy = _cli("backup", "--db", pilot_db, "--out", tmp_path / "short", READINESS_LOCK_TIMEOUT_S="0.3")
        assert busy.returncode == 3, busy.stderr
        assert "is busy" in busy.stderr and "Traceback" not in busy.stderr
        assert list(tmp_path.glob("*short*")) == []
        # a long enough wait: the backup starts, the writer commits and leaves, the backup goes ahead
        waiting = subprocess.Popen([sys.executable, "-m", "readiness", "backup", "--db", str(pilot_db),
                                    "--out", str(tmp_path / "long")], cwd=PROJECT_ROOT, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env={**os.environ, "READINESS_LOCK_TIMEOUT_S": "60"})
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=60) == 0
        out, err = waiting.communicate(timeout=120)
        assert waiting.returncode == 0, err
    finally:
        holder.kill()
    # the copy is whole: it restores, holds the writer's committed change, and its chain verifies
    r = backup.restore(tmp_path / "r.duckdb", tmp_path / "long", OP)
    assert r.verification.ok, r.verification.message
    assert query(tmp_path / "r.duckdb", "SELECT count(*) FROM pilots WHERE name = 'written during the backup'") == [(1,)]


def test_a_tampered_backup_is_refused(pilot_db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "b"
    backup.backup(pilot_db, out, OP)
    data = bytearray((out / "store.duckdb").read_bytes())
    data[len(data) // 2] ^= 0x01
    (out / "store.duckdb").write_bytes(bytes(data))
    before = snapshot(pilot_db)
    assert cli.main(["restore", "--db", str(pilot_db), "--from", str(out), "--force"]) == 2
    assert "store.duckdb differs from the manifest" in capsys.readouterr().err
    assert snapshot(pilot_db) == before  # the store was left alone
    assert list(tmp_path.glob("*before-restore*")) == []


def test_restore_will_not_replace_a_store_without_force(pilot_db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "b"
    backup.backup(pilot_db, out, OP)
    with store.open_store(pilot_db) as con:
        decisions.record_decision(con, OP, get_pilot(con, "p"), outcome="stop", rationale="Changed our minds",
                                  owner="Tom Brennan")
    before = snapshot(pilot_db)
    assert cli.main(["restore", "--db", str(pilot_db), "--from", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert snapshot(pilot_db) == before


def test_unusable_backup_folders_and_targets_exit_2(pilot_db: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    assert cli.main(["backup", "--db", str(pilot_db), "--out", str(tmp_path / "full")]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert cli.main(["restore", "--db", str(tmp_path / "r.duckdb"), "--from", str(tmp_path / "full")]) == 2
    assert "not a backup" in capsys.readouterr().err
    out = tmp_path / "b"
    backup.backup(pilot_db, out, OP)
    (out / "audit-head").unlink()
    assert cli.main(["restore", "--db", str(tmp_path / "r.duckdb"), "--from", str(out)]) == 2
    assert "audit-head is missing" in capsys.readouterr().err
    assert not (tmp_path / "r.duckdb").exists()


def test_a_backup_from_a_newer_schema_is_refused(pilot_db: Path, tmp_path: Path) -> None:
    with store.open_store(pilot_db) as con:  # as a later release would leave it
        con.execute("INSERT INTO schema_migrations VALUES (999, 'from the future', now())")
    out = tmp_path / "b"
    backup.backup(pilot_db, out, OP)
    with pytest.raises(backup.BackupError, match="newer than this code knows"):
        backup.restore(tmp_path / "r.duckdb", out, OP)
    assert not (tmp_path / "r.duckdb").exists()


LAKE = 12  # the migration that made usage_events a view over local rows and Parquet files


def test_a_backup_from_an_older_schema_is_migrated(db: Path, tmp_path: Path, monkeypatch) -> None:
    # the backup is taken by a release from before the usage lake (events in a plain table), which
    # knew every migration before it
    older = [step for step in MIGRATIONS if step[0] < LAKE]
    newer = [step[0] for step in MIGRATIONS if step[0] >= LAKE]
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", older)
        make_pilot(db, "p")  # and its events, as that release wrote them (its ingest code is not this one)
        with store.open_store(db) as con:
            con.execute("INSERT INTO usage_events (pilot_id, batch_id, src_row, ts, user_id, event) "
                        "SELECT (SELECT pilot_id FROM pilots WHERE name = 'p'), 1, i, TIMESTAMPTZ '2026-03-01 10:00:00+00' "
                        "+ i * INTERVAL 1 MINUTE, 'user' || (i % 4), 'open' FROM range(1, 31) t(i)")
        backup.backup(db, tmp_path / "b", OP)
    store.forget_migrated(db)
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["schema_version"] == LAKE - 1
    r = backup.restore(tmp_path / "r.duckdb", tmp_path / "b", OP)
    assert r.migrations_applied == newer and r.verification.ok
    assert query(tmp_path / "r.duckdb", "SELECT max(version) FROM schema_migrations") == [(newer[-1],)]
    assert query(tmp_path / "r.duckdb", "SELECT count(*) FROM usage_events") == [(30,)]
