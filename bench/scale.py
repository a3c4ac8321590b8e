"""Benchmark: an organisation's scale — Portfolio over many pilots, every review page on one big pilot.

Builds, in a temporary folder (or --keep DIR, reused when present):

* a *portfolio* store of --pilots pilots (default 1,000) of realistic small size: each pilot's usage
  (--small-events, default 3,000) and exceptions (a quarter as many) loaded through the library's
  ingest, three owners, a risk tier each, one in five with a decision and its next review (some
  overdue), then each pilot's figures stored (readiness.review.figures) as a write would leave them;
* a *big* store of one pilot of --events usage events (default 20M; the goal is stated for 100M),
  written as Parquet by DuckDB itself and loaded through the library's ingest in batches of 20M events,
  with a tenth as many exceptions and a hundredth as much feedback, then its figures stored and its unfiltered evidence
  kept (readiness.review.evidence) as a load leaves them for a pilot already viewed;
* a *baseline* store of one small pilot, measured the same way in the same run.

Then reports, in this process (so peak memory is the app's work, not the generation's):

* Portfolio, cold (first read after the store opened, caches empty) and warm (median of --repeat):
  the library function the page calls (figures.portfolio) and the page itself through Streamlit's
  AppTest, as an admin and as a reviewer granted 50 pilots; against the 1-pilot baseline.
* Every review page on the big pilot through AppTest, cold (a new session, Streamlit's caches
  emptied: as after a server start) and warm; and each evidence function a page reads, computed
  (cold and warm) and read as kept; the risk signals, computed.
* Peak memory (resource.getrusage).

Goals (issue 25): Portfolio with 1,000 pilots <= 2 s cold, <= 0.5 s warm; every review page on the
100M-event pilot warm p50 <= 1 s, cold <= 3 s; memory <= 2 GB.

Example: python bench/scale.py --pilots 1000 --events 20000000 --keep /tmp/scale
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")  # AppTest outside a server warns on every run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from readiness import catalog, pilots, store  # noqa: E402
from readiness.ingest import load as ingest  # noqa: E402
from readiness.review import conditions, decisions, evidence, figures, signals  # noqa: E402
from readiness.security import users  # noqa: E402
from readiness.security.access import Actor  # noqa: E402

OP = Actor("bench", "admin", cli=True)
ADMIN, REVIEWER = Actor("anna", "admin"), Actor("rick", "reviewer")
PASSWORD = "bench password long enough"
REVIEW_PAGES = ["sources", "usage", "feedback", "failure_modes", "risks", "readiness", "handoff", "decision",
                "readout"]
BIG_BATCH = 20_000_000  # usage events per batch of the big pilot (one batch's ingest holds it in memory)
GOALS = {"portfolio_cold_s": 2.0, "portfolio_warm_s": 0.5, "page_cold_s": 3.0, "page_warm_s": 1.0, "rss_gb": 2.0}
logging.getLogger("streamlit").setLevel(logging.ERROR)  # AppTest warns about a missing ScriptRunContext
TODAY = datetime.now(UTC).date()


# --- generation (in a child process, so that this one's peak memory is the reading) ---------------

def _small_files(work: Path, events: int) -> tuple[Path, Path]:
    """One small pilot's usage and exceptions as Parquet (the same shape for every small pilot)."""
    con = duckdb.connect()
    usage, exc = work / "small_usage.parquet", work / "small_exceptions.parquet"
    con.execute(f"""COPY (SELECT TIMESTAMPTZ '2026-09-01 08:00:00+00' + to_seconds((i * 613) % (60 * 86400)) AS ts,
        'user' || ((i // 12) % 40) AS user_id, 's-' || (i // 12) AS session_id,
        ['open', 'run', 'search', 'export'][1 + i % 4] AS event, ['triage', 'extract', 'suggest'][1 + i % 3] AS feature,
        CASE WHEN i % 9 = 0 THEN 'failure' ELSE 'success' END AS outcome, 'team-' || (i % 4) AS team
        FROM range({events}) t(i)) TO '{usage}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT TIMESTAMPTZ '2026-09-01 08:00:00+00' + to_seconds((i * 7919) % (60 * 86400)) AS ts,
        'user' || (i % 40) AS user_id, ['TimeoutError', 'ValueError', 'KeyError'][1 + i % 3] AS error_type,
        CASE i % 3 WHEN 0 THEN 'Timeout after ' || (i % 900) || ' ms calling https://erp.example/api/' || i
                   WHEN 1 THEN 'Could not parse amount ''' || (i % 97) || ',00'' in invoice INV-' || i
                   ELSE 'KeyError: ''vat'' in record ' || (i % 50) END AS message
        FROM range({max(events // 4, 1)}) t(i)) TO '{exc}' (FORMAT parquet)""")
    con.close()
    return usage, exc


def _big_files(work: Path, events: int) -> dict[str, list[Path]]:
    """The big pilot's logs, written by DuckDB: usage and exceptions as Parquet, feedback as JSON Lines,
    in files of at most BIG_BATCH usage events (and their share of the others), each loaded as one batch:
    a pilot's logs come in batches, and one batch's ingest holds it in memory."""
    con = duckdb.connect()
    paths: dict[str, list[Path]] = {"usage": [], "exceptions": [], "feedback": []}
    for n, lo in enumerate(range(0, events, BIG_BATCH)):
        hi = min(lo + BIG_BATCH, events)
        files = {"usage": work / f"usage-{n}.parquet", "exceptions": work / f"exceptions-{n}.parquet",
                 "feedback": work / f"feedback-{n}.jsonl"}
        _big_chunk(con, files, events, lo, hi)
        for kind, path in files.items():
            paths[kind].append(path)
    con.close()
    return paths


def _big_chunk(con, paths: dict[str, Path], events: int, lo: int, hi: int) -> None:
    """Events lo..hi of the big pilot, with exceptions and feedback lo/10..hi/10 and lo/100..hi/100."""
    con.execute(f"""COPY (SELECT TIMESTAMPTZ '2026-01-05 08:00:00+00' + to_seconds((i * 37) % (140 * 86400)) AS time,
        'user' || (((i // 30) * 7919) % 5000) AS user_id, 's-' || (i // 30) AS session_id,
        ['open', 'run', 'search', 'export'][1 + i % 4] AS event,
        ['triage', 'extract', 'suggest', 'dedupe', 'export', 'bulk'][1 + (i * 13) % 6] AS feature,
        (i * 31) % 5000 AS duration_ms, CASE WHEN i % 11 = 0 THEN 'failure' ELSE 'success' END AS outcome,
        'team-' || (i % 12) AS team
        FROM range({lo}, {hi}) t(i)) TO '{paths["usage"]}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT TIMESTAMPTZ '2026-01-05 08:00:00+00' + to_seconds((i * 379) % (140 * 86400)) AS ts,
        'user' || ((i * 7919) % 5000) AS user_id, 's-' || ((i * 7) % ({events} // 30)) AS session_id,
        ['TimeoutError', 'ValueError', 'KeyError', 'ConnectionError'][1 + i % 4] AS error_type,
        CASE i % 5 WHEN 0 THEN 'Timeout after ' || (i % 900) || ' ms calling https://erp.example/api/' || i
                   WHEN 1 THEN 'Could not parse amount ''' || (i % 97) || ',00'' in invoice INV-' || i
                   WHEN 2 THEN 'KeyError: ''vat'' in record ' || (i % 5000)
                   WHEN 3 THEN 'Connection reset by peer: 10.0.' || (i % 255) || '.' || (i % 7) || ':443'
                   ELSE 'Permission denied: /mnt/share/' || (i % 1000) || '.pdf' END AS message
        FROM range({lo // 10}, {hi // 10}) t(i)) TO '{paths["exceptions"]}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT TIMESTAMPTZ '2026-01-05 08:00:00+00' + to_seconds((i * 3797) % (140 * 86400)) AS created_at,
        'user' || ((i * 7919) % 5000) AS user_email, 1 + (i * 7) % 5 AS stars,
        CASE WHEN i % 3 = 0 THEN NULL ELSE (i * 3) % 11 END AS nps,
        ['Saves me an hour a day on triage', 'Extraction is too slow on big PDFs', 'Kept getting session expired errors',
         'Please add a keyboard shortcut', 'Cannot log in since the update', 'The ERP export failed twice',
         'Great tool, suggestions are spot on', 'Would love support for credit notes'][1 + i % 8]
         || ' (' || (i % 50) || ')' AS comment
        FROM range({lo // 100}, {hi // 100}) t(i)) TO '{paths["feedback"]}' (FORMAT json)""")


def _accounts(db: Path, granted: list[str]) -> None:
    with store.open_store(db) as con:
        users.add_user(con, OP, ADMIN.name, ADMIN.role, PASSWORD)
        users.add_user(con, OP, REVIEWER.name, REVIEWER.role, PASSWORD)
        for name in granted:
            users.grant(con, OP, REVIEWER.name, name)


def prepare_portfolio(db: Path, n: int, events: int, work: Path) -> None:
    """``n`` small pilots loaded through the ingest, some with decisions, then their figures stored."""
    usage, exc = _small_files(work, events)
    t0 = time.perf_counter()
    owners = ["Ann Lee", "Bo Chen", "Cy Diaz", "Dee Obi", "Eli Roth"]
    for i in range(1, n + 1):
        name = f"Pilot {i}"
        with store.open_store(db) as con, store.transaction(con):
            pilots.create_pilot(con, name, OP, owner=owners[i % len(owners)], risk_tier=("low", "medium", "high")[i % 3])
        ingest.ingest_files(db, name, "usage", [usage], actor=OP)
        ingest.ingest_files(db, name, "exceptions", [exc], actor=OP)
        if i % 5 == 0:
            with store.open_store(db) as con:
                decisions.record_decision(con, OP, catalog.get_pilot(con, name), outcome="harden",
                                          rationale="More hardening", owner="Ann Lee",
                                          next_review=TODAY + timedelta(days=(i % 40) - 10), today=TODAY - timedelta(days=30))
        if i % 100 == 0:
            print(f"  {i:,} pilots loaded ({time.perf_counter() - t0:.0f} s)", flush=True)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with store.open_store(db) as con:
        figures.refresh_stale(con)
        evidence.refresh(con, catalog.get_pilot(con, "Pilot 1").pilot_id)  # the review pages are measured on it
    print(f"portfolio store: {n:,} pilots loaded in {load_s:.0f} s; figures stored in "
          f"{time.perf_counter() - t0:.0f} s ({(time.perf_counter() - t0) / n * 1000:.0f} ms a pilot)", flush=True)
    _accounts(db, [f"Pilot {i}" for i in range(1, n + 1, max(n // 50, 1))][:50])


def prepare_big(db: Path, events: int, work: Path) -> None:
    """One pilot of ``events`` usage events (plus exceptions and feedback) through the ingest."""
    t0 = time.perf_counter()
    files = _big_files(work, events)
    print(f"big pilot: {events:,} events generated in {time.perf_counter() - t0:.0f} s", flush=True)
    for kind in ("usage", "exceptions", "feedback"):
        t0, rows = time.perf_counter(), 0
        for path in files[kind]:
            (r,) = ingest.ingest_files(db, "Big pilot", kind, [path], actor=OP, create=True)
            if r.error:
                raise SystemExit(f"ingest {kind} {path.name}: {r.error}")
            rows += r.rows_loaded
            path.unlink()
        print(f"  ingest {kind}: {rows:,} rows in {len(files[kind])} batch{'es' * (len(files[kind]) > 1)}, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    t0 = time.perf_counter()
    with store.open_store(db) as con:
        conditions.ensure_conditions(con, OP, catalog.get_pilot(con, "Big pilot"))  # as the first page view does
        figures.refresh_stale(con)
    print(f"  figures stored in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    with store.open_store(db) as con:  # as a first view of each page (or the keep-up after a later load) keeps it
        evidence.refresh(con, catalog.get_pilot(con, "Big pilot").pilot_id)
    print(f"  unfiltered evidence kept in {time.perf_counter() - t0:.1f} s", flush=True)
    _accounts(db, ["Big pilot"])


def _prepare(args: argparse.Namespace) -> None:
    keep = Path(args.keep)
    with tempfile.TemporaryDirectory(prefix="bench-scale-files-", dir=keep) as tmp:
        work = Path(tmp)
        if args.prepare == "portfolio":
            prepare_portfolio(keep / "portfolio.duckdb", args.pilots, args.small_events, work)
        elif args.prepare == "baseline":
            prepare_portfolio(keep / "baseline.duckdb", 1, args.small_events, work)
        else:
            prepare_big(keep / "big.duckdb", args.events, work)


# --- measurement -------------------------------------------------------------------------------

def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(cold, warm median) seconds of ``fn``: the first call, then the median of ``repeat`` more."""
    t = time.perf_counter()
    fn()
    cold = time.perf_counter() - t
    warm = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t)
    return cold, statistics.median(warm) if warm else float("nan")


def _page(db: Path, page: str, actor: Actor, pilot: str | None, repeat: int, colds: int = 3) -> tuple[float, float]:
    """A page through AppTest as ``actor``: the median of ``colds`` cold runs (a new session, Streamlit's
    data and resource caches emptied, the charts' included: as after a server start) and of ``repeat``
    warm reruns. This machine is shared: one cold run can take several times another."""
    import streamlit as st

    os.environ["READINESS_DB"] = str(db)
    cold = []
    for _ in range(colds):
        st.cache_data.clear()
        st.cache_resource.clear()
        at = AppTest.from_file(str(next((ROOT / "pages").glob(f"[0-9][0-9]_{page}.py"))), default_timeout=900)
        at.session_state["_rr_actor"] = actor
        if pilot:
            at.session_state["_rr_pilot"] = pilot

        def run(at: AppTest = at) -> None:
            at.run()
            if at.exception:
                raise SystemExit(f"{page}: {at.exception[0].message}")
        first, warm = _timed(run, repeat if len(cold) == colds - 1 else 0)
        cold.append(first)
    return statistics.median(cold), warm


def _rss_gb() -> float:
    """This process's peak resident memory so far (GB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def _library_portfolio(db: Path, actor: Actor, repeat: int) -> tuple[float, float]:
    def read() -> None:
        with store.open_store(db) as con:
            figures.portfolio(con, actor, TODAY)
    return _timed(read, repeat)


def _line(what: str, cold: float, warm: float, base: tuple[float, float] | None = None,
          goal: tuple[float, float] | None = None) -> None:
    ratio = f"{cold / base[0]:>7.1f}x {warm / base[1]:>7.1f}x" if base else " " * 17
    met = ""
    if goal:
        met = "  meets" if cold <= goal[0] and warm <= goal[1] else "  MISSES"
    print(f"{what:<44}{cold * 1000:>9.0f}{warm * 1000:>9.0f}  {ratio}{met}", flush=True)


def measure_portfolio(keep: Path, repeat: int, n: int) -> None:
    print(f"\nPortfolio ({n:,} pilots; baseline: 1 pilot)          cold ms  warm ms   × baseline (cold, warm)")
    goal = (GOALS["portfolio_cold_s"], GOALS["portfolio_warm_s"])
    for who, actor in (("admin", ADMIN), ("reviewer granted 50", REVIEWER)):
        base = _library_portfolio(keep / "baseline.duckdb", actor, repeat)
        _line(f"figures.portfolio, {who}", *_library_portfolio(keep / "portfolio.duckdb", actor, repeat), base)
        base = _page(keep / "baseline.duckdb", "pilots", actor, None, repeat)
        _line(f"Portfolio page (AppTest), {who}", *_page(keep / "portfolio.duckdb", "pilots", actor, None, repeat),
              base, goal)


def measure_big(keep: Path, repeat: int, events: int) -> None:
    from analysis.common import NO_FILTERS

    big, base_db = keep / "big.duckdb", keep / "baseline.duckdb"
    goal = (GOALS["page_cold_s"], GOALS["page_warm_s"])
    print(f"\nReview pages on the big pilot ({events:,} events)  cold ms  warm ms   × baseline (cold, warm)")
    for page in REVIEW_PAGES:
        base = _page(base_db, page, REVIEWER, "Pilot 1", repeat)
        _line(f"{page} page (AppTest)", *_page(big, page, REVIEWER, "Big pilot", repeat), base, goal)
    print(f"peak memory after the pages: {_rss_gb():.2f} GB", flush=True)
    print("\nEvidence the pages read, on the big pilot   computed: cold ms  warm ms   kept: read ms")
    worst = [0.0, 0.0]
    with store.open_store(big) as con:
        pilot = catalog.get_pilot(con, "Big pilot")
        for fn in evidence.KEPT:  # each unfiltered result a review page reads
            cold, warm = _timed(lambda fn=fn: fn(con, pilot, NO_FILTERS), repeat)
            if evidence.read(con, pilot, fn) is None:  # stale: the pilot's records moved (a page opened its review)
                evidence.get(con, pilot, fn)
            t = time.perf_counter()
            evidence.read(con, pilot, fn)
            read = time.perf_counter() - t
            worst = [max(worst[0], cold), max(worst[1], read)]
            print(f"{evidence.name_of(fn).removeprefix('analysis.'):<44}{cold * 1000:>9.0f}{warm * 1000:>9.0f}"
                  f"{read * 1000:>17.1f}", flush=True)
        # computed when the pilot's data or records change and kept with its figures, not per view
        _line("signals.compute_signals (on change)", *_timed(lambda: signals.compute_signals(con, OP, pilot), repeat))
    print(f"slowest evidence computed: {worst[0]:.2f} s cold; slowest kept read: {worst[1] * 1000:.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pilots", type=int, default=1000, help="pilots in the portfolio store")
    ap.add_argument("--small-events", type=int, default=3000, help="usage events of each small pilot")
    ap.add_argument("--events", type=int, default=20_000_000, help="usage events of the big pilot")
    ap.add_argument("--repeat", type=int, default=5, help="warm runs (median reported)")
    ap.add_argument("--keep", metavar="DIR", help="keep the stores in this folder (reused when present)")
    ap.add_argument("--only", choices=("portfolio", "big"), help="measure only one part")
    ap.add_argument("--prepare", choices=("portfolio", "baseline", "big"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.prepare:
        _prepare(args)
        return 0
    os.environ.setdefault("READINESS_BCRYPT_ROUNDS", "4")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        keep = Path(args.keep) if args.keep else Path(tmp)
        keep.mkdir(parents=True, exist_ok=True)
        parts = {"portfolio": ("baseline", "portfolio"), "big": ("baseline", "big"), None: ("baseline", "portfolio", "big")}
        for part in parts[args.only]:
            if not (keep / f"{part}.duckdb").exists():  # built in a child process: memory below is the reading
                subprocess.run([sys.executable, __file__, "--prepare", part, "--keep", str(keep), "--pilots",
                                str(args.pilots), "--small-events", str(args.small_events), "--events",
                                str(args.events)], check=True)
        if args.only != "big":
            measure_portfolio(keep, args.repeat, args.pilots)
        if args.only != "portfolio":
            measure_big(keep, args.repeat, args.events)
        rss_gb = _rss_gb()
        print(f"\npeak memory of this process (the reading): {rss_gb:.2f} GB "
              f"({'meets' if rss_gb <= GOALS['rss_gb'] else 'MISSES'} the {GOALS['rss_gb']:.0f} GB goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
