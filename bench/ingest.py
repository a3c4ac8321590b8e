"""Benchmark: our validated ingest against bare DuckDB reading the same CSV, in the same run.

Generates N usage events as CSV (default 5,000,000), then times
  (a) CREATE TABLE t AS SELECT * FROM read_csv(...)   -- the baseline, a fresh DuckDB file
  (b) readiness.ingest.ingest_file(...)              -- our validated, atomic ingest, a fresh store
and prints both and the ratio (b)/(a). Each is run --repeat times; the medians are compared.

Example: python bench/ingest.py --rows 1000000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from readiness import ingest, pilots, store
from readiness.access import Actor

TARGET = 1.3


def generate(path: Path, rows: int) -> None:
    """Write ``rows`` usage events as CSV (zone-less local times, 8 columns) with DuckDB."""
    con = duckdb.connect()
    con.execute(f"""
        COPY (SELECT strftime(TIMESTAMP '2026-07-06 08:00:00' + to_seconds((i * 37) % (70 * 86400)), '%Y-%m-%d %H:%M:%S') AS time,
                     'user' || (i * 7919 % 60) || '@example.com' AS user,
                     's-' || (i // 40) AS session_id,
                     ['open_invoice', 'run_triage', 'search', 'export'][1 + i % 4] AS event,
                     ['auto-triage', 'field-extraction', 'erp-export', 'bulk-approve'][1 + (i * 13) % 4] AS feature,
                     (i * 31) % 5000 AS duration_ms,
                     CASE WHEN i % 9 = 0 THEN 'failure' ELSE 'success' END AS outcome,
                     'team-' || (i % 6) AS team
              FROM range({int(rows)}) t(i)) TO '{path}' (HEADER, DELIMITER ',')""")
    con.close()


def time_baseline(csv: Path, work: Path, run: int) -> float:
    db = work / f"baseline-{run}.duckdb"
    con = duckdb.connect(str(db))
    start = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv}')")
    elapsed = time.perf_counter() - start
    con.close()
    db.unlink()
    return elapsed


def time_ours(csv: Path, work: Path, run: int) -> tuple[float, ingest.IngestResult]:
    db = work / f"ours-{run}.duckdb"
    with store.open_store(db) as con:
        with store.transaction(con):
            pilot = pilots.create_pilot(con, "bench", "bench", time_zone="Europe/London")
        start = time.perf_counter()
        result = ingest.ingest_file(con, pilot, "usage", csv, actor=Actor("bench", "admin", cli=True))
        elapsed = time.perf_counter() - start
    db.unlink()
    return elapsed, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="readiness-bench-") as tmp:
        work = Path(tmp)
        csv = work / "usage.csv"
        t0 = time.perf_counter()
        generate(csv, args.rows)
        print(f"generated {args.rows:,} rows ({csv.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        base, ours = [], []
        for run in range(args.repeat):  # interleaved, so drift in machine load hits both alike
            base.append(time_baseline(csv, work, run))
            elapsed, result = time_ours(csv, work, run)
            ours.append(elapsed)
            assert result.rows_loaded == args.rows, result.summary()
            print(f"run {run + 1}: baseline {base[-1]:.2f} s, ours {ours[-1]:.2f} s")
        b, o = statistics.median(base), statistics.median(ours)
        print(f"baseline  CREATE TABLE AS read_csv : {b:.2f} s ({args.rows / b / 1e6:.2f} M rows/s)")
        print(f"ours      validated ingest         : {o:.2f} s ({args.rows / o / 1e6:.2f} M rows/s)")
        print(f"ratio {o / b:.2f}x (target <= {TARGET}x): {'OK' if o / b <= TARGET else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
