"""Benchmark: how long a feedback or exceptions batch holds the store, against its whole ingest.

An ingest holds the store (the embedded file; the organisation's writers' turn) only in its last
step, the landing (:func:`readiness.ingest.load._land`). For each kind this generates a file of
--rows rows (feedback: a CSV of rated comments, half of them operational complaints; exceptions:
an application log of ERROR lines of --templates message shapes with varying numbers), ingests it
into a fresh embedded store --repeat times and prints the medians of the whole ingest and of its
landing, and their ratio. The landing is what a reviewer's page can wait for.

Example: python bench/landing.py --rows 50000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from readiness import pilots, store
from readiness.ingest import load as ingest
from readiness.security.access import Actor

COMMENTS = ("Export failed again and I lost my work", "Love the new dashboard, saves me an hour",
            "The page is very slow to load after login", "Could you add a dark mode please",
            "Cannot log in since the password reset", "Numbers in the report look wrong to me",
            "Support never answered my ticket", "Works fine", "Great tool, really helpful",
            "It timed out twice this morning")


def write_feedback(path: Path, rows: int) -> None:
    with path.open("w") as f:
        f.write("timestamp,rating,comment,user\n")
        for i in range(rows):
            f.write(f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z,{1 + i % 5},"
                    f"\"{COMMENTS[i % len(COMMENTS)]} (ref {i})\",u{i % 900}\n")


def write_exceptions(path: Path, rows: int, templates: int) -> None:
    with path.open("w") as f:
        for i in range(rows):
            t = i % templates
            f.write(f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z ERROR [svc{t % 7}] "
                    f"Operation {t} failed after {i % 997} ms for order {i} on host{i % 13}\n")


def time_one(path: Path, kind: str, work: Path, run: int) -> tuple[float, float]:
    """(whole ingest, of which the landing) in seconds, into a fresh store."""
    db = work / f"{kind}-{run}.duckdb"
    actor = Actor("bench", "admin", cli=True)
    landing = []
    land = ingest._land

    def timed_land(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return land(*args, **kwargs)
        finally:
            landing.append(time.perf_counter() - t0)

    with store.open_store(db) as con, store.transaction(con):
        pilots.create_pilot(con, "bench", actor, time_zone="UTC")
    ingest._land = timed_land
    try:
        start = time.perf_counter()
        [result] = ingest.ingest_files(db, "bench", kind, [path], actor=actor)
        elapsed = time.perf_counter() - start
    finally:
        ingest._land = land
    assert result.error is None and result.rows_loaded > 0, result.summary()
    return elapsed, sum(landing)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--templates", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = {"feedback": work / "feedback.csv", "exceptions": work / "app.log"}
        write_feedback(files["feedback"], args.rows)
        write_exceptions(files["exceptions"], args.rows, args.templates)
        print(f"{args.rows:,} rows per file, {args.repeat} runs each, medians")
        for kind, path in files.items():
            runs = [time_one(path, kind, work, r) for r in range(args.repeat)]
            whole = statistics.median(r[0] for r in runs)
            held = statistics.median(r[1] for r in runs)
            print(f"{kind:>10}: whole ingest {whole:6.2f} s, landing (store held) {held:6.2f} s, "
                  f"landing / whole {held / whole:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
