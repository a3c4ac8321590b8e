"""Benchmark: exception logs as their programs write them, against bare DuckDB reads of the same files.

Generates N lines (default 300,000) with DuckDB, twice:
- an ECS JSON Lines log (Elastic's Python and Java loggers): a quarter information lines, the
  others errors with a nested ``error`` object (type, message, a chained Python stack trace);
- a Java application log (Logback's default layout): a quarter of its records information lines,
  the others an error line followed by a stack trace of six lines whose ``Caused by:`` names the
  root cause.

Times readiness.ingest.load.ingest_file (kind exceptions, no options) on each into a fresh store,
--repeat times, alternating, and prints the medians in lines per second, against bare DuckDB on the
same file: ``CREATE TABLE AS read_json`` (DuckDB's own JSON reader, its schema inferred) for the JSON
log, ``CREATE TABLE AS read_csv`` of its lines for the application log (no record is joined or
parsed: a floor, not a like-for-like read).

Example: python bench/exception_logs.py --lines 300000
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
from pathlib import Path

import duckdb


def _bench(name: str):
    """bench/<name>.py as a module (the benches are scripts): rawlogs' ``load`` (an ingest into a
    fresh store, timed), ingest's ``time_create`` (bare DuckDB's read into a table, timed)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).parent / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


PYTHON_TRACE = ("Traceback (most recent call last):\\n  File \\\"app/sync.py\\\", line 16, in sync\\n"
                "KeyError: 'vat'\\n\\nThe above exception was the direct cause of the following exception:\\n\\n"
                "Traceback (most recent call last):\\n  File \\\"app/sync.py\\\", line 30, in step\\n"
                "SupplierMissing: supplier S1 has no VAT number")


def generate(folder: Path, lines: int) -> dict[str, Path]:
    paths = {"ecs": folder / "ecs.jsonl", "java": folder / "app.log"}
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT CASE WHEN i % 4 = 0 THEN
        '{{"@timestamp": "' || strftime(TIMESTAMP '2026-03-02 09:00:00' + to_seconds(i * 0.5), '%Y-%m-%dT%H:%M:%S.%gZ')
        || '", "log.level": "info", "message": "synced invoice ' || i || '", "ecs.version": "1.6.0", '
        || '"log": {{"logger": "invoices.sync"}}, "service": {{"name": "invoices"}}, "user": {{"id": "u-' || i % 600 || '"}}}}'
        ELSE
        '{{"@timestamp": "' || strftime(TIMESTAMP '2026-03-02 09:00:00' + to_seconds(i * 0.5), '%Y-%m-%dT%H:%M:%S.%gZ')
        || '", "log.level": "error", "message": "could not sync invoice ' || i || '", "ecs.version": "1.6.0", '
        || '"log": {{"logger": "invoices.sync"}}, "service": {{"name": "invoices"}}, "user": {{"id": "u-' || i % 600 || '"}}, '
        || '"error": {{"type": "SupplierMissing", "message": "supplier S' || i % 40 || ' has no VAT number", '
        || '"stack_trace": "{PYTHON_TRACE.replace("'", "''")}"}}}}'
        END FROM range({int(lines)}) t(i)) TO '{paths["ecs"]}' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\\x1f')""")
    # records of 1 line (information) or 7 lines (an error and its trace): 5.5 lines a record on average
    records = int(lines) * 2 // 11
    con.execute(f"""COPY (SELECT strftime(TIMESTAMP '2026-03-02 09:00:00' + to_seconds(i), '%Y-%m-%d %H:%M:%S.%g')
        || ' [http-nio-8080-exec-' || i % 20 || '] '
        || CASE WHEN i % 4 = 0 THEN 'INFO  c.a.invoices.Api - GET /invoices/' || i || ' 200'
           ELSE 'ERROR c.a.invoices.SyncJob - sync failed for invoice ' || i || chr(10)
                || CASE WHEN i % 3 = 0 THEN 'java.lang.IllegalStateException: invoice ' || i || ' has no lines'
                        ELSE 'org.springframework.dao.DataAccessResourceFailureException: could not fetch supplier' END
                || chr(10) || chr(9) || 'at c.a.invoices.SupplierRepo.find(SupplierRepo.java:41)'
                || chr(10) || chr(9) || 'at c.a.invoices.SyncJob.run(SyncJob.java:88)'
                || chr(10) || 'Caused by: java.net.SocketTimeoutException: Read timed out after ' || i % 9000 || ' ms'
                || chr(10) || chr(9) || 'at java.base/java.net.SocketInputStream.read(SocketInputStream.java:168)'
                || chr(10) || chr(9) || '... 12 more' END
        FROM range({records}) t(i)) TO '{paths["java"]}' (HEADER false, QUOTE '', ESCAPE '', DELIMITER '\\x1f')""")
    con.close()
    return paths


def bare_reader(name: str, path: Path) -> str:
    """Bare DuckDB's read of the log: its JSON reader, or the application log's lines."""
    return (f"read_json('{path}', format = 'newline_delimited')" if name == "ecs" else
            f"read_csv('{path}', columns = {{'line': 'VARCHAR'}}, header = false, delim = '\\x1f', quote = '', escape = '')")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = generate(folder, args.lines)
        times: dict[str, list[float]] = {k: [] for k in ("ecs", "java", "ecs_bare", "java_bare")}
        results, load, create = {}, _bench("rawlogs").load, _bench("ingest").time_create
        for _ in range(args.repeat):
            for name, path in paths.items():
                took, _cpu, results[name] = load(folder, path, "exceptions")
                times[name].append(took)
                times[f"{name}_bare"].append(create(folder, f"bare-{name}", bare_reader(name, path)))
        for name, path in paths.items():
            lines = sum(1 for _ in path.open("rb"))
            ours, floor = statistics.median(times[name]), statistics.median(times[f"{name}_bare"])
            r = results[name]
            print(f"{name}: {lines:,} lines, {r.rows_read:,} records ({r.rows_loaded:,} errors loaded, "
                  f"{r.rows_skipped:,} information left out)")
            print(f"  ingest {ours:.2f} s ({lines / ours / 1000:.0f}k lines/s; rounds "
                  f"{', '.join(f'{t:.2f}' for t in times[name])}); bare DuckDB {floor:.2f} s: {ours / floor:.2f}x")


if __name__ == "__main__":
    main()
