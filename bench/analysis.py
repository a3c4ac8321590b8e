"""Benchmark: latency of every evidence function on a large generated pilot.

Generates a pilot of N usage events (default 10M), N/10 exceptions and N/100 feedback entries,
loads them through the normal ingest path into a fresh store, then times each evidence function
(con, pilot, filters): cold (first call on a fresh connection) and warm (p50 of --repeat calls),
and reports the peak RSS of this process. Goals: warm p50 <= 300 ms, cold <= 2 s, RSS <= 1.5 GB.

Example: python bench/analysis.py --events 1000000
"""

from __future__ import annotations

import argparse
import inspect
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import failure_modes, feedback, usage  # noqa: E402
from analysis.common import NO_FILTERS  # noqa: E402
from readiness import catalog, store  # noqa: E402
from readiness.ingest import load as ingest
from readiness.security.access import Actor

GOAL_WARM_MS, GOAL_COLD_S, GOAL_RSS_GB = 300, 2.0, 1.5


def generate(work: Path, events: int) -> dict[str, Path]:
    """Write usage (CSV), exceptions (Parquet) and feedback (JSON Lines) with DuckDB."""
    con = duckdb.connect()
    n_exc, n_fb = events // 10, events // 100
    usage_path, exc_path, fb_path = work / "usage.csv", work / "exceptions.parquet", work / "feedback.jsonl"
    con.execute(f"""COPY (SELECT TIMESTAMPTZ '2026-01-05 08:00:00+00' + to_seconds((i * 37) % (140 * 86400)) AS time,
        'user' || (((i // 30) * 7919) % 5000) AS user_id, 's-' || (i // 30) AS session_id,  -- 30-event sessions, one user each
        ['open', 'run', 'search', 'export'][1 + i % 4] AS event,
        ['triage', 'extract', 'suggest', 'dedupe', 'export', 'bulk'][1 + (i * 13) % 6] AS feature,
        (i * 31) % 5000 AS duration_ms, CASE WHEN i % 11 = 0 THEN 'failure' ELSE 'success' END AS outcome,
        'team-' || (i % 12) AS team
        FROM range({events}) t(i)) TO '{usage_path}' (HEADER)""")
    con.execute(f"""COPY (SELECT TIMESTAMPTZ '2026-01-05 08:00:00+00' + to_seconds((i * 379) % (140 * 86400)) AS ts,
        'user' || ((i * 7919) % 5000) AS user_id, 's-' || ((i * 7) % ({events} // 30)) AS session_id,
        ['TimeoutError', 'ValueError', 'KeyError', 'ConnectionError'][1 + i % 4] AS error_type,
        CASE i % 6 WHEN 0 THEN 'Timeout after ' || (i % 900) || ' ms calling https://erp.example/api/' || i
                   WHEN 1 THEN 'Could not parse amount ''' || (i % 97) || ',00'' in invoice INV-' || i
                   WHEN 2 THEN 'KeyError: ''vat'' in record ' || md5(i::VARCHAR)
                   WHEN 3 THEN 'Token expired for user user' || (i % 5000) || '@corp.example'
                   WHEN 4 THEN 'Connection reset by peer: 10.0.' || (i % 255) || '.' || (i % 7) || ':443'
                   ELSE 'Permission denied: /mnt/share/' || i || '.pdf' END AS message
        FROM range({n_exc}) t(i)) TO '{exc_path}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT TIMESTAMPTZ '2026-01-05 08:00:00+00' + to_seconds((i * 3797) % (140 * 86400)) AS created_at,
        'user' || ((i * 7919) % 5000) AS user_email, 1 + (i * 7) % 5 AS stars,
        CASE WHEN i % 3 = 0 THEN NULL ELSE (i * 3) % 11 END AS nps,
        ['Saves me an hour a day on triage', 'Extraction is too slow on big PDFs', 'Kept getting session expired errors',
         'Please add a keyboard shortcut', 'Cannot log in since the update', 'The ERP export failed twice',
         'Great tool, suggestions are spot on', 'Would love support for credit notes'][1 + i % 8]
         || ' (' || (i % 50) || ')' AS comment
        FROM range({n_fb}) t(i)) TO '{fb_path}' (FORMAT json)""")
    con.close()
    return {"usage": usage_path, "exceptions": exc_path, "feedback": fb_path}


def prepare(db: Path, events: int) -> int:
    """Generate the files and load them through the normal ingest path into ``db``."""
    with tempfile.TemporaryDirectory(prefix="readiness-bench-files-") as tmp:
        t0 = time.perf_counter()
        files = generate(Path(tmp), events)
        print(f"generated in {time.perf_counter() - t0:.1f} s")
        for kind in ("usage", "exceptions", "feedback"):
            t0 = time.perf_counter()
            (r,) = ingest.ingest_files(db, "bench", kind, [files[kind]], actor=Actor("bench", "admin", cli=True), create=True)
            print(f"ingest {kind}: {r.rows_loaded:,} rows in {time.perf_counter() - t0:.1f} s"
                  + (f" ({r.error})" if r.error else ""))
    return 0


def evidence_functions() -> list[tuple[str, object]]:
    """Every public (con, pilot, filters) function of the analysis modules."""
    out = []
    for module in (usage, feedback, failure_modes):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            params = list(inspect.signature(fn).parameters)
            if params[:3] == ["con", "pilot", "filters"]:
                out.append((f"{module.__name__.split('.')[-1]}.{name}", fn))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", metavar="DB", help="keep the generated store at this path (reused if present)")
    parser.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare_only:
        return prepare(Path(args.keep), args.events)
    with tempfile.TemporaryDirectory(prefix="readiness-bench-analysis-") as tmp:
        work = Path(tmp)
        db = Path(args.keep) if args.keep else work / "bench.duckdb"
        if not db.exists():  # prepare in a child process, so that RSS below is the analysis alone
            subprocess.run([sys.executable, __file__, "--prepare-only", "--keep", str(db),
                            "--events", str(args.events)], check=True)
        if args.prepare_only:
            return 0
        rows = []
        for name, fn in evidence_functions():
            with store.open_store(db) as con:
                pilot = catalog.get_pilot(con, "bench")
                t0 = time.perf_counter()
                fn(con, pilot, NO_FILTERS)
                cold = time.perf_counter() - t0
                warm = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    fn(con, pilot, NO_FILTERS)
                    warm.append(time.perf_counter() - t0)
            p50 = statistics.median(warm) * 1000
            rows.append((name, cold, p50))
            flag = "" if p50 <= GOAL_WARM_MS and cold <= GOAL_COLD_S else "  OVER GOAL"
            print(f"{name:40s} cold {cold * 1000:8.0f} ms   warm p50 {p50:8.0f} ms{flag}")
        rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
        worst_warm = max(r[2] for r in rows) if rows else 0
        worst_cold = max(r[1] for r in rows) if rows else 0
        print(f"worst warm p50 {worst_warm:.0f} ms (goal <= {GOAL_WARM_MS}), worst cold {worst_cold:.2f} s "
              f"(goal <= {GOAL_COLD_S}), peak RSS {rss_gb:.2f} GB (goal <= {GOAL_RSS_GB})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
