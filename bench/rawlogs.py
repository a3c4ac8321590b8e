"""Benchmark: a web access log against the same requests as a CSV, loaded in the same run.

Generates N requests (default 1,000,000) with DuckDB, written twice: as a Combined Log Format
access log and as a CSV of the columns the log loads as (time, user, event, outcome). Times
readiness.ingest.load.ingest_file on each into a fresh store, --repeat times, and prints the medians
and the ratio log / CSV (goal: within 2x), of the time taken and of the CPU time the
process used (all DuckDB threads): on a machine shared with other work the CPU time is the
steadier measure.

Example: python bench/rawlogs.py --lines 1000000
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

TARGET = 2.0
ACTOR = Actor("bench", "admin", cli=True)


def generate(folder: Path, lines: int) -> tuple[Path, Path]:
    """The same requests as an access log and as a CSV."""
    log, csv = folder / "access.log", folder / "access.csv"
    con = duckdb.connect()
    con.execute(f"""CREATE TABLE r AS SELECT
        TIMESTAMPTZ '2026-05-17 00:00:00+00' + to_seconds(i * 0.2) AS t,
        '10.0.' || (i % 200 // 50) || '.' || (i % 50) AS client,
        CASE WHEN i % 3 = 0 THEN 'user' || (i % 600) ELSE '-' END AS auth,
        ['GET', 'GET', 'POST'][i % 3 + 1] AS method,
        ['/invoices', '/invoice/' || (i % 9000), '/api/v1/suppliers/' || (i % 700), '/reports/weekly'][i % 4 + 1] AS path,
        [200, 200, 302, 404, 500][i % 5 + 1] AS status, 100 + i % 90000 AS bytes
        FROM range({int(lines)}) t(i)""")
    con.execute(f"""COPY (SELECT client || ' - ' || auth || ' [' || strftime(t, '%d/%b/%Y:%H:%M:%S +0000') || '] "'
                         || method || ' ' || path || ' HTTP/1.1" ' || status || ' ' || bytes
                         || ' "-" "Mozilla/5.0 (X11; Linux x86_64)"' FROM r)
                   TO '{log}' (HEADER false, QUOTE '', DELIMITER '\\x1f')""")
    con.execute(f"""COPY (SELECT strftime(t, '%Y-%m-%dT%H:%M:%SZ') AS time,
                         CASE WHEN auth = '-' THEN client ELSE auth END AS user,
                         method || ' ' || regexp_replace(path, '/[0-9]+$', '/{{id}}') AS event,
                         CASE WHEN status >= 500 THEN 'failure' WHEN status >= 400 THEN 'client error'
                              ELSE 'success' END AS outcome FROM r) TO '{csv}' (HEADER true)""")
    con.close()
    return log, csv


def load(folder: Path, path: Path) -> tuple[float, float]:
    """(seconds taken, CPU seconds used) to ingest ``path`` into a fresh store."""
    db = folder / f"{path.stem}-{time.monotonic_ns()}.duckdb"
    with store.open_store(db) as con:
        with store.transaction(con):
            pilot = pilots.create_pilot(con, "bench", ACTOR)
        started, cpu = time.perf_counter(), time.process_time()
        result = ingest.ingest_file(con, pilot, "usage", path, actor=ACTOR)
        took, used = time.perf_counter() - started, time.process_time() - cpu
    assert result.error is None and result.rows_loaded > 0, result
    db.unlink()
    return took, used


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log, csv = generate(folder, args.lines)
        times = {"csv": [], "log": []}
        for _ in range(args.repeat):  # alternate, so that both see the same machine
            times["csv"].append(load(folder, csv))
            times["log"].append(load(folder, log))
    for k, what in enumerate(("time taken", "CPU time")):
        csv_s, log_s = (statistics.median(t[k] for t in times[f]) for f in ("csv", "log"))
        print(f"{args.lines:,} requests, {what}: CSV {csv_s:.2f} s, access log {log_s:.2f} s "
              f"(medians of {args.repeat}); ratio log / CSV {log_s / csv_s:.2f} (goal: at most {TARGET})")


if __name__ == "__main__":
    main()
