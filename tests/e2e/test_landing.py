"""Journey: a newcomer starts the app on a store and sees the pilots with their row counts (issue #2)."""

from __future__ import annotations

import os
import subprocess
import sys

from e2e_helpers import ROOT, login, main_text, snapshot_dir, start_app

ADMIN_PW = "landing admin password"


def test_landing_lists_pilot_with_row_counts(browser, tmp_path):
    db = tmp_path / "store.duckdb"
    # a deployment's own store starts empty; load the demo into it through the CLI
    env = {"READINESS_ADMIN_PASSWORD": ADMIN_PW, "READINESS_BCRYPT_ROUNDS": "4"}
    subprocess.run([sys.executable, "-m", "readiness", "demo", "--db", str(db)], cwd=ROOT, check=True,
                   capture_output=True, env={**os.environ, **env})
    proc, url = start_app({"READINESS_DB": str(db), **env})
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        login(page, url, "admin", ADMIN_PW)
        page.get_by_text("Invoice triage assistant").first.wait_for(state="attached")
        body = main_text(page)
        assert "Pilots" in body
        assert "150,592" in body  # usage events of the demo pilot, shown as a headline figure
        page.screenshot(path=str(snapshot_dir() / "landing.png"), full_page=True)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_empty_store_says_how_to_add_data(browser, tmp_path):
    proc, url = start_app({"READINESS_DB": str(tmp_path / "empty.duckdb"), "READINESS_ADMIN_PASSWORD": ADMIN_PW,
                           "READINESS_BCRYPT_ROUNDS": "4"})
    try:
        page = browser.new_page()
        login(page, url, "admin", ADMIN_PW)
        page.get_by_text("No pilots yet").first.wait_for()
        assert "python -m readiness ingest" in page.inner_text("[data-testid='stMain']")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
