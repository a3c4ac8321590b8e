"""Helpers for browser tests: a real Streamlit server on a free port and Debian's Chromium.

Waiting in these tests: while a page reruns, Streamlit keeps the last run's elements until the new
run replaces them, so a text can be on the page twice for a moment. A strict locator then fails at
once ("resolved to 2 elements", seen in CI at stops 17 and 18): waits for a text use ``.first``,
and waits for one to go use ``expect(...).to_have_count(0)``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env_extra: dict[str, str], timeout: float = 60, log: Path | None = None,
              script: str = "app.py") -> tuple[subprocess.Popen, str]:
    """Start `streamlit run app.py` (or ``script``, relative to the project) and wait for
    /_stcore/health to answer ok.

    Its output goes to ``log`` when given (long runs: a pipe nobody reads would fill and stall the
    server), else to a pipe that is read only when the start fails.
    """
    port = _free_port()
    env = {**os.environ, **env_extra}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log.open("ab") if log else subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    out = log.read_text(errors="replace") if log else proc.stdout.read().decode()
    raise RuntimeError(f"streamlit did not become healthy: {out[-2000:]}")




def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script and no skeleton is left."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
                           timeout=timeout)


def snapshot_dir() -> Path:
    d = ROOT / "tests" / "e2e" / "screenshots"
    d.mkdir(exist_ok=True)
    return d




def login(page, url: str, user: str, password: str, path: str = "") -> None:
    """Open ``url/path``, fill the login form and submit; wait until the app answers.

    The answer is the app ("Signed in as") or a refusal. On a loaded 2-core machine the cookie
    component's first rerun can redraw the form between typing and clicking, losing the input;
    when nothing answers, the form is filled and sent once more.
    """
    page.goto(f"{url}/{path}")
    wait_idle(page)
    answered = "text=/Signed in as|Wrong user name|Too many failed/"
    for attempt in range(2):
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Log in").click()
        try:
            page.locator(answered).first.wait_for(timeout=15_000 if attempt == 0 else 30_000)
            return
        except Exception:
            if attempt == 1 or page.get_by_role("button", name="Log in").count() == 0:
                raise
            wait_idle(page)


def main_text(page) -> str:
    """The main area's text, including table cells (st.dataframe draws on a canvas and keeps its cells
    as hidden DOM text)."""
    wait_idle(page)
    return page.locator("[data-testid='stMain']").text_content()


def nav(page, name: str):
    """The sidebar navigation's link to a page (review pages also show their steps as links)."""
    return page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True)
