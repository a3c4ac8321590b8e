"""Two app replicas behind HAProxy (deploy/haproxy.cfg), as docs/operating.md runs them.

Both replicas are `python -m readiness serve` on one store with one secrets file; HAProxy balances
them with a sticky cookie (``readiness_replica``) and names the replica that answered in the
``X-Readiness-Replica`` header. A login is a signed cookie plus a session in the store's registry,
so it holds on either replica; an edit on one is read by the other from the store.

And a page while another process holds the store: it says what to do, with the navigation, and
neither the store's path nor the holder's process id.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from e2e_helpers import ROOT, _free_port, a_run, login, main_text, nav, snapshot_dir, start_app, track_runs, wait_idle
from helpers import held_by_another_process
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from readiness import store
from readiness.ingest import load as ingest
from readiness.security import users
from readiness.security.access import Actor

PW = "replica password for e2e"
OP = Actor("cli:e2e", "admin", cli=True)
PILOT = "Replicated pilot"
AFFINITY = "readiness_replica"
HAPROXY = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.access(p, os.X_OK)), None)


def _store(db: Path) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    csv = db.parent / "u.csv"
    csv.write_text("ts,user,event\n" + "".join(f"2026-03-02T10:{i:02d}:00Z,user{i % 3},open\n" for i in range(12)))
    ingest.ingest_files(db, PILOT, "usage", [csv], actor=OP, create=True)
    with store.open_store(db) as con:
        for name, role in (("rex", "reviewer"), ("leo", "lead")):
            users.add_user(con, OP, name, role, PW)
            users.grant(con, OP, name, PILOT)


def _wait_serving(url: str, deadline_s: float = 30) -> None:
    """Until HAProxy answers the health endpoint through a replica (it starts in well under a second)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)  # polling a port that is not yet open; not a wait for the page


@contextlib.contextmanager
def _cluster(tmp: Path, db: Path, deployment_env: dict[str, str]):
    """Two replicas and HAProxy on the store ``db``; yields (balancer URL, store path, {replica name:
    (its own URL, its process)}, the replicas' settings)."""
    if HAPROXY is None:
        pytest.skip("the replica test needs HAProxy (Debian's haproxy package: apt-get install haproxy; .ci/run "
                    "installs it when missing)")
    with pytest.MonkeyPatch.context() as mp:  # this process makes the store as the replicas see it
        for k, v in deployment_env.items():
            mp.setenv(k, v)
        _store(db)
    secrets_file = tmp / "secrets.toml"  # as an operator makes it: taking over the store's audit key
    made = subprocess.run([sys.executable, "-m", "readiness", "secrets", "--out", str(secrets_file), "--db", str(db)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, **deployment_env})
    assert made.returncode == 0 and "audit_key taken over" in made.stdout, made.stdout + made.stderr
    env = {"READINESS_DB": str(db), "READINESS_BCRYPT_ROUNDS": "4", "READINESS_SECRETS_FILE": str(secrets_file),
           "READINESS_LOCK_TIMEOUT_S": "4", "READINESS_PAGE_TIMES_LOG": str(tmp / "times.tsv"), **deployment_env}
    procs, replicas = [], {}
    try:
        for name in ("r1", "r2"):
            proc, url = start_app(env, serve=True, log=tmp / f"{name}.log")
            procs.append(proc)
            replicas[name] = (url, proc)
        lb = f"http://127.0.0.1:{_free_port()}"
        balancer = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")], cwd=ROOT,
            env={**os.environ, "READINESS_LB_BIND": lb.removeprefix("http://"),
                 "READINESS_REPLICA_1": replicas["r1"][0].removeprefix("http://"),
                 "READINESS_REPLICA_2": replicas["r2"][0].removeprefix("http://")},
            stdout=open(tmp / "haproxy.log", "wb"), stderr=subprocess.STDOUT)
        procs.append(balancer)
        _wait_serving(lb)
        yield lb, db, replicas, env
    finally:
        procs += [proc for _, proc in replicas.values() if proc not in procs]  # replicas restarted by a test
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
            if proc.stdout:
                proc.stdout.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The embedded store file shared by two replicas."""
    tmp = tmp_path_factory.mktemp("replicas")
    with _cluster(tmp, tmp / "store.duckdb", {}) as running:
        yield running


@pytest.fixture(scope="module")
def organisation_cluster(tmp_path_factory, postgres_server):
    """The organisation deployment (records in PostgreSQL, telemetry in a shared folder) behind two
    replicas."""
    from readiness import settings
    from readiness.store import postgres
    from tests.postgres_server import create_database

    tmp = tmp_path_factory.mktemp("org-replicas")
    url = create_database(postgres_server, "replicas")
    env = {"READINESS_DATABASE_URL": url, "READINESS_LAKE_DATA_PATH": str(tmp / "lake")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        db = settings.db_path()
    with _cluster(tmp, db, env) as running:
        yield running
    postgres.release(url)


def _replica(response) -> str:
    """The replica that answered (HAProxy's header)."""
    assert response is not None and response.ok, response
    return response.headers["x-readiness-replica"]


def _signed_in(page) -> None:
    page.get_by_text("Signed in as").first.wait_for(timeout=60_000)
    expect(page.get_by_role("button", name="Log in")).to_have_count(0, timeout=30_000)


def _login_side_by_side(lb: str, tabs: list, path: str) -> None:
    """Log each (tab, user) in through the form at ``path``, the tabs side by side: each replica's
    first page run (its imports, cold) overlaps the other's."""
    for page, _ in tabs:
        track_runs(page)
        page.goto(f"{lb}/{path}")
    for page, user in tabs:
        wait_idle(page)
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password", exact=True).fill(PW)
        page.get_by_role("button", name="Log in").click()
    for page, _ in tabs:
        _signed_in(page)


def _shows(page, text: str) -> None:
    """Wait until the main area's text (table cells included) holds ``text`` (a write on one replica
    waits while the other has the embedded store's file: a minute); else fail saying what it shows."""
    try:
        page.wait_for_function("t => document.querySelector(\"[data-testid='stMain']\")?.textContent.includes(t)",
                               arg=text, timeout=60_000)
    except PlaywrightTimeout:
        shown = page.locator("[data-testid='stMain']").text_content() or ""
        pytest.fail(f"{text!r} not shown within a minute; the page shows: {shown[-1500:]}")


def _affinity(ctx) -> str:
    """The replica HAProxy chose for this browser (its sticky cookie)."""
    return {c["name"]: c["value"] for c in ctx.cookies()}[AFFINITY]


def _stick_to(ctx, lb: str, replica: str) -> None:
    """Send this browser to ``replica`` from its next request on (as if HAProxy had chosen it)."""
    ctx.add_cookies([{"name": AFFINITY, "value": replica, "url": lb}])


@pytest.mark.parametrize("deployment", ["embedded", "organisation"])
def test_two_replicas_share_logins_logouts_and_edits(browser, deployment, request) -> None:
    lb, _db, _, _ = request.getfixturevalue("cluster" if deployment == "embedded" else "organisation_cluster")
    rex_ctx, leo_ctx, replay = browser.new_context(), browser.new_context(), browser.new_context()
    try:
        # Two browser sessions land on different replicas (round robin), each kept there by its cookie.
        rex, leo = rex_ctx.new_page(), leo_ctx.new_page()
        for page in (rex, leo):
            page.set_viewport_size({"width": 1300, "height": 900})
        _login_side_by_side(lb, [(rex, "rex"), (leo, "leo")], "risks")
        first, second = _affinity(rex_ctx), _affinity(leo_ctx)
        assert {first, second} == {"r1", "r2"}

        # An edit on rex's replica shows on leo's.
        title = "Replicas share one store"
        rex.get_by_text("Add a risk the logs cannot show", exact=True).click()
        form = rex.get_by_test_id("stForm").filter(has=rex.get_by_role("button", name="Add risk"))
        form.get_by_label("Risk", exact=True).fill(title)
        form.get_by_label("Owner", exact=True).fill("Rex on the first replica")
        form.get_by_role("button", name="Add risk").click()
        _shows(rex, title)
        assert _replica(leo.reload()) == second
        _signed_in(leo)
        _shows(leo, title)

        # rex's login, made on the first replica, is honoured by the second (same browser, same login
        # cookie; only the affinity cookie changed).
        rex.wait_for_function("document.cookie.includes('readiness_auth')", timeout=60_000)
        auth = [c for c in rex_ctx.cookies() if c["name"] == "readiness_auth"]
        _stick_to(rex_ctx, lb, second)
        start = time.monotonic()
        assert _replica(rex.reload()) == second
        _signed_in(rex)
        switched_s = time.monotonic() - start
        _shows(rex, title)
        print(f"login honoured on the other replica: page signed in {switched_s:.2f} s after the reload")

        # A logout there ends the session on both: the same login cookie, replayed to the first
        # replica, shows only the login form.
        rex.get_by_role("button", name="Log out").click()
        rex.get_by_role("button", name="Log in").first.wait_for(timeout=60_000)
        replay.add_cookies(auth)
        _stick_to(replay, lb, first)
        tab = replay.new_page()
        track_runs(tab)
        assert _replica(tab.goto(f"{lb}/risks")) == first
        tab.get_by_role("button", name="Log in").first.wait_for(timeout=60_000)
        body = main_text(tab)
        assert title not in body and "Signed in as" not in tab.inner_text("body")
    finally:
        for ctx in (rex_ctx, leo_ctx, replay):
            ctx.close()


def test_a_page_on_a_busy_store_says_what_to_do_and_keeps_the_navigation(browser, cluster) -> None:
    lb, db, _, _ = cluster
    ctx = browser.new_context(viewport={"width": 1300, "height": 800})
    try:
        page = ctx.new_page()
        login(page, lb, "rex", PW)
        _signed_in(page)
        with held_by_another_process(db) as holder:
            with a_run(page):
                nav(page, "Usage").click()
            warning = page.get_by_text("Data is being loaded")
            expect(warning.first).to_be_visible(timeout=30_000)
            expect(page.get_by_role("button", name="Try again")).to_be_visible()
            expect(nav(page, "Portfolio")).to_be_visible()  # the sidebar's navigation is still there
            page.screenshot(path=str(snapshot_dir() / "busy_store.png"))
            shown = page.inner_text("body")
            for secret in (str(db), db.name, str(db.parent), "PID", str(holder.pid), "python"):
                assert secret not in shown, secret
            assert not re.search(r"\(PID \d+\)", shown)
        # The store answers again: Try again shows the page.
        with a_run(page):
            page.get_by_role("button", name="Try again").click()
        page.locator("[data-testid='stMetricLabel']").first.wait_for(timeout=30_000)
        assert "Data is being loaded" not in main_text(page)
    finally:
        ctx.close()


def test_a_replica_that_stops_hands_its_visitors_to_the_other_still_signed_in(browser, cluster, tmp_path) -> None:
    """A rolling restart gone wrong: the other replica has just been restarted (its first page run
    will be this tab's), then the visitor's own replica stops. Runs last: it stops replicas."""
    lb, _db, replicas, env = cluster
    ctx = browser.new_context(viewport={"width": 1300, "height": 800})
    try:
        page = ctx.new_page()
        login(page, lb, "rex", PW, "risks")
        _signed_in(page)
        page.wait_for_function("document.cookie.includes('readiness_auth')", timeout=60_000)
        gone = _affinity(ctx)
        (other,) = set(replicas) - {gone}
        url, proc = replicas[other]
        proc.terminate()
        proc.wait(timeout=20)
        restarted, _ = start_app(env, serve=True, port=int(url.rsplit(":", 1)[1]), log=tmp_path / f"{other}.log")
        replicas[other] = (url, restarted)  # the fixture stops it
        _wait_until_balanced_to(lb, other)
        replicas[gone][1].terminate()
        replicas[gone][1].wait(timeout=20)
        start = time.monotonic()
        assert _replica(page.reload()) == other  # HAProxy sends it on to the replica that is up
        _signed_in(page)
        print(f"failover: signed in on {other} {time.monotonic() - start:.2f} s after {gone} stopped")
        assert "Risks" in main_text(page)
    finally:
        ctx.close()


def _wait_until_balanced_to(lb: str, replica: str, deadline_s: float = 30) -> None:
    """Until HAProxy sends a browser that sticks to ``replica`` there (its health check has seen
    the replica up again; until then it answers from another)."""
    deadline = time.monotonic() + deadline_s
    request = urllib.request.Request(f"{lb}/_stcore/health", headers={"Cookie": f"{AFFINITY}={replica}"})
    while True:
        with urllib.request.urlopen(request, timeout=5) as r:
            if r.headers.get("X-Readiness-Replica") == replica:
                return
        assert time.monotonic() < deadline, f"HAProxy did not take {replica} back"
        time.sleep(0.2)  # HAProxy's next health check (every 2 s) brings it back


def _events_shown(page) -> str:
    return page.locator("[data-testid='stMetric']").filter(has_text="Events").first.locator(
        "[data-testid='stMetricValue']").inner_text()


def test_a_large_ingest_while_both_replicas_serve_never_shows_busy(browser, organisation_cluster, tmp_path) -> None:
    """The organisation deployment: a 2M-row command-line ingest while a reviewer on each replica
    keeps using the Usage page; no page says the store is busy, the batch shows on both once it
    committed, and the audit chain verifies."""
    lb, db, _replicas, env = organisation_cluster
    rows = 2_000_000
    big = tmp_path / "big.csv"
    con = store.scratch()
    try:
        con.execute(f"COPY (SELECT TIMESTAMPTZ '2026-03-03 00:00:00+00' + to_seconds(i % 1000000) AS ts, 'u' || (i % 5000) "
                    f"AS user, 'event' || (i % 40) AS event FROM range({rows}) t(i)) TO '{big}' (HEADER)")
    finally:
        con.close()
    contexts, tabs = [], []
    try:
        for replica in ("r1", "r2"):
            ctx = browser.new_context(viewport={"width": 1300, "height": 800})
            contexts.append(ctx)
            _stick_to(ctx, lb, replica)
            page = ctx.new_page()
            login(page, lb, "rex", PW, "usage")
            _signed_in(page)
            assert _events_shown(page) == "12"
            tabs.append(page)
        ingest = subprocess.Popen([sys.executable, "-m", "readiness", "ingest", "--pilot", PILOT, "--kind", "usage",
                                   str(big)], cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        polls, slowest = 0, 0.0
        while ingest.poll() is None or polls < 2:
            for page in tabs:
                start = time.monotonic()
                with a_run(page):
                    nav(page, "Usage").click()
                slowest = max(slowest, time.monotonic() - start)
                shown = main_text(page)
                assert "Data is being loaded" not in shown and "busy" not in shown
                assert _events_shown(page) in ("12", f"{rows + 12:,}")  # before or after the commit, nothing between
                polls += 1
        out = ingest.stdout.read()
        assert ingest.returncode == 0, out
        for page in tabs:
            with a_run(page):
                nav(page, "Usage").click()
            assert _events_shown(page) == f"{rows + 12:,}"
        print(f"{polls} page runs during the ingest, slowest {slowest:.2f} s")
        verify = subprocess.run([sys.executable, "-m", "readiness", "audit", "verify"], cwd=ROOT,
                                env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        for ctx in contexts:
            ctx.close()
