"""In the browser: a download clicked after the password was reset is refused and not audited
(issue 19, item 2).

A lead opens the Readout; an admin resets the lead's password; in the same tab the lead clicks
"Risk register (CSV)". Streamlit runs the button's callable in its download handler, beside the
rerun the click starts (which shows the login form), and answers the tab on its websocket: the
callable must be refused by the library, and the audit log must show no export after the reset.
"""

from __future__ import annotations

from e2e_helpers import login, nav, start_app, wait_idle
from helpers import ingest_one, make_pilot, query, write
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from readiness import catalog, store
from readiness.review import risks
from readiness.security import users
from readiness.security.access import cli_actor

PW = "lead password, long enough"
PILOT = "Invoice triage"
FAILED = "Failed to generate file for download"  # Streamlit's answer when a download's callable raises
REFUSED = "Error executing deferred callable"  # what Streamlit logs when a download's callable raises


def _store(tmp_path):
    db = tmp_path / "store.duckdb"
    make_pilot(db, PILOT)
    ingest_one(db, write(tmp_path / "u.csv", "ts,user,event\n2026-03-02T10:00:00Z,a,open\n"), pilot=PILOT)
    with store.open_store(db) as con:
        users.add_user(con, cli_actor(), "lena", "lead", PW)
        users.grant(con, cli_actor(), "lena", PILOT)
        risks.add_risk(con, cli_actor(), catalog.get_pilot(con, PILOT), risk_class="compliance", title="Contract ends",
                       likelihood=3, impact=3, owner="Tom")
    return db


def _exports_after(db, seq: int) -> int:
    return query(db, "SELECT count(*) FROM audit_log WHERE action = 'export' AND seq > ?", [seq])[0][0]


def _download_answer(payload) -> ForwardMsg | None:
    """The server's answer to a download request (ForwardMsg backend_operation_response), if the
    websocket frame is one."""
    if isinstance(payload, str):
        return None
    msg = ForwardMsg.FromString(payload)
    return msg if msg.WhichOneof("type") == "backend_operation_response" else None


def test_a_download_after_the_password_reset_is_refused_and_not_audited(browser, tmp_path) -> None:
    db, log = _store(tmp_path), tmp_path / "app.log"
    proc, url = start_app({"READINESS_DB": str(db), "READINESS_BCRYPT_ROUNDS": "4"}, log=log)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        answers: list[ForwardMsg] = []  # download answers, on whichever websocket the tab has open

        def watch(ws) -> None:
            ws.on("framereceived", lambda payload: answers.extend(m for m in [_download_answer(payload)] if m))

        page.on("websocket", watch)
        login(page, url, "lena", PW)
        nav(page, "Readout").click()
        button = page.get_by_role("button", name="Risk register (CSV)")
        button.wait_for()
        wait_idle(page)
        with store.open_store(db) as con:
            users.reset_password(con, cli_actor(), "lena", "a new password, long enough")
            reset_at = con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
        button.click()
        # Until the callable has run: the server's answer reached the tab, or its log says the callable
        # raised, or an export was made. Playwright delivers websocket events only while it waits.
        for _ in range(1200):
            if answers or REFUSED in log.read_text(errors="replace") or _exports_after(db, reset_at):
                break
            page.wait_for_timeout(50)
        assert _exports_after(db, reset_at) == 0
        assert REFUSED in log.read_text(errors="replace") or answers, "the download's callable never ran"
        for answer in (a.backend_operation_response for a in answers):  # refused: an error, no file
            assert answer.error_msg == FAILED and not answer.deferred_file.url, answer
        page.get_by_role("button", name="Log in").first.wait_for()  # the click's rerun: logged out
    finally:
        proc.terminate()
        proc.wait(timeout=20)
