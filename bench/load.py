"""Benchmark: page-load time of N concurrent reviewers on a large generated pilot, against N = 1.

Generates a pilot of --events usage events (with bench/analysis.py's generator: N/10 exceptions,
N/100 feedback entries) into a store, once (--keep DB reuses it), and makes one reviewer account per
session, granted the pilot. Then, for N = 1 (the baseline) and each N of --sessions, it starts the
app afresh (`streamlit run app.py`, cold caches) and opens N sessions as tabs of ONE headless
Chromium (one browser process; a browser context each, so cookies do not collide). All sessions
start at once: each logs in, then opens Portfolio, Failure modes and Readout from the sidebar
(--by-address: by typing each page's address, a new server session each time), --rounds times.
A page view is timed from the click until the page's own content is visible and the app is idle;
it succeeds when that happens within --view-timeout without an exception box or a "busy" warning.

Prints per N: p50 / p95 page-load time (and, per page, how long the server took to run the page
script, from the app's page times log: the rest of a view is the browser and the wait for a core),
success rate, the server's CPU-seconds per page view
(utime + stime of the server process over the whole run, logins included, divided by the page
views), its peak RSS (VmHWM), the CPU the browser and the whole machine used meanwhile (other
work on a shared machine shows there), the browser's CPU by thread (tabs' main threads, compositors,
raster; the GPU process's display compositor), the first round of views apart from later rounds,
and the ratios against N = 1 measured in the same run.
Goal: N = 10 with p95 <= 5 s and 100% success.
--floor bare|elements first runs the same walk, same N, on bench/floor_app.py: a Streamlit app with
the same login fields and page names and nothing else (bare), or with one 5-row dataframe, one 5-bar
plotly chart and one 5-row table (elements: the least our pages' kinds of element cost). Its p95 is
the least such an app gets here, with this browser on these cores; ours is printed against it.

Example: python bench/load.py --events 1000000 --sessions 10 20 --keep /tmp/load-1m.duckdb
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from e2e_helpers import _free_port as e2e_free_port  # noqa: E402
from e2e_helpers import start_app as e2e_start_app  # noqa: E402

from readiness import store  # noqa: E402
from readiness.security import users  # noqa: E402
from readiness.security.access import Actor  # noqa: E402

GOAL_P95_S, GOAL_SESSIONS = 5.0, 10
PILOT = "bench"  # the pilot bench/analysis.py generates
PASSWORD = "load bench password"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# (page, url path, text that shows the page's own content has been drawn)
PAGES = [("Portfolio", "", "Open a pilot"),
         ("Failure modes", "failure_modes", "Look closer"),
         ("Readout", "readout", "Conditions")]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
FLOOR_APP = "bench/floor_app.py"
NO_SKELETON = "document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0"


def prepare(db: Path, events: int, accounts: int) -> None:
    """The generated store (made once, in a child process) and ``accounts`` reviewers granted the pilot."""
    if not db.exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "bench" / "analysis.py"), "--prepare-only", "--keep", str(db),
                        "--events", str(events)], check=True)
        print(f"store with {events:,} usage events ready in {time.perf_counter() - t0:.0f} s")
    os.environ.setdefault("READINESS_BCRYPT_ROUNDS", "4")  # the lowest cost: the scheme is the same
    op = Actor("bench", "admin", cli=True)
    with store.open_store(db) as con:
        have = {r[0] for r in con.execute("SELECT username FROM users").fetchall()}
        for i in range(accounts):
            name = f"load{i:03d}"
            if name not in have:
                users.add_user(con, op, name, "reviewer", PASSWORD)
                users.grant(con, op, name, PILOT)


def start_app(db: Path, log: Path, page_times: Path | None = None, floor: str = "",
              secrets: Path | None = None) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` on ``db`` (output to ``log``, page run times to ``page_times``), or the
    floor app (bench/floor_app.py; ``floor`` "bare" or "elements"); returns once /_stcore/health answers.
    With ``secrets``, as a replica: `python -m readiness serve` with that secrets file."""
    if floor:
        return e2e_start_app({"FLOOR_ELEMENTS": "1" if floor == "elements" else "0"}, timeout=120, log=log,
                             script=FLOOR_APP)
    env = {"READINESS_DB": str(db), "READINESS_ADMIN_PASSWORD": "load bench admin password"}
    if page_times:
        env["READINESS_PAGE_TIMES_LOG"] = str(page_times)
    if secrets:
        env["READINESS_SECRETS_FILE"] = str(secrets)
    return e2e_start_app(env, timeout=120, log=log, serve=secrets is not None)


HAPROXY = "/usr/sbin/haproxy"


def start_servers(db: Path, log: Path, page_times: Path, floor: str, replicas: int,
                  secrets: Path | None) -> tuple[list[subprocess.Popen], str, list[subprocess.Popen]]:
    """One app, or ``replicas`` (2) behind HAProxy with deploy/haproxy.cfg (sticky sessions): returns
    (the app processes, the address to browse, other processes to stop)."""
    if replicas == 1 or floor:
        proc, url = start_app(db, log, page_times, floor=floor)
        return [proc], url, []
    apps = [start_app(db, log.with_name(f"{log.stem}-r{i + 1}.log"), page_times, secrets=secrets) for i in range(replicas)]
    port = e2e_free_port()
    lb = subprocess.Popen([HAPROXY, "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")], cwd=ROOT,
                          env={**os.environ, "READINESS_LB_BIND": f"127.0.0.1:{port}",
                               **{f"READINESS_REPLICA_{i + 1}": url.removeprefix("http://") for i, (_, url) in enumerate(apps)}},
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:  # HAProxy is up in well under a second
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    return [p for p, _ in apps], url, [lb]


def server_runs(page_times: Path) -> dict[str, list[float]]:
    """Seconds of each complete run of each page, from the app's page times log."""
    runs: dict[str, list[float]] = {}
    if page_times.exists():
        for line in page_times.read_text().splitlines():
            _when, page, seconds, ended = line.split("\t")
            if ended == "ok":
                runs.setdefault(page, []).append(float(seconds))
    return runs


def cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` (all its threads) in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(root: int, skip: int | set[int]) -> list[int]:
    """Live processes descended from ``root``, except ``skip`` (the servers, here) and their own."""
    skip = {skip} if isinstance(skip, int) else skip
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
    out = []
    for pid in parents:
        p = pid
        while p in parents and p not in (root, 0, 1) and p not in skip:
            p = parents[p]
        if p == root and pid not in skip:
            out.append(pid)
    return out


def tree_cpu_seconds(root: int, skip: int | set[int]) -> float:
    """CPU seconds of every live process descended from ``root`` except ``skip`` (the server, here)."""
    total = 0.0
    for pid in descendants(root, skip):
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def browser_threads(root: int, skip: int | set[int]) -> dict[str, float]:
    """CPU seconds of the browser's processes descended from ``root`` (except ``skip``), by what the
    thread does: the tabs' main threads, their compositor, raster and worker threads, the GPU
    process's display compositor, and the rest. Shows where a browser's time goes (a shimmer that
    keeps the compositors drawing, say)."""
    out: dict[str, float] = {}
    for pid in descendants(root, skip):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
            if not args or b"chrom" not in args[0]:
                continue
            kind = next((a.split(b"=", 1)[1].decode() for a in args if a.startswith(b"--type=")), "browser")
            for task in Path(f"/proc/{pid}/task").iterdir():
                comm = (task / "comm").read_text().strip()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                if kind == "renderer":
                    what = {"chromium": "tabs' main threads", "Compositor": "tabs' compositors"}.get(
                        comm, "tabs' raster and workers" if comm.startswith("ThreadPool") else "tabs' other")
                elif kind == "gpu-process":
                    what = "display compositor (GPU process)"
                else:
                    what = "browser and network"
                out[what] = out.get(what, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return out


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (every process on the machine)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    m = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m[1]) / 1024


@dataclass
class View:
    page: str
    seconds: float
    ok: bool
    why: str = ""
    first: bool = True  # the session's first round: the browser loads each page's code for the first time


async def _idle(page, timeout_ms: float) -> None:
    await page.wait_for_selector(IDLE, timeout=timeout_ms)
    await page.wait_for_function(NO_SKELETON, timeout=timeout_ms)


async def login(page, url: str, user: str) -> None:
    """Fill the login form and wait for the app; once more if a rerun redrew the form meanwhile."""
    await page.goto(url, timeout=120_000)  # as a page view; Playwright's default is 30 s
    await _idle(page, 120_000)
    for attempt in range(3):
        await page.get_by_label("User name").fill(user)
        await page.get_by_label("Password", exact=True).fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        try:
            await page.get_by_text("Signed in as").wait_for(timeout=30_000 * (attempt + 1))
            return
        except Exception:
            if attempt == 2 or await page.get_by_role("button", name="Log in").count() == 0:
                raise


async def view(page, url: str, name: str, path: str, expect: str, timeout_s: float, by_address: bool) -> View:
    """Open one page from the sidebar (or by its address: a new session); time until its content is
    drawn and the app is idle."""
    t0 = time.perf_counter()
    try:
        if by_address:
            await page.goto(f"{url}/{path}")
        else:
            await page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=name, exact=True).click()
        await page.get_by_text(expect, exact=True).first.wait_for(timeout=timeout_s * 1000)
        await _idle(page, max(1.0, timeout_s - (time.perf_counter() - t0)) * 1000)
    except Exception as err:
        return View(name, time.perf_counter() - t0, False, type(err).__name__)
    seconds = time.perf_counter() - t0
    if await page.locator("[data-testid='stException']").count():
        return View(name, seconds, False, "exception box")
    if await page.get_by_text("is busy").count():
        return View(name, seconds, False, "store busy")
    return View(name, seconds, True)


async def run_sessions(n: int, db: Path, log: Path, rounds: int, timeout_s: float, by_address: bool,
                       after_logins: bool = False, think_s: float = 0.0, ramp_s: float = 0.0,
                       floor: str = "", replicas: int = 1, secrets: Path | None = None) -> dict:
    """Fresh app, n tabs that log in and open the pages; returns the figures. With ``after_logins``
    every tab waits until all have logged in, so the page views overlap each other but no login.
    ``think_s``: a reviewer reads each page before the next click, for 0.5x to 1.5x this long
    (seeded per session). ``ramp_s``: session i starts i/n of this later (arrivals spread out).
    ``floor``: the same walk on the floor app ("bare" or "elements") instead of ours."""
    from playwright.async_api import async_playwright

    page_times = log.with_name(f"page-times-{n}.tsv")
    page_times.unlink(missing_ok=True)
    procs, url, others = start_servers(db, log, page_times, floor, replicas, secrets)
    servers = {p.pid for p in procs}

    def server_cpu() -> float:
        return sum(cpu_seconds(p.pid) for p in procs)

    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            contexts = [await browser.new_context(viewport={"width": 1300, "height": 900}) for _ in range(n)]
            tabs = [await ctx.new_page() for ctx in contexts]
            logins: list[float] = []
            done: list[bool] = []
            all_in = asyncio.Event()
            at_views: dict[str, float] = {}

            def logged_in() -> None:
                done.append(True)
                if len(done) == n:
                    at_views.update(server=server_cpu(), client=tree_cpu_seconds(os.getpid(), servers))
                    all_in.set()

            async def session(i: int, tab) -> list[View]:
                await asyncio.sleep(ramp_s * i / n)
                t = time.perf_counter()
                try:
                    await login(tab, url, f"load{i:03d}")
                except Exception as err:
                    logged_in()
                    why = " ".join(str(err).split())[:100]  # Playwright's first line says what went wrong
                    return [View(name, 0.0, False, f"login: {type(err).__name__}: {why}", first=r == 0)
                            for r in range(rounds) for name, _, _ in PAGES]
                logins.append(time.perf_counter() - t)
                logged_in()
                if after_logins:
                    await all_in.wait()
                reads = random.Random(i)
                views = []
                for r in range(rounds):
                    for name, path, expect in PAGES:
                        if think_s and views:
                            await asyncio.sleep(think_s * reads.uniform(0.5, 1.5))
                        views.append(replace(await view(tab, url, name, path, expect, timeout_s, by_address),
                                             first=r == 0))
                return views

            load = os.getloadavg()[0]
            cpu0, t0 = server_cpu(), time.perf_counter()
            client0, busy0 = tree_cpu_seconds(os.getpid(), servers), machine_busy_seconds()
            threads0 = browser_threads(os.getpid(), servers)
            walks = await asyncio.gather(*(session(i, tab) for i, tab in enumerate(tabs)))
            cpu, wall = server_cpu() - cpu0, time.perf_counter() - t0
            client, busy = tree_cpu_seconds(os.getpid(), servers) - client0, machine_busy_seconds() - busy0
            threads = {k: v - threads0.get(k, 0.0) for k, v in browser_threads(os.getpid(), servers).items()}
            login_s = statistics.median(logins) if logins else float("nan")
            views_cpu = cpu - (at_views["server"] - cpu0) if after_logins else None
            views_client = client - (at_views["client"] - client0) if after_logins else None
            rss = sum(peak_rss_mb(p.pid) for p in procs)  # the app: every replica
            await browser.close()
    finally:
        for p in procs + others:
            p.terminate()
        for p in procs + others:
            p.wait(timeout=30)
    views = [v for w in walks for v in w]
    return {"n": n, "replicas": replicas, "floor": floor, "views": views, "cpu": cpu, "wall": wall, "rss": rss, "login_s": login_s, "load": load,
            "client": client, "busy": busy, "threads": threads, "views_cpu": views_cpu, "views_client": views_client,
            "server_runs": server_runs(page_times)}


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


class Connections:
    """Samples the PostgreSQL server's client connections every 0.5 s (the organisation deployment),
    with Debian's psql: the peak between two moments is what the sessions needed."""

    def __init__(self, dsn: str):
        from tests.postgres_server import binaries

        fields = dict(p.split("=", 1) for p in dsn.split())
        self.cmd = [str(binaries() / "psql"), "-h", fields["host"], "-p", fields["port"], "-U", fields["user"],
                    "-d", "postgres", "-Atc", "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"]
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self) -> None:
        while not self.stop.wait(0.5):
            out = subprocess.run(self.cmd, capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip().isdigit():
                self.samples.append((time.monotonic(), int(out.stdout)))

    def peak(self, since: float) -> int:
        return max((n for t, n in self.samples if t >= since), default=0)


def report(r: dict, base: dict | None, floor: dict | None = None) -> None:
    """Print one run's figures; ``base`` is N = 1 of the same app, ``floor`` the floor app at the same N."""
    views = r["views"]
    ok = [v.seconds for v in views if v.ok]
    success = len(ok) / len(views)
    p50_s, p95_s = (statistics.median(ok), p95(ok)) if ok else (float("nan"), float("nan"))
    cpu_view = r["cpu"] / len(views)
    line = (f"floor ({r['floor']}) " if r.get("floor") else "") + (
            f"{r['replicas']} replica(s) " if r.get("replicas", 1) > 1 else "") + (f"N={r['n']:<3} views {len(views):4d}  success {success:6.1%}  p50 {p50_s:5.2f} s  p95 {p95_s:5.2f} s  "
            f"CPU {cpu_view:5.2f} s/view  peak RSS {r['rss']:6.0f} MB  (login p50 {r['login_s']:.1f} s, all "
            f"{r['wall']:.0f} s, load avg {r['load']:.1f})")
    line += (f"\n       during the run: server {r['cpu']:.0f} CPU-s, browser + bench {r['client']:.0f} CPU-s, "
             f"whole machine {r['busy']:.0f} CPU-s of {r['wall'] * os.cpu_count():.0f} available")
    if r.get("pg_peak"):
        line += f"; PostgreSQL client connections at most {r['pg_peak']} (max_connections {r['pg_max']})"
    if r.get("threads"):
        line += "\n       browser CPU-s by thread: " + ", ".join(
            f"{k} {v:.0f}" for k, v in sorted(r["threads"].items(), key=lambda kv: -kv[1]) if v >= 0.5)
    if r.get("views_cpu") is not None:
        line += (f"\n       page views only (after every tab logged in): server {r['views_cpu'] / len(views):.2f} "
                 f"CPU-s/view, browser + bench {r['views_client'] / len(views):.2f} CPU-s/view")
    if base:
        b_ok = [v.seconds for v in base["views"] if v.ok]
        line += (f"\n       vs N=1: p50 {p50_s / statistics.median(b_ok):.1f}x  p95 {p95_s / p95(b_ok):.1f}x  "
                 f"CPU/view {cpu_view / (base['cpu'] / len(base['views'])):.2f}x  RSS {r['rss'] / base['rss']:.2f}x")
    if floor:
        f_ok = [v.seconds for v in floor["views"] if v.ok]
        if f_ok:
            line += (f"\n       vs the floor app ({floor['floor']}) at N={floor['n']}: p50 {p50_s / statistics.median(f_ok):.1f}x  "
                     f"p95 {p95_s / p95(f_ok):.1f}x (floor p95 {p95(f_ok):.2f} s)  "
                     f"browser CPU-s {r['client'] / max(floor['client'], 1e-9):.1f}x")
    later = [v.seconds for v in views if v.ok and not v.first]
    if later:
        first = [v.seconds for v in views if v.ok and v.first]
        line += (f"\n       first round (the browser loads each page's code): p50 {statistics.median(first):5.2f} s  "
                 f"p95 {p95(first):5.2f} s;  later rounds: p50 {statistics.median(later):5.2f} s  p95 {p95(later):5.2f} s")
    if r["n"] == GOAL_SESSIONS and not r.get("floor"):
        met = success == 1 and p95_s <= GOAL_P95_S
        line += f"\n       goal p95 <= {GOAL_P95_S:.0f} s and 100% success: {'MET' if met else 'NOT MET'}"
    print(line)
    for name, _, _ in PAGES:
        mine = [v.seconds for v in views if v.page == name and v.ok]
        failed = [v.why for v in views if v.page == name and not v.ok]
        runs = r["server_runs"].get(name, [])
        on_server = (f"  | server run p50 {statistics.median(runs):5.2f} s  p95 {p95(runs):5.2f} s ({len(runs)})"
                     if runs else "")
        if mine:
            print(f"       {name:14s} p50 {statistics.median(mine):5.2f} s  p95 {p95(mine):5.2f} s  "
                  f"max {max(mine):5.2f} s" + on_server + (f"  failed: {', '.join(sorted(set(failed)))} x{len(failed)}"
                                                           if failed else ""))
        elif failed:
            print(f"       {name:14s} all failed: {', '.join(sorted(set(failed)))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--rounds", type=int, default=2, help="times each session opens the three pages")
    parser.add_argument("--view-timeout", type=float, default=120, help="seconds before a page view counts as failed")
    parser.add_argument("--by-address", action="store_true",
                        help="open each page by its address (a new session each time) instead of the sidebar")
    parser.add_argument("--keep", metavar="DB", help="keep the generated store at this path (reused if present)")
    parser.add_argument("--after-logins", action="store_true",
                        help="start the page views once every tab has logged in (views overlap views, not logins)")
    parser.add_argument("--think", type=float, default=0.0, metavar="S",
                        help="mean seconds a reviewer reads a page before the next click (0.5x-1.5x, seeded); "
                             "default 0: every session clicks on as soon as a page is drawn")
    parser.add_argument("--ramp", type=float, default=0.0, metavar="S",
                        help="spread the sessions' starts over S seconds (default 0: all at once)")
    parser.add_argument("--floor", choices=["bare", "elements"],
                        help=f"before each N, run the same walk on {FLOOR_APP} and compare: 'bare' (same login "
                             "fields and page names, text only: what Streamlit and the browser cost here before "
                             "any work of ours) or 'elements' (plus one small dataframe, plotly chart and table: "
                             "the least the chosen packages cost)")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1], choices=[1, 2],
                        help="run each N on one app and/or on two replicas behind HAProxy (deploy/haproxy.cfg)")
    parser.add_argument("--pg-max-connections", type=int, default=100,
                        help="the organisation deployment's PostgreSQL max_connections (100: PostgreSQL's default)")
    parser.add_argument("--deployment", choices=("embedded", "organisation"), default="embedded",
                        help="organisation: the records in a throwaway PostgreSQL server (Debian's), files in a temp folder")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="readiness-bench-load-"))
        db = Path(args.keep) if args.keep else Path(tmp) / "bench.duckdb"
        connections = None
        if args.deployment == "organisation":
            from readiness import settings
            from tests.postgres_server import create_database, throwaway_postgres

            server = stack.enter_context(throwaway_postgres(max_connections=args.pg_max_connections))
            connections = Connections(server)
            os.environ["READINESS_DATABASE_URL"] = create_database(server, "load")
            os.environ["READINESS_LAKE_DATA_PATH"] = str(Path(tmp) / "lake")
            db = settings.db_path()
        prepare(db, args.events, max(args.sessions))
        secrets = Path(tmp) / "secrets.toml"
        if 2 in args.replicas:
            subprocess.run([sys.executable, "-m", "readiness", "secrets", "--out", str(secrets), "--db", str(db)],
                           cwd=ROOT, check=True, capture_output=True)
        log = Path(tmp) / "app.log"
        print(f"{args.events:,} usage events; pages {', '.join(p[0] for p in PAGES)} x{args.rounds} per session; "
              f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
        model = dict(after_logins=args.after_logins, think_s=args.think, ramp_s=args.ramp)
        print(f"reviewers read each page for {args.think * 0.5:.0f}-{args.think * 1.5:.0f} s; sessions start over "
              f"{args.ramp:.0f} s" if args.think or args.ramp else "no reading time: each session clicks on at once")
        print(f"{args.deployment} deployment; replicas {', '.join(map(str, args.replicas))}")

        def run(n: int, floor: str = "", replicas: int = 1) -> dict:
            start = time.monotonic()
            r = asyncio.run(run_sessions(n, db, log, args.rounds, args.view_timeout, args.by_address,
                                         floor=floor, replicas=replicas, secrets=secrets if replicas > 1 else None,
                                         **model))
            if connections is not None:
                r.update(pg_peak=connections.peak(start), pg_max=args.pg_max_connections)
            return r

        floor_base = run(1, floor=args.floor) if args.floor else None
        if floor_base:
            report(floor_base, None)
        base = run(1)
        report(base, None, floor_base)
        for n in args.sessions:
            floor_n = run(n, floor=args.floor) if args.floor else None
            if floor_n:
                report(floor_n, floor_base)
            for replicas in args.replicas:
                report(run(n, replicas=replicas), base, floor_n)
        errors = [line for f in sorted(log.parent.glob("app*.log"))
                  for line in f.read_text(errors="replace").splitlines() if "Traceback" in line]
        if errors:
            print(f"the app logged {len(errors)} traceback(s); see {log.parent}/app*.log (kept with --keep only)")
            if args.keep:  # every replica's log, one after the other
                Path(str(args.keep) + ".app.log").write_text("".join(
                    f"==> {f.name} <==\n{f.read_text(errors='replace')}" for f in sorted(log.parent.glob("app*.log"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
