"""The review stepper: which steps are done, and what the reviewer is told is missing."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from helpers import ingest_one, make_pilot, write

from readiness import store
from readiness.catalog import get_pilot
from readiness.review import annotations, decisions, handoff, progress
from readiness.security.access import Actor

OP = Actor("cli:test", "admin", cli=True)


def _steps(db: Path, untriaged_high: int = 0) -> dict[str, progress.Step]:
    with store.open_store(db) as con:
        return {s.name: s for s in progress.steps(con, OP, get_pilot(con, "pilot"), untriaged_high)}


def test_a_new_pilot_has_every_step_open_and_says_what_to_do(db: Path) -> None:
    make_pilot(db)
    steps = _steps(db)
    assert list(steps) == ["Sources", "Usage", "Feedback", "Failure modes", "Risks", "Readiness", "Hand-off", "Decision"]
    assert not any(s.done for s in steps.values())
    assert steps["Sources"].detail == "no usage, no feedback, no exceptions loaded yet"
    assert steps["Failure modes"].detail == "load exception logs on Sources"
    assert steps["Hand-off"].detail == "needs an operating owner and a support path"
    assert steps["Decision"].detail == "no review recorded yet"


def test_an_exception_log_of_information_lines_only_counts_as_loaded_with_nothing_to_triage(db: Path,
                                                                                        tmp_path: Path) -> None:
    # the steps do not say "no exceptions loaded yet" nor "load exception logs on Sources" for it
    make_pilot(db)
    ingest_one(db, write(tmp_path / "e.csv", "ts,level,message\n2026-03-02 10:00:00,INFO,started\n"), kind="exceptions")
    steps = _steps(db)
    assert steps["Sources"].detail == "no usage, no feedback loaded yet"
    assert steps["Failure modes"].done and steps["Failure modes"].detail == "the exception logs held no warning or error"


def test_steps_follow_the_review_as_it_is_done(db: Path, tmp_path: Path) -> None:
    make_pilot(db)
    ingest_one(db, write(tmp_path / "u.csv", "ts,user,event,feature\n2026-03-02 10:00:00,ann,open,search\n"
                                             "2026-03-03 10:00:00,bob,open,search\n"))
    ingest_one(db, write(tmp_path / "e.csv", "ts,error_type,message\n2026-03-02 10:00:00,TimeoutError,took 30 s\n"
                                             "2026-03-02 11:00:00,KeyError,no 'vat'\n"), kind="exceptions")
    steps = _steps(db, untriaged_high=2)
    assert steps["Sources"].detail == "no feedback loaded yet" and not steps["Sources"].done
    assert steps["Usage"].done and steps["Usage"].detail == "2 events"
    assert steps["Failure modes"].detail == "2 of 2 modes still 'new'"
    assert steps["Risks"].detail == "2 high signals to accept or dismiss"

    with store.open_store(db) as con:
        p = get_pilot(con, "pilot")
        for mode_id in (1, 2):
            annotations.annotate_mode(con, p, mode_id, status="known", owner="Ops", note=None, actor=OP)
        handoff.set_handoff(con, OP, p, operating_owner="Finance Ops", support_path="#fin-ops-help")
        decisions.record_decision(con, OP, p, outcome="harden", rationale="timeouts", owner="Tom",
                                  next_review=date.today() + timedelta(days=30))
    steps = _steps(db)
    assert steps["Failure modes"].done and steps["Failure modes"].detail == "all 2 modes triaged"
    assert steps["Hand-off"].done
    assert steps["Decision"].done and steps["Decision"].detail.startswith("Harden further")
    assert not steps["Risks"].done and steps["Risks"].detail == "the register is empty"
