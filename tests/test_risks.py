"""The risk register: accept or dismiss a signal, manual risks, status, history, export."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import ingest_one, make_pilot, query, write

from readiness import store
from readiness.catalog import get_pilot
from readiness.review import conditions, decisions, export, risks
from readiness.review.risks import RiskError
from readiness.security import users
from readiness.security.access import AccessDenied, Actor

DEPLOYMENTS = ("embedded", "organisation")
OP = Actor("cli:test", "admin", cli=True)
LATER = date.today() + timedelta(days=30)


@pytest.fixture
def pdb(db: Path) -> Path:
    make_pilot(db, "p", owner="Tom", risk_tier="medium")
    with store.open_store(db) as con:
        users.add_user(con, OP, "vic", "viewer", "a long enough password")
        users.grant(con, OP, "vic", "p")
    return db


def test_accept_a_signal_then_mitigate_it_with_history(pdb: Path) -> None:
    with store.open_store(pdb) as con:
        p = get_pilot(con, "p")
        rid = risks.accept_signal(con, OP, p, "data.personal_data_in_exceptions", risk_class="data",
                                  finding="212 exception messages contain emails", likelihood=4, impact=4,
                                  owner="Data protection", mitigation="Mask at source", due=LATER)
        with pytest.raises(RiskError, match="already in the register"):
            risks.accept_signal(con, OP, p, "data.personal_data_in_exceptions", risk_class="data", finding="x",
                                likelihood=1, impact=1, owner="x")
        (r,) = risks.list_risks(con, OP, p)
        assert (r["score"], r["severity"], r["status"], r["overdue"]) == (16, "high", "open", False)
        assert risks.open_high(con, p.pilot_id) == 1
        risks.update_risk(con, OP, p, rid, status="mitigated", mitigation="Masked in the logger since 1.4")
        assert risks.open_high(con, p.pilot_id) == 0
        hist = risks.history(con, OP, p, rid)
    assert len(hist) == 2 and hist[1]["before"] is not None and '"mitigated"' in hist[1]["after"]
    assert [a for (a,) in query(pdb, "SELECT action FROM audit_log WHERE action LIKE 'risk.%' ORDER BY seq")] == \
        ["risk.accept_signal", "risk.edit"]


def test_dismissing_needs_a_reason_and_keeps_it(pdb: Path) -> None:
    with store.open_store(pdb) as con:
        p = get_pilot(con, "p")
        with pytest.raises(RiskError, match="needs a reason"):
            risks.dismiss_signal(con, OP, p, "ops.concentration", risk_class="operational_dependency",
                                 finding="3 users make half the events", reason=" ")
        risks.dismiss_signal(con, OP, p, "ops.concentration", risk_class="operational_dependency",
                             finding="3 users make half the events", reason="The pilot group is 5 people by design")
        (r,) = risks.list_risks(con, OP, p)
        assert r["status"] == "dismissed" and r["dismiss_reason"].startswith("The pilot group")
        assert risks.list_risks(con, OP, p, include_dismissed=False) == []


@pytest.mark.parametrize("kw, message", [
    ({"likelihood": 6}, "from 1 to 5"), ({"impact": 0}, "from 1 to 5"), ({"owner": ""}, "needs an owner"),
    ({"risk_class": "weather"}, "Risk class must be"), ({"title": ""}, "needs a title"),
])
def test_manual_risk_validation(pdb: Path, kw: dict, message: str) -> None:
    args = {"risk_class": "operational_dependency", "title": "Vendor contract ends in March", "likelihood": 3,
            "impact": 4, "owner": "Procurement", **kw}
    with store.open_store(pdb) as con, pytest.raises(RiskError, match=message):
        risks.add_risk(con, OP, get_pilot(con, "p"), **args)


def test_viewer_cannot_edit_the_register(pdb: Path) -> None:
    with store.open_store(pdb) as con, pytest.raises(AccessDenied):
        risks.add_risk(con, Actor("vic", "viewer"), get_pilot(con, "p"), risk_class="data", title="t",
                       likelihood=1, impact=1, owner="o")


def test_an_open_high_risk_fails_the_computed_condition_and_blocks_operate(pdb: Path, tmp_path: Path) -> None:
    ingest_one(pdb, write(tmp_path / "u.csv", "ts,user,event\n2026-03-02T10:00:00Z,a,open\n"), pilot="p")
    with store.open_store(pdb) as con:
        p = get_pilot(con, "p")
        risks.add_risk(con, OP, p, risk_class="compliance", title="No DPIA", likelihood=5, impact=4, owner="DPO",
                       due=date.today() - timedelta(days=1))
        conditions.ensure_conditions(con, OP, p)
        c = {r["area"]: r for r in conditions.list_conditions(con, OP, p)}
        assert c["risks"]["status"] == "not met" and c["risks"]["live_value"] == "1 high risk open"
        assert risks.list_risks(con, OP, p)[0]["overdue"] is True
        s = decisions.suggest(con, p, conditions=list(c.values()))
    assert s.outcome == "harden" and "1 high risk open" in s.reasons


def test_risk_export_is_spreadsheet_safe(pdb: Path) -> None:
    with store.open_store(pdb) as con:
        p = get_pilot(con, "p")
        risks.add_risk(con, OP, p, risk_class="data", title="=cmd|' /C calc'!A0", likelihood=2, impact=2,
                       owner="+owner")
        rows = risks.list_risks(con, OP, p)
    (row,) = csv.DictReader(io.StringIO(export.csv_bytes(rows, risks.EXPORT_COLUMNS).decode("utf-8-sig")))
    assert row["title"] == "'=cmd|' /C calc'!A0" and row["owner"] == "'+owner" and row["score"] == "4"


def test_a_table_edit_saves_only_what_changed_all_or_nothing(pdb: Path) -> None:
    import pandas as pd

    with store.open_store(pdb) as con:
        p = get_pilot(con, "p")
        a = risks.add_risk(con, OP, p, risk_class="data", title="Supplier file arrives late", likelihood=2, impact=3,
                           owner="Ana")
        b = risks.add_risk(con, OP, p, risk_class="compliance", title="No DPIA", likelihood=3, impact=5, owner="Bo")
        before = risks.list_risks(con, OP, p)
        # What the page's data editor hands back: a DataFrame (numpy ints, NaN for empty cells, Timestamps).
        edited = pd.DataFrame(before)[["risk_id", "title", "likelihood", "impact", "owner", "mitigation", "due", "status"]]
        edited.loc[edited["risk_id"] == a, ["likelihood", "impact", "due"]] = [3, 5, pd.Timestamp(LATER)]
        edited.loc[edited["risk_id"] == b, "status"] = "mitigated"
        changes = risks.register_changes(before, edited.to_dict("records"))
        assert changes == {a: {"likelihood": 3, "impact": 5, "due": LATER}, b: {"status": "mitigated"}}
        assert risks.register_changes(before, pd.DataFrame(before).to_dict("records")) == {}  # no edit, no change

        bad = {**changes, b: {"likelihood": 9}}
        with pytest.raises(RiskError, match="1 to 5"):
            risks.edit_register(con, OP, p, bad)
        assert [r["impact"] for r in risks.list_risks(con, OP, p) if r["risk_id"] == a] == [3]  # nothing saved

        assert risks.edit_register(con, OP, p, changes) == 2
        after = {r["risk_id"]: r for r in risks.list_risks(con, OP, p)}
    assert (after[a]["severity"], after[a]["due"], after[b]["status"]) == ("high", LATER, "mitigated")
    assert query(pdb, "SELECT count(*) FROM audit_log WHERE action = 'risk.edit'") == [(2,)]


def test_a_viewer_cannot_save_table_edits(pdb: Path) -> None:
    with store.open_store(pdb) as con:
        p = get_pilot(con, "p")
        rid = risks.add_risk(con, OP, p, risk_class="data", title="Late file", likelihood=2, impact=3, owner="Ana")
        with pytest.raises(AccessDenied):
            risks.edit_register(con, Actor("vic", "viewer"), p, {rid: {"impact": 5}})
    assert query(pdb, "SELECT impact FROM risks WHERE risk_id = ?", [rid]) == [(3,)]
