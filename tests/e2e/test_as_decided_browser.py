"""Readout and Decision show a decision's figures as decided, recomputed from the batches its
evidence was read from, after one of them was deleted."""

from __future__ import annotations

import contextlib
import io

from e2e_helpers import a_run, login, main_text, nav, snapshot_dir, start_app
from helpers import copy_store

from readiness import cli, store
from readiness.security import users
from readiness.security.access import cli_actor

ADMIN_PW = "as decided admin password"
PILOT = "Invoice triage assistant"


def _cli(*args: str) -> str:
    """`python -m readiness ARGS` as the command line runs it (its main), in this process; its output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(list(args)) == 0
    return out.getvalue()


def test_readout_shows_the_figures_as_decided_after_a_deletion(browser, tmp_path, demo_store, monkeypatch):
    db = str(copy_store(demo_store, tmp_path / "store.duckdb"))  # the demo, as `readiness demo` loads it
    env = {"READINESS_ADMIN_PASSWORD": ADMIN_PW, "READINESS_BCRYPT_ROUNDS": "4"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with store.open_store(db) as con:
        users.ensure_admin(con, cli_actor())  # the admin `readiness demo` makes, with the password set
    _cli("decide", "--db", db, "--pilot", PILOT, "--outcome", "harden", "--rationale", "ERP timeouts",
         "--owner", "Tom", "--next-review", "2030-01-15")
    feedback = next(line.split()[0] for line in _cli("batches", "--db", db, "--pilot", PILOT).splitlines()
                    if " feedback " in line)
    assert "decision(s) 1" in _cli("batches", "--db", db, "delete", feedback)
    proc, url = start_app({"READINESS_DB": db, **env})
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        login(page, url, "admin", ADMIN_PW)
        with a_run(page):  # the app idle before the click (the login's reruns done), and its run finished
            nav(page, "Readout").click()
        page.get_by_text("equal to the figures frozen with the decision").first.wait_for(timeout=60_000)
        body = main_text(page)
        # the feedback is gone from today's figures, not from the figures the decision was taken on
        assert "CSAT 58%" in body and "events 150,592" in body and "from the 3 batches" in body
        page.screenshot(path=str(snapshot_dir() / "readout_as_decided.png"), full_page=True)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
