"""Evidence kept, not recomputed after a server start: every unfiltered result a review page reads,
as kept in the store, equals a fresh computation after each kind of change (a batch loaded or
deleted, a failure mode's note, the pilot's time zone), and a stale or altered row is never shown."""

from __future__ import annotations

import dataclasses
import math
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from helpers import ingest_one, make_pilot, write

from analysis import confidence, segments, usage
from analysis.common import NO_FILTERS, Filters
from readiness import catalog, cli, pilots, store
from readiness.catalog import get_pilot
from readiness.ingest import batches
from readiness.review import annotations, evidence
from readiness.security.access import Actor

DEPLOYMENTS = ("embedded", "organisation")  # the db fixture runs each test on both
OP = Actor("cli:test", "admin", cli=True)
TEAMS = ("Finance", "Procurement", "Legal")


def _usage(day: int, users: int = 36, prefix: str = "u") -> str:
    rows = "".join(
        f"2026-03-{day + i % 9:02d}T{8 + i % 9:02d}:{i % 60:02d}:00Z,{prefix}{i % users},{prefix}s{i % 50},"
        f"{('open', 'run', 'export')[i % 3]},{('triage', 'extract')[i % 2]},{TEAMS[(i % users) % 3]},"
        f"{'failed' if (i % users) % 3 == 1 and (i // users) % 4 == 0 else 'ok'}\n" for i in range(900))
    return "ts,user,session,event,feature,team,outcome\n" + rows


def _exceptions(day: int) -> str:
    return "ts,user,error_type,message\n" + "".join(
        f"2026-03-{day + i % 9:02d}T12:{i % 60:02d}:00Z,u{i % 36},{('TimeoutError', 'KeyError')[i % 2]},"
        f"{'Timeout calling https://erp.example/api/' + str(i) if i % 2 == 0 else 'KeyError: vat in record ' + str(i)}\n"
        for i in range(240))


def _feedback(day: int) -> str:
    return "ts,user,rating,comment\n" + "".join(
        f"2026-03-{day + i % 9:02d}T11:00:00Z,u{i % 36},{1 + i % 5},"
        f"\"{('Export keeps failing with a timeout', 'Saves me an hour a day', 'Please add a shortcut')[i % 3]}\"\n"
        for i in range(60))


def _pilot(db: Path, tmp_path: Path) -> None:
    make_pilot(db, "p", time_zone="Europe/Paris")
    ingest_one(db, write(tmp_path / "u.csv", _usage(2)), pilot="p", create=False)
    ingest_one(db, write(tmp_path / "e.csv", _exceptions(2)), kind="exceptions", pilot="p", create=False)
    ingest_one(db, write(tmp_path / "f.csv", _feedback(2)), kind="feedback", pilot="p", create=False)


@pytest.fixture
def pilot_db(db: Path, built_once) -> Path:
    built_once(_pilot)
    return db


def _equal(a: Any, b: Any) -> bool:
    """Deep equality of evidence results: frames cell by cell, dataclasses field by field, NaN equal to NaN."""
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
        return True
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(_equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _kept_equal_fresh(db: Path) -> int:
    """Assert every kept result of pilot p is current and equals a fresh computation; how many there are."""
    with store.open_store(db) as con:
        p = get_pilot(con, "p")
        assert evidence.stale(con) == {}
        for fn in evidence.KEPT:
            kept = evidence.read(con, p, fn)
            assert kept is not None, evidence.name_of(fn)
            assert _equal(kept, fn(con, p, NO_FILTERS)), evidence.name_of(fn)
        return con.execute("SELECT count(*) FROM evidence_kept").fetchone()[0]


def _computed_at(db: Path) -> dict[str, Any]:
    with store.open_store(db) as con:
        return dict(con.execute("SELECT name, computed_at FROM evidence_kept").fetchall())


def test_kept_results_equal_fresh_ones_and_are_read_not_recomputed(pilot_db: Path) -> None:
    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "p")
        assert evidence.read(con, p, usage.totals) is None  # nothing is kept before a view or a refresh
        assert len(evidence.refresh(con, p.pilot_id)) == len(evidence.KEPT)
        assert evidence.refresh(con, p.pilot_id) == []  # all current: nothing computed again
        diffs = evidence.read(con, p, segments.differences)
        figs = evidence.read(con, p, confidence.rate_intervals)
    assert _kept_equal_fresh(pilot_db) == len(evidence.KEPT)
    assert "usage.task_success" in figs and "cluster bootstrap by user" in figs["usage.task_success"].interval.method
    assert {d.value for d in diffs if d.segment == "team"} == {"Finance", "Legal"}  # they never fail: Procurement does
    before = _computed_at(pilot_db)
    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "p")
        assert _equal(evidence.get(con, p, usage.active_users), usage.active_users(con, p))
        assert evidence.keep_up(con) == {}
    assert _computed_at(pilot_db) == before


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_a_page_view_keeps_what_it_computed(pilot_db: Path) -> None:
    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "p")
        shown = evidence.get(con, p, usage.retention)
        assert _equal(evidence.read(con, p, usage.retention), shown)
        assert con.execute("SELECT list(name) FROM evidence_kept").fetchone()[0] == ["analysis.usage.retention"]
        # a page that read the data version before a later write: shown, but not kept under that version
        assert evidence.get(con, p, usage.totals, "1-1-1-1").users == 36
        assert evidence.read(con, p, usage.totals) is None
        # a filtered view is computed as before, never kept
        assert evidence.is_kept(usage.retention, NO_FILTERS)
        assert not evidence.is_kept(usage.retention, Filters(segment={"team": "Legal"}))
        with pytest.raises(ValueError):
            evidence.get(con, p, usage.busiest_team)


def test_after_an_ingest_and_a_deletion(pilot_db: Path, tmp_path: Path) -> None:
    with store.open_store(pilot_db) as con:
        evidence.refresh(con, get_pilot(con, "p").pilot_id)
    added = ingest_one(pilot_db, write(tmp_path / "u2.csv", _usage(12, prefix="w")), pilot="p", create=False)
    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "p")
        assert set(evidence.stale(con)[p.pilot_id]) == {evidence.name_of(fn) for fn in evidence.KEPT}
        assert evidence.read(con, p, usage.totals) is None  # stale: never shown
        evidence.keep_up(con)
        assert evidence.read(con, p, usage.totals).users == 72
    _kept_equal_fresh(pilot_db)
    with store.open_store(pilot_db) as con:
        batches.delete_batch(con, added.batch_id, OP)
        evidence.keep_up(con)
        assert evidence.read(con, get_pilot(con, "p"), usage.totals).users == 36
    _kept_equal_fresh(pilot_db)


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_a_note_recomputes_only_what_reads_the_review_records(pilot_db: Path) -> None:
    from analysis import failure_modes

    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "p")
        evidence.refresh(con, p.pilot_id)
        mode = int(evidence.read(con, p, failure_modes.failure_modes)["mode_id"].iloc[0])
        annotations.annotate_mode(con, p, mode, status="known", owner="Ops", note="Vendor fix due", actor=OP)
        assert evidence.stale(con) == {p.pilot_id: {"analysis.failure_modes.failure_modes"}}
        assert evidence.keep_up(con) == {p.pilot_id: ["analysis.failure_modes.failure_modes"]}
        modes = evidence.read(con, p, failure_modes.failure_modes)
        assert modes.loc[modes["mode_id"] == mode, "owner"].item() == "Ops"
    _kept_equal_fresh(pilot_db)


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_a_new_time_zone_recomputes_them(pilot_db: Path) -> None:
    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "p")
        evidence.refresh(con, p.pilot_id)
        days = list(evidence.read(con, p, usage.active_users)["day"])
        pilots.update_pilot(con, OP, p, owner="Ann", capability="Invoice triage")  # evidence reads neither
        # an audited edit moves the data version: only what reads the records is computed again
        assert evidence.stale(con) == {p.pilot_id: {"analysis.failure_modes.failure_modes"}}
        p = get_pilot(con, "p")
        pilots.update_pilot(con, OP, p, time_zone="Pacific/Auckland")
        p = get_pilot(con, "p")
        assert evidence.read(con, p, usage.active_users) is None
        evidence.keep_up(con)
        assert list(evidence.read(con, p, usage.active_users)["day"]) != days
    _kept_equal_fresh(pilot_db)


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_the_command_line_keeps_them_up_after_a_load(pilot_db: Path, tmp_path: Path) -> None:
    with store.open_store(pilot_db) as con:
        evidence.refresh(con, get_pilot(con, "p").pilot_id)
    more = write(tmp_path / "e2.csv", _exceptions(14))
    assert cli.main(["ingest", "--db", str(pilot_db), "--pilot", "p", "--kind", "exceptions", str(more)]) == 0
    assert _kept_equal_fresh(pilot_db) == len(evidence.KEPT)


class _Boom:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_an_altered_row_is_refused_not_run(pilot_db: Path, capsys: pytest.CaptureFixture) -> None:
    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "p")
        evidence.refresh(con, p.pilot_id)
        con.execute("UPDATE evidence_kept SET payload = ? WHERE name = 'analysis.usage.totals'",
                    [pickle.dumps(_Boom())])
        assert evidence.read(con, p, usage.totals) is None
        assert evidence.get(con, p, usage.totals).users == 36  # computed afresh, and kept again
        assert evidence.read(con, p, usage.totals).users == 36
    assert "must never run" not in capsys.readouterr().out


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_results_hold_only_for_their_context(pilot_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "p")
        evidence.refresh(con, p.pilot_id)
        monkeypatch.setenv("READINESS_CONFIDENCE_LEVEL", "0.9")  # another level: other intervals
        assert evidence.read(con, p, confidence.rate_intervals) is None
        assert evidence.get(con, p, confidence.rate_intervals)["usage.task_success"].interval.level == 0.9
        assert catalog.logs_version(catalog.data_version(con, p.pilot_id)) == \
            con.execute("SELECT any_value(data_version) FROM evidence_kept").fetchone()[0]


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_conditions_judged_on_the_kept_rates_equal_those_judged_afresh(pilot_db: Path) -> None:
    from readiness.review import conditions

    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "p")
        conditions.ensure_conditions(con, OP, p)
        evidence.refresh(con, p.pilot_id)
        rates = evidence.read(con, p, confidence.rate_intervals)
        kept = conditions.list_conditions(con, OP, p, rates=rates)
        assert kept == conditions.list_conditions(con, OP, p)
        rate = next(c for c in kept if c["computed"] == "exception_rate")
        assert rate["status"] == "not met" and "cluster bootstrap by user" in rate["method"]
