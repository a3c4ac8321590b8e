"""Journey: the app serves reviewers while `ingest` and `sync` run in other processes (issue #7, item 3).

DuckDB lets one process write the store at a time; the app holds no connection between reruns,
and everyone retries with back-off. So while two tabs keep rerunning their pages, a command-line
ingest and a feed sync in other processes either load their rows or stop with a clear "busy"
message (exit 3), the tabs keep rendering, and the new rows show up on the next rerun.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from e2e_helpers import ROOT, login, start_app, wait_idle

from readiness import catalog, store
from readiness.ingest import load as ingest
from readiness.ingest import sources
from readiness.security import users
from readiness.security.access import Actor

PW = "second process password"
OP = Actor("cli:e2e", "admin", cli=True)
PILOT = "Busy pilot"
INITIAL, INGESTED, SYNCED = 30, 7, 5


def _usage_csv(path: Path, rows: int, day: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("ts,user,event\n" + "".join(
        f"2026-03-{day:02d}T{8 + i // 60:02d}:{i % 60:02d}:00Z,user{i % 4},open\n" for i in range(rows)))
    return path


def _store(db: Path, feeds: Path) -> None:
    ingest.ingest_files(db, PILOT, "usage", [_usage_csv(db.parent / "first.csv", INITIAL, 2)], actor=OP,
                        create=True)
    with store.open_store(db) as con:
        sources.set_feed(con, OP, catalog.get_pilot(con, PILOT), "usage", "usage-*.csv")
        users.add_user(con, OP, "rex", "reviewer", PW)
        users.add_user(con, OP, "leo", "lead", PW)
        for name in ("rex", "leo"):
            users.grant(con, OP, name, PILOT)


def _wait_metric(page, label: str) -> None:
    page.locator("[data-testid='stMetricLabel']", has_text=re.compile(f"^{label}$")).first.wait_for(timeout=30_000)


def _metric(page, label: str) -> int:
    """The value of the st.metric labelled exactly ``label``, as an integer."""
    value = page.evaluate("""label => {
        for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
            const l = m.querySelector('[data-testid="stMetricLabel"]');
            if (l && l.innerText.trim() === label) return m.querySelector('[data-testid="stMetricValue"]').innerText;
        }
        return null; }""", label)
    assert value is not None, f"no metric {label!r} on the page"
    return int(re.sub(r"[^0-9]", "", value))


def _rerun(page, label: str) -> int:
    """Reload the tab; it must render its page (the metric), never an exception box."""
    page.reload()
    wait_idle(page)
    _wait_metric(page, label)
    assert page.locator("[data-testid='stException']").count() == 0, page.inner_text("[data-testid='stMain']")
    return _metric(page, label)


def _cli(*args: str, db: Path, feeds: Path) -> subprocess.Popen:
    env = {**os.environ, "READINESS_FEED_ROOT": str(feeds)}
    return subprocess.Popen([sys.executable, "-m", "readiness", *args, "--db", str(db)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_ingest_and_sync_while_the_app_serves(browser, tmp_path, monkeypatch) -> None:
    db, feeds = tmp_path / "store.duckdb", tmp_path / "feeds"
    feeds.mkdir()
    monkeypatch.setenv("READINESS_FEED_ROOT", str(feeds))
    _store(db, feeds)
    new_csv = _usage_csv(tmp_path / "more.csv", INGESTED, 3)
    _usage_csv(feeds / "usage-1.csv", SYNCED, 4)
    proc, url = start_app({"READINESS_DB": str(db), "READINESS_FEED_ROOT": str(feeds),
                           "READINESS_BCRYPT_ROUNDS": "4"})
    contexts = []
    try:
        tabs = []
        for name, path, label in (("rex", "usage", "Events"), ("leo", "", "Usage events")):
            ctx = browser.new_context(viewport={"width": 1300, "height": 900})
            contexts.append(ctx)
            page = ctx.new_page()
            login(page, url, name, PW, path)
            _wait_metric(page, label)
            assert _metric(page, label) == INITIAL
            tabs.append((page, label))

        cli = [_cli("ingest", "--pilot", PILOT, "--kind", "usage", str(new_csv), db=db, feeds=feeds),
               _cli("sync", "--pilot", PILOT, db=db, feeds=feeds)]
        reruns = 0
        deadline = time.monotonic() + 60
        while any(p.poll() is None for p in cli) or reruns < 2:  # the tabs rerun all the while
            page, label = tabs[reruns % 2]
            _rerun(page, label)
            reruns += 1
            assert time.monotonic() < deadline, "the command-line processes did not finish"

        expected = INITIAL
        for p, rows in zip(cli, (INGESTED, SYNCED)):
            out, err = p.communicate(timeout=30)
            assert "Traceback" not in out + err
            if p.returncode == 3:  # allowed, but only with a message that says what to do
                assert "busy" in err and "run the command again" in err, err
            else:
                assert p.returncode == 0, out + err
                expected += rows
        assert expected > INITIAL, "neither process could load while the app served"
        for page, label in tabs:  # the next rerun shows the new rows: the cache key saw the change
            assert _rerun(page, label) == expected
    finally:
        for ctx in contexts:
            ctx.close()
        proc.terminate()
        proc.wait(timeout=20)
