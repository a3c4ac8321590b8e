"""Benchmark: the organisation deployment's spike against the embedded store, same run.

Starts a throwaway PostgreSQL (tests/postgres_server.py), attaches it to DuckDB as the records and
a DuckLake lake (catalog in the same PostgreSQL, data files in a temp folder) as the telemetry, and
times against the same data in an embedded DuckDB file attached to an in-memory instance (as the
store does):
- opening: a new DuckDB instance with the store attached (and, for PostgreSQL, the extensions);
- a page-style query on the records (per pilot: open risks, latest decision, conditions met) and a
  point lookup (a login session), p50 of --repeat;
- writing N usage events in batches, and usage totals per day over them (p50), in the lake also
  restricted to committed batches (the visibility rule of docs/organisation-deployment.md);
- two writer processes appending batches to one lake table at once, against one doing both.
Needs DuckDB 1.5.5 with requirements-postgres.txt and PostgreSQL's server binaries.

Example: python bench/organisation_spike.py --events 2000000
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from readiness import store  # noqa: E402
from readiness.store import migrations  # noqa: E402
from readiness.store.extensions import load_extensions  # noqa: E402
from tests.postgres_server import throwaway_postgres  # noqa: E402
from tests.test_postgres_spike import ROLLUP, records_sql  # noqa: E402

PAGE = """
SELECT p.pilot_id, p.name,
       (SELECT count(*) FROM {s}risks r WHERE r.pilot_id = p.pilot_id AND r.status = 'open') AS open_risks,
       (SELECT d.outcome FROM {s}decisions d WHERE d.pilot_id = p.pilot_id ORDER BY d.decided_at DESC LIMIT 1) AS outcome,
       (SELECT count(*) FILTER (WHERE c.status = 'met') FROM {s}conditions c WHERE c.pilot_id = p.pilot_id) AS met
FROM {s}pilots p ORDER BY p.name LIMIT 50"""
LOOKUP = "SELECT username, ended_at FROM {s}auth_sessions WHERE session_id = ?"
TOTALS = """
SELECT CAST(ts AS DATE) AS day, count(*) AS events, count(DISTINCT user_id) AS users,
       count(*) FILTER (WHERE outcome = 'success') AS successes
FROM {s}usage_events WHERE pilot_id = 1{visible} GROUP BY ALL ORDER BY day"""
VISIBLE = (" AND batch_id IN (SELECT batch_id FROM rec.ingest_batches WHERE pilot_id = 1 "
           "AND state = 'committed')")
EVENTS = """
INSERT INTO {s}usage_events (pilot_id, batch_id, src_row, ts, user_id, event, session_id, outcome, team)
SELECT 1, {batch}, range, TIMESTAMPTZ '2026-06-01' + (range * 7 % 2592000) * INTERVAL 1 SECOND,
       'user' || (range * 31 % 5000), 'open', 's' || (range // 20), CASE WHEN range % 5 = 0 THEN 'fail' ELSE 'success' END,
       'team' || (range % 12)
FROM range({rows})"""


def p50(con, sql: str, params: list | None = None, repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        con.execute(sql, params or []).fetchall()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def open_pg(dsn: str, lake: Path | None):
    con = store.scratch()
    load_extensions(con, "postgres", "ducklake")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"ATTACH '{dsn}' AS rec (TYPE postgres)")
    if lake is not None:
        con.execute(f"ATTACH 'ducklake:postgres:{dsn}' AS lake (DATA_PATH '{lake}', METADATA_SCHEMA 'lake')")
    return con


def open_embedded(path: Path):
    con = store.scratch()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"ATTACH '{path}' AS emb")
    return con


def seed_records(con, s: str, pilots: int) -> None:
    """pilots, 20 risks, 5 decisions and 20 conditions each; 20 login sessions each."""
    con.execute(f"INSERT INTO {s}pilots (pilot_id, name, created_by) SELECT range + 1, 'pilot ' || lpad(range::VARCHAR, 4, '0'), 'bench' FROM range({pilots})")
    con.execute(f"""INSERT INTO {s}risks (risk_id, pilot_id, risk_class, title, status, created_by, created_at, updated_by, updated_at)
                    SELECT range + 1, range % {pilots} + 1, 'data', 'risk ' || range,
                           CASE WHEN range % 3 = 0 THEN 'open' ELSE 'mitigated' END, 'b', now(), 'b', now()
                    FROM range({pilots * 20})""")
    con.execute(f"""INSERT INTO {s}decisions (decision_id, review_id, pilot_id, outcome, rationale, owner, snapshot, decided_by, decided_at)
                    SELECT range + 1, 1, range % {pilots} + 1, 'operate', 'r', 'o', '{{}}', 'b', now() - range * INTERVAL 1 MINUTE
                    FROM range({pilots * 5})""")
    con.execute(f"""INSERT INTO {s}conditions (condition_id, review_id, pilot_id, area, title, required, status, updated_by, updated_at)
                    SELECT range + 1, range, range % {pilots} + 1, 'area ' || range, 't', true,
                           CASE WHEN range % 2 = 0 THEN 'met' ELSE 'not met' END, 'b', now()
                    FROM range({pilots * 20})""")
    con.execute(f"""INSERT INTO {s}auth_sessions SELECT 'sid' || range, 'user' || range, NULL, now(), now(), NULL, NULL
                    FROM range({pilots * 20})""")


def batch_record(con, batch: int, rows: int, state: str) -> None:
    con.execute("INSERT INTO rec.ingest_batches (batch_id, pilot_id, kind, file_name, file_size, sha256, format, actor, "
                "started_at, finished_at, rows_read, rows_loaded, rows_rejected, rows_duplicate, state) "
                "VALUES (?, 1, 'usage', 'bench.csv', 0, ?, 'csv', 'bench', now(), now(), ?, ?, 0, 0, ?)",
                [batch, f"sha-{batch}", rows, rows, state])


def writer(dsn: str, lake: str, first_batch: int, batches: int, rows: int) -> None:
    """One writer process: land ``batches`` batches of ``rows`` events (record, rows, commit)."""
    con = open_pg(dsn, Path(lake))
    for b in range(first_batch, first_batch + batches):
        batch_record(con, b, rows, "pending")
        con.execute(EVENTS.format(s="lake.", batch=b, rows=rows))
        con.execute("UPDATE rec.ingest_batches SET state = 'committed' WHERE batch_id = ?", [b])
    con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--pilots", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--writer", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.writer:
        dsn, lake, first, batches, rows = args.writer
        writer(dsn, lake, int(first), int(batches), int(rows))
        return
    work = Path(tempfile.mkdtemp(prefix="org-spike-"))
    rows = args.events // args.batches
    print(f"DuckDB {store.ENGINE_VERSION}; {args.pilots} pilots; {args.events:,} events in {args.batches} batches; "
          f"p50 of {args.repeat}")
    with throwaway_postgres() as dsn:
        lake = work / "lake"
        con = open_pg(dsn, lake)
        for version, _name, step in migrations.MIGRATIONS:
            if version != ROLLUP:
                con.execute("CALL postgres_execute('rec', ?)", [records_sql(step)])
        con.execute("ALTER TABLE rec.ingest_batches ADD COLUMN state VARCHAR DEFAULT 'pending'")
        con.execute("CREATE TABLE lake.usage_events AS SELECT * FROM rec.usage_events LIMIT 0")
        seed_records(con, "rec.", args.pilots)
        emb_file = work / "embedded.duckdb"
        emb = open_embedded(emb_file)
        emb.execute("USE emb")
        for version, _name, step in migrations.MIGRATIONS:
            (step(emb) if callable(step) else emb.execute(step))
        emb.execute("USE memory")
        seed_records(emb, "emb.", args.pilots)
        emb.close()
        con.close()

        t = time.perf_counter()
        for _ in range(5):
            open_embedded(emb_file).close()
        open_emb = (time.perf_counter() - t) / 5 * 1000
        t = time.perf_counter()
        for _ in range(5):
            open_pg(dsn, None).close()
        open_rec = (time.perf_counter() - t) / 5 * 1000
        t = time.perf_counter()
        for _ in range(5):
            open_pg(dsn, lake).close()
        open_org = (time.perf_counter() - t) / 5 * 1000
        print(f"open (instance + attach):      embedded {open_emb:7.1f} ms   postgres+lake {open_org:7.1f} ms   "
              f"x{open_org / open_emb:.1f} (postgres alone {open_rec:.1f} ms)")
        base = open_pg(dsn, lake)
        t = time.perf_counter()
        for _ in range(args.repeat):
            base.cursor().close()
        cursor = (time.perf_counter() - t) / args.repeat * 1000
        base.close()
        print(f"{'  a cursor on an open instance:':30} {'':17}   postgres+lake {cursor:7.2f} ms")

        con, emb = open_pg(dsn, lake), open_embedded(emb_file)
        for label, sql, params in [("page query (records)", PAGE, None), ("session lookup", LOOKUP, ["sid77"])]:
            e = p50(emb, sql.format(s="emb."), params, args.repeat)
            o = p50(con, sql.format(s="rec."), params, args.repeat)
            print(f"{label + ':':30} embedded {e:7.1f} ms   postgres      {o:7.1f} ms   x{o / e:.1f}")
        native = p50(con, "SELECT * FROM postgres_query('rec', ?)", [PAGE.format(s="")], args.repeat)
        print(f"{'page query in PostgreSQL:':30} {'':17}   postgres_query{native:7.1f} ms")

        t = time.perf_counter()
        for b in range(1, args.batches + 1):
            emb.execute(EVENTS.format(s="emb.", batch=b, rows=rows))
        load_emb = time.perf_counter() - t
        t = time.perf_counter()
        for b in range(1, args.batches + 1):
            batch_record(con, b, rows, "pending")
            con.execute(EVENTS.format(s="lake.", batch=b, rows=rows))
            con.execute("UPDATE rec.ingest_batches SET state = 'committed' WHERE batch_id = ?", [b])
        load_lake = time.perf_counter() - t
        print(f"{'write events:':30} embedded {load_emb:7.2f} s    lake          {load_lake:7.2f} s    "
              f"x{load_lake / load_emb:.1f}")
        e = p50(emb, TOTALS.format(s="emb.", visible=""), None, args.repeat)
        o = p50(con, TOTALS.format(s="lake.", visible=""), None, args.repeat)
        v = p50(con, TOTALS.format(s="lake.", visible=VISIBLE), None, args.repeat)
        print(f"{'usage totals per day:':30} embedded {e:7.1f} ms   lake          {o:7.1f} ms   x{o / e:.1f}")
        print(f"{'  committed batches only:':30} {'':17}   lake          {v:7.1f} ms   x{v / e:.1f}")
        files = len(list(lake.rglob("*.parquet")))
        print(f"lake: {files} data files, {sum(f.stat().st_size for f in lake.rglob('*.parquet')) / 1e6:.0f} MB")
        con.close()
        emb.close()

        per = max(1, args.batches // 2)
        cmd = [sys.executable, __file__, "--writer", dsn, str(lake)]
        t = time.perf_counter()
        for first in (1000, 2000):
            subprocess.run([*cmd, str(first), str(per), str(rows)], check=True)
        one = time.perf_counter() - t
        t = time.perf_counter()
        procs = [subprocess.Popen([*cmd, str(first), str(per), str(rows)], stderr=subprocess.PIPE, text=True)
                 for first in (3000, 4000)]
        errors = [p.communicate()[1].strip().splitlines()[-1:] for p in procs if p.wait() != 0]
        two = time.perf_counter() - t
        check = open_pg(dsn, lake)
        landed = check.execute("SELECT count(DISTINCT batch_id), count(*) FROM lake.usage_events "
                               "WHERE batch_id >= 3000").fetchone()
        check.close()
        print(f"two writers, {per} batches of {rows:,} each: one after the other {one:.2f} s, at once {two:.2f} s "
              f"(x{two / one:.2f}); landed {landed[0]} batches, {landed[1]:,} rows; errors: {errors or 'none'}")


if __name__ == "__main__":
    main()
