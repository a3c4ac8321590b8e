"""Readiness conditions scaled by risk tier, computed conditions, four-eyes waivers and tier changes.

On both deployments: an audited edit, a waiver another person approves, conditions carried to the
next review and the exception rate judged on its interval; the rest, the same store code, embedded."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import ingest_one, make_pilot, query, write

from readiness import store
from readiness.catalog import get_pilot
from readiness.review import conditions, decisions, handoff
from readiness.review.conditions import ConditionError
from readiness.security import users
from readiness.security.access import AccessDenied, Actor

DEPLOYMENTS = ("embedded", "organisation")
OP = Actor("cli:test", "admin", cli=True)
PW = "a long enough password"
REVIEWER, LEAD, LEAD2 = Actor("rita", "reviewer"), Actor("lena", "lead"), Actor("lars", "lead")
LATER = date.today() + timedelta(days=60)


def _team(db: Path, tmp_path: Path) -> None:
    make_pilot(db, "p", owner="Tom Brennan", risk_tier="medium")
    rows = "".join(f"2026-03-02T10:{i:02d}:00Z,u{i % 3},open\n" for i in range(40))
    ingest_one(db, write(tmp_path / "u.csv", "ts,user,event\n" + rows), pilot="p")
    with store.open_store(db) as con:
        for a in (REVIEWER, LEAD, LEAD2):
            users.add_user(con, OP, a.name, a.role, PW)
            users.grant(con, OP, a.name, "p")


@pytest.fixture
def team_db(db: Path, built_once) -> Path:
    built_once(_team)
    return db


def _conds(db: Path, actor: Actor = OP) -> dict[str, dict]:
    with store.open_store(db) as con:
        p = get_pilot(con, "p")
        conditions.ensure_conditions(con, actor, p)
        return {c["area"]: c for c in conditions.list_conditions(con, actor, p)}


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_template_scaled_by_risk_tier(db: Path) -> None:
    for tier, required in (("low", {"infrastructure", "auth", "monitoring", "ownership"}),
                           ("high", {a.key for a in conditions.TEMPLATE})):
        make_pilot(db, f"{tier} pilot", risk_tier=tier)
        with store.open_store(db) as con:
            p = get_pilot(con, f"{tier} pilot")
            conditions.ensure_conditions(con, OP, p)
            rows = conditions.list_conditions(con, OP, p)
        assert len(rows) == len(conditions.TEMPLATE)
        assert {r["area"] for r in rows if r["required"]} == required


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_computed_conditions_show_their_live_value(team_db: Path, tmp_path: Path) -> None:
    c = _conds(team_db)
    assert c["ownership"]["status"] == "not met" and c["ownership"]["live_value"] == (
        "owner: Tom Brennan (the pilot's owner; no operating owner on Hand-off); no support path named (Hand-off)")
    with store.open_store(team_db) as con:
        handoff.set_handoff(con, OP, get_pilot(con, "p"), support_path="#finance-ops channel, then the on-call")
    c = _conds(team_db)
    assert c["ownership"]["status"] == "met" and "Tom Brennan" in c["ownership"]["live_value"]
    with store.open_store(team_db) as con:
        handoff.set_handoff(con, OP, get_pilot(con, "p"), operating_owner="Finance operations")
    assert _conds(team_db)["ownership"]["live_value"] == (
        "owner: Finance operations; support: #finance-ops channel, then the on-call")
    # 40 events without an exception: up to 92 per 1,000 is plausible, so not enough evidence yet (95%)
    assert c["monitoring"]["status"] == "undecided" and c["monitoring"]["live_value"] == "0.0 exceptions per 1,000 events over the whole pilot (limit 5)"
    assert c["monitoring"]["interval"] == [0.0, 92.22] and "more days at this volume" in c["monitoring"]["more_data"]
    ingest_one(team_db, write(tmp_path / "e.csv", "ts,message\n2026-03-02T10:00:00Z,boom\n"), kind="exceptions", pilot="p")
    c = _conds(team_db)
    assert c["monitoring"]["status"] == "undecided" and c["monitoring"]["live_value"] == "25.0 exceptions per 1,000 events over the whole pilot (limit 5)"
    with store.open_store(team_db) as con, pytest.raises(ConditionError, match="computed"):
        conditions.set_condition(con, OP, get_pilot(con, "p"), c["monitoring"]["condition_id"], status="met")


def test_set_condition_is_audited_with_before_and_after(team_db: Path) -> None:
    cid = _conds(team_db)["auth"]["condition_id"]
    with store.open_store(team_db) as con:
        conditions.set_condition(con, REVIEWER, get_pilot(con, "p"), cid, status="met", owner="IT security",
                                 evidence="SSO via Entra ID, ticket SEC-12")
        with pytest.raises(AccessDenied):
            conditions.set_condition(con, LEAD, get_pilot(con, "p"), cid, status="not met")
    assert _conds(team_db)["auth"]["status"] == "met"
    (details,) = query(team_db, "SELECT details FROM audit_log WHERE action = 'condition.edit'")
    assert '"before": {' in details[0] and '"status": "not met"' in details[0] and '"status": "met"' in details[0]


def test_a_waiver_takes_effect_only_when_someone_else_approves(team_db: Path) -> None:
    cid = _conds(team_db)["docs"]["condition_id"]
    with store.open_store(team_db) as con:
        p = get_pilot(con, "p")
        req = conditions.request_waiver(con, REVIEWER, p, cid, reason="Docs after go-live", expiry=LATER)
        assert _conds(team_db)["docs"]["status"] == "not met"  # a request changes nothing yet
        with pytest.raises(AccessDenied):  # a reviewer cannot approve at all
            conditions.decide_approval(con, REVIEWER, p, req, approve=True)
        conditions.decide_approval(con, LEAD, p, req, approve=True, note="OK for 60 days")
    c = _conds(team_db)["docs"]
    assert c["status"] == "waived" and c["waiver_reason"] == "Docs after go-live" and c["waiver_expiry"] == LATER


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_a_self_approved_waiver_has_no_effect(team_db: Path) -> None:
    cid = _conds(team_db)["docs"]["condition_id"]
    with store.open_store(team_db) as con:
        p = get_pilot(con, "p")
        req = conditions.request_waiver(con, OP, p, cid, reason="I say so", expiry=LATER)
        with pytest.raises(AccessDenied, match="own request"):
            conditions.decide_approval(con, OP, p, req, approve=True)
    assert _conds(team_db)["docs"]["status"] == "not met"


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_lowering_the_tier_waits_for_a_second_person_raising_does_not(team_db: Path) -> None:
    _conds(team_db)
    with store.open_store(team_db) as con:
        p = get_pilot(con, "p")
        assert conditions.request_tier_change(con, REVIEWER, p, "high", "Handles supplier bank details") is None
        assert get_pilot(con, "p").risk_tier == "high"
        req = conditions.request_tier_change(con, REVIEWER, p, "low", "Only internal users")
        assert get_pilot(con, "p").risk_tier == "high"
        conditions.decide_approval(con, LEAD, p, req, approve=True)
        assert get_pilot(con, "p").risk_tier == "low"
    required = {a for a, c in _conds(team_db).items() if c["required"]}
    assert required == {"infrastructure", "auth", "monitoring", "ownership"}  # the light path now


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_unmet_required_conditions_block_operate_and_travel_with_the_decision(team_db: Path) -> None:
    _conds(team_db)
    with store.open_store(team_db) as con:
        p = get_pilot(con, "p")
        d = decisions.record_decision(con, OP, p, outcome="harden", rationale="Not yet", owner="Tom",
                                      next_review=LATER)
    assert "required conditions not met (infrastructure, auth, data flow, security review, docs, ownership)" in d["suggested_reasons"]  # no support path named yet
    assert '"area": "auth"' in d["conditions"]


def test_the_next_review_carries_conditions_over(team_db: Path) -> None:
    cid = _conds(team_db)["auth"]["condition_id"]
    with store.open_store(team_db) as con:
        p = get_pilot(con, "p")
        conditions.set_condition(con, OP, p, cid, status="met", owner="IT security", evidence="SSO")
        decisions.record_decision(con, OP, p, outcome="harden", rationale="r", owner="Tom", next_review=LATER)
        decisions.open_review(con, OP, p)
    c = _conds(team_db)
    assert c["auth"]["status"] == "met" and c["auth"]["owner"] == "IT security" and c["auth"]["review_id"] == 2


def _forty_usage_events(db: Path, tmp_path: Path) -> None:
    make_pilot(db, "p", owner="Tom Brennan")
    rows = "".join(f"2026-03-02T10:{i:02d}:00Z,u{i % 3},open\n" for i in range(40))
    ingest_one(db, write(tmp_path / "u.csv", "ts,user,event\n" + rows), pilot="p")


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_the_exception_rate_says_when_the_logs_cover_different_periods(db: Path, tmp_path: Path, built_once) -> None:
    # 2015 exceptions against 2026 usage: not a bare "53333.3 exceptions per 1,000 events"
    built_once(_forty_usage_events)
    old = "".join(f"2015-10-18T10:{i % 60:02d}:{i // 60:02d}Z,boom\n" for i in range(2000))
    ingest_one(db, write(tmp_path / "e.csv", "ts,message\n" + old), kind="exceptions", pilot="p")
    live = _conds(db)["monitoring"]["live_value"]
    assert live == ("50,000.0 exceptions per 1,000 events over the whole pilot (limit 5); the exception and usage "
                    "logs do not overlap in time (exceptions 2015-10-18 to 2015-10-18, usage 2026-03-02 to "
                    "2026-03-02), so this compares different periods")
    # one exception inside the usage period: they overlap, but only just
    ingest_one(db, write(tmp_path / "e2.csv", "ts,message\n2026-03-02T10:05:00Z,boom\n"), kind="exceptions", pilot="p")
    assert _conds(db)["monitoring"]["live_value"] == (
        "50,025.0 exceptions per 1,000 events over the whole pilot (limit 5); the exception logs (2015-10-18 to "
        "2026-03-02) reach well beyond the usage (2026-03-02 to 2026-03-02), so part of this compares different periods")


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_the_exception_rate_counts_warnings_and_errors_not_information_lines(db: Path, tmp_path: Path, built_once) -> None:
    # an application's whole log loaded as the exception log: its INFO lines are not exceptions
    built_once(_forty_usage_events)
    log = "".join(f"2026-03-02T10:{i:02d}:30Z,{'ERROR' if i == 7 else 'INFO'},line {i}\n" for i in range(40))
    ingest_one(db, write(tmp_path / "app.csv", "ts,level,message\n" + log), kind="exceptions", pilot="p")
    assert _conds(db)["monitoring"]["live_value"] == (
        "25.0 exceptions per 1,000 events over the whole pilot (limit 5); 39 information lines (INFO, DEBUG, ...) "
        "of the exception logs are not counted")


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_the_exception_rate_says_when_the_exception_logs_reach_well_beyond_the_usage(db: Path, tmp_path: Path, built_once) -> None:
    # exceptions of months against days of usage, overlapping by a day: the live value says so
    built_once(_forty_usage_events)
    log = "2026-03-02T10:05:00Z,ERROR,a\n2026-01-05T10:00:00Z,ERROR,b\n2026-03-03T10:00:00Z,INFO,c\n"
    ingest_one(db, write(tmp_path / "e.csv", "ts,level,message\n" + log), kind="exceptions", pilot="p", all_levels=True)
    assert _conds(db)["monitoring"]["live_value"] == (
        "75.0 exceptions per 1,000 events over the whole pilot (limit 5); 1 exception log was loaded with every line, "
        "so information lines count here; the exception logs (2026-01-05 to 2026-03-03) reach well beyond the usage "
        "(2026-03-02 to 2026-03-02), so part of this compares different periods")


def test_the_exception_rate_condition_is_judged_on_its_interval(db: Path, tmp_path: Path) -> None:
    # operate needs the whole interval under the limit: few events cannot show it either way
    make_pilot(db, "p", owner="Tom Brennan")
    rows = "".join(f"2026-03-{1 + i % 20:02d}T10:{i % 60:02d}:00Z,u{i % 30},open\n" for i in range(3000))
    ingest_one(db, write(tmp_path / "u.csv", "ts,user,event\n" + rows), pilot="p")
    c = _conds(db)["monitoring"]
    assert c["status"] == "met" and c["interval"] == [0.0, 1.23]  # 3,000 events, none failed: under 1.23 per 1,000
    errors = "".join(f"2026-03-{1 + i % 20:02d}T11:00:00Z,u{i % 30},Timeout {i}\n" for i in range(60))
    ingest_one(db, write(tmp_path / "e.csv", "ts,user,message\n" + errors), kind="exceptions", pilot="p")
    c = _conds(db)["monitoring"]
    assert c["status"] == "not met" and c["interval"][0] > 5  # 20 per 1,000 and its lower end over the limit
    assert "cluster bootstrap by user" in c["method"] and c["more_data"] is None
