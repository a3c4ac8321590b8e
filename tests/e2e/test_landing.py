"""Journey: a newcomer starts the app on a store and sees the pilots with their row counts (issue #2)."""

from __future__ import annotations

import subprocess
import sys

from e2e_helpers import ROOT, snapshot_dir, start_app, wait_idle


def test_landing_lists_pilot_with_row_counts(browser, tmp_path):
    db = tmp_path / "store.duckdb"
    # a deployment's own store starts empty; load the demo into it through the CLI
    subprocess.run([sys.executable, "-m", "readiness", "demo", "--db", str(db)], cwd=ROOT, check=True,
                   capture_output=True)
    proc, url = start_app({"READINESS_DB": str(db)})
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        wait_idle(page)
        page.get_by_text("Invoice triage assistant").first.wait_for()
        body = page.inner_text("[data-testid='stMain']")
        assert "Pilots" in body
        assert "150,592" in body  # usage events of the demo pilot, shown as a headline figure
        page.screenshot(path=str(snapshot_dir() / "landing.png"), full_page=True)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_empty_store_says_how_to_add_data(browser, tmp_path):
    proc, url = start_app({"READINESS_DB": str(tmp_path / "empty.duckdb")})
    try:
        page = browser.new_page()
        page.goto(url)
        wait_idle(page)
        page.get_by_text("No pilots yet").wait_for()
        assert "python -m readiness ingest" in page.inner_text("[data-testid='stMain']")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
