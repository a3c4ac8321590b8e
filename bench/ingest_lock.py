"""Benchmark: pages during a command-line ingest, and the ingest's time against bare DuckDB.

Generates N usage events as CSV (default 10,000,000; the generator of bench/ingest.py) and seeds
a store with a pilot and a first batch of 100,000 events. Then ``python -m readiness ingest`` of
the file runs in one process while a reader process polls every 0.5 s the way a page does
(``store.open_store`` with a 2 s timeout, then the pilot's usage totals), counting answered and
busy polls and keeping the worst wait; a thread here watches the store file's lock (F_GETLK every
20 ms, which takes no lock) and records how long the ingest process held it, in how many holds.
On the loaded store: the page's query (usage totals, from the rollup) and a scan of the raw
events (GROUP BY feature with distinct users, which reads the batch's Parquet file).

Baselines from the same run: bare DuckDB ``CREATE TABLE AS read_csv`` of the same file (the
issue's target: the ingest within 1.5x of it), and the reader's page time on the idle store. The
ratio compares like with like: each round also times the ingest command on its own (a fresh
seeded store, no reader polling), as the bare read runs on its own; the ingest during the polls is
reported beside it.
--repeat R runs R rounds (the machine's load drifts) and reports medians; --doc writes the
figures into docs/ingest-lock.md.

Example: python bench/ingest_lock.py --rows 10000000 --repeat 2 --doc docs/ingest-lock.md
"""

from __future__ import annotations

import argparse
import contextlib
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from readiness import catalog, pilots, store  # noqa: E402
from readiness.ingest import load as ingest  # noqa: E402
from readiness.security.access import Actor  # noqa: E402
from readiness.store import postgres  # noqa: E402

PILOT = "bench"
ZONE = "Europe/London"
ACTOR = Actor("bench", "admin", cli=True)
PAGE_BUDGET_S = 2.0  # a page answers within this, never "busy"
POLL_S = 0.5
TARGET = 1.5  # the ingest's time against bare read_csv


def _bench_ingest():
    """bench/ingest.py: its usage CSV (sessions of 40 events, 600 users, 8 columns) and its baseline."""
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --- the reader: a page's unit of work every POLL_S seconds ---

def page_query(con, pilot_name: str = PILOT):
    """What the Usage page asks first: the pilot, then its usage totals (from the rollup)."""
    from analysis import usage

    return usage.totals(con, catalog.get_pilot(con, pilot_name))


def run_reader(db: Path, stop: Path) -> None:
    """Poll until ``stop`` exists; one JSON line per poll: when, seconds to answer, answered, events seen."""
    while not stop.exists():
        t0 = time.perf_counter()
        events = None
        try:
            with store.open_store(db, timeout=PAGE_BUDGET_S) as con:
                events = page_query(con).events
            ok = True
        except store.StoreBusy:
            ok = False
        took = time.perf_counter() - t0
        print(json.dumps({"at": time.time(), "took": took, "ok": ok, "events": events}), flush=True)
        time.sleep(max(0.0, POLL_S - took))


def run_idle(db: Path, repeat: int = 5) -> None:
    took = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with store.open_store(db, timeout=PAGE_BUDGET_S) as con:
            page_query(con)
        took.append(time.perf_counter() - t0)
    print(statistics.median(took))


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


TURN = ("SELECT count(*) FROM postgres_query('rec', 'SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = ''audit_log'' AND l.granted AND l.mode = ''ShareRowExclusiveLock''')")


class LockWatch(threading.Thread):
    """Records (pid, start, end) of each hold of the store's lock, sampled every 20 ms. On the
    organisation deployment, of each hold of the writers' turn (the lock on ``audit_log``, pid
    "turn"): only the ingest writes while it runs."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.holds, self._done = path, [], threading.Event()

    def run(self) -> None:
        if postgres.is_organisation(self.path):
            with store.open_store(self.path) as con:
                self._sample(lambda: "turn" if con.execute(TURN).fetchone()[0] else None)
        else:
            self._sample(lambda: lock_holder(self.path))

    def _sample(self, holder) -> None:
        current, since = None, 0.0
        while not self._done.is_set():
            pid, now = holder(), time.time()
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


# --- one round ---

def _seed(db: Path, work: Path) -> None:
    """A store with the pilot and a first batch of 100,000 events (what pages show meanwhile)."""
    first = work / "first.csv"
    if not first.exists():
        _bench_ingest().generate(first, 100_000)
    with store.open_store(db) as con:
        with store.transaction(con):
            pilots.create_pilot(con, PILOT, ACTOR, time_zone=ZONE)
    (result,) = ingest.ingest_files(db, PILOT, "usage", [first], actor=ACTOR)
    assert result.rows_loaded == 100_000, result.summary()


def _query_times(db: Path, repeat: int = 5) -> tuple[float, float]:
    """(page query, raw-event scan) on the loaded store: medians of ``repeat`` warm runs."""
    raw = ("SELECT feature, count(*), count(DISTINCT user_id) FROM usage_events WHERE pilot_id = "
           "(SELECT pilot_id FROM pilots WHERE name = ?) GROUP BY feature")
    took = []
    for i in range(repeat + 1):
        with store.open_store(db) as con:
            t0 = time.perf_counter()
            page_query(con)
            t1 = time.perf_counter()
            con.execute(raw, [PILOT]).fetchall()
            if i:  # the first run warms the file cache
                took.append((t1 - t0, time.perf_counter() - t1))
    return statistics.median(t[0] for t in took), statistics.median(t[1] for t in took)


def _organisation_store(server: str, work: Path, name: str) -> Path:
    """A fresh organisation deployment (a new database on ``server``, a lake folder under ``work``),
    chosen through the environment as an operator does; the reader and the ingest inherit it."""
    from readiness import settings
    from tests.postgres_server import create_database

    os.environ["READINESS_DATABASE_URL"] = create_database(server, name)
    os.environ["READINESS_LAKE_DATA_PATH"] = str(work / "lake")
    return settings.db_path()


def _fresh_store(work: Path, server: str | None, name: str) -> Path:
    work.mkdir(parents=True)
    db = _organisation_store(server, work, name.replace("-", "_")) if server else work / "store.duckdb"
    _seed(db, work.parent)
    return db


def _run_ingest(db: Path, csv: Path) -> tuple[float, float, int]:
    """Run ``python -m readiness ingest`` of ``csv`` into ``db``: (its start time, seconds it took, its pid)."""
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "readiness", "ingest", "--db", str(db), "--pilot", PILOT,
                             "--kind", "usage", str(csv)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    _out, err = proc.communicate()
    took = time.time() - t0
    if proc.returncode:
        raise SystemExit(f"ingest failed:\n{err}")
    return t0, took, proc.pid


def measure_alone(csv: Path, work: Path, server: str | None = None) -> float:
    """The ingest command's time on a seeded store with nothing else running: what the ratio to
    bare ``read_csv`` (which runs alone too) compares."""
    db = _fresh_store(work, server, work.name)
    _start, took, _pid = _run_ingest(db, csv)
    shutil.rmtree(work)
    return took


def measure(csv: Path, work: Path, rows: int, server: str | None = None) -> dict:
    db = _fresh_store(work, server, work.name)
    idle = float(subprocess.run([sys.executable, __file__, "--idle", str(db)], capture_output=True, text=True,
                                check=True, cwd=ROOT).stdout.split()[-1])
    stop = work / "stop"
    reader = subprocess.Popen([sys.executable, __file__, "--reader", str(db), str(stop)], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    first = json.loads(reader.stdout.readline())  # the reader is up and has answered once
    assert first["ok"], first
    watch = LockWatch(db)
    watch.start()
    t0, total, pid = _run_ingest(db, csv)
    time.sleep(1.0)
    stop.touch()
    polls = [json.loads(line) for line in reader.stdout.read().splitlines()]
    reader.wait()
    watch.stop()
    during = [p for p in polls if t0 <= p["at"] <= t0 + total]
    seen = {p["events"] for p in during if p["ok"]}
    assert seen <= {100_000, 100_000 + rows}, f"a page saw part of a batch: {sorted(seen)}"
    held, longest, holds = watch.held_by("turn" if server else pid)
    page, scan = _query_times(db)
    with store.open_store(db) as con:
        events = con.execute("SELECT count(*) FROM usage_events").fetchone()[0]
    assert events == rows + 100_000, events
    shutil.rmtree(work)
    return {"total_s": total, "held_s": held, "longest_hold_s": longest, "holds": holds, "polls": len(during),
            "answered": sum(p["ok"] for p in during), "busy": sum(not p["ok"] for p in during),
            "worst_wait_s": max((p["took"] for p in during), default=0.0), "idle_page_s": idle,
            "page_s": page, "scan_s": scan}


def _combine(runs: list[dict]) -> dict:
    """Rounds: medians of the times; polls, answers and busy counted over all rounds; the longest
    hold and the worst wait of any round."""
    out = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        if key in ("polls", "answered", "busy"):
            out[key] = sum(values)
        elif key in ("longest_hold_s", "worst_wait_s", "holds"):
            out[key] = max(values)
        else:
            out[key] = statistics.median(values)
    return out


def _report(r: dict, rows: int, load: str, rounds: int, deployment: str) -> list[str]:
    ratio = statistics.median(r["ratios"])  # each round's ingest against its own bare read
    return [
        f"**{deployment} deployment**: {rows:,} usage events (CSV, {r['csv_mb']:.0f} MB) loaded by `python -m readiness ingest` into a store holding "
        f"100,000; {rounds} round(s), medians (polls and busy: all rounds; longest hold, worst wait: any round). "
        f"Load average at the start: {load}.",
        "",
        "| measure | figure |",
        "|---|---|",
        f"| ingest, whole command, nothing else running | {r['alone_s']:.1f} s |",
        f"| bare DuckDB `CREATE TABLE AS read_csv`, same file | {r['bare_s']:.1f} s |",
        f"| ingest / bare (target <= {TARGET}): median of the rounds' ratios (each round) | {ratio:.2f}x "
        f"({', '.join(f'{x:.2f}x' for x in r['ratios'])}) |",
        f"| ingest while a page polls every {POLL_S} s (x bare, median) | {r['total_s']:.1f} s "
        f"({statistics.median(r['polled_ratios']):.2f}x) |",
        (f"| store held by the ingest: in all (longest hold, holds) | {r['held_s']:.2f} s ({r['longest_hold_s']:.2f} s, "
         f"{r['holds']:.0f}) |" if deployment == "embedded" else
         f"| writers' turn held by the ingest, readers never wait: in all (longest hold, holds; sampled every "
         f"20 ms) | {r['held_s']:.2f} s ({r['longest_hold_s']:.2f} s, {r['holds']:.0f}) |"),
        f"| page polls during the ingest: answered / busy | {r['answered']} / {r['busy']} |",
        f"| worst page wait during the ingest (idle page) | {r['worst_wait_s']:.2f} s ({r['idle_page_s']:.2f} s, "
        f"{r['worst_wait_s'] / r['idle_page_s']:.0f}x) |",
        f"| page query after the ingest (usage totals) | {r['page_s'] * 1000:.0f} ms |",
        f"| raw-event scan after the ingest (by feature, distinct users) | {r['scan_s'] * 1000:.0f} ms |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="rounds")
    parser.add_argument("--doc", type=Path, help="write the figures into this Markdown file's figures section")
    parser.add_argument("--deployment", choices=("embedded", "organisation"), default="embedded",
                        help="organisation: records in a throwaway PostgreSQL server (Debian's), files in a temp folder")
    parser.add_argument("--reader", nargs=2, metavar=("DB", "STOP"), help=argparse.SUPPRESS)
    parser.add_argument("--idle", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader:
        run_reader(Path(args.reader[0]), Path(args.reader[1]))
        return 0
    if args.idle:
        run_idle(Path(args.idle))
        return 0
    load = os.getloadavg()
    load_text = f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min, {os.cpu_count()} cores)"
    runs = []
    server = contextlib.ExitStack()
    with server, tempfile.TemporaryDirectory(prefix="readiness-lockbench-") as tmp:
        dsn = None
        if args.deployment == "organisation":
            from tests.postgres_server import throwaway_postgres

            dsn = server.enter_context(throwaway_postgres())
        work = Path(tmp)
        csv = work / "usage.csv"
        t0 = time.perf_counter()
        _bench_ingest().generate(csv, args.rows)
        mb = csv.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows ({mb:.0f} MB) in {time.perf_counter() - t0:.1f} s; load {load_text}",
              flush=True)
        for n in range(args.repeat):
            bare = _bench_ingest().time_baseline(csv, work, n)
            alone = measure_alone(csv, work / f"alone-{n}", dsn)
            r = measure(csv, work / f"round-{n}", args.rows, dsn)
            r.update(bare_s=bare, alone_s=alone, csv_mb=mb)
            print(json.dumps({k: round(v, 3) for k, v in r.items()}), flush=True)
            runs.append(r)
    combined = _combine(runs)
    combined["ratios"] = [r["alone_s"] / r["bare_s"] for r in runs]
    combined["polled_ratios"] = [r["total_s"] / r["bare_s"] for r in runs]
    lines = _report(combined, args.rows, load_text, args.repeat, args.deployment)
    print("\n".join(lines))
    if args.doc:
        _write_doc(args.doc, lines, args.deployment)
    return 0


def _write_doc(doc: Path, lines: list[str], deployment: str) -> None:
    """Replace the text between the deployment's figures markers of ``doc`` with ``lines`` (added
    at the end when the doc has none yet)."""
    option = "" if deployment == "embedded" else f" --deployment {deployment}"
    begin, end = f"<!-- figures: bench/ingest_lock.py{option} -->", "<!-- end of figures -->"
    text = doc.read_text()
    if begin not in text:
        text = f"{text.rstrip()}\n\n{begin}\n{end}\n"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    doc.write_text(f"{head}{begin}\nMeasured {stamp}.\n\n" + "\n".join(lines) + f"\n{end}{tail}")


if __name__ == "__main__":
    sys.exit(main())
