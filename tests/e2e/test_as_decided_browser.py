"""Readout and Decision show a decision's figures as decided, recomputed from the batches its
evidence was read from, after one of them was deleted."""

from __future__ import annotations

import os
import subprocess
import sys

from e2e_helpers import ROOT, a_run, login, main_text, nav, snapshot_dir, start_app

ADMIN_PW = "as decided admin password"
PILOT = "Invoice triage assistant"


def _cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "readiness", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True, env={**os.environ, **env}).stdout


def test_readout_shows_the_figures_as_decided_after_a_deletion(browser, tmp_path):
    db = str(tmp_path / "store.duckdb")
    env = {"READINESS_ADMIN_PASSWORD": ADMIN_PW, "READINESS_BCRYPT_ROUNDS": "4"}
    _cli(env, "demo", "--db", db)
    _cli(env, "decide", "--db", db, "--pilot", PILOT, "--outcome", "harden", "--rationale", "ERP timeouts",
         "--owner", "Tom", "--next-review", "2030-01-15")
    feedback = next(line.split()[0] for line in _cli(env, "batches", "--db", db, "--pilot", PILOT).splitlines()
                    if " feedback " in line)
    assert "decision(s) 1" in _cli(env, "batches", "--db", db, "delete", feedback)
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
