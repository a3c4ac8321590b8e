"""Hand-off record, constraints, hardening backlog, the operating playbook, and between-review flags.

On both deployments: the audited edit, the diff against a previous review's frozen figures and the
portfolio over pilots (what the organisation store keeps in its records database and reads back);
the rest, the same records through the same store code, on the embedded store only."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import PROJECT_ROOT, ingest_one, make_pilot, query, write

from readiness import store
from readiness.catalog import get_pilot
from readiness.review import between, conditions, decisions, handoff, playbook, reviews, risks
from readiness.review.handoff import HandoffError
from readiness.security.access import Actor

DEPLOYMENTS = ("embedded", "organisation")
OP = Actor("cli:test", "admin", cli=True)
NEXT = date.today() + timedelta(days=30)
XSS = "<script>alert('x')</script> & [link](http://evil.example) *bold*"


def _pilot(db: Path, tmp_path: Path) -> None:
    make_pilot(db, "p", owner="Tom Brennan", capability="Reads supplier invoices", risk_tier="medium")
    rows = "".join(f"2026-03-{1 + i % 20:02d}T10:{i % 60:02d}:00Z,u{i % 7},open\n" for i in range(400))
    ingest_one(db, write(tmp_path / "u.csv", "ts,user,event\n" + rows), pilot="p")
    ingest_one(db, write(tmp_path / "e.csv", "ts,message,error_type\n2026-03-02T10:00:00Z,Timeout calling erp,TimeoutError\n"),
               kind="exceptions", pilot="p")
    fb = "".join([
        '{"ts": "2026-03-02T10:00:00Z", "rating": 2, "comment": "It is far too slow on big PDFs"}\n',
        '{"ts": "2026-03-03T10:00:00Z", "rating": 4, "comment": "Please add support for credit notes"}\n',
        '{"ts": "2026-03-04T10:00:00Z", "rating": 1, "comment": "Keeps crashing with an error when I export"}\n'])
    ingest_one(db, write(tmp_path / "f.jsonl", fb), kind="feedback", pilot="p")


@pytest.fixture
def pdb(db: Path, built_once) -> Path:
    built_once(_pilot)
    return db


def _p(con):
    return get_pilot(con, "p")


def test_handoff_record_is_audited_with_before_and_after(pdb: Path) -> None:
    with store.open_store(pdb) as con:
        handoff.set_handoff(con, OP, _p(con), operating_owner="Finance operations", support_path="#fin-ops-support",
                            escalation=[{"who": "On-call finance engineer", "for": "ERP export failing", "when": "within 1 hour"}])
        handoff.set_handoff(con, OP, _p(con), support_path="ServiceNow queue FIN-OPS")
        h = handoff.get_handoff(con, OP, _p(con))
        with pytest.raises(HandoffError, match="who is called"):
            handoff.set_handoff(con, OP, _p(con), escalation=[{"who": "someone", "for": "", "when": "now"}])
    assert h["operating_owner"] == "Finance operations" and h["support_path"] == "ServiceNow queue FIN-OPS"
    assert h["escalation"][0]["when"] == "within 1 hour"
    (last,) = query(pdb, "SELECT details FROM audit_log WHERE action = 'handoff.edit' ORDER BY seq DESC LIMIT 1")
    assert '"before": {"support_path": "#fin-ops-support"}' in last[0]


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_constraints_register(pdb: Path) -> None:
    with store.open_store(pdb) as con:
        cid = handoff.add_constraint(con, OP, _p(con), area="integration", description="ERP API rate limit 10/s",
                                     owner="ERP team", mitigation="Batch calls")
        with pytest.raises(HandoffError, match="area must be one of"):
            handoff.add_constraint(con, OP, _p(con), area="weather", description="x")
        handoff.update_constraint(con, OP, _p(con), cid, status="resolved")
        (c,) = handoff.list_constraints(con, OP, _p(con))
    assert c["status"] == "resolved" and c["owner"] == "ERP team"


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_backlog_keeps_operational_requirements_apart_from_feature_requests(pdb: Path) -> None:
    with store.open_store(pdb) as con:
        added = handoff.seed_backlog(con, OP, _p(con))
        assert handoff.seed_backlog(con, OP, _p(con)) == 0  # idempotent
        backlog = handoff.list_backlog(con, OP, _p(con))
    assert added == len(backlog["operational"]) + len(backlog["feature"])
    ops_sources = {b["source"] for b in backlog["operational"]}
    assert "feedback:operational:speed" in ops_sources and "failure_mode:1" in ops_sources
    assert [b["source"] for b in backlog["feature"]] == ["feedback:feature_request"]


def _full_review(pdb: Path) -> None:
    with store.open_store(pdb) as con:
        p = _p(con)
        handoff.set_handoff(con, OP, p, operating_owner="Finance operations", support_path="#fin-ops-support",
                            how_used=XSS, logs_location="s3://logs/invoice-triage/",
                            escalation=[{"who": "On-call", "for": XSS, "when": "1 hour"}])
        risks.add_risk(con, OP, p, risk_class="operational_dependency", title="ERP timeouts " + XSS, likelihood=4,
                       impact=3, owner="ERP team", mitigation="Retry with back-off")
        decisions.record_decision(con, OP, p, outcome="harden", rationale="Timeouts " + XSS, owner="Tom Brennan",
                                  next_review=NEXT)


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_playbook_holds_owner_support_risks_next_review_and_escapes_user_text(pdb: Path, tmp_path: Path) -> None:
    _full_review(pdb)
    with store.open_store(pdb) as con:
        md = playbook.export_playbook(con, OP, _p(con), "md")
        page = playbook.export_playbook(con, OP, _p(con), "html")
    for text in (md, page):
        assert "Finance operations" in text and "fin-ops-support" in text and "ERP team" in text
        assert str(NEXT) in text and "s3://logs/invoice-triage/" in text
        assert "<script>" not in text and "&lt;script&gt;" in text
    assert "\\[link\\]" in md and "\\*bold\\*" in md  # no live Markdown link or emphasis from user text
    assert page.startswith("<!doctype html>") and "<table>" in page
    out = tmp_path / "playbook.html"
    run = subprocess.run([sys.executable, "-m", "readiness", "export", "playbook", "--pilot", "p", "--out", str(out),
                          "--db", str(pdb)], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "&lt;script&gt;" in out.read_text() and query(pdb, "SELECT count(*) FROM audit_log WHERE action = 'export'") == [(3,)]


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_the_playbook_lists_the_open_backlog_with_feature_requests_apart(pdb: Path) -> None:
    # the backlog feeds the playbook, as the README says
    with store.open_store(pdb) as con:
        handoff.add_backlog_item(con, OP, _p(con), kind="operational", title="Alert on ERP timeouts <b>", owner="Ops")
        handoff.add_backlog_item(con, OP, _p(con), kind="feature", title="Bulk approve from the list")
        con.execute("UPDATE backlog SET status = 'done' WHERE title = 'Bulk approve from the list'")
        handoff.add_backlog_item(con, OP, _p(con), kind="feature", title="Export to PDF")
        md = playbook.export_playbook(con, OP, _p(con), "md")
        page = playbook.export_playbook(con, OP, _p(con), "html")
    ops, features = md.index("Operational work before and while it runs"), md.index("Feature requests (not needed")
    assert ops < md.index("Alert on ERP timeouts &lt;b&gt; — owner Ops") < features < md.index("Export to PDF")
    assert "Bulk approve" not in md and "Bulk approve" not in page  # done: not in an operating playbook
    assert "<h2>Hardening backlog</h2>" in page and "Alert on ERP timeouts &lt;b&gt;" in page


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_diff_against_the_decision(pdb: Path, tmp_path: Path) -> None:
    _full_review(pdb)
    ingest_one(pdb, write(tmp_path / "more.csv", "ts,user,event\n2026-04-01T10:00:00Z,newcomer,open\n"), pilot="p")
    with store.open_store(pdb) as con:
        d = between.diff(con, OP, _p(con))
    by = {f["figure"]: f for f in d["figures"]}
    assert by["usage.events"]["at_decision"] == 400 and by["usage.events"]["now"] == 401 and by["usage.events"]["change"] == 1
    assert by["usage.users"]["change"] == 1
    assert d["risks"] == {"open_high_at_decision": 0, "open_high_now": 0}


def test_diff_against_the_previous_review(pdb: Path, tmp_path: Path) -> None:
    _full_review(pdb)  # review 1: harden, on 400 events
    with store.open_store(pdb) as con:
        assert between.diff(con, OP, _p(con), against="previous")["decision"] is None  # review 1 has none before it
        first = reviews.current_decision(con, _p(con))
        decisions.open_review(con, OP, _p(con))
    ingest_one(pdb, write(tmp_path / "more.csv", "ts,user,event\n2026-04-01T10:00:00Z,newcomer,open\n"
                                                 "2026-04-02T10:00:00Z,newcomer,open\n"), pilot="p")
    with store.open_store(pdb) as con:
        pending = between.diff(con, OP, _p(con), against="previous")
        decisions.record_decision(con, OP, _p(con), outcome="operate", rationale="Fixed", owner="Tom Brennan",
                                  next_review=NEXT, against_evidence=True)
        decided = between.diff(con, OP, _p(con), against="previous")
        current = between.diff(con, OP, _p(con))
    for d in (pending, decided):  # review 2 is compared with review 1's decision, before and after it decides
        assert d["decision"]["decision_id"] == first["decision_id"] and d["decision"]["review_number"] == 1
        assert {f["figure"]: f["change"] for f in d["figures"]}["usage.events"] == 2
    assert {f["figure"]: f["change"] for f in current["figures"]}["usage.events"] == 0  # its own frozen copy


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_flags_overdue_review_overdue_risk_and_drift(pdb: Path, tmp_path: Path) -> None:
    with store.open_store(pdb) as con:
        p = _p(con)
        conditions.ensure_conditions(con, OP, p)
        # 1 exception in 400 events: up to 13.9 per 1,000 is plausible, so not yet settled against 5
        assert {c["area"]: c["status"] for c in conditions.list_conditions(con, OP, p)}["monitoring"] == "undecided"
        decisions.record_decision(con, OP, p, outcome="operate", rationale="Good", owner="Tom", next_review=NEXT,
                                  against_evidence=True)
        risks.add_risk(con, OP, p, risk_class="data", title="Old export format", likelihood=2, impact=2, owner="x",
                       due=date.today() - timedelta(days=3))
        assert {f.key for f in between.flags(con, OP, p)} == {"risk_overdue"}
    # new data: 10 more exceptions push the rate over 5 per 1,000 events
    rows = "".join(f"2026-03-05T10:0{i}:00Z,Timeout calling erp,TimeoutError\n" for i in range(10))
    ingest_one(pdb, write(tmp_path / "e2.csv", "ts,message,error_type\n" + rows), kind="exceptions", pilot="p")
    with store.open_store(pdb) as con:
        found = {f.key: f for f in between.flags(con, OP, _p(con), today=NEXT + timedelta(days=2))}
    assert set(found) == {"risk_overdue", "next_review_overdue", "drift"}
    assert "27.5 exceptions per 1,000 events over the whole pilot (limit 5)" in found["drift"].message


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_quiet_pilot_has_no_flags(pdb: Path) -> None:
    with store.open_store(pdb) as con:
        assert between.flags(con, OP, _p(con)) == []


def test_portfolio_row_per_visible_pilot(pdb: Path) -> None:
    _full_review(pdb)
    make_pilot(pdb, "other")
    with store.open_store(pdb) as con:
        rows = {r["pilot"]: r for r in between.portfolio(con, OP)}
    assert rows["p"]["decision"] == "Harden further" and rows["p"]["next_review"] == NEXT
    assert rows["p"]["overdue"] is False and rows["p"]["open_high_risks"] == 0
    assert rows["other"]["decision"] == "in review" and rows["other"]["conditions"] == "—"
