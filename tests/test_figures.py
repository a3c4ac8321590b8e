"""Figures kept, not recomputed per view: each pilot's stored signals, condition states and portfolio
line equal a fresh computation after every kind of change (a batch loaded or deleted, an edit of
its records, a waiver running out, a review or risk date passing)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import ingest_one, make_pilot, write

from readiness import catalog, store
from readiness.catalog import get_pilot
from readiness.ingest import batches
from readiness.review import between, conditions, decisions, figures, handoff, risks, signals
from readiness.security import access, users
from readiness.security.access import Actor

DEPLOYMENTS = ("embedded", "organisation")
OP = Actor("cli:test", "admin", cli=True)
LEAD = Actor("lena", "lead")
TODAY = date.today()


def _usage(tmp_path: Path, name: str, users_: int, day: str = "2026-03-02") -> Path:
    rows = "".join(f"{day}T10:{i % 60:02d}:00Z,u{i % users_},open,s{i % 7},{'ok' if i % 4 else 'error'}\n"
                   for i in range(120))
    return write(tmp_path / name, "ts,user,event,session,outcome\n" + rows)


def _two(db: Path, tmp_path: Path) -> None:
    """Two pilots with usage and exceptions; 'a' has a decision due for review in 30 days."""
    make_pilot(db, "a", owner="Ann", risk_tier="high")
    make_pilot(db, "b", owner="Bob")
    ingest_one(db, _usage(tmp_path, "a.csv", 3), pilot="a")
    ingest_one(db, _usage(tmp_path, "b.csv", 9), pilot="b")
    ex = "".join(f"2026-03-02T10:{i:02d}:00Z,ERROR,TimeoutError,connect timed out to api.example.com:443 u{i % 3}\n"
                 for i in range(30))
    ingest_one(db, write(tmp_path / "ex.csv", "ts,level,error_type,message\n" + ex), kind="exceptions", pilot="a")
    with store.open_store(db) as con:
        users.add_user(con, OP, LEAD.name, LEAD.role, "a long enough password")
        users.grant(con, OP, LEAD.name, "a")
        p = get_pilot(con, "a")
        conditions.ensure_conditions(con, OP, p)
        decisions.record_decision(con, OP, p, outcome="harden", rationale="More hardening", owner="Ann",
                                  next_review=TODAY + timedelta(days=30), today=TODAY)


@pytest.fixture
def two(db: Path, built_once) -> Path:
    built_once(_two)
    return db


def _fresh(con, today: date) -> list[dict]:
    """The portfolio computed afresh, pilot by pilot (what the page did before figures were kept)."""
    rows = between.portfolio(con, OP, today)
    for row in rows:
        p = get_pilot(con, row["pilot"])
        found = [s.to_dict() for s in signals.compute_signals(con, OP, p)]
        row["untriaged_high"] = len(risks.untriaged(con, p.pilot_id, found))
    return rows


def _same(db: Path, today: date = TODAY) -> list[dict]:
    """Assert the stored figures equal a fresh computation on ``today``; return the portfolio."""
    with store.open_store(db) as con:
        kept = figures.portfolio(con, OP, today)
        assert kept == _fresh(con, today)
        for name in ("a", "b"):
            p = get_pilot(con, name)
            stored = figures.stored(con, p.pilot_id)
            assert stored["data_version"] == catalog.data_version(con, p.pilot_id)
            fresh = json.loads(json.dumps(figures.compute(con, p, today), default=str))
            assert {k: stored[k] for k in ("signals", "conditions", "flags")} == \
                   {k: fresh[k] for k in ("signals", "conditions", "flags")}
        return kept


def _row(rows: list[dict], name: str) -> dict:
    return next(r for r in rows if r["pilot"] == name)


def test_every_pilots_data_version_comes_from_one_query_and_matches_one_by_one(two: Path) -> None:
    with store.open_store(two) as con:
        assert catalog.data_versions(con) == {pid: catalog.data_version(con, pid)
                                              for pid in (get_pilot(con, n).pilot_id for n in ("a", "b"))}


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_figures_are_stored_once_and_read_without_recomputing(two: Path) -> None:
    rows = _same(two)
    assert _row(rows, "a")["decision"] == "Harden further"
    with store.open_store(two) as con:
        assert figures.stale(con, TODAY) == []
        before = con.execute("SELECT pilot_id, computed_at FROM pilot_figures ORDER BY 1").fetchall()
        figures.portfolio(con, OP, TODAY)
        assert con.execute("SELECT pilot_id, computed_at FROM pilot_figures ORDER BY 1").fetchall() == before


def test_after_an_ingest_and_a_deletion(two: Path, tmp_path: Path) -> None:
    _same(two)
    added = ingest_one(two, _usage(tmp_path, "more.csv", 2, day="2026-03-09"), pilot="b", create=False)
    with store.open_store(two) as con:
        assert figures.stale(con, TODAY) == [get_pilot(con, "b").pilot_id]  # only the pilot that changed
    _same(two)
    with store.open_store(two) as con:
        batches.delete_batch(con, added.batch_id, OP)
    _same(two)


def test_after_edits_of_risks_conditions_decisions_and_the_hand_off(two: Path) -> None:
    _same(two)
    with store.open_store(two) as con:
        p = get_pilot(con, "a")
        risks.add_risk(con, OP, p, risk_class="operational_dependency", title="Vendor contract ends",
                       likelihood=5, impact=5, owner="Ann", due=TODAY + timedelta(days=10))
    assert _row(_same(two), "a")["open_high_risks"] == 1
    with store.open_store(two) as con:
        p = get_pilot(con, "a")
        handoff.set_handoff(con, OP, p, operating_owner="Ops team", support_path="#ops-help")
        ownership = next(c for c in conditions.list_conditions(con, OP, p) if c["area"] == "docs")
        conditions.set_condition(con, OP, p, ownership["condition_id"], status="met")
    _same(two)
    with store.open_store(two) as con:
        p = get_pilot(con, "a")
        for s in signals.compute_signals(con, OP, p):
            if s.severity == "high":
                risks.dismiss_signal(con, OP, p, s.key, risk_class=s.risk_class, finding=s.finding,
                                     reason="Known and handled")
        decisions.record_decision(con, OP, p, outcome="harden", rationale="Again", owner="Ann",
                                  next_review=TODAY + timedelta(days=20), today=TODAY)
    assert _row(_same(two), "a")["untriaged_high"] == 0


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_when_a_waiver_runs_out_and_review_and_risk_dates_pass(two: Path) -> None:
    expiry = TODAY + timedelta(days=5)
    with store.open_store(two) as con:
        p = get_pilot(con, "a")
        docs = next(c for c in conditions.list_conditions(con, OP, p) if c["area"] == "security_review")
        req = conditions.request_waiver(con, OP, p, docs["condition_id"], reason="After go-live", expiry=expiry)
        conditions.decide_approval(con, LEAD, p, req, approve=True)
        risks.add_risk(con, OP, p, risk_class="data", title="Backfill", likelihood=1, impact=2, owner="Ann",
                       due=TODAY + timedelta(days=3))
    now = _row(_same(two), "a")
    assert not now["overdue"] and "waiver" not in now["flags"] and "Backfill" not in now["flags"]
    # the risk's due date passes: read from the stored row, evaluated in the query, nothing recomputed
    with store.open_store(two) as con:
        assert figures.stale(con, TODAY + timedelta(days=4)) == []
    later = _row(_same(two, TODAY + timedelta(days=4)), "a")
    assert "Backfill) was due on" in later["flags"]
    # the waiver runs out: the condition counts as not met and the flag shows
    after = _row(_same(two, expiry + timedelta(days=1)), "a")
    assert "waiver expired on" in after["flags"]
    assert int(after["conditions"].split(" / ")[0]) == int(later["conditions"].split(" / ")[0]) - 1
    # the next review's date passes
    assert _row(_same(two, TODAY + timedelta(days=31)), "a")["overdue"]


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_a_reviewer_sees_only_the_pilots_granted(two: Path) -> None:
    with store.open_store(two) as con:
        users.add_user(con, OP, "rita", "reviewer", "a long enough password")
        users.grant(con, OP, "rita", "b")
        assert [r["pilot"] for r in figures.portfolio(con, Actor("rita", "reviewer"), TODAY)] == ["b"]
        # the Portfolio's exports are offered only when every pilot listed may be exported
        a, b = (get_pilot(con, n).pilot_id for n in ("a", "b"))
        assert access.allowed_on_all(con, Actor("rita", "reviewer"), "export", [b])
        assert not access.allowed_on_all(con, Actor("rita", "reviewer"), "export", [a, b])
        assert access.allowed_on_all(con, OP, "export", [a, b])


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_the_command_line_computes_missing_figures_once(two: Path, capsys: pytest.CaptureFixture) -> None:
    from readiness import cli

    assert cli.main(["figures", "--db", str(two)]) == 0
    assert "Recomputed the stored figures of 2 pilots." in capsys.readouterr().out
    assert cli.main(["figures", "--db", str(two)]) == 0
    assert "Every pilot's stored figures are current." in capsys.readouterr().out
    _same(two)


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_the_review_steps_from_the_kept_conditions_equal_those_judged_afresh(two: Path) -> None:
    from readiness.review import progress

    _same(two)
    with store.open_store(two) as con:
        p = get_pilot(con, "a")
        kept = figures.current(con, p.pilot_id, catalog.data_version(con, p.pilot_id), TODAY)
        assert progress.steps(con, OP, p, conds=kept["conditions"]) == progress.steps(con, OP, p)
        # not once a waiver it counted has run out, nor at another data version
        con.execute("UPDATE pilot_figures SET fresh_until = ? WHERE pilot_id = ?", [TODAY, p.pilot_id])
        assert figures.current(con, p.pilot_id, catalog.data_version(con, p.pilot_id), TODAY) is None
        assert figures.current(con, p.pilot_id, "0-0-0-0", TODAY - timedelta(days=1)) is None
