"""Reviews and decisions: append-only with supersede, the frozen evidence, hand-off acceptance, exports."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import PROJECT_ROOT, ingest_one, query, write

from readiness import store
from readiness.catalog import get_pilot
from readiness.review import decisions, export
from readiness.review.decisions import DecisionError
from readiness.security import users
from readiness.security.access import AccessDenied, Actor

OP = Actor("cli:test", "admin", cli=True)
PW = "a long enough password"
NEXT = date.today() + timedelta(days=30)
USAGE = "".join(f"2026-03-0{1 + i % 5}T10:0{i % 10}:00Z,user{i % 4},open,s{i},{'ok' if i % 5 else 'failed'}\n"
                for i in range(40))


def _pilot(db: Path, tmp_path: Path) -> None:
    ingest_one(db, write(tmp_path / "u.csv", "ts,user,event,session,outcome\n" + USAGE), pilot="p")
    ingest_one(db, write(tmp_path / "e.csv", "ts,message\n2026-03-02T10:00:00Z,Timeout calling erp\n"),
               kind="exceptions", pilot="p")
    with store.open_store(db) as con:
        for name, role in (("rita", "reviewer"), ("lena", "lead"), ("otto", "viewer")):
            users.add_user(con, OP, name, role, PW)
            users.grant(con, OP, name, "p")


@pytest.fixture
def pilot_db(db: Path, built_once) -> Path:
    built_once(_pilot)
    return db


def _decide(db: Path, actor: Actor = OP, **kw):
    args = {"outcome": "harden", "rationale": "Timeouts to the ERP", "owner": "Tom", "next_review": NEXT, **kw}
    with store.open_store(db) as con:
        return decisions.record_decision(con, actor, get_pilot(con, "p"), **args)


def test_decisions_are_append_only_and_recording_again_supersedes(pilot_db: Path) -> None:
    first = _decide(pilot_db)
    second = _decide(pilot_db, outcome="operate", rationale="Fixed the ERP timeouts", against_evidence=True)
    assert second["supersedes"] == first["decision_id"] and second["review_number"] == first["review_number"] == 1
    with store.open_store(pilot_db) as con:
        rows = decisions.list_decisions(con, OP, get_pilot(con, "p"))
    assert [(r["outcome"], r["status"]) for r in rows] == [("harden", "superseded"), ("operate", "current")]
    assert rows[0]["rationale"] == "Timeouts to the ERP"  # the earlier record is kept as it was
    assert query(pilot_db, "SELECT action FROM audit_log WHERE action LIKE 'decision%' OR action LIKE 'review%' "
                           "ORDER BY seq") == [("review.open",), ("decision.record",), ("decision.record",)]


def test_operate_against_the_evidence_must_be_said_in_the_library_too(pilot_db: Path) -> None:
    # not only the Decision page asks: the CLI's decide records no operate against the evidence without a word
    before = query(pilot_db, "SELECT count(*) FROM decisions")
    with pytest.raises(decisions.DecisionError, match=r"The evidence suggests harden further: .* To record operate "
                                                      r"anyway, say so .*--against-evidence\)"):
        _decide(pilot_db, outcome="operate", rationale="Looks fine")
    assert query(pilot_db, "SELECT count(*) FROM decisions") == before  # nothing recorded, no review opened
    d = _decide(pilot_db, outcome="operate", rationale="Looks fine", against_evidence=True)
    assert (d["outcome"], d["suggested_outcome"]) == ("operate", "harden")  # kept with the suggestion it overrode


def test_the_snapshot_freezes_figures_batches_and_data_version(pilot_db: Path, tmp_path: Path) -> None:
    d = _decide(pilot_db)
    snap = json.loads(d["snapshot"])
    assert snap["figures"]["usage"]["events"] == 40 and snap["figures"]["exceptions"]["count"] == 1
    assert len(snap["batches"]) == 2 and all(len(b["sha256"]) == 64 for b in snap["batches"])
    ingest_one(pilot_db, write(tmp_path / "more.csv", "ts,user,event\n2026-03-09T10:00:00Z,late,open\n"), pilot="p")
    with store.open_store(pilot_db) as con:
        (again,) = decisions.list_decisions(con, OP, get_pilot(con, "p"))
    assert json.loads(again["snapshot"]) == snap  # new data does not change what the decision was taken on


def test_a_stop_needs_no_next_review_and_brings_a_winddown_checklist(pilot_db: Path) -> None:
    d = _decide(pilot_db, outcome="stop", next_review=None, rationale="Nobody came back after week 2")
    assert d["next_review"] is None
    steps = [s["step"] for s in json.loads(d["winddown"])]
    assert len(steps) == 4 and any("keep or delete" in s for s in steps)


@pytest.mark.parametrize("kw, message", [
    ({"outcome": "maybe"}, "Outcome must be one of operate, harden, handoff, reframe, stop"),
    ({"rationale": "   "}, "needs a rationale"),
    ({"owner": ""}, "accountable owner"),
    ({"next_review": None}, "needs a next review date"),
    ({"next_review": date.today()}, "must be after today"),
    ({"outcome": "handoff"}, "names the receiving owner"),
    ({"outcome": "handoff", "receiver": "nobody"}, "has no account"),
])
def test_invalid_decisions_are_clear_errors_and_write_nothing(pilot_db: Path, kw: dict, message: str) -> None:
    with pytest.raises(DecisionError, match=message):
        _decide(pilot_db, **kw)
    assert query(pilot_db, "SELECT count(*) FROM decisions") == [(0,)]


def test_cli_refuses_a_bad_outcome_without_a_traceback(pilot_db: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "readiness", "decide", "--db", str(pilot_db), "--pilot", "p",
                          "--outcome", "ship-it", "--rationale", "x", "--owner", "y"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "Outcome must be one of" in out.stderr and "Traceback" not in out.stderr


def test_cli_decide_asks_before_operate_against_the_evidence(pilot_db: Path) -> None:
    def decide(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "readiness", "decide", "--db", str(pilot_db), "--pilot", "p",
                               "--outcome", "operate", "--rationale", "Fine", "--owner", "Tom", "--next-review",
                               NEXT.isoformat(), *extra], cwd=PROJECT_ROOT, capture_output=True, text=True)

    refused = decide()
    assert refused.returncode == 2 and "--against-evidence" in refused.stderr and "Traceback" not in refused.stderr
    recorded = decide("--against-evidence")
    assert recorded.returncode == 0, recorded.stderr
    assert "Suggested by the evidence: Harden further" in recorded.stdout


def test_only_reviewers_and_admins_decide(pilot_db: Path) -> None:
    for name, role in (("lena", "lead"), ("otto", "viewer")):
        with pytest.raises(AccessDenied):
            _decide(pilot_db, Actor(name, role))
    assert _decide(pilot_db, Actor("rita", "reviewer"))["decided_by"] == "rita"


def test_a_handoff_stays_pending_until_the_named_receiver_accepts(pilot_db: Path) -> None:
    d = _decide(pilot_db, outcome="handoff", receiver="lena", owner="Operations team")
    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "p")
        assert decisions.list_decisions(con, OP, p)[0]["handoff"] == "pending acceptance"
        with pytest.raises(AccessDenied, match="named receiving owner"):
            decisions.accept_handoff(con, Actor("rita", "reviewer"), p, d["decision_id"])
        decisions.accept_handoff(con, Actor("lena", "lead"), p, d["decision_id"], note="We run it from Monday")
        (row,) = decisions.list_decisions(con, OP, p)
        assert row["handoff"] == "accepted" and row["accepted_by"] == "lena"
        with pytest.raises(DecisionError, match="already accepted"):
            decisions.accept_handoff(con, Actor("lena", "lead"), p, d["decision_id"])


def test_the_next_review_opens_from_the_current_decision(pilot_db: Path) -> None:
    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "p")
        _decide(pilot_db, conditions=[{"area": "monitoring", "status": "not met"}])
        second = decisions.open_review(con, OP, p)
        assert second["number"] == 2 and second["previous_decision_id"] == 1
        with pytest.raises(DecisionError, match="still open"):
            decisions.open_review(con, OP, p)
    carried = query(pilot_db, "SELECT details FROM audit_log WHERE action = 'review.open' ORDER BY seq DESC LIMIT 1")
    assert json.loads(carried[0][0])["carried_conditions"] == [{"area": "monitoring", "status": "not met"}]


def test_suggestion_says_what_blocks_operate(pilot_db: Path) -> None:
    with store.open_store(pilot_db) as con:
        s = decisions.suggest(con, get_pilot(con, "p"))
    assert s.outcome == "harden"
    assert any("exceptions per 1,000 events" in r for r in s.reasons)  # 1 exception in 40 events = 25 per 1,000
    assert any("no owner named (neither the pilot's owner nor an operating owner on Hand-off)" in r for r in s.reasons)


def test_untriaged_high_signals_are_named_in_words(pilot_db: Path) -> None:
    # the reason is read out in meetings: "personal data in logs", not "compliance.personal_data_in_logs"
    signals = [{"key": "compliance.personal_data_in_logs", "severity": "high"},
               {"key": "data.no_source_process", "severity": "high"}, {"key": "data.other", "severity": "medium"}]
    with store.open_store(pilot_db) as con:
        s = decisions.suggest(con, get_pilot(con, "p"), signals=signals)
    assert "2 high risk signals not yet in the register (personal data in logs, no source process)" in s.reasons


def test_decision_summaries_export_is_spreadsheet_safe(pilot_db: Path) -> None:
    _decide(pilot_db, rationale='=HYPERLINK("http://evil.example","click")', owner="@owner")
    with store.open_store(pilot_db) as con:
        rows = decisions.decision_summaries(con, OP, [get_pilot(con, "p")])
    data = export.csv_bytes(rows, decisions.SUMMARY_COLUMNS).decode("utf-8-sig")
    (row,) = list(csv.DictReader(io.StringIO(data)))
    assert row["rationale"].startswith("'=") and row["owner"] == "'@owner"
    assert row["usage_events"] == "40" and row["outcome"] == "Harden further" and row["status"] == "current"


@pytest.mark.parametrize("value, cell", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("  =cmd", "'  =cmd"), ("plain", "plain"), (-3, -3), (2.5, 2.5),
])
def test_safe_cell(value, cell) -> None:
    assert export.safe_cell(value) == cell


def test_cli_signals_json(pilot_db: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "readiness", "signals", "--db", str(pilot_db), "--pilot", "p", "--json"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    found = {s["key"]: s for s in json.loads(out.stdout)}
    assert "data.missing_log" in found and found["data.missing_log"]["class"] == "data"  # no feedback loaded
    assert all({"key", "class", "severity", "finding", "figures"} <= set(s) for s in found.values())


def test_edit_pilot_profile_is_checked_and_audited_and_a_new_zone_rebuilds_the_rollup(pilot_db: Path) -> None:
    from analysis import usage
    from readiness import pilots

    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "p")
        before = usage.totals(con, p)
        with pytest.raises(AccessDenied):
            pilots.update_pilot(con, Actor("lena", "lead"), p, owner="Someone")
        with pytest.raises(pilots.InvalidProfile, match="tier change request"):
            pilots.update_pilot(con, OP, p, risk_tier="low")
        p2 = pilots.update_pilot(con, Actor("rita", "reviewer"), p, owner="Tom Brennan", time_zone="Pacific/Auckland",
                                 validated_by="12 AP clerks", validation_method="two-week shadow run")
        assert (p2.owner, p2.time_zone) == ("Tom Brennan", "Pacific/Auckland")
        assert usage._reads_rollup(con, p2, usage.NO_FILTERS)  # rebuilt in the new zone, not left stale
        assert usage.totals(con, p2).events == before.events
        (details,) = con.execute("SELECT details FROM audit_log WHERE action = 'pilot.edit'").fetchone()
    assert '"before": {' in details and '"time_zone": "UTC"' in details and "Pacific/Auckland" in details
