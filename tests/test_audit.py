"""The audit log: one record per audited write, a verifiable hash chain, and a head kept outside."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PROJECT_ROOT, ingest_one, make_pilot, query, write

from readiness import store
from readiness.catalog import get_pilot
from readiness.ingest import batches
from readiness.review import annotations
from readiness.security import audit, privacy, users
from readiness.security.access import Actor
from readiness.store.migrations import MIGRATIONS

ADMIN = Actor("cli:test", "admin", cli=True)
PW = "correct horse battery"


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "readiness", "audit", *args, "--db", str(db)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True)


def _log_with_records(db: Path, tmp_path: Path, n_users: int = 6) -> None:
    make_pilot(db, "p")
    with store.open_store(db) as con:
        for i in range(n_users):
            users.add_user(con, ADMIN, f"user{i}", "viewer", PW)


def test_clean_log_verifies_and_cli_says_so(db: Path, tmp_path: Path) -> None:
    _log_with_records(db, tmp_path)
    with store.open_store(db) as con:
        result = audit.verify(con)
        head = audit.head(con)
    assert result.ok and result.checked == 7 and head["seq"] == 7
    assert head["head_file_says"] == {"seq": 7, "hash": head["hash"]}
    out = _cli(db, "verify")
    assert out.returncode == 0 and "intact: 7 records" in out.stdout
    shown = _cli(db, "head")
    assert shown.returncode == 0 and json.loads(shown.stdout)["seq"] == 7


def test_key_and_head_files_are_private_and_outside_the_database(db: Path, tmp_path: Path) -> None:
    _log_with_records(db, tmp_path, 1)
    for suffix in (".audit-key", ".audit-head"):
        path = Path(f"{db}{suffix}")
        assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    key = Path(f"{db}.audit-key").read_text().strip()
    assert key.encode() not in db.read_bytes()


def test_an_edited_record_is_named(db: Path, tmp_path: Path) -> None:
    _log_with_records(db, tmp_path)
    query(db, "UPDATE audit_log SET details = '{\"role\": \"admin\"}' WHERE seq = 4")
    with store.open_store(db) as con:
        result = audit.verify(con)
    assert not result.ok and result.first_bad_seq == 4 and "altered" in result.message
    out = _cli(db, "verify")
    assert out.returncode == 1 and "Record 4" in out.stdout


def test_an_edit_that_recomputes_the_hash_without_the_key_is_still_caught(db: Path, tmp_path: Path) -> None:
    """Someone rewrites a record and 'fixes' its hash with a plain sha256: the HMAC key is not theirs."""
    import hashlib

    _log_with_records(db, tmp_path)
    query(db, "UPDATE audit_log SET actor = 'someone-else', hash = ? WHERE seq = 3",
          [hashlib.sha256(b"forged").hexdigest()])
    with store.open_store(db) as con:
        result = audit.verify(con)
    assert not result.ok and result.first_bad_seq == 3


def test_a_deleted_record_is_named(db: Path, tmp_path: Path) -> None:
    _log_with_records(db, tmp_path)
    query(db, "DELETE FROM audit_log WHERE seq = 5")
    out = _cli(db, "verify")
    assert out.returncode == 1 and "Record 5 is missing" in out.stdout


def test_cut_off_newest_records_are_detected(db: Path, tmp_path: Path) -> None:
    _log_with_records(db, tmp_path)
    query(db, "DELETE FROM audit_log WHERE seq >= 6")
    with store.open_store(db) as con:
        result = audit.verify(con)
    assert not result.ok and result.first_bad_seq == 6 and "cut off" in result.message
    assert _cli(db, "verify").returncode == 1


def test_a_missing_head_file_fails_verification(db: Path, tmp_path: Path) -> None:
    _log_with_records(db, tmp_path, 1)
    os.remove(f"{db}.audit-head")
    out = _cli(db, "verify")
    assert out.returncode == 1 and "head file" in out.stdout


def test_a_rolled_back_change_leaves_no_record_and_no_head_change(db: Path, tmp_path: Path) -> None:
    _log_with_records(db, tmp_path, 1)
    head_before = Path(f"{db}.audit-head").read_text()
    with store.open_store(db) as con:
        with pytest.raises(RuntimeError):
            with store.transaction(con):
                users._insert_user(con, ADMIN, "ghost", "viewer", PW, None, None)
                raise RuntimeError("something failed after the record was written")
        assert audit.verify(con).ok
    assert Path(f"{db}.audit-head").read_text() == head_before
    assert query(db, "SELECT count(*) FROM users WHERE username = 'ghost'") == [(0,)]


def test_record_outside_a_transaction_is_refused(db: Path) -> None:
    with store.open_store(db) as con:
        with pytest.raises(RuntimeError, match="inside store.transaction"):
            audit.record(con, ADMIN, "x", "y")


def test_records_written_before_the_chain_are_sealed_by_the_migration(tmp_path: Path) -> None:
    """A store from before migration 3: its audit rows (with a gap in seq) get chained, and verify passes."""
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
    for version, name, step in MIGRATIONS[:2]:
        con.execute(step.replace("CREATE TABLE schema_migrations", "CREATE TABLE IF NOT EXISTS schema_migrations"))
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
    for seq in (1, 2, 4):
        con.execute("INSERT INTO audit_log (seq, actor, action, object) VALUES (?, 'cli:old', 'ingest', ?)", [seq, f"batch:{seq}"])
    con.close()
    store.forget_migrated(path)
    with store.open_store(path) as con:
        result = audit.verify(con)
        objects = [r[0] for r in con.execute("SELECT object FROM audit_log ORDER BY seq").fetchall()]
    assert result.ok and result.checked == 3 and objects == ["batch:1", "batch:2", "batch:4"]


def test_every_audited_write_makes_exactly_one_record(db: Path, tmp_path: Path) -> None:

    reviewer = Actor("rev", "reviewer")

    def count() -> int:
        return query(db, "SELECT count(*) FROM audit_log")[0][0]

    def last_action() -> str:
        return query(db, "SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1")[0][0]

    steps = []

    def step(expected_action: str, fn) -> None:
        before = count()
        try:
            fn()
        except Exception:
            pass  # a refused login still leaves its record
        steps.append((expected_action, count() - before, last_action()))

    step("pilot.create", lambda: make_pilot(db, "p"))
    csv = write(tmp_path / "e.csv", "ts,message,user\n2026-03-02T10:00:00Z,Timeout calling erp,a\n"
                                    "2026-03-02T10:01:00Z,Timeout calling erp,b\n")
    step("ingest", lambda: ingest_one(db, csv, "exceptions", "p"))
    with store.open_store(db) as con:
        p = get_pilot(con, "p")
        step("user.add", lambda: users.add_user(con, ADMIN, "rev", "reviewer", PW))
        step("grant.add", lambda: users.grant(con, ADMIN, "rev", "p"))
        step("login.failure", lambda: users.login(con, "rev", "wrong password!"))
        step("login.success", lambda: users.start_session(con, users.login(con, "rev", PW), "tok"))
        step("failure_mode.annotate", lambda: annotations.annotate_mode(con, p, 1, status="known", owner="ops", note=None,
                                                               actor=reviewer))
        step("reveal", lambda: privacy.reveal(con, reviewer, p, "test"))
        step("logout", lambda: users.end_session(con, users.session_id("tok"), "logged out", reviewer))
        step("user.set_role", lambda: users.set_role(con, ADMIN, "rev", "lead"))
        step("user.reset_password", lambda: users.reset_password(con, ADMIN, "rev", "a brand new password"))
        step("grant.remove", lambda: users.revoke(con, ADMIN, "rev", "p"))
        batch = con.execute("SELECT max(batch_id) FROM ingest_batches").fetchone()[0]
        step("batch.delete", lambda: batches.delete_batch(con, batch, ADMIN))
        step("user.remove", lambda: users.remove_user(con, ADMIN, "rev"))
        assert audit.verify(con).ok
    assert [(a, n) for a, n, _ in steps] == [(a, 1) for a, _, _ in steps]
    assert all(a == last for a, _, last in steps), steps
