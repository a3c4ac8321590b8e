"""Benchmark: a page's query on a store of many small usage batches, before and after `maintain`
merges the pilot's files.

Writes B small usage CSV files (default 200, 500 events each), ingests them as B batches of one
pilot (5 Parquet files per batch), then times what a page does: open the store and compute the
pilot's usage totals (reading the rollup's files), R times, median. Then ``maintain`` (timed),
and the same page again. The baseline is the same run's page before the merge; the ratio is
after / before.

Example: python bench/lake_compact.py --batches 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis import usage  # noqa: E402
from readiness import catalog, pilots, store  # noqa: E402
from readiness.ingest import batches  # noqa: E402
from readiness.ingest import load as ingest  # noqa: E402
from readiness.security.access import Actor  # noqa: E402

OP = Actor("cli:bench", "admin", cli=True)


def _csv(path: Path, i: int, rows: int) -> Path:
    path.write_text("ts,user,event,session,feature\n" + "".join(
        f"2026-03-{1 + (i + j) % 28:02d}T{j % 24:02d}:{j % 60:02d}:00Z,u{(i * 7 + j) % 300},"
        f"{'open' if j % 3 else 'export'},s{i}-{j % 20},f{j % 6}\n" for j in range(rows)))
    return path


def _page(db: Path, repeat: int) -> tuple[float, int]:
    times, events = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        with store.open_store(db) as con:
            events = usage.totals(con, catalog.get_pilot(con, "bench")).events
        times.append(time.perf_counter() - t0)
    return statistics.median(times), events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--rows", type=int, default=500, help="events per batch")
    ap.add_argument("--repeat", type=int, default=15, help="page timings per side")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "store.duckdb"
        with store.open_store(db) as con, store.transaction(con):
            pilots.create_pilot(con, "bench", OP)
        files = [_csv(Path(tmp) / f"u{i}.csv", i, args.rows) for i in range(args.batches)]
        t0 = time.perf_counter()
        ingest.ingest_files(db, "bench", "usage", files, actor=OP)
        loaded = time.perf_counter() - t0
        with store.open_store(db) as con:
            listed = con.execute("SELECT count(DISTINCT path) FROM lake_files").fetchone()[0]
        _page(db, 2)  # warm the file cache
        before, events = _page(db, args.repeat)
        t0 = time.perf_counter()
        done = batches.maintain(db, OP)
        merge = time.perf_counter() - t0
        with store.open_store(db) as con:
            after_files = con.execute("SELECT count(DISTINCT path) FROM lake_files").fetchone()[0]
        _page(db, 2)
        after, events_after = _page(db, args.repeat)
    assert events == events_after == args.batches * args.rows, (events, events_after)
    print(f"{args.batches} batches of {args.rows} events ({events:,} in all) ingested in {loaded:.1f} s; "
          f"{listed} files listed")
    print(f"page (open + usage totals), median of {args.repeat}: {before * 1000:.0f} ms before the merge")
    print(f"maintain: {merge:.2f} s, {len(done['merged'])} merges, {after_files} files listed after")
    print(f"page after the merge: {after * 1000:.0f} ms; after / before = {after / before:.2f}x "
          f"({before / after:.1f}x faster)")


if __name__ == "__main__":
    main()
