"""Take the README's screenshots: Portfolio, Failure modes and Readout on the demo pilot.

Usage: python docs/screenshots.py   (needs Debian's /usr/bin/chromium; writes docs/*.png)
Loads the demo into a temporary store, records a decision so the Readout has one, starts the app,
logs in as the demo reviewer and captures each page.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from e2e_helpers import CHROMIUM, CHROMIUM_ARGS, login, nav, start_app, wait_idle  # noqa: E402

from readiness import demo, store  # noqa: E402
from readiness.catalog import get_pilot  # noqa: E402
from readiness.demo_data import DEMO_PILOT  # noqa: E402
from readiness.review import decisions  # noqa: E402
from readiness.security import users  # noqa: E402
from readiness.security.access import cli_actor  # noqa: E402

PAGES = (("Portfolio", "portfolio.png"), ("Failure modes", "failure_modes.png"), ("Readout", "readout.png"))
PASSWORD = "screenshot reviewer password"


def main() -> int:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="readiness-shots-") as tmp:
        db = Path(tmp) / "demo.duckdb"
        op = cli_actor()
        demo.load_demo(db, op, out_dir=Path(tmp) / "files")
        with store.open_store(db) as con:
            users.add_user(con, op, "reviewer", "reviewer", PASSWORD)
            users.grant(con, op, "reviewer", DEMO_PILOT["name"])
            pilot = get_pilot(con, DEMO_PILOT["name"])
            decisions.record_decision(con, op, pilot, outcome="harden", owner=pilot.owner or "Pilot owner",
                                      rationale="ERP timeouts and personal data in logs must be fixed first",
                                      next_review=date.today() + timedelta(days=42))
        proc, url = start_app({"READINESS_DB": str(db), "READINESS_ADMIN_PASSWORD": PASSWORD + " admin"})
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 950})
                login(page, url, "reviewer", PASSWORD)
                page.get_by_text("Signed in as").wait_for(timeout=60_000)
                for link, name in PAGES:
                    nav(page, link).click()
                    time.sleep(3)
                    wait_idle(page)
                    page.screenshot(path=str(ROOT / "docs" / name), full_page=True)
                    print(f"docs/{name}")
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
