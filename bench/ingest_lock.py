"""Benchmark: how long a command-line ingest keeps reviewers out of the store, today and in two designs.

Generates N usage events as CSV (default 10,000,000) and seeds a store with a small first batch.
Then, for each design, a reader process polls every 0.5 s the way a page does (``store.open_store``
with a 2 s timeout, then the pilot's usage totals) while one ingest of the file runs in another
process; a thread here watches the store file's lock (F_GETLK, every 20 ms: which process holds it).

  today     ``python -m readiness ingest``: read, check, number, insert and roll up in one
            connection to the store, which is locked throughout.
  stage     (a) the library's ingest_file into a scratch in-memory DuckDB with the store's schema
            (no lock on the real store); its rows, rejects, rollup and batch record written as
            Parquet beside the store; a short step opens the store and INSERTs them
            (SELECT * FROM read_parquet) with the audit record.
  stage+rollup  as stage, but the short step computes the usage rollup itself (derive_evidence)
            instead of copying the scratch's.
  views     (b) as stage, but the events stay in their Parquet file: ``usage_events`` is a view
            over a local table and the registered files, recreated in the short step, which
            inserts only the rejects, rollup and batch record.
  views+rollup  as views, and the usage rollup's four tables too are views over per-batch files:
            the short step inserts only the rejects and the batch record.

For each: how long the ingest process held the lock (all holds, and the longest), its total time,
and what the reader saw (answered / busy, worst wait); then, on the loaded store, the page's query
(usage totals, read from the rollup) and a scan of the raw events (what a views-over-Parquet table
slows). Ratios: ingest time against bare DuckDB ``CREATE TABLE AS read_csv`` of the same file, and
the reader's waits against its idle page time, both measured in the same run. --doc writes the
figures to docs/ingest-lock.md. --repeat R runs R rounds of every design in turn (the machine's
load drifts) and reports medians.

Example: python bench/ingest_lock.py --rows 10000000 --repeat 2 --doc docs/ingest-lock.md
"""

from __future__ import annotations

import argparse
import fcntl
import importlib.util
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from readiness import catalog, pilots, store  # noqa: E402
from readiness.ingest import load as ingest  # noqa: E402
from readiness.security import audit  # noqa: E402
from readiness.security.access import Actor  # noqa: E402
from readiness.store import chain  # noqa: E402

PILOT = "bench"
ZONE = "Europe/London"
ACTOR = Actor("bench", "admin", cli=True)
PAGE_BUDGET_S = 2.0  # a page answers within this, never "busy"
POLL_S = 0.5
DESIGNS = ("today", "stage", "stage+rollup", "views", "views+rollup")
# the tables a usage batch writes besides its events, copied from the scratch store in the short step
SIDE_TABLES = ("ingest_rejects", "usage_by_segment", "usage_by_session", "usage_by_feature", "usage_by_team")
# the tables whose batches stay in Parquet files beside the store, read through views
LAKE = {"views": ("usage_events",), "views+rollup": ("usage_events", *SIDE_TABLES[1:])}


def _bench_ingest():
    """bench/ingest.py: its usage CSV (sessions of 40 events, 600 users, 8 columns) and its baseline."""
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _generate(path: Path, rows: int) -> None:
    _bench_ingest().generate(path, rows)


# --- the reader: a page's unit of work every POLL_S seconds ---

def page_query(con, pilot_name: str = PILOT):
    """What the Usage page asks first: the pilot, then its usage totals (from the rollup)."""
    from analysis import usage

    return usage.totals(con, catalog.get_pilot(con, pilot_name))


def run_reader(db: Path, stop: Path) -> None:
    """Poll until ``stop`` exists; one JSON line per poll: start offset, seconds to answer, answered."""
    while not stop.exists():
        t0 = time.perf_counter()
        try:
            with store.open_store(db, timeout=PAGE_BUDGET_S) as con:
                page_query(con)
            ok = True
        except store.StoreBusy:
            ok = False
        took = time.perf_counter() - t0
        print(json.dumps({"at": time.time(), "took": took, "ok": ok}), flush=True)
        time.sleep(max(0.0, POLL_S - took))


# --- the lock watcher ---

def lock_holder(path: Path) -> int | None:
    """The PID holding the store file's lock (DuckDB's fcntl lock), without taking it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        probe = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        kind, _w, _s, _l, pid = struct.unpack("hhqqi4x", fcntl.fcntl(fd, fcntl.F_GETLK, probe))
        return None if kind == fcntl.F_UNLCK else pid
    finally:
        os.close(fd)  # this process holds no lock on the file: closing drops nothing


class LockWatch(threading.Thread):
    """Records (pid, start, end) of each hold of the store's lock, sampled every 20 ms."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.holds, self._done = path, [], threading.Event()

    def run(self) -> None:
        current, since = None, 0.0
        while not self._done.is_set():
            pid, now = lock_holder(self.path), time.time()
            if pid != current:
                if current is not None:
                    self.holds.append((current, since, now))
                current, since = pid, now
            time.sleep(0.02)
        if current is not None:
            self.holds.append((current, since, time.time()))

    def stop(self) -> None:
        self._done.set()
        self.join()

    def held_by(self, pid: int) -> tuple[float, float, int]:
        """(seconds held in all, longest hold, number of holds) by process ``pid``."""
        spans = [end - start for p, start, end in self.holds if p == pid]
        return sum(spans), max(spans, default=0.0), len(spans)


# --- the designs' ingest processes ---

def _scratch_batch(db: Path, csv: Path, work: Path) -> tuple[dict[str, Path], dict]:
    """Load ``csv`` with the library's ingest_file into an in-memory scratch store (the real store is
    opened only to read the pilot); write the batch's tables as Parquet under ``work``.
    Returns (table -> file, timings)."""
    t0 = time.perf_counter()
    with store.open_store(db) as con:  # a short read: the pilot as the store has it
        pilot_row = con.execute("SELECT * FROM pilots WHERE name = ?", [PILOT]).fetchone()
    con = store.scratch()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET temp_directory = ?", [str(work / "spill")])
    # the scratch has no file: its work folder and audit key (thrown away) live under ``work``
    named = store.file_of, chain.file_of
    store.file_of = chain.file_of = lambda _con: work / "scratch.duckdb"
    try:
        store.migrate(con)
        with store.transaction(con):
            con.execute(f"INSERT INTO pilots VALUES ({', '.join('?' * len(pilot_row))})", list(pilot_row))
        pilot = catalog.get_pilot(con, PILOT)
        t1 = time.perf_counter()
        result = ingest.ingest_file(con, pilot, "usage", csv, actor=ACTOR)
        if result.error or not result.batch_id:
            raise SystemExit(f"scratch ingest failed: {result.summary()}")
        t2 = time.perf_counter()
        files = {}
        for table in ("usage_events", "ingest_batches", *SIDE_TABLES):
            files[table] = work / f"{table}.parquet"
            con.execute(f"COPY (SELECT * FROM {table} WHERE batch_id = ?) TO '{files[table]}' (FORMAT parquet)",
                        [result.batch_id])
        t3 = time.perf_counter()
    finally:
        con.close()
        store.file_of, chain.file_of = named
    return files, {"scratch_ingest_s": t2 - t1, "parquet_write_s": t3 - t2, "before_step_s": time.perf_counter() - t0}


def _copy_in(con, table: str, file: Path, batch_id: int) -> None:
    con.execute(f"INSERT INTO {table} SELECT * REPLACE (? AS batch_id) FROM read_parquet('{file}')", [batch_id])


def _short_step(db: Path, files: dict[str, Path], design: str) -> dict[str, float]:
    """Open the store and land the batch in one transaction: the tables of LAKE[design] by
    registering their files, the others by INSERT ... SELECT from the Parquet files; the usage
    rollup copied from the scratch, or derived here ('stage+rollup'). Returns its timings."""
    lake = LAKE.get(design, ())
    marks = [time.perf_counter()]
    with store.open_store(db) as con:
        marks.append(time.perf_counter())
        batch = con.execute(f"SELECT * FROM read_parquet('{files['ingest_batches']}')").fetchone()
        pilot_id, sha = batch[1], batch[5]
        if con.execute("SELECT 1 FROM ingest_batches WHERE pilot_id = ? AND kind = 'usage' AND sha256 = ?",
                       [pilot_id, sha]).fetchone():
            raise SystemExit("duplicate batch")
        with store.transaction(con):
            bid = con.execute("SELECT nextval('batch_id_seq')").fetchone()[0]
            built = con.execute("SELECT time_zone FROM usage_rollup_state WHERE pilot_id = ?", [pilot_id]).fetchone()
            derive = design == "stage+rollup" or built != (ZONE,)  # else the scratch's aggregates hold
            for table in ("usage_events", *SIDE_TABLES):
                if table in lake:  # the file stays where it is; the view lists it from now on
                    con.execute("INSERT INTO lake_files VALUES (?, ?, ?)", [table, bid, str(files[table])])
                    _recreate_view(con, table)
                elif table == "usage_events" or table == "ingest_rejects" or not derive:
                    _copy_in(con, table, files[table], bid)
            if derive:
                ingest.derive_evidence(con, pilot_id, "usage", bid)
            _copy_in(con, "ingest_batches", files["ingest_batches"], bid)
            audit.record(con, ACTOR, "ingest", f"batch:{bid}", {"pilot": PILOT, "kind": "usage", "sha256": sha})
            marks.append(time.perf_counter())
        marks.append(time.perf_counter())
    marks.append(time.perf_counter())
    return {"batch_id": bid, "step_wait_s": marks[1] - marks[0], "step_work_s": marks[2] - marks[1],
            "step_commit_s": marks[3] - marks[2], "step_close_s": marks[4] - marks[3], "step_s": marks[4] - marks[1]}


def _recreate_view(con, table: str) -> None:
    """``table``: its local table and every registered Parquet file (the list is part of the view)."""
    paths = [r[0] for r in con.execute("SELECT path FROM lake_files WHERE tbl = ? ORDER BY batch_id",
                                       [table]).fetchall()]
    files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
    lake = f" UNION ALL SELECT * FROM read_parquet([{files}])" if paths else ""
    con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM {table}_local{lake}")


def run_ingest(design: str, db: Path, csv: Path) -> None:
    """One ingest of ``csv`` by ``design`` (not 'today'); prints its timings as JSON."""
    t0 = time.perf_counter()
    work = Path(f"{db}.stage") / uuid.uuid4().hex
    work.mkdir(parents=True)
    try:
        files, timings = _scratch_batch(db, csv, work)
        for table in LAKE.get(design, ()):  # these files stay beside the store, behind views
            kept = Path(f"{db}.parts") / table / f"{work.name}.parquet"
            kept.parent.mkdir(parents=True, exist_ok=True)
            files[table] = files[table].rename(kept)
        timings.update(_short_step(db, files, design))
    finally:
        shutil.rmtree(work)
    timings["total_s"] = time.perf_counter() - t0
    print(json.dumps(timings), flush=True)


# --- the orchestration ---

def _seed(db: Path, work: Path, design: str) -> None:
    """A store with the pilot and a first batch of 100,000 events (what pages show meanwhile)."""
    first = work / "first.csv"
    if not first.exists():
        _generate(first, 100_000)
    with store.open_store(db) as con:
        with store.transaction(con):
            pilot = pilots.create_pilot(con, PILOT, ACTOR, time_zone=ZONE)
        result = ingest.ingest_file(con, pilot, "usage", first, actor=ACTOR)
        assert result.rows_loaded == 100_000, result.summary()
        if design in LAKE:  # the prototype's layout: local tables plus registered Parquet files
            with store.transaction(con):
                con.execute("CREATE TABLE lake_files (tbl VARCHAR, batch_id BIGINT, path VARCHAR NOT NULL, "
                            "PRIMARY KEY (tbl, batch_id))")
                for table in LAKE[design]:
                    con.execute(f"ALTER TABLE {table} RENAME TO {table}_local")
                    _recreate_view(con, table)


def _query_times(dbs: dict[str, Path], repeat: int = 5) -> dict[str, tuple[float, float]]:
    """design -> (page query, raw-event scan) on its loaded store: medians of ``repeat`` warm runs,
    the stores taken in turn so that drift in the machine's load hits each alike."""
    raw = ("SELECT feature, count(*), count(DISTINCT user_id) FROM usage_events WHERE pilot_id = "
           "(SELECT pilot_id FROM pilots WHERE name = ?) GROUP BY feature")
    took: dict[str, list[tuple[float, float]]] = {d: [] for d in dbs}
    for i in range(repeat + 1):
        for design, db in dbs.items():
            with store.open_store(db) as con:
                t0 = time.perf_counter()
                page_query(con)
                t1 = time.perf_counter()
                con.execute(raw, [PILOT]).fetchall()
                if i:  # the first round warms the file cache
                    took[design].append((t1 - t0, time.perf_counter() - t1))
    return {d: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts)) for d, ts in took.items()}


def _idle_page(db: Path) -> float:
    """The reader's unit of work on the idle store, in a fresh process as the reader runs it (median of 5)."""
    out = subprocess.run([sys.executable, __file__, "--idle", str(db)], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    return float(out.stdout.split()[-1])


def run_idle(db: Path, repeat: int = 5) -> None:
    took = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with store.open_store(db, timeout=PAGE_BUDGET_S) as con:
            page_query(con)
        took.append(time.perf_counter() - t0)
    print(statistics.median(took))


def measure(design: str, csv: Path, work: Path) -> dict:
    folder = work / design.replace("+", "_")
    folder.mkdir(parents=True)
    db = folder / "store.duckdb"
    _seed(db, work, design)
    idle = _idle_page(db)
    stop = folder / "stop"
    reader = subprocess.Popen([sys.executable, __file__, "--reader", str(db), str(stop)], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    first = json.loads(reader.stdout.readline())  # the reader is up and has answered once
    assert first["ok"], first
    watch = LockWatch(db)
    watch.start()
    t0 = time.time()
    if design == "today":
        cmd = [sys.executable, "-m", "readiness", "ingest", "--db", str(db), "--pilot", PILOT, "--kind", "usage",
               str(csv)]
    else:
        cmd = [sys.executable, __file__, "--ingest", design, str(db), str(csv)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    stdout, stderr = proc.communicate()
    total = time.time() - t0
    if proc.returncode:
        raise SystemExit(f"{design}: ingest failed:\n{stdout}\n{stderr}")
    time.sleep(1.0)
    stop.touch()
    polls = [json.loads(line) for line in reader.stdout.read().splitlines()]
    reader.wait()
    watch.stop()
    during = [p for p in polls if t0 <= p["at"] <= t0 + total]
    held, longest, holds = watch.held_by(proc.pid)
    out = {"design": design, "db": db, "total_s": total, "held_s": held, "longest_hold_s": longest, "holds": holds,
           "polls": len(during), "answered": sum(p["ok"] for p in during), "busy": sum(not p["ok"] for p in during),
           "worst_wait_s": max((p["took"] for p in during), default=0.0), "idle_page_s": idle}
    if design != "today":
        out.update(json.loads(stdout.splitlines()[-1]))
    return out


def _combine(runs: list[dict]) -> dict:
    """One design's rounds: medians of the times; polls, answers and busy counted over all rounds;
    the longest hold and the worst wait of any round."""
    out = {"design": runs[0]["design"], "rounds": len(runs)}
    for key, value in runs[0].items():
        values = [r[key] for r in runs]
        if key in ("polls", "answered", "busy"):
            out[key] = sum(values)
        elif key in ("longest_hold_s", "worst_wait_s"):
            out[key] = max(values)
        elif isinstance(value, float):
            out[key] = statistics.median(values)
    return out


def _report(results: list[dict], bare: float, rows: int, load: str, rounds: int) -> list[str]:
    lines = [f"{rows:,} usage events (CSV); {rounds} round(s) of every design in turn, medians (polls and busy: "
             f"all rounds; longest hold, worst wait: any round). Bare DuckDB CREATE TABLE AS read_csv: {bare:.1f} s. "
             f"Load average at the start: {load}.",
             "",
             "| design | lock held (longest) | ingest total (x bare) | reader polls: answered / busy | "
             "worst wait (x idle page) | page query | raw scan |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['design']} | {r['held_s']:.1f} s ({r['longest_hold_s']:.2f} s) | {r['total_s']:.1f} s "
            f"({r['total_s'] / bare:.2f}x) | {r['answered']} / {r['busy']} | {r['worst_wait_s']:.2f} s "
            f"({r['worst_wait_s'] / r['idle_page_s']:.0f}x {r['idle_page_s']:.2f} s) | {r['page_s'] * 1000:.0f} ms | "
            f"{r['scan_s'] * 1000:.0f} ms |")
    lines.append("")
    for r in results:
        if "step_s" in r:
                lines.append(
                f"- {r['design']}: scratch ingest {r['scratch_ingest_s']:.1f} s, Parquet written in "
                f"{r['parquet_write_s']:.1f} s; short step {r['step_s']:.2f} s = work {r['step_work_s']:.2f} s + "
                f"COMMIT {r['step_commit_s']:.2f} s + close (checkpoint) {r['step_close_s']:.2f} s, after "
                f"waiting {r['step_wait_s']:.2f} s to open the store")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every design")
    parser.add_argument("--designs", default=",".join(DESIGNS), help=f"comma-separated, of {', '.join(DESIGNS)}")
    parser.add_argument("--doc", type=Path, help="write the figures into this Markdown file's figures section")
    parser.add_argument("--reader", nargs=2, metavar=("DB", "STOP"), help=argparse.SUPPRESS)
    parser.add_argument("--idle", metavar="DB", help=argparse.SUPPRESS)
    parser.add_argument("--ingest", nargs=3, metavar=("DESIGN", "DB", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader:
        run_reader(Path(args.reader[0]), Path(args.reader[1]))
        return 0
    if args.idle:
        run_idle(Path(args.idle))
        return 0
    if args.ingest:
        run_ingest(args.ingest[0], Path(args.ingest[1]), Path(args.ingest[2]))
        return 0
    load = os.getloadavg()
    load_text = f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min, {os.cpu_count()} cores)"
    with tempfile.TemporaryDirectory(prefix="readiness-lockbench-") as tmp:
        work = Path(tmp)
        csv = work / "usage.csv"
        t0 = time.perf_counter()
        _generate(csv, args.rows)
        print(f"generated {args.rows:,} rows ({csv.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s; "
              f"load {load_text}", flush=True)
        designs = args.designs.split(",")
        runs: dict[str, list[dict]] = {d: [] for d in designs}
        bares = []
        for n in range(args.repeat):  # rounds of every design in turn: drift in the machine's load hits each alike
            bares.append(_bench_ingest().time_baseline(csv, work, n))
            print(f"round {n + 1}: bare CREATE TABLE AS read_csv {bares[-1]:.1f} s", flush=True)
            for design in designs:
                r = measure(design, csv, work / f"round-{n}")
                runs[design].append(r)
                print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items() if k != "db"}),
                      flush=True)
            for design, (page, scan) in _query_times({d: runs[d][-1]["db"] for d in designs}).items():
                runs[design][-1].update(page_s=page, scan_s=scan)
                with store.open_store(runs[design][-1]["db"]) as con:
                    events = con.execute("SELECT count(*) FROM usage_events").fetchone()[0]
                assert events == args.rows + 100_000, (design, events)
                print(f"{design}: page query {page * 1000:.0f} ms, raw scan {scan * 1000:.0f} ms", flush=True)
            shutil.rmtree(work / f"round-{n}")
        bare = statistics.median(bares)
    lines = _report([_combine(runs[d]) for d in designs], bare, args.rows, load_text, args.repeat)
    print("\n".join(lines))
    if args.doc:
        _write_doc(args.doc, lines)
    return 0


def _write_doc(doc: Path, lines: list[str]) -> None:
    """Replace the text between the figures markers of ``doc`` with ``lines``."""
    begin, end = "<!-- figures: bench/ingest_lock.py -->", "<!-- end of figures -->"
    text = doc.read_text()
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    doc.write_text(f"{head}{begin}\nMeasured {stamp}.\n\n" + "\n".join(lines) + f"\n{end}{tail}")


if __name__ == "__main__":
    sys.exit(main())
