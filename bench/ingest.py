"""Benchmark: our validated ingest against bare DuckDB reading the same CSV, in the same run.

Generates N usage events as CSV (default 5,000,000), then times
  (a) CREATE TABLE t AS SELECT * FROM read_csv(...)   -- the baseline, a fresh DuckDB file
  (b) readiness.ingest.load.ingest_file(...)              -- our validated, atomic ingest, a fresh store
and, as a floor, (a) plus the least that keeping each row's number in the file costs in DuckDB
(read into a temp table and numbered by its row ids in the copy, as (b) does). Prints the three, the ratio (b)/(a),
and how (b) splits between loading the rows (read, check,
write the events and rejects) and the usage rollup built in the same transaction. Each is run
--repeat times; the medians are compared.

The events are sessions of 40 events, each session one user (of 600) and that user's team, with
features and outcomes varying within it. --worst-case gives every event another user instead
(40 users per session), which makes the rollup's finest grain as large as the events.

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

from readiness import pilots, store
from readiness.ingest import load as ingest
from readiness.security.access import Actor

TARGET = 1.3


def generate(path: Path, rows: int, worst_case: bool = False) -> None:
    """Write ``rows`` usage events as CSV (zone-less local times, 8 columns) with DuckDB."""
    user = "i * 7919 % 60" if worst_case else "(i // 40) * 7919 % 600"
    time = ("(i * 37) % (70 * 86400)" if worst_case
            else "((i // 40) * 7919 % (70 * 86400 - 3600)) + (i % 40) * 45")  # a session spans 30 min
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"""
        COPY (SELECT strftime(TIMESTAMP '2026-07-06 08:00:00' + to_seconds({time}), '%Y-%m-%d %H:%M:%S') AS time,
                     'user' || ({user}) || '@example.com' AS user,
                     's-' || (i // 40) AS session_id,
                     ['open_invoice', 'run_triage', 'search', 'export'][1 + i % 4] AS event,
                     ['auto-triage', 'field-extraction', 'erp-export', 'bulk-approve'][1 + (i * 13) % 4] AS feature,
                     (i * 31) % 5000 AS duration_ms,
                     CASE WHEN i % 9 = 0 THEN 'failure' ELSE 'success' END AS outcome,
                     'team-' || (({user}) % 6) AS team
              FROM range({int(rows)}) t(i)) TO '{path}' (HEADER, DELIMITER ',')""")
    con.close()


def time_create(work: Path, name: str, reader: str) -> float:
    """Seconds bare DuckDB takes to ``CREATE TABLE t AS SELECT * FROM <reader>`` in a new store
    file ``work/<name>.duckdb`` (removed after)."""
    db = work / f"{name}.duckdb"
    con = duckdb.connect(str(db))
    con.execute("SET enable_progress_bar = false")
    start = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}")
    elapsed = time.perf_counter() - start
    con.close()
    db.unlink()
    return elapsed


def time_baseline(csv: Path, work: Path, run: int) -> float:
    return time_create(work, f"baseline-{run}", f"read_csv('{csv}')")


def time_numbered(csv: Path, work: Path, run: int) -> float:
    """The baseline plus what provenance needs at the least: each row's number in the file.

    DuckDB's CSV reader has no row-number column, and numbering inside the query (row_number()
    OVER (), WITH ORDINALITY, a POSITIONAL JOIN with range()) takes the scan to one thread. The
    cheapest way found, and the one our ingest uses: read into a temp table, whose row ids count
    the rows in the file's order, and number them in the copy to the store. (Inserting into the
    store and numbering with an UPDATE cost more: DuckDB writes the updated column again at commit.)
    """
    db = work / f"numbered-{run}.duckdb"
    con = duckdb.connect(str(db))
    con.execute("SET enable_progress_bar = false")
    start = time.perf_counter()
    con.execute("BEGIN")
    con.execute(f"CREATE TEMP TABLE r AS SELECT * FROM read_csv('{csv}')")
    con.execute("CREATE TABLE t AS SELECT rowid - (SELECT min(rowid) FROM r) + 1 AS src_row, * FROM r")
    con.execute("DROP TABLE r")
    con.execute("COMMIT")
    elapsed = time.perf_counter() - start
    con.close()
    db.unlink()
    return elapsed


def time_ours(csv: Path, work: Path, run: int) -> tuple[float, float, ingest.IngestResult]:
    """(whole ingest, of which the usage rollup, result)."""
    db = work / f"ours-{run}.duckdb"
    actor = Actor("bench", "admin", cli=True)
    rollup = []
    derive = ingest.derive_evidence

    def timed_derive(*args, **kwargs):  # the rollup runs inside the batch's transaction
        t0 = time.perf_counter()
        derive(*args, **kwargs)
        rollup.append(time.perf_counter() - t0)

    with store.open_store(db) as con:
        with store.transaction(con):
            pilot = pilots.create_pilot(con, "bench", actor, time_zone="Europe/London")
        ingest.derive_evidence = timed_derive
        try:
            start = time.perf_counter()
            result = ingest.ingest_file(con, pilot, "usage", csv, actor=actor)
            elapsed = time.perf_counter() - start
        finally:
            ingest.derive_evidence = derive
    db.unlink()
    return elapsed, sum(rollup), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worst-case", action="store_true", help="every event of a session from another user")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="readiness-bench-") as tmp:
        work = Path(tmp)
        csv = work / "usage.csv"
        t0 = time.perf_counter()
        generate(csv, args.rows, args.worst_case)
        print(f"generated {args.rows:,} rows ({csv.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        base, numbered, ours, rollups = [], [], [], []
        for run in range(args.repeat):  # interleaved, so drift in machine load hits each alike
            base.append(time_baseline(csv, work, run))
            numbered.append(time_numbered(csv, work, run))
            elapsed, rollup, result = time_ours(csv, work, run)
            ours.append(elapsed)
            rollups.append(rollup)
            assert result.rows_loaded == args.rows, result.summary()
            print(f"run {run + 1}: baseline {base[-1]:.2f} s, baseline + row numbers {numbered[-1]:.2f} s, "
                  f"ours {ours[-1]:.2f} s (of which rollup {rollup:.2f} s)")
        b, o, r = statistics.median(base), statistics.median(ours), statistics.median(rollups)
        n = statistics.median(numbered)
        loads = statistics.median(x - y for x, y in zip(ours, rollups))
        print(f"baseline  CREATE TABLE AS read_csv : {b:.2f} s ({args.rows / b / 1e6:.2f} M rows/s)")
        print(f"floor     baseline + row numbers   : {n:.2f} s ({n / b:.2f}x the baseline: numbering alone)")
        print(f"ours      validated ingest         : {o:.2f} s ({args.rows / o / 1e6:.2f} M rows/s)")
        print(f"          of which loading rows    : {loads:.2f} s ({loads / b:.2f}x the baseline)")
        print(f"          of which usage rollup    : {r:.2f} s")
        print(f"ratio {o / b:.2f}x (target <= {TARGET}x): {'OK' if o / b <= TARGET else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
