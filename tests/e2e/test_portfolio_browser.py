"""Journey: a lead narrows a portfolio of sixty pilots — by owner, to the overdue reviews, by part of a
name, sorted by next review — and the address keeps the view: a reload shows the same pilots."""

from __future__ import annotations

import os
from datetime import date
from urllib.parse import parse_qs, urlparse

from e2e_helpers import a_run, login, main_text, snapshot_dir, start_app

from readiness import pilots, store
from readiness.catalog import get_pilot
from readiness.review import decisions
from readiness.security.access import Actor

ADMIN_PW = "portfolio admin password"
OP = Actor("cli:test", "admin", cli=True)


def _sixty(db) -> None:
    """Sixty pilots, owners Ann, Bob and Cy in turn; every fifth has a review overdue since 2026-02-01,
    and Pilot 55's came due on 2026-01-15."""
    os.environ.setdefault("READINESS_BCRYPT_ROUNDS", "4")
    with store.open_store(db) as con:
        for i in range(1, 61):
            with store.transaction(con):
                pilots.create_pilot(con, f"Pilot {i}", OP, owner=["Ann", "Bob", "Cy"][i % 3])
            if i % 5 == 0:
                decisions.record_decision(con, OP, get_pilot(con, f"Pilot {i}"), outcome="harden",
                                          rationale="More hardening", owner="Ann",
                                          next_review=date(2026, 1, 15) if i == 55 else date(2026, 2, 1),
                                          today=date(2026, 1, 1))


def _shown(page) -> str:
    return page.get_by_text("Showing ").first.inner_text()


def test_sixty_pilots_filtered_searched_and_sorted_keep_their_view_on_reload(browser, tmp_path) -> None:
    db = tmp_path / "store.duckdb"
    _sixty(db)
    proc, url = start_app({"READINESS_DB": str(db), "READINESS_ADMIN_PASSWORD": ADMIN_PW,
                           "READINESS_BCRYPT_ROUNDS": "4"})
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        login(page, url, "admin", ADMIN_PW)
        page.get_by_text("Showing 60 of 60 pilots").wait_for(timeout=120_000)  # first read stores the figures
        with a_run(page):
            page.get_by_text("Review overdue · 12").click()
        page.get_by_text("Showing 12 of 60 pilots").wait_for()
        with a_run(page):
            page.get_by_role("combobox", name="Owner").fill("Bob")
            page.keyboard.press("Enter")
        page.get_by_text("Showing 4 of 60 pilots").wait_for()  # Pilot 10, 25, 40, 55
        with a_run(page):
            box = page.get_by_test_id("stMain").get_by_test_id("stSelectbox").filter(
                has=page.get_by_text("Sort by", exact=True))
            box.first.locator("input").click()
            page.keyboard.type("Next review")
            page.keyboard.press("Enter")
        # the pilots offered to open follow the grid's order (plain DOM, unlike the grid's canvas)
        picks = main_text(page).split("Open a pilot", 1)[1]
        assert picks.index("Pilot 55") < picks.index("Pilot 10") < picks.index("Pilot 25"), picks[:300]
        with a_run(page):
            page.get_by_label("Search pilots").fill("pilot 4")
            page.keyboard.press("Enter")
        page.get_by_text("Showing 1 of 60 pilots").wait_for()
        page.screenshot(path=str(snapshot_dir() / "portfolio_view.png"), full_page=True)
        asked = parse_qs(urlparse(page.url).query)
        assert asked == {"needs": ["overdue"], "owner": ["Bob"], "sort": ["next_review"], "q": ["pilot 4"]}, page.url
        # the address keeps the view: a reload (and so a shared link) shows the same pilots, same order
        page.reload()
        # a rerun the reload starts may briefly show the line twice (the old run's element still
        # drawn beside the new one): either copy says the same
        page.get_by_text("Showing 1 of 60 pilots").first.wait_for(timeout=60_000)
        assert "Pilot 40" in main_text(page)
        assert parse_qs(urlparse(page.url).query) == asked
    except Exception:
        page.screenshot(path=str(snapshot_dir() / "portfolio_view_failed.png"), full_page=True)
        raise
    finally:
        proc.terminate()
        proc.wait(timeout=20)
