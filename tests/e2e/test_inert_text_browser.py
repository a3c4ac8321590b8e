"""In a real browser, a pilot whose every field holds Markdown, HTML and bare addresses fetches nothing
and links nowhere (issue 19, item 1): the page shows the text as typed.

tests/test_inert_text.py checks every page's Markdown sources against a reading of Streamlit 1.67's
Markdown; this checks that reading against Streamlit's own frontend, on the pages the finding names
(Portfolio with the pilot picked, Readout, Hand-off with the playbook preview open) and two more. A
small HTTP server stands at the address the text names and counts what the browser asks of it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from e2e_helpers import login, main_text, nav, start_app, wait_idle
from test_inert_text import load_hostile_pilot, payload

PAGES = ["Readout", "Hand-off", "Readiness", "Decision", "Usage"]


@pytest.fixture
def bait():
    """An HTTP server on a free port: the paths asked of it, in order."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            asked.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()


def _assert_inert(page, host: str, where: str) -> None:
    wait_idle(page)
    main = page.locator("[data-testid='stAppViewContainer']")
    for selector in (f"img[src*='{host}']", f"a[href*='{host}']", "a[href*='pwn.example']", "a[href^='mailto:']",
                     ".katex", "[aria-label='lock icon']"):
        assert main.locator(selector).count() == 0, (where, selector)
    assert main.locator(".stMarkdownColoredText", has_text="pwnred").count() == 0, where
    shown = main_text(page).replace("\u2060", "")  # as typed, emoji shortcode and all
    assert f"![t](http://{host}/i.png)" in shown and ":red[pwnred] :lock: $x^2$ **b**" in shown, where


def test_hostile_text_renders_as_typed_and_fetches_nothing(browser, tmp_path, bait) -> None:
    host, asked = bait
    db = tmp_path / "store.duckdb"
    load_hostile_pilot(db, tmp_path, host)
    proc, url = start_app({"READINESS_DB": str(db), "READINESS_BCRYPT_ROUNDS": "4"})
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        login(page, url, "admin1", "a long enough password")
        page.get_by_role("radio").filter(has_text="Pwn").first.click()  # the pilot's pill (Open a pilot)
        page.get_by_role("button", name="Review Pwn").first.wait_for()
        _assert_inert(page, host, "Portfolio")
        for name in PAGES:
            nav(page, name).click()
            page.get_by_role("heading", level=1).filter(has_text="Pwn" if name == "Readout" else name).first.wait_for()
            if name == "Hand-off":
                page.get_by_text("Preview", exact=True).click()
                page.get_by_text("Operating playbook: Pwn").first.wait_for()
            _assert_inert(page, host, name)
        assert asked == [], asked  # no image, no prefetch
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_the_bait_server_does_see_a_fetch(bait) -> None:
    """The server would notice: a plain request reaches it."""
    import urllib.error
    import urllib.request

    host, asked = bait
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://{host}/probe", timeout=5)
    assert asked == ["/probe"] and payload(host).count(host) == 5
