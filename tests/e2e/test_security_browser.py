"""Every page address of app.py's PAGES, opened without a login, shows only the login form (issue 7, item 6).

tests/e2e/test_auth_browser.py tries a few addresses; this one takes them all from app.py, so a
page added later is covered, in one browser tab to stay fast.
"""

from __future__ import annotations

import re

import pytest
from e2e_helpers import ROOT, main_text, start_app, track_runs, wait_idle

from readiness.ingest import load as ingest
from readiness.security.access import Actor

PAGES = re.findall(r'\("(?:[^"]+)", "pages/\d+_(\w+)\.py", "([^"]+)"', (ROOT / "app.py").read_text())


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nologin")
    db = tmp / "store.duckdb"
    csv = tmp / "u.csv"
    csv.write_text("ts,user,event\n2026-03-02T10:00:00Z,someone@corp.example,open\n")
    ingest.ingest_files(db, "Hidden pilot", "usage", [csv], actor=Actor("cli:e2e", "admin", cli=True), create=True)
    proc, url = start_app({"READINESS_DB": str(db), "READINESS_BCRYPT_ROUNDS": "4"})
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_every_page_address_without_login_shows_only_the_login(browser, app) -> None:
    assert len(PAGES) >= 13, PAGES  # the pattern still finds app.py's page list
    page = browser.new_context().new_page()
    track_runs(page)
    for path, title in PAGES + [("", ""), ("no_such_page", ""), ("sources?pilot=Hidden+pilot", "")]:
        page.goto(f"{app}/{path}")
        wait_idle(page)
        # waited for, not counted at once: CI once read the page between two runs, the form's text
        # there but not yet its button (a page that never shows the form still fails here)
        page.get_by_role("button", name="Log in").first.wait_for(timeout=30_000)
        assert page.get_by_role("button", name="Log in").count() == 1, (path, main_text(page)[:300])
        body = main_text(page)
        headings = page.locator("h1, h2, h3").all_inner_texts()
        assert title not in headings or not title, (path, headings)
        for secret in ("Hidden pilot", "someone@corp.example", "Signed in as", "Users & grants", "Audit log"):
            assert secret not in body, (path, secret)
        assert page.locator("[data-testid='stSidebarNav']").count() == 0, path
        assert page.locator("[data-testid='stDataFrame']").count() == 0, path
    page.context.close()
