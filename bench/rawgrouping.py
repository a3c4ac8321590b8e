"""Benchmark: failure modes of raw Loghub logs loaded as a user would, scored against their twins.

For every <System>/<System>*.log with its <...>.log_structured.csv beside it, under each folder
given (default: ../shared/data/loghub-2k): the raw log is loaded into a fresh store as exceptions
with no options (information lines left out, as a user gets it) and again with --all-levels (every
line), and the failure modes of the loaded rows are scored against the twin's EventId with
Loghub's grouping accuracy (analysis.failure_modes.grouping_accuracy; the row number is the
twin's LineId). Prints rows loaded and accuracy per system and load, then the mean.

Loghub's other systems (Mac, OpenSSH, Windows, Proxifier, BGL, ...) are not in ../shared; take
them from https://github.com/logpai/loghub (one folder per system, same layout).
Example: python bench/rawgrouping.py ../shared/data/loghub-2k /tmp/lh
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis import failure_modes as fm  # noqa: E402
from readiness import catalog, store  # noqa: E402
from readiness.ingest import load as ingest  # noqa: E402
from readiness.security.access import Actor  # noqa: E402

LOGHUB = ROOT.parent / "shared" / "data" / "loghub-2k"
ACTOR = Actor("bench", "admin", cli=True)


def score(log: Path, all_levels: bool) -> tuple[int, float | None]:
    """(rows loaded, grouping accuracy of their failure modes; None when nothing loaded or unusable)."""
    with tempfile.TemporaryDirectory(prefix="readiness-rawgrouping-") as tmp:
        db = Path(tmp) / "s.duckdb"
        result = ingest.ingest_files(db, "p", "exceptions", [log], actor=ACTOR, create=True,
                                     opts=ingest.IngestOptions(all_levels=all_levels))[0]
        if result.error is not None:
            return 0, None
        with store.open_store(db) as con:
            rows = fm.assignments(con, catalog.get_pilot(con, "p"))
            truth = dict(con.execute("SELECT CAST(LineId AS BIGINT), EventId FROM read_csv(?, all_varchar = true)",
                                     [f"{log}_structured.csv"]).fetchall())
    if not rows:
        return 0, None
    return len(rows), fm.grouping_accuracy([m for _b, _r, m in rows], [truth[r] for _b, r, _m in rows])


def _cell(ga: float | None) -> str:
    return "—" if ga is None else f"{ga:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", type=Path, nargs="*", default=[LOGHUB])
    args = ap.parse_args()
    logs = sorted((log for folder in args.folders for log in folder.glob("*/*.log")
                   if Path(f"{log}_structured.csv").is_file()), key=lambda p: p.parent.name)
    if not logs:
        sys.exit(f"no <System>/<System>*.log with its _structured.csv under {', '.join(map(str, args.folders))}")
    print(f"{'system':<12} {'rows':>5} {'default':>8} {'rows':>5} {'all-levels':>10}")
    scores = []
    for log in logs:
        (n_def, ga_def), (n_all, ga_all) = score(log, False), score(log, True)
        scores.append(ga_all if ga_all is not None else 0.0)
        print(f"{log.parent.name:<12} {n_def:>5} {_cell(ga_def):>8} {n_all:>5} {_cell(ga_all):>10}")
    print(f"mean all-levels accuracy {sum(scores) / len(scores):.3f}; "
          f"below 0.95 with all levels: {sum(s < 0.95 for s in scores)} of {len(scores)}")


if __name__ == "__main__":
    main()
