"""An export or a write needs the login session it was asked in to be still open.

A lead opens the Readout; the password is reset (or the session idles out); in the same tab
"Risk register (CSV)" must not download any more, nor the audit log show an export after the
session's end. A download's callable runs in Streamlit's download handler, outside app.py's login check, so
the library's own check (access.require) asks whether the actor's session is open. Real stores,
real login sessions (readiness.security.users), ended the ways they end.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ingest_one, make_pilot, page_file, query, write
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from readiness import catalog, settings, store
from readiness.review import export, playbook, readout, risks
from readiness.security import users
from readiness.security.access import AccessDenied, Actor, cli_actor

PW = "a long enough password"
PILOT = "Invoice triage"


def _lead(db: Path, tmp_path: Path) -> None:
    make_pilot(db, PILOT)
    ingest_one(db, write(tmp_path / "u.csv", "ts,user,event\n2026-03-02T10:00:00Z,a,open\n"), pilot=PILOT)
    with store.open_store(db) as con:
        for name, role in (("lena", "lead"), ("rob", "reviewer")):
            users.add_user(con, cli_actor(), name, role, PW)
            users.grant(con, cli_actor(), name, PILOT)
        risks.add_risk(con, cli_actor(), catalog.get_pilot(con, PILOT), risk_class="compliance", title="Contract ends",
                       likelihood=3, impact=3, owner="Tom")


@pytest.fixture
def lead_db(db: Path, built_once) -> Path:
    """A pilot with usage and one risk; the lead 'lena' and the reviewer 'rob', both granted it."""
    built_once(_lead)
    return db


def _logged_in(con, name: str) -> Actor:
    """``name`` logged in as the app logs people in: the actor of a new login session."""
    sid = users.start_session(con, users.login(con, name, PW), f"cookie-token-of-{name}")
    return Actor(name, users.get_user(con, name).role, session=sid)


def _exports(con, actor: Actor) -> dict:
    pilot = catalog.get_pilot(con, PILOT)
    return {"risks.csv": lambda: export.audited_csv(con, actor, "risks", [pilot]),
            "decisions.csv": lambda: export.audited_csv(con, actor, "decisions", [pilot]),
            "readout.html": lambda: readout.export_html(con, actor, pilot),
            "playbook.md": lambda: playbook.export_playbook(con, actor, pilot, "md")}


def _idle(con, actor: Actor) -> None:
    minutes = settings.get("session_idle_minutes")
    con.execute("UPDATE auth_sessions SET last_seen = last_seen - to_seconds(?) WHERE session_id = ?",
                [(minutes + 1) * 60, actor.session])


ENDINGS = {
    "password reset": lambda con, a: users.reset_password(con, cli_actor(), a.name, "another long password"),
    "logout": lambda con, a: users.end_session(con, a.session, "logged out", a),
    "idle past the timeout": _idle,
    "role change": lambda con, a: users.set_role(con, cli_actor(), a.name, "viewer"),
}


def _audit_seq(con) -> int:
    return con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]


@pytest.mark.parametrize("ending", ENDINGS)
def test_an_export_after_the_session_ended_is_refused_and_not_audited(lead_db: Path, ending: str) -> None:
    with store.open_store(lead_db) as con:
        lena = _logged_in(con, "lena")
        for name, make in _exports(con, lena).items():  # while the session is open: made and audited
            assert make(), name
        exported = query(lead_db, "SELECT count(*) FROM audit_log WHERE action = 'export'")[0][0]
        assert exported == 4
        ENDINGS[ending](con, lena)
        ended_at = _audit_seq(con)
        for name, make in _exports(con, lena).items():
            with pytest.raises(AccessDenied, match="session has ended"):
                make()
        assert _audit_seq(con) == ended_at  # nothing recorded: no export, and the refusals rolled back
    assert query(lead_db, "SELECT count(*) FROM audit_log WHERE action = 'export'")[0][0] == exported


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_write_after_the_session_ended_is_refused(lead_db: Path, ending: str) -> None:
    with store.open_store(lead_db) as con:
        rob = _logged_in(con, "rob")
        pilot = catalog.get_pilot(con, PILOT)
        risks.add_risk(con, rob, pilot, risk_class="compliance", title="Open", likelihood=1, impact=1, owner="R")
        ENDINGS[ending](con, rob)
        with pytest.raises(AccessDenied, match="session has ended"):
            risks.add_risk(con, rob, pilot, risk_class="compliance", title="After", likelihood=1, impact=1, owner="R")
    assert [r[0] for r in query(lead_db, "SELECT title FROM risks ORDER BY risk_id")] == ["Contract ends", "Open"]


def test_someone_elses_session_and_an_unknown_one_are_refused(lead_db: Path) -> None:
    with store.open_store(lead_db) as con:
        rob = _logged_in(con, "rob")
        pilot = catalog.get_pilot(con, PILOT)
        with pytest.raises(AccessDenied, match="another account"):
            export.audited_csv(con, Actor("lena", "lead", session=rob.session), "risks", [pilot])
        with pytest.raises(AccessDenied, match="not known"):
            export.audited_csv(con, Actor("lena", "lead", session="never-issued"), "risks", [pilot])


def test_the_command_line_and_callers_without_a_session_are_not_asked(lead_db: Path) -> None:
    with store.open_store(lead_db) as con:
        pilot = catalog.get_pilot(con, PILOT)
        assert export.audited_csv(con, cli_actor(), "risks", [pilot])[1] == 1
        assert export.audited_csv(con, Actor("lena", "lead"), "risks", [pilot])[1] == 1


def _capture_downloads(monkeypatch: pytest.MonkeyPatch) -> dict:
    """The download callables a page registers with Streamlit, by file name (Streamlit calls them
    when the button is clicked, in its download handler)."""
    found: dict = {}
    real = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, *args, file_name=None, **kwargs):
        found[file_name] = data_callable
        return real(self, data_callable, *args, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return found


def test_a_download_clicked_after_the_password_reset_is_refused(lead_db: Path, monkeypatch) -> None:
    """Readout opened by a lead, then the password reset; the tab's
    "Risk register (CSV)" runs its callable with the actor the page had."""
    monkeypatch.setenv("READINESS_DB", str(lead_db))
    downloads = _capture_downloads(monkeypatch)
    with store.open_store(lead_db) as con:
        lena = _logged_in(con, "lena")
    at = AppTest.from_file(page_file("readout"), default_timeout=120)
    at.session_state["_rr_actor"] = Actor("lena", "lead")  # as app.py keeps them after the login
    at.session_state["_rr_session"] = lena.session
    at.session_state["_rr_pilot"] = PILOT
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    risk_csv = downloads["invoice_triage_risks.csv"]
    assert b"Contract ends" in risk_csv()  # open: it downloads
    with store.open_store(lead_db) as con:
        users.reset_password(con, cli_actor(), "lena", "another long password")
        reset_at = _audit_seq(con)
    for name in ("invoice_triage_risks.csv", "readout_invoice_triage.html", "invoice_triage_playbook.md"):
        with pytest.raises(AccessDenied, match="password changed"):
            downloads[name]()
    assert query(lead_db, "SELECT count(*) FROM audit_log WHERE seq > ?", [reset_at]) == [(0,)]
