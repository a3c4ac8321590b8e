"""A hostile insider: the audit head, login timing, the busy-store page, pilot names.

Each test works on a small real store in tmp_path and goes through the code the app or the
command line runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import PROJECT_ROOT, held_by_another_process, make_pilot, query
from streamlit.testing.v1 import AppTest

from readiness import cli, pilots, store
from readiness.security import audit, users
from readiness.security.access import AccessDenied, Actor
from readiness.store import chain

ADMIN = Actor("cli:test", "admin", cli=True)
PW = "correct horse battery"


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m readiness audit ARGS --db DB` as the command line runs it (its main), in this process:
    the exit code and what it printed. The store and its head are read from disk on each open."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["audit", *args, "--db", str(db)])
    return subprocess.CompletedProcess(["audit", *args], code, out.getvalue(), err.getvalue())


def _log(db: Path, n_users: int = 6) -> None:
    """A store whose log holds ``n_users`` records (one per account added)."""
    with store.open_store(db) as con:
        for i in range(n_users):
            users.add_user(con, ADMIN, f"user{i}", "viewer", PW)


def _head(db: Path) -> Path:
    return Path(f"{db}.audit-head")


def _hash_at(db: Path, seq: int) -> str:
    return query(db, "SELECT hash FROM audit_log WHERE seq = ?", [seq])[0][0]


def _add_one(db: Path, name: str) -> None:
    with store.open_store(db) as con:
        users.add_user(con, ADMIN, name, "viewer", PW)


# ---------------------------------------------------------------------------------------------
# The audit head is signed; a forged, unsigned, older or badly signed head fails verification


def test_cutting_off_records_and_writing_the_new_last_head_fails(db: Path) -> None:
    _log(db)
    query(db, "DELETE FROM audit_log WHERE seq >= 5")
    _head(db).write_text(json.dumps({"seq": 4, "hash": _hash_at(db, 4)}) + "\n")
    out = _cli(db, "verify")
    assert out.returncode == 1, out.stdout
    assert "not signed" in out.stdout and "audit head --write" in out.stdout


def test_emptying_the_log_and_writing_a_zero_head_fails(db: Path) -> None:
    _log(db)
    query(db, "DELETE FROM audit_log")
    _head(db).write_text(json.dumps({"seq": 0}) + "\n")
    out = _cli(db, "verify")
    assert out.returncode == 1 and "not signed" in out.stdout


def test_a_head_with_a_signature_that_does_not_match_fails(db: Path) -> None:
    _log(db)
    query(db, "DELETE FROM audit_log WHERE seq >= 5")
    signed = json.loads(_head(db).read_text())
    assert set(signed) == {"seq", "hash", "sig"}
    _head(db).write_text(json.dumps({"seq": 4, "hash": _hash_at(db, 4), "sig": signed["sig"]}))
    out = _cli(db, "verify")
    assert out.returncode == 1 and "signature does not match" in out.stdout


def test_an_older_signed_head_put_back_is_a_failure_and_stays_one(db: Path) -> None:
    """Keep a genuine head at 4, let the log grow, cut it back to 5 and put the old head back."""
    _log(db, 4)
    old_head = _head(db).read_text()
    _log_more = [f"later{i}" for i in range(3)]
    for name in _log_more:
        _add_one(db, name)
    query(db, "DELETE FROM audit_log WHERE seq >= 6")
    _head(db).write_text(old_head)
    out = _cli(db, "verify")
    assert out.returncode == 1 and "behind" in out.stdout and "audit head --write" in out.stdout
    _add_one(db, "next")  # the next audited write must not carry the head forward over the gap
    with store.open_store(db) as con:
        result = audit.verify(con)
    assert not result.ok and result.first_bad_seq == 5


def test_a_forged_head_is_not_signed_by_the_next_audited_write(db: Path) -> None:
    _log(db)
    query(db, "DELETE FROM audit_log WHERE seq >= 5")
    _head(db).write_text(json.dumps({"seq": 4, "hash": _hash_at(db, 4)}))
    _add_one(db, "after")
    assert _cli(db, "verify").returncode == 1


def test_verify_without_the_key_fails_and_makes_no_key(db: Path) -> None:
    _log(db, 2)
    key = Path(f"{db}.audit-key")
    key.unlink()
    out = _cli(db, "verify")
    assert out.returncode == 1 and "audit key" in out.stdout and "missing" in out.stdout
    assert not key.exists()
    shown = _cli(db, "head")
    assert shown.returncode == 0 and not key.exists()


def test_a_head_written_by_the_old_code_says_how_to_re_anchor(db: Path) -> None:
    _log(db)
    _head(db).write_text(json.dumps({"seq": 6, "hash": _hash_at(db, 6)}) + "\n")  # as releases before signed heads wrote it
    out = _cli(db, "verify")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "not signed" in out.stdout and "python -m readiness audit head --write" in out.stdout
    anchored = _cli(db, "head", "--write")
    assert anchored.returncode == 0, anchored.stderr
    out = _cli(db, "verify")
    assert out.returncode == 0 and "intact: 7 records" in out.stdout
    assert query(db, "SELECT action, details->>'$.head_file.signature' FROM audit_log ORDER BY seq DESC LIMIT 1") \
        == [("audit.reanchor", "unsigned")]


def test_a_head_kept_elsewhere_catches_a_re_anchored_cut(db: Path) -> None:
    """Someone with the key cuts the log and re-anchors: the head shipped off the machine still differs."""
    _log(db)
    shipped = json.loads(_cli(db, "head", "--json").stdout)
    anchor = f"{shipped['seq']}:{shipped['hash']}"
    assert _cli(db, "verify", "--anchor", anchor).returncode == 0
    query(db, "DELETE FROM audit_log WHERE seq >= 5")
    with store.open_store(db) as con:
        audit.write_head(con, ADMIN)
    assert _cli(db, "verify").returncode == 0  # the machine alone cannot tell any more
    out = _cli(db, "verify", "--anchor", anchor)
    assert out.returncode == 1 and "kept elsewhere" in out.stdout


def test_a_fresh_store_verifies_and_its_first_write_signs_a_head(db: Path) -> None:
    with store.open_store(db) as con:
        assert audit.verify(con).ok
    assert not Path(f"{db}.audit-key").exists()
    _add_one(db, "first")
    assert json.loads(_head(db).read_text())["seq"] == 1
    assert _cli(db, "verify").returncode == 0


def _killed_after_commit(db: Path, name: str) -> int:
    """A process adds an account and dies right after COMMIT, before the head update; its exit code."""
    code = (f"import os\nfrom readiness import store\nfrom readiness.security import users\nfrom readiness.security.access import Actor\n"
            f"with store.open_store({str(db)!r}) as con:\n"
            f"    with store.transaction(con):\n"
            f"        store.after_commit(con, lambda: os._exit(9))  # runs before the audit head's update\n"
            f"        users._insert_user(con, Actor('cli:t', 'admin', cli=True), {name!r}, 'viewer', {PW!r}, None, None)\n")
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env={"READINESS_BCRYPT_ROUNDS": "4"}).returncode


def test_a_process_killed_between_commit_and_head_update_still_verifies(db: Path) -> None:
    _log(db, 3)
    assert _killed_after_commit(db, "killed") == 9
    assert json.loads(_head(db).read_text())["seq"] == 3  # the head itself was not moved on
    assert query(db, "SELECT max(seq) FROM audit_log") == [(4,)]
    out = _cli(db, "verify")
    assert out.returncode == 0 and "intact: 4 records" in out.stdout
    _add_one(db, "after")
    assert json.loads(_head(db).read_text())["seq"] == 5 and not Path(f"{_head(db)}.next").exists()
    assert _cli(db, "verify").returncode == 0


def test_a_process_killed_between_the_first_head_and_the_new_key_starts_again(db: Path) -> None:
    """The first write signs a head at record 0, then puts the key in place; killed in between, the
    store has a head and no key, and the next write makes both again."""
    with store.open_store(db):
        pass
    _head(db).write_text(json.dumps({"seq": 0, "hash": chain.GENESIS, "sig": "0" * 64}))
    assert _cli(db, "verify").returncode == 0
    _add_one(db, "first")
    out = _cli(db, "verify")
    assert out.returncode == 0 and "intact: 1 records" in out.stdout


def test_after_records_were_cut_each_write_still_follows_the_last(db: Path) -> None:
    """DuckDB 2.0's top-N (ORDER BY seq DESC LIMIT 1) misses a row committed after a delete and a
    re-attach; the newest record is found with max(seq), so the next write follows it."""
    _log(db)
    query(db, "DELETE FROM audit_log WHERE seq >= 5")
    with store.open_store(db) as con:
        users.add_user(con, ADMIN, "next1", "viewer", PW)
        users.add_user(con, ADMIN, "next2", "viewer", PW)
        assert audit.head(con)["seq"] == 6
    assert query(db, "SELECT seq FROM audit_log ORDER BY seq") == [(i,) for i in range(1, 7)]


# ---------------------------------------------------------------------------------------------
# An unknown user name costs the login as much as a known one


def _login_seconds(db: Path, name: str, password: str) -> float:
    """Time users.login, the check the login form runs (login.authenticate's check_credentials)."""
    with store.open_store(db) as con:
        start = time.perf_counter()
        try:
            users.login(con, name, password, "10.0.0.9")
        except AccessDenied:
            pass
        return time.perf_counter() - start


def test_an_unknown_user_name_costs_as_much_as_a_known_one(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READINESS_BCRYPT_ROUNDS", "10")  # enough for bcrypt to dominate, as at the default 12
    monkeypatch.setenv("READINESS_LOGIN_MAX_FAILURES", "1000")  # no throttle while measuring
    with store.open_store(db) as con:
        users.add_user(con, ADMIN, "maria", "reviewer", PW)
    _login_seconds(db, "nobody", "a wrong password")  # first calls: warm-up

    def median(name: str, password: str) -> float:
        return statistics.median(_login_seconds(db, name, password) for _ in range(5))

    known_wrong, known_right = median("maria", "a wrong password"), median("maria", PW)
    unknown = median("nobody", "a wrong password")
    assert unknown >= 0.7 * min(known_wrong, known_right), (unknown, known_wrong, known_right)


# ---------------------------------------------------------------------------------------------
# A busy store tells a visitor what to do; which file and which process go to the server log


def _login_page_on_a_busy_store() -> None:
    """What app.py runs for a visitor who has not logged in: the login, and login.busy when the store is busy."""
    from readiness import store
    from readiness.web import login

    try:
        login.authenticate()
    except store.StoreBusy as err:
        login.busy(err)


def test_a_busy_store_shows_visitors_no_path_and_no_pid(db: Path, monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("READINESS_DB", str(db))
    monkeypatch.setenv("READINESS_LOCK_TIMEOUT_S", "0.3")
    with held_by_another_process(db) as holder, caplog.at_level(logging.WARNING):
        store.forget_migrated(db)
        at = AppTest.from_function(_login_page_on_a_busy_store, default_timeout=30).run()
    shown = " ".join(w.value for w in at.warning) + " ".join(e.value for e in at.error)
    assert "busy" in shown and "Try again" in shown and [b.label for b in at.button] == ["Try again"]
    for secret in (str(db), db.name, str(db.parent), "PID", str(holder.pid), "python"):
        assert secret not in shown, secret
    logged = caplog.text
    assert str(db) in logged and f"PID {holder.pid}" in logged  # the operator finds them in the server log


# ---------------------------------------------------------------------------------------------
# Creating a pilot does not confirm a name outside one's grants


def _create_refusal(db: Path, actor: Actor, name: str) -> str:
    with store.open_store(db) as con:
        with pytest.raises(pilots.InvalidProfile) as refused:
            with store.transaction(con):
                pilots.create_pilot(con, name, actor)
    return str(refused.value)


def test_creating_a_pilot_does_not_confirm_a_name_outside_ones_grants(db: Path) -> None:
    make_pilot(db, "Secret pilot", owner="Finance")
    make_pilot(db, "Other secret")
    with store.open_store(db) as con:
        for name, role in (("rev", "reviewer"), ("granted", "reviewer"), ("boss", "admin")):
            users.add_user(con, ADMIN, name, role, PW)
        users.grant(con, ADMIN, "granted", "Secret pilot")
    before = query(db, "SELECT count(*) FROM pilots")
    outside = _create_refusal(db, Actor("rev", "reviewer"), "Secret pilot")
    assert "exist" not in outside.lower() and "Finance" not in outside
    # the same words for any hidden pilot: nothing in them is that pilot's
    other = _create_refusal(db, Actor("rev", "reviewer"), "Other secret")
    assert outside.replace("Secret pilot", "X") == other.replace("Other secret", "X")
    # those who may see the pilot are told plainly
    assert "already exists" in _create_refusal(db, Actor("granted", "reviewer"), "Secret pilot")
    assert "already exists" in _create_refusal(db, Actor("boss", "admin"), "Secret pilot")
    assert "already exists" in _create_refusal(db, ADMIN, "Other secret")
    assert query(db, "SELECT count(*) FROM pilots") == before
