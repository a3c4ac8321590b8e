"""Benchmark: failure-mode grouping against drain3, on the six Loghub-2k systems, in the same run.

Prints, per system, the grouping accuracy (GA, see ../shared/data/loghub-2k/README.md) of
  (a) ours: analysis.failure_modes.assign_failure_modes (DuckDB masking + template merge), one config
  (b) drain3 with its defaults
  (c) drain3 with our masks as its masking instructions
and then throughput in lines/s on ~1M lines (the six systems' Content repeated; then the same with
a copy number appended so that every line is distinct), ours vs drain3 (defaults), with the ratio. Only Content goes to either grouping; EventId is used to score.

Goals: mean GA >= 0.90, ours better than drain3 on every system, throughput >= 3x drain3.
Example: python bench/grouping.py --lines 1000000

--unseen DIR scores, the same way, Loghub systems the grouping was never developed or tested on:
every DIR/<System>/<System>*.log_structured.csv (Loghub's structured-CSV layout; any number of
lines). They are not in ../shared; take them from https://github.com/logpai/loghub.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis import failure_modes as fm  # noqa: E402
from readiness.store import lake, migrate  # noqa: E402

LOGHUB = ROOT.parent / "shared" / "data" / "loghub-2k"
SYSTEMS = ("HDFS", "Hadoop", "Spark", "Zookeeper", "OpenStack", "Linux")


def read_system(system: str, path: Path | None = None) -> tuple[list[str], list[str]]:
    """(Content, EventId) of a system's lines (its 2,000 in LOGHUB, or the file ``path``), in LineId order."""
    con = duckdb.connect()
    try:
        rows = con.execute("SELECT Content, EventId FROM read_csv(?, all_varchar = true) "
                           "ORDER BY CAST(LineId AS BIGINT)",
                           [str(path or LOGHUB / system / f"{system}_2k.log_structured.csv")]).fetchall()
    finally:
        con.close()
    return [r[0] or "" for r in rows], [r[1] for r in rows]


_WORK = tempfile.TemporaryDirectory(prefix="readiness-grouping-")


def memory_store() -> duckdb.DuckDBPyConnection:
    """A fresh DuckDB file (in a temp folder: the audit key sits beside it) with the project's schema."""
    con = duckdb.connect(str(Path(_WORK.name) / f"g-{uuid.uuid4().hex[:8]}.duckdb"))
    con.execute("SET TimeZone = 'UTC'")
    migrate(con)
    return con


def ours(messages: list[str]) -> tuple[list[int], float]:
    """Our failure mode of each message (production code path) and the seconds assignment took."""
    con = memory_store()
    try:
        con.execute("CREATE TEMP TABLE msgs (i BIGINT, message VARCHAR)")
        con.executemany("INSERT INTO msgs VALUES (?, ?)", list(enumerate(messages))) if len(messages) < 20000 else \
            _bulk_insert(con, messages)
        con.execute(f"INSERT INTO {lake.local('exceptions')} (pilot_id, batch_id, src_row, ts, message) "
                    "SELECT 1, 1, i, TIMESTAMPTZ '2026-01-01 00:00:00+00', message FROM msgs")
        con.execute("DROP TABLE msgs")
        start = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        fm.assign_failure_modes(con, 1, 1)
        con.execute("COMMIT")
        elapsed = time.perf_counter() - start
        modes = [r[0] for r in con.execute("SELECT failure_mode FROM exceptions ORDER BY src_row").fetchall()]
    finally:
        con.close()
    return modes, elapsed


def _bulk_insert(con: duckdb.DuckDBPyConnection, messages: list[str]) -> None:
    import pandas as pd
    df = pd.DataFrame({"i": range(len(messages)), "message": messages})
    con.register("msgs_df", df)
    con.execute("INSERT INTO msgs SELECT * FROM msgs_df")
    con.unregister("msgs_df")


def drain3_masks() -> list:
    """Our masks as drain3 masking instructions (RE2 prefix groups become look-behinds)."""
    from drain3.masking import MaskingInstruction
    out = []
    for pattern, repl, _guard in fm.MASKS:
        py = re.sub(r"^\(\^\|(\[[^\]]*\])\)", lambda m: "(?<!" + m.group(1).replace("[", "[^", 1) + ")", pattern)
        out.append(MaskingInstruction(py, re.sub(r"[<>'\\\d]", "", repl).strip() or "str"))
    return out


def drain3_groups(messages: list[str], masked: bool) -> tuple[list[int], float]:
    """drain3's cluster of each message (defaults, or with our masks) and the seconds it took."""
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    if masked:
        config.masking_instructions = drain3_masks()
    miner = TemplateMiner(config=config)
    start = time.perf_counter()
    ids = [miner.add_log_message(m)["cluster_id"] for m in messages]
    return ids, time.perf_counter() - start


def score(data: dict[str, tuple[list[str], list[str]]]) -> None:
    """Print GA per system, ours against drain3 (defaults, and with our masks), and the means."""
    print(f"{'system':<10} {'lines':>6} {'ours':>6} {'drain3':>7} {'drain3+masks':>13}")
    totals = [0.0, 0.0, 0.0]
    better = True
    for system, (messages, truth) in data.items():
        ga = [fm.grouping_accuracy(ours(messages)[0], truth),
              fm.grouping_accuracy(drain3_groups(messages, False)[0], truth),
              fm.grouping_accuracy(drain3_groups(messages, True)[0], truth)]
        better &= ga[0] > max(ga[1], ga[2])
        totals = [t + g for t, g in zip(totals, ga, strict=True)]
        print(f"{system:<10} {len(messages):>6} {ga[0]:>6.3f} {ga[1]:>7.3f} {ga[2]:>13.3f}")
    means = [t / len(data) for t in totals]
    print(f"{'mean':<10} {'':>6} {means[0]:>6.3f} {means[1]:>7.3f} {means[2]:>13.3f}")
    print(f"goal mean GA >= 0.90: {'met' if means[0] >= 0.90 else 'NOT met'}; "
          f"better than drain3 (both variants) on every system: {'met' if better else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines for the throughput run (0: skip)")
    parser.add_argument("--unseen", type=Path, help="folder of other Loghub systems to score (see above)")
    args = parser.parse_args()
    if not LOGHUB.is_dir():
        sys.exit(f"Loghub-2k data not found at {LOGHUB}")

    data = {s: read_system(s) for s in SYSTEMS}
    score(data)
    if args.unseen:
        files = sorted(args.unseen.glob("*/*.log_structured.csv"))
        if not files:
            sys.exit(f"no <System>/<System>*.log_structured.csv under {args.unseen}")
        unseen = {f.parent.name: read_system(f.parent.name, f) for f in files}
        print(f"\nother systems ({args.unseen}):")
        score(unseen)

    if args.lines:
        pool = [m for messages, _ in data.values() for m in messages]
        repeated = (pool * (args.lines // len(pool) + 1))[:args.lines]
        # the same lines with the copy number appended, so that no two lines are equal
        unique = [f"{m} copy {i // len(pool)}" for i, m in enumerate(repeated)]
        for label, lines in (("Content repeated", repeated), ("every line distinct", unique)):
            _, t_ours = ours(lines)
            _, t_drain = drain3_groups(lines, False)
            r_ours, r_drain = len(lines) / t_ours, len(lines) / t_drain
            print(f"\nthroughput, {len(lines):,} lines ({label}): ours {r_ours:,.0f} lines/s ({t_ours:.1f} s), "
                  f"drain3 {r_drain:,.0f} lines/s ({t_drain:.1f} s), ratio {r_ours / r_drain:.1f}x "
                  f"(goal >= 3x: {'met' if r_ours >= 3 * r_drain else 'NOT met'})")


if __name__ == "__main__":
    main()
