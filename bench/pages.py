"""Benchmark: how long a rerun of each page takes on the demo pilot (goal: under 1 s).

Loads the demo into a temporary store, then runs every page with Streamlit's AppTest as a
reviewer: once cold (caches empty) and --repeat times warm (what a reviewer waits for after
clicking a widget or coming back to a page). Prints the warm median per page and its ratio to a
baseline measured in the same run: an empty page script that only reads the session's actor
(Streamlit's own cost of a rerun).

Example: python bench/pages.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

from streamlit.testing.v1 import AppTest  # noqa: E402

from readiness import demo, store  # noqa: E402
from readiness.demo_data import DEMO_PILOT  # noqa: E402
from readiness.security import users  # noqa: E402
from readiness.security.access import Actor, cli_actor  # noqa: E402

PAGES = ["pilots", "sources", "usage", "feedback", "failure_modes", "risks", "readiness", "handoff",
         "decision", "readout"]
GOAL_S = 1.0
logging.getLogger("streamlit").setLevel(logging.ERROR)  # AppTest warns about a missing ScriptRunContext


def _baseline(work: Path) -> Path:
    script = work / "baseline.py"
    script.write_text("import streamlit as st\nst.session_state.get('_rr_actor')\nst.title('Baseline')\n")
    return script


def _time(script: Path, repeat: int) -> tuple[float, float]:
    at = AppTest.from_file(str(script), default_timeout=300)
    at.session_state["_rr_actor"] = Actor("bench", "reviewer")
    at.session_state["_rr_pilot"] = DEMO_PILOT["name"]
    t = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t
    if at.exception:
        raise SystemExit(f"{script.name}: {at.exception[0].message}")
    warm = []
    for _ in range(repeat):
        t = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t)
    return cold, statistics.median(warm)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="warm reruns per page (median reported)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        work = Path(tmp)
        db = work / "demo.duckdb"
        os.environ["READINESS_DB"] = str(db)
        os.environ.setdefault("READINESS_BCRYPT_ROUNDS", "4")
        demo.load_demo(db, cli_actor(), out_dir=work / "files")
        with store.open_store(db) as con:
            users.add_user(con, cli_actor(), "bench", "reviewer", "bench password long enough")
            users.grant(con, cli_actor(), "bench", DEMO_PILOT["name"])
        base_cold, base = _time(_baseline(work), args.repeat)
        print(f"baseline (empty page): cold {base_cold * 1000:.0f} ms, warm rerun {base * 1000:.0f} ms")
        print(f"{'page':<16}{'cold ms':>9}{'warm ms':>9}{'× baseline':>12}  goal: warm < {GOAL_S:.0f} s")
        worst = 0.0
        for page in PAGES:
            cold, warm = _time(next((ROOT / "pages").glob(f"[0-9][0-9]_{page}.py")), args.repeat)
            worst = max(worst, warm)
            print(f"{page:<16}{cold * 1000:>9.0f}{warm * 1000:>9.0f}{warm / base:>12.1f}")
        print(f"worst warm rerun: {worst * 1000:.0f} ms ({'meets' if worst < GOAL_S else 'MISSES'} the {GOAL_S:.0f} s goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
