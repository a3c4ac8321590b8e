"""Roles, grants, accounts, login throttle, login sessions, personal-data reveal — at the library level."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import PROJECT_ROOT, ingest_one, make_pilot, query, write

from readiness import store
from readiness.catalog import get_pilot
from readiness.ingest import batches
from readiness.pilots import list_pilots, pilot_for
from readiness.review import annotations
from readiness.security import access, privacy, users
from readiness.security.access import AccessDenied, Actor, require

ADMIN = Actor("cli:test", "admin", cli=True)
PW = "correct horse battery"

# The role matrix as DESIGN.md states it, written out independently of readiness.security.access.
EXPECTED = {
    #                      admin  reviewer lead   viewer
    "read_pilot":           (True, True,  True,  True),
    "create_pilot":         (True, True,  False, False),
    "ingest":               (True, True,  False, False),
    "delete_batch":         (True, True,  False, False),
    "edit_pilot":           (True, True,  False, False),
    "change_risk_tier":     (True, True,  False, False),
    "edit_review":          (True, True,  False, False),
    "approve":              (True, False, True,  False),
    "record_decision":      (True, True,  False, False),
    "accept_handoff":       (True, True,  True,  True),
    "export":               (True, True,  True,  False),
    "reveal_personal_data": (True, True,  False, False),
    "manage_users":         (True, False, False, False),
    "verify_audit":         (True, False, False, False),
    "backup":               (True, False, False, False),
}
ROLES = ("admin", "reviewer", "lead", "viewer")


def _team(db: Path, tmp_path: Path) -> dict[str, int]:
    ingest_one(db, write(tmp_path / "u.csv", "ts,user,event\n2026-03-02T10:00:00Z,a@corp.example,open\n"),
               pilot="granted")
    make_pilot(db, "other")
    with store.open_store(db) as con:
        for role in ROLES:
            users.add_user(con, ADMIN, f"{role}1", role, PW)
            users.grant(con, ADMIN, f"{role}1", "granted")
        return {n: get_pilot(con, n).pilot_id for n in ("granted", "other")}


@pytest.fixture
def team(db: Path, built_once) -> dict:
    """A store with pilots 'granted' and 'other', one user per role granted 'granted' only (built
    once per module, a copy for each test)."""
    return {"db": db, "ids": built_once(_team), "actors": {r: Actor(f"{r}1", r) for r in ROLES}}


def test_matrix_in_code_matches_the_design() -> None:
    assert set(access.MATRIX) == set(EXPECTED)
    for action, allowed in EXPECTED.items():
        assert {r for r, ok in zip(ROLES, allowed) if ok} == set(access.MATRIX[action][0]), action


@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_every_role_against_every_action(team: dict, role: str, action: str) -> None:
    actor = team["actors"][role]
    ok = EXPECTED[action][ROLES.index(role)]
    needs_pilot = access.MATRIX[action][1]
    with store.open_store(team["db"]) as con:
        granted = team["ids"]["granted"] if needs_pilot else None
        if ok:
            require(con, actor, action, granted)
        else:
            with pytest.raises(AccessDenied):
                require(con, actor, action, granted)
        if needs_pilot and role != "admin":  # no grant on 'other': refused whatever the role
            with pytest.raises(AccessDenied, match="no access to this pilot" if ok else "may not"):
                require(con, actor, action, team["ids"]["other"])


def test_library_writes_refuse_without_the_right(team: dict, tmp_path: Path) -> None:
    """Not only require(): the real write functions refuse, and nothing is written."""
    from readiness.ingest import load as ingest

    db, a = team["db"], team["actors"]
    before = query(db, "SELECT count(*) FROM audit_log")[0][0]
    csv = write(tmp_path / "more.csv", "ts,user,event\n2026-03-03T10:00:00Z,b,open\n")
    for role in ("lead", "viewer"):
        with pytest.raises(AccessDenied):
            ingest.ingest_files(db, "granted", "usage", [csv], actor=a[role])
    with pytest.raises(AccessDenied):  # a reviewer without a grant on 'other'
        ingest.ingest_files(db, "other", "usage", [csv], actor=a["reviewer"])
    batch = query(db, "SELECT max(batch_id) FROM ingest_batches")[0][0]
    with store.open_store(db) as con:
        with pytest.raises(AccessDenied):
            batches.delete_batch(con, batch, a["viewer"])
        with pytest.raises(AccessDenied):
            annotations.annotate_mode(con, get_pilot(con, "granted"), 1, status="known", owner=None, note=None, actor=a["lead"])
        for role in ("reviewer", "lead", "viewer"):
            with pytest.raises(AccessDenied):
                users.add_user(con, a[role], "intruder", "admin", PW)
            with pytest.raises(AccessDenied):
                users.grant(con, a[role], f"{role}1", "other")
        with pytest.raises(AccessDenied):
            pilot_for(con, a["viewer"], "other")
        assert [p["name"] for p in list_pilots(con, a["viewer"])] == ["granted"]
        assert [p["name"] for p in list_pilots(con, a["admin"])] == ["granted", "other"]
    assert query(db, "SELECT count(*) FROM audit_log")[0][0] == before
    assert query(db, "SELECT count(*) FROM users WHERE username = 'intruder'") == [(0,)]


def test_reviewer_can_ingest_and_creating_a_pilot_grants_it(team: dict, tmp_path: Path) -> None:
    from readiness.ingest import load as ingest

    db, reviewer = team["db"], team["actors"]["reviewer"]
    csv = write(tmp_path / "r.csv", "ts,user,event\n2026-03-03T10:00:00Z,b,open\n")
    (res,) = ingest.ingest_files(db, "granted", "usage", [csv], actor=reviewer)
    assert res.rows_loaded == 1
    (res,) = ingest.ingest_files(db, "new pilot", "usage", [csv], actor=reviewer, create=True)
    assert res.rows_loaded == 1
    with store.open_store(db) as con:
        assert {p["name"] for p in list_pilots(con, reviewer)} == {"granted", "new pilot"}
        assert query(db, "SELECT actor FROM ingest_batches ORDER BY batch_id DESC LIMIT 1") == [("reviewer1",)]


def test_approval_of_ones_own_request_and_handoff_receiver(team: dict) -> None:
    a, pid = team["actors"], team["ids"]["granted"]
    with store.open_store(team["db"]) as con:
        require(con, a["lead"], "approve", pid, requested_by="reviewer1")
        with pytest.raises(AccessDenied, match="own request"):
            require(con, a["lead"], "approve", pid, requested_by="lead1")
        require(con, a["viewer"], "accept_handoff", pid, receiver="viewer1")
        with pytest.raises(AccessDenied, match="named receiving owner"):
            require(con, a["reviewer"], "accept_handoff", pid, receiver="viewer1")


def test_role_change_and_removal_apply_at_the_next_action(team: dict) -> None:
    a, pid = team["actors"], team["ids"]["granted"]
    with store.open_store(team["db"]) as con:
        users.set_role(con, ADMIN, "viewer1", "reviewer")
        require(con, a["viewer"], "ingest", pid)  # the Actor object is stale; the store is not
        users.revoke(con, ADMIN, "viewer1", "granted")
        with pytest.raises(AccessDenied):
            require(con, a["viewer"], "read_pilot", pid)
        users.remove_user(con, ADMIN, "viewer1")
        with pytest.raises(AccessDenied, match="no longer exists"):
            require(con, a["viewer"], "read_pilot", pid)


def test_password_rules_and_account_validation(db: Path) -> None:
    with store.open_store(db) as con:
        with pytest.raises(users.UserError, match="at least 12"):
            users.add_user(con, ADMIN, "maria", "reviewer", "short-pw")
        with pytest.raises(users.UserError, match="Role must be"):
            users.add_user(con, ADMIN, "maria", "superuser", PW)
        with pytest.raises(users.UserError, match="user name"):
            users.add_user(con, ADMIN, "Robert'); DROP TABLE users;--", "viewer", PW)
        users.add_user(con, ADMIN, "Maria", "reviewer", PW)  # names are case-insensitive, stored lower-case
        with pytest.raises(users.UserError, match="already exists"):
            users.add_user(con, ADMIN, "maria", "viewer", PW)
        stored = con.execute("SELECT password_hash FROM users WHERE username = 'maria'").fetchone()[0]
    assert stored.startswith("$2b$") and PW not in stored
    assert "hint" not in query(db, "SELECT string_agg(column_name, ',') FROM information_schema.columns "
                                   "WHERE table_name = 'users'")[0][0]


def test_the_last_admin_cannot_be_removed_or_demoted(db: Path) -> None:
    with store.open_store(db) as con:
        assert users.ensure_admin(con, ADMIN)  # first run: a random password to print once
        assert users.ensure_admin(con, ADMIN) is None  # only once
        with pytest.raises(users.UserError, match="last admin"):
            users.remove_user(con, ADMIN, "admin")
        with pytest.raises(users.UserError, match="last admin"):
            users.set_role(con, ADMIN, "admin", "viewer")


def test_first_admin_password_from_settings(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READINESS_ADMIN_PASSWORD", "given admin password")
    with store.open_store(db) as con:
        assert users.ensure_admin(con, ADMIN) is None  # known already: nothing to print
        assert users.login(con, "admin", "given admin password").role == "admin"


def test_login_checks_password_and_audits_both_outcomes(db: Path) -> None:
    with store.open_store(db) as con:
        users.add_user(con, ADMIN, "maria", "reviewer", PW)
        with pytest.raises(AccessDenied, match="Wrong user name or password"):
            users.login(con, "maria", "wrong password!!", client="10.0.0.1")
        with pytest.raises(AccessDenied, match="Wrong user name or password"):  # same words for an unknown name
            users.login(con, "nobody", PW)
        assert users.login(con, " MARIA ", PW) == Actor("maria", "reviewer")
    rows = query(db, "SELECT action, object FROM audit_log WHERE action LIKE 'login%' ORDER BY seq")
    assert rows == [("login.failure", "user:maria"), ("login.failure", "user:nobody")]


def test_throttle_after_five_failures_even_with_the_right_password(db: Path, monkeypatch) -> None:
    monkeypatch.setenv("READINESS_LOGIN_BACKOFF_S", "30")
    with store.open_store(db) as con:
        users.add_user(con, ADMIN, "maria", "reviewer", PW)
        for _ in range(5):
            with pytest.raises(AccessDenied, match="Wrong"):
                users.login(con, "maria", "not the password")
        with pytest.raises(users.Throttled) as first:
            users.login(con, "maria", PW)  # right password, still refused: the throttle comes first
        assert 28 < first.value.retry_after <= 30
        # back-off grows: pretend the wait passed, fail once more, and the next wait doubles
        con.execute("UPDATE login_failures SET ts = ts - INTERVAL 31 SECOND")
        with pytest.raises(AccessDenied, match="Wrong"):
            users.login(con, "maria", "not the password")
        with pytest.raises(users.Throttled) as second:
            users.login(con, "maria", PW)
        assert 58 < second.value.retry_after <= 60
        # once the wait is over, the right password works and clears the count
        con.execute("UPDATE login_failures SET ts = ts - INTERVAL 61 SECOND")
        assert users.login(con, "maria", PW).name == "maria"
        assert con.execute("SELECT count(*) FROM login_failures WHERE username = 'maria'").fetchone()[0] == 0
    assert query(db, "SELECT count(*) FROM audit_log WHERE action = 'login.throttled'") == [(2,)]


def test_throttle_per_client_across_user_names(db: Path) -> None:
    with store.open_store(db) as con:
        users.add_user(con, ADMIN, "maria", "reviewer", PW)
        for i in range(5):
            with pytest.raises(AccessDenied):
                users.login(con, f"guess{i}", "whatever password", client="203.0.113.9")
        with pytest.raises(users.Throttled):
            users.login(con, "maria", PW, client="203.0.113.9")
        assert users.login(con, "maria", PW, client="198.51.100.1").name == "maria"


def _session(con, name: str = "maria") -> str:
    users.add_user(con, ADMIN, name, "reviewer", PW)
    return users.start_session(con, users.login(con, name, PW), f"token-of-{name}", client="10.0.0.1")


def test_logout_ends_the_session_for_good(db: Path) -> None:
    with store.open_store(db) as con:
        sid = _session(con)
        assert users.check_session(con, sid).actor == Actor("maria", "reviewer")
        assert users.end_session(con, sid, "logged out", Actor("maria", "reviewer"))
        check = users.check_session(con, users.session_id("token-of-maria"))  # the same cookie, replayed
        assert check.actor is None and "logged out" in check.reason
        assert users.check_session(con, "never-issued").actor is None
    assert [r[0] for r in query(db, "SELECT action FROM audit_log WHERE action IN ('login.success', 'logout') ORDER BY seq")] \
        == ["login.success", "logout"]


@pytest.mark.parametrize("change, reason", [
    (lambda con: users.reset_password(con, ADMIN, "maria", "another long password"), "password changed"),
    (lambda con: users.remove_user(con, ADMIN, "maria"), "account removed"),
    (lambda con: users.set_role(con, ADMIN, "maria", "viewer"), "role changed"),
])
def test_account_changes_end_open_sessions(db: Path, change, reason: str) -> None:
    with store.open_store(db) as con:
        sid = _session(con)
        change(con)
        check = users.check_session(con, sid)
    assert check.actor is None and reason in check.reason


def test_idle_timeout_and_absolute_lifetime(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READINESS_SESSION_IDLE_MINUTES", "30")
    monkeypatch.setenv("READINESS_SESSION_MAX_HOURS", "12")
    with store.open_store(db) as con:
        idle, busy = _session(con, "idle"), _session(con, "busy")
        con.execute("UPDATE auth_sessions SET last_seen = last_seen - INTERVAL 31 MINUTE WHERE session_id = ?", [idle])
        con.execute("UPDATE auth_sessions SET started_at = started_at - INTERVAL 13 HOUR WHERE session_id = ?", [busy])
        con.execute("UPDATE users SET password_changed_at = password_changed_at - INTERVAL 14 HOUR")
        assert "inactive" in users.check_session(con, idle).reason
        assert "lifetime" in users.check_session(con, busy).reason
        ended = con.execute("SELECT count(*) FROM auth_sessions WHERE ended_at IS NOT NULL").fetchone()[0]
    assert ended == 2


def test_activity_keeps_a_session_alive(db: Path) -> None:
    with store.open_store(db) as con:
        sid = _session(con)
        con.execute("UPDATE auth_sessions SET last_seen = ? WHERE session_id = ?",
                    [datetime.now(UTC) - timedelta(minutes=20), sid])
        assert users.check_session(con, sid).actor is not None
        seen = con.execute("SELECT last_seen FROM auth_sessions WHERE session_id = ?", [sid]).fetchone()[0]
    assert datetime.now(UTC) - seen < timedelta(minutes=1)


def test_personal_data_masked_for_a_viewer_and_revealed_to_a_reviewer_with_audit(team: dict, tmp_path: Path) -> None:
    db, a = team["db"], team["actors"]
    ingest_one(db, write(tmp_path / "bad.csv", "ts,user,event\n2026-03-02T11:00:00Z,a,open\nnot a time,x@corp.example,open\n"), pilot="granted")
    with store.open_store(db) as con:
        pilot = get_pilot(con, "granted")
        (masked,) = batches.list_rejects(con, a["viewer"], pilot)
        assert "x@corp.example" not in masked["raw"] and "[email]" in masked["raw"]
        with pytest.raises(AccessDenied):
            batches.list_rejects(con, a["viewer"], pilot, reveal=True)
        with pytest.raises(AccessDenied):
            batches.list_rejects(con, a["lead"], pilot, reveal=True)
        assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'reveal'").fetchone()[0] == 0
        (shown,) = batches.list_rejects(con, a["reviewer"], pilot, reveal=True)
        assert "x@corp.example" in shown["raw"]
        rec = con.execute("SELECT actor, role, object FROM audit_log WHERE action = 'reveal'").fetchall()
    assert rec == [("reviewer1", "reviewer", f"pilot:{pilot.pilot_id}")]


@pytest.mark.parametrize("text, expected", [
    ("mail jo.bloggs@corp.example now", "mail [email] now"),
    ("call +44 20 7946 0123", "call [phone]"),
    ("card 4111 1111 1111 1111 used", "card [card] used"),
    ("order 12345 shipped", "order 12345 shipped"),
])
def test_mask(text: str, expected: str) -> None:
    assert privacy.mask(text) == expected


def test_cli_users_lifecycle(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    make_pilot(db, "Pilot A")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "readiness", *args, "--db", str(db)], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, env={"READINESS_BCRYPT_ROUNDS": "4", "PATH": "/usr/bin:/bin"})

    assert run("users", "add", "maria", "--role", "reviewer", "--password", PW).returncode == 0
    made = run("users", "add", "li", "--role", "viewer")
    assert made.returncode == 0 and "shown once" in made.stdout
    password = made.stdout.strip().splitlines()[-1].split()[-1]
    with store.open_store(db) as con:
        assert users.login(con, "li", password).role == "viewer"
    assert run("users", "grant", "maria", "--pilot", "Pilot A").returncode == 0
    short = run("users", "reset-password", "maria", "--password", "short")
    assert short.returncode == 2 and "at least 12" in short.stderr and "Traceback" not in short.stderr
    assert run("users", "set-role", "li", "--role", "lead").returncode == 0
    listed = run("users", "list")
    assert "maria" in listed.stdout and "Pilot A" in listed.stdout and "lead" in listed.stdout
    assert run("users", "revoke", "maria", "--pilot", "Pilot A").returncode == 0
    assert run("users", "remove", "li").returncode == 0
    actions = [r[0] for r in query(db, "SELECT action FROM audit_log WHERE actor LIKE 'cli:%' ORDER BY seq")]
    assert actions == ["user.add", "user.add", "grant.add", "user.set_role", "grant.remove", "user.remove"]


def test_changing_ones_own_password_needs_the_current_one(db: Path) -> None:
    with store.open_store(db) as con:
        sid = _session(con)
        me = Actor("maria", "reviewer")
        with pytest.raises(AccessDenied, match="Wrong"):
            users.change_own_password(con, me, "not my password", "a new long password")
        assert users.check_session(con, sid).actor == me  # nothing changed
        with pytest.raises(users.UserError, match="differ"):
            users.change_own_password(con, me, PW, PW)
        users.change_own_password(con, me, PW, "a new long password")
        assert "password changed" in users.check_session(con, sid).reason
        assert users.login(con, "maria", "a new long password") == me


def test_user_text_is_inert_in_markdown() -> None:
    from readiness.web.text import md

    # escapes alone leave "http://evil.example" to Streamlit's autolinking: a word joiner splits it
    assert md("[click](http://evil.example) ![x](http://t.example/p.png) *b* <b>") == \
        "\\[click\\](http:\u2060//evil.example) !\\[x\\](http:\u2060//t.example/p.png) \\*b\\* &lt;b&gt;"
