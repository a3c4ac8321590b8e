"""Benchmark: a web access log against the same requests as a CSV, loaded in the same run.

Generates N requests (default 1,000,000) with DuckDB, written three times: as a Combined Log Format
access log; as a CSV of the same rows the log lands (time, user, event, outcome, and the request's
other fields the log keeps in each row's attributes: status, path, client, vhost, bytes, referer,
agent); and as a narrow CSV of the four canonical columns only. Times
readiness.ingest.load.ingest_file on each into a fresh store, --repeat times, and prints the medians
and the ratios log / CSV (goal: within 2x of the same rows), of the time taken and of the CPU time
the process used (all DuckDB threads): on a machine shared with other work the CPU time is the
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


def generate(folder: Path, lines: int) -> dict[str, Path]:
    """The same requests as an access log, as a CSV of the rows it lands and as a narrow CSV."""
    paths = {"log": folder / "access.log", "csv": folder / "access.csv", "narrow": folder / "narrow.csv"}
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
                   TO '{paths["log"]}' (HEADER false, QUOTE '', DELIMITER '\\x1f')""")
    rows = """SELECT strftime(t, '%Y-%m-%dT%H:%M:%SZ') AS time,
                     CASE WHEN auth = '-' THEN client ELSE auth END AS user,
                     method || ' ' || regexp_replace(path, '/[0-9]+$', '/{id}') AS event,
                     CASE WHEN status >= 500 THEN 'failure' WHEN status >= 400 THEN 'client error'
                          ELSE 'success' END AS outcome"""
    con.execute(f"""COPY ({rows}, status, path, client, NULL AS vhost, bytes, NULL AS referer,
                          'Mozilla/5.0 (X11; Linux x86_64)' AS agent FROM r) TO '{paths["csv"]}' (HEADER true)""")
    con.execute(f"COPY ({rows} FROM r) TO '{paths['narrow']}' (HEADER true)")
    con.close()
    return paths


def load(folder: Path, path: Path, kind: str = "usage") -> tuple[float, float, ingest.IngestResult]:
    """(seconds taken, CPU seconds used, result) to ingest ``path`` as ``kind`` into a fresh store."""
    db = folder / f"{path.stem}-{time.monotonic_ns()}.duckdb"
    with store.open_store(db) as con:
        with store.transaction(con):
            pilot = pilots.create_pilot(con, "bench", ACTOR)
        started, cpu = time.perf_counter(), time.process_time()
        result = ingest.ingest_file(con, pilot, kind, path, actor=ACTOR)
        took, used = time.perf_counter() - started, time.process_time() - cpu
    assert result.error is None and result.rows_loaded > 0, result
    db.unlink()
    return took, used, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = generate(folder, args.lines)
        times: dict[str, list] = {k: [] for k in paths}
        for _ in range(args.repeat):  # alternate, so that all see the same machine
            for k, path in paths.items():
                times[k].append(load(folder, path)[:2])
    for k, what in enumerate(("time taken", "CPU time")):
        s = {f: statistics.median(t[k] for t in times[f]) for f in paths}
        print(f"{args.lines:,} requests, {what} (medians of {args.repeat}): access log {s['log']:.2f} s, CSV of the "
              f"same rows {s['csv']:.2f} s, narrow CSV (four columns) {s['narrow']:.2f} s; ratio log / CSV "
              f"{s['log'] / s['csv']:.2f} (goal: at most {TARGET}), log / narrow CSV {s['log'] / s['narrow']:.2f}")


if __name__ == "__main__":
    main()
