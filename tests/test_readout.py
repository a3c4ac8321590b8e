"""The readout: four headline figures with their 28-day trend, masked text, a self-contained HTML page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import ingest_one, make_pilot, query, write

from readiness import store
from readiness.catalog import get_pilot
from readiness.review import decisions, readout, risks
from readiness.security.access import AccessDenied, Actor

OP = Actor("cli:test", "admin", cli=True)
DAY0 = date(2026, 3, 2)


def _pilot(db: Path, tmp_path: Path) -> None:
    make_pilot(db, "p", owner="Tom")
    usage, exc = ["ts,user,event"], ["ts,error_type,message"]
    for i in range(56):
        day = DAY0 + timedelta(days=i)
        for u in ("a", "b", "c") if i >= 28 else ("a", "b"):
            usage.append(f"{day}T10:00:00Z,{u},open")
        if i < 28:
            exc.append(f"{day}T11:00:00Z,TimeoutError,took 30 s")
        elif i % 4 == 0:
            exc += [f"{day}T11:0{k}:00Z,TimeoutError,took 30 s" for k in range(3)]
    ingest_one(db, write(tmp_path / "u.csv", "\n".join(usage) + "\n"), pilot="p")
    ingest_one(db, write(tmp_path / "e.csv", "\n".join(exc) + "\n"), kind="exceptions", pilot="p")
    fb = ["ts,user,stars,comment"] + [f"{DAY0 + timedelta(k)}T12:00:00Z,b,{r},slow" for k, r in enumerate((5, 2, 5, 2, 4, 1))]
    fb += [f"{DAY0 + timedelta(30 + k)}T12:00:00Z,a,{r},ok" for k, r in enumerate((5, 5, 2, 4, 5, 4, 2, 5))]
    ingest_one(db, write(tmp_path / "f.csv", "\n".join(fb) + "\n"), kind="feedback", pilot="p")


@pytest.fixture
def pdb(db: Path, built_once) -> Path:
    """56 days: users a, b daily in the first 28; a, b, c daily in the last 28. Exceptions: 1 a day, then
    3 every 4 days (rate halves); ratings 5, 2, 5, 2, 4, 1 before and 5, 5, 2, 4, 5, 4, 2, 5 after (CSAT 50% -> 75%)."""
    built_once(_pilot)
    return db


def test_headline_figures_compare_the_last_28_days_with_the_28_before(pdb: Path) -> None:
    with store.open_store(pdb) as con:
        figs = {f.label: f for f in readout.headline(con, get_pilot(con, "p"))}
    users, events = figs["Active users"], figs["Events"]
    assert (users.value, users.change, users.direction, users.good) == ("3", "+50%", "up", True)
    assert (events.value, events.change) == ("84", "+50%")
    csat = figs["CSAT"]
    assert (csat.value, csat.change, csat.good) == ("75%", "+25 pts", True)
    rate = figs["Exceptions / 1k events"]  # 21 in 84 events against 28 in 56: 250 against 500
    assert (rate.value, rate.change, rate.direction, rate.good) == ("250", "-50%", "down", True)
    assert csat.against == rate.against == "the 28 days before"


def test_with_a_short_earlier_window_shares_say_how_many_days_they_compare_with(db: Path, tmp_path: Path) -> None:
    # 40 days of data: the 28 days before the last 28 hold only 12. Counts are not compared; CSAT
    # compares with those 12 days and says so (not "-17 pts vs the 28 days before").
    make_pilot(db, "short", owner="Tom")
    usage = ["ts,user,event"] + [f"{DAY0 + timedelta(days=i)}T10:00:00Z,a,open" for i in range(40)]
    ingest_one(db, write(tmp_path / "u.csv", "\n".join(usage) + "\n"), pilot="short")
    fb = (["ts,user,stars,comment"] + [f"{DAY0 + timedelta(k)}T12:00:00Z,a,5,good" for k in range(5)]
          + [f"{DAY0 + timedelta(30 + k)}T12:00:00Z,a,2,slow" for k in range(5)])
    ingest_one(db, write(tmp_path / "f.csv", "\n".join(fb) + "\n"), kind="feedback", pilot="short")
    with store.open_store(db) as con:
        p = get_pilot(con, "short")
        figs = {f.label: f for f in readout.headline(con, p)}
        page = readout.html_page(readout.content(con, OP, p))
    assert figs["Active users"].change is None and figs["Events"].change is None
    csat = figs["CSAT"]
    assert (csat.value, csat.change, csat.against) == ("0%", "-100 pts", "the 12 days before")
    assert "-100 pts vs the 12 days before" in page and "vs the 28 days before" not in page


def test_readout_masks_personal_data_and_the_html_stands_alone(pdb: Path) -> None:
    with store.open_store(pdb) as con:
        p = get_pilot(con, "p")
        risks.add_risk(con, OP, p, risk_class="data", title="Exports mailed to jane.doe@corp.example <script>x</script>",
                       likelihood=4, impact=4, owner="Data team")
        c = readout.content(con, OP, p)
        assert c["decision"] is None and "pending" in readout.html_page(c)
        decisions.record_decision(con, OP, p, outcome="harden", rationale="Call +44 20 7946 0958 about timeouts",
                                  owner="Tom", next_review=date.today() + timedelta(days=30))
        c = readout.content(con, OP, p)
        page = readout.html_page(c)
    assert c["decision"]["outcome"] == "Harden further" and "Harden further" in page
    assert "jane.doe@corp.example" not in page and "7946" not in page
    assert "&lt;script&gt;" in page and "<script" not in page.lower()
    assert not re.search(r"(src|href)=|@import|url\(", page)  # no external files: one self-contained page
    assert "@media print" in page and "Figures are live" in page
    assert [r["title"] for r in c["risks"]][0].startswith("Exports mailed to [email]")


def test_the_html_download_is_audited_and_refused_to_a_viewer(pdb: Path) -> None:
    with store.open_store(pdb) as con:
        p = get_pilot(con, "p")
        with pytest.raises(AccessDenied):
            readout.export_html(con, Actor("vic", "viewer"), p)
        page = readout.export_html(con, OP, p)
    assert page.startswith("<!doctype html>")
    assert query(pdb, "SELECT object FROM audit_log WHERE action = 'export'") == [(f"pilot:{p.pilot_id}/readout",)]


def test_untriaged_high_signals_stay_among_the_top_risks_when_the_register_has_entries(pdb: Path) -> None:
    high = [{"key": f"ops.high{i}", "severity": "high", "class": "operational_dependency",
             "finding": f"high finding {i}"} for i in range(3)]
    with store.open_store(pdb) as con:
        p = get_pilot(con, "p")
        # one of the high signals taken in as medium (3 x 3): a register entry hides no other signal
        risks.accept_signal(con, OP, p, "ops.high0", risk_class="operational_dependency", finding="high finding 0",
                            likelihood=3, impact=3, owner="Ops")
        c = readout.content(con, OP, p, high)
        assert [s["finding"] for s in c["signals"]] == ["high finding 1", "high finding 2"]
        assert [r["title"] for r in c["risks"]] == ["high finding 0"]  # third: medium after the two highs
        assert readout.html_page(c).index("high finding 1") < readout.html_page(c).index("high finding 0")
        risks.add_risk(con, OP, p, risk_class="data", title="Exports mailed out", likelihood=5, impact=4, owner="Data")
        c = readout.content(con, OP, p, high)
        # a high register risk comes before high signals; the medium one drops out of the three
        assert [r["title"] for r in c["risks"]] == ["Exports mailed out"]
        assert [s["finding"] for s in c["signals"]] == ["high finding 1", "high finding 2"]
