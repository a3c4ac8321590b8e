"""Figures as decided: a decision's headline figures recomputed from the batches its evidence was
read from, after later batches and deletions."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import PROJECT_ROOT, ingest_one, query, write

from analysis.usage_rollup import ROLLUP_TABLES
from readiness import store
from readiness.catalog import get_pilot
from readiness.ingest import batches, retired
from readiness.review import asof, decisions
from readiness.security.access import Actor

DEPLOYMENTS = ("embedded", "organisation")
OP = Actor("cli:test", "admin", cli=True)
NEXT = date.today() + timedelta(days=30)


def _usage(n: int, day: int, prefix: str) -> str:
    return "ts,user,event,session,outcome\n" + "".join(
        f"2026-03-{day:02d}T10:{i % 60:02d}:00Z,{prefix}{i % 7},{'open' if i % 3 else 'export'},{prefix}s{i % 11},"
        f"{'failed' if i % 4 == 0 else 'ok'}\n" for i in range(n))


def _feedback(scores: list[int], day: int) -> str:
    return "ts,user,score,comment\n" + "".join(
        f"2026-03-{day:02d}T11:00:00Z,u{i},{s},\"{'slow export again' if s < 7 else 'works well for triage'}\"\n"
        for i, s in enumerate(scores))


def _exceptions(n: int, day: int) -> str:
    return "ts,user,message,error_type\n" + "".join(
        f"2026-03-{day:02d}T12:00:00Z,u{i % 3},Timeout calling erp order {1000 + i},TimeoutError\n"
        for i in range(n))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "readiness", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)


def _decided(db: Path, tmp_path: Path) -> tuple[int, dict]:
    ingest_one(db, write(tmp_path / "u1.csv", _usage(120, 2, "a")), pilot="p")
    ingest_one(db, write(tmp_path / "u2.csv", _usage(80, 3, "b")), pilot="p")
    ingest_one(db, write(tmp_path / "f1.csv", _feedback([9, 10, 3, 8, 6, 10, 2], 2)), kind="feedback", pilot="p")
    ingest_one(db, write(tmp_path / "e1.csv", _exceptions(9, 2)), kind="exceptions", pilot="p")
    with store.open_store(db) as con:
        d = decisions.record_decision(con, OP, get_pilot(con, "p"), outcome="harden", rationale="ERP timeouts",
                                      owner="Tom", next_review=NEXT)
    return d["decision_id"], json.loads(d["snapshot"])["figures"]


@pytest.fixture
def decided(db: Path, built_once) -> tuple[Path, int, dict]:
    return db, *built_once(_decided)


def _batch(db: Path, file_name: str) -> int:
    return query(db, "SELECT batch_id FROM ingest_batches WHERE file_name = ?", [file_name])[0][0]


def _delete(db: Path, batch_id: int) -> dict:
    with store.open_store(db) as con:
        return batches.delete_batch(con, batch_id, OP)


def test_figures_as_decided_survive_later_batches_and_deletions(decided, tmp_path: Path) -> None:
    db, decision_id, frozen = decided
    # after the decision: more of everything, and two of the batches it was read from deleted
    ingest_one(db, write(tmp_path / "u3.csv", _usage(50, 5, "c")), pilot="p")
    ingest_one(db, write(tmp_path / "f2.csv", _feedback([1, 1, 2], 5)), kind="feedback", pilot="p")
    ingest_one(db, write(tmp_path / "e2.csv", _exceptions(4, 5)), kind="exceptions", pilot="p")
    gone = _delete(db, _batch(db, "u1.csv"))
    assert gone["kept_for_decisions"] == [decision_id]
    _delete(db, _batch(db, "f1.csv"))

    run = _cli("summary", "--db", str(db), "--pilot", "p", "--decision", str(decision_id), "--json")
    assert run.returncode == 0, run.stderr
    assert "Equals the evidence frozen with the decision" in run.stderr
    as_decided = json.loads(run.stdout)
    assert as_decided == frozen
    assert as_decided["usage"]["events"] == 200 and as_decided["exceptions"]["count"] == 9

    now = json.loads(_cli("summary", "--db", str(db), "--pilot", "p", "--json").stdout)
    assert now["usage"]["events"] == 130 and now["exceptions"]["count"] == 13  # 80 + 50; 9 + 4
    assert now["feedback"] != frozen["feedback"]


def test_a_batch_no_decision_read_is_deleted_outright(decided, tmp_path: Path) -> None:
    db, decision_id, frozen = decided
    ingest_one(db, write(tmp_path / "u3.csv", _usage(50, 5, "c")), pilot="p")
    gone = _delete(db, _batch(db, "u3.csv"))
    assert gone["kept_for_decisions"] == [] and gone["rows_deleted"] == 50
    with store.open_store(db) as con:
        assert retired.retired_tables(con) == set()
        result = asof.decided_figures(con, OP, get_pilot(con, "p"), decision_id)
    assert result["matches"] and result["batches"] == sorted(result["batches"]) and len(result["batches"]) == 4


def test_a_deleted_batch_leaves_current_figures_but_not_the_decided_ones(decided) -> None:
    db, decision_id, frozen = decided
    u1 = _batch(db, "u1.csv")
    _delete(db, u1)
    assert query(db, "SELECT count(*) FROM usage_events WHERE batch_id = ?", [u1]) == [(0,)]
    for table in ("usage_events", *ROLLUP_TABLES):
        assert query(db, f"SELECT count(*) > 0 FROM {table}_retired WHERE batch_id = ?", [u1]) == [(True,)], table
    assert query(db, "SELECT count(*) FROM ingest_batches WHERE batch_id = ?", [u1]) == [(0,)]  # not listed
    with store.open_store(db) as con:
        pilot = get_pilot(con, "p")
        result = asof.decided_figures(con, OP, pilot, decision_id)
        assert result["matches"], result["differences"]
        # the caller's own connection still reads today's tables
        assert con.execute("SELECT count(*) FROM usage_events").fetchone()[0] == 80


def test_the_retired_tables_name_the_rollup_tables_the_rollup_keeps() -> None:
    assert retired.BATCH_TABLES["usage"] == ("usage_events", *ROLLUP_TABLES)


@pytest.mark.deployments("embedded")  # its store code is covered on both by the others here
def test_an_unknown_decision_is_a_clear_error(decided) -> None:
    db, decision_id, _ = decided
    run = _cli("summary", "--db", str(db), "--pilot", "p", "--decision", str(decision_id + 99))
    assert run.returncode == 2 and f"No decision {decision_id + 99} for p" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.deployments("organisation")
def test_the_lake_snapshot_a_decision_records_outlives_maintain(decided, tmp_path: Path, monkeypatch) -> None:
    from readiness.store import ducklake

    db, decision_id, frozen = decided
    snap = json.loads(query(db, "SELECT snapshot FROM decisions WHERE decision_id = ?", [decision_id])[0][0])
    at, usage = snap["lake_snapshot"], [b["batch_id"] for b in snap["batches"] if b["kind"] == "usage"]
    ingest_one(db, write(tmp_path / "u3.csv", _usage(50, 5, "c")), pilot="p")
    _delete(db, _batch(db, "u1.csv"))
    _delete(db, _batch(db, "u3.csv"))  # read by no decision: its snapshots may all go
    monkeypatch.setattr(ducklake, "GRACE", "INTERVAL 0 SECOND")  # expire every unpinned snapshot now
    done = batches.maintain(db, OP)
    tidied = done["merged"][0]
    assert tidied["snapshots_expired"] > 0
    kept = {r[0] for r in query(db, "SELECT snapshot_id FROM ducklake_snapshots('lake')")}
    assert at in kept
    # time travel: the events the decision read, in the lake as it was, after a deletion and maintain
    assert query(db, f"SELECT count(*) FROM lake.main.usage_events AT (VERSION => {at}) "
                     f"WHERE list_contains({usage}, batch_id)") == [(frozen["usage"]["events"],)]
    assert query(db, "SELECT count(*) FROM lake.main.usage_events") == [(80,)]  # swept: u1 and u3 gone
    assert query(db, "SELECT count(*) FROM usage_events") == [(80,)]
    run = _cli("summary", "--db", str(db), "--pilot", "p", "--decision", str(decision_id), "--json")
    assert run.returncode == 0 and json.loads(run.stdout) == frozen, run.stderr
    assert _cli("audit", "--db", str(db), "verify").returncode == 0


@pytest.mark.deployments("organisation")
def test_a_batch_deleted_outright_leaves_even_the_snapshots_decisions_pinned(decided, tmp_path: Path,
                                                                             monkeypatch) -> None:
    from readiness.store import ducklake

    db, first, _frozen = decided
    mistake = ingest_one(db, write(tmp_path / "q.csv", _usage(30, 6, "secret")), pilot="q")
    with store.open_store(db) as con:  # a decision on p while q's batch is in the lake
        second = decisions.record_decision(con, OP, get_pilot(con, "p"), outcome="harden", rationale="again",
                                           owner="Tom", next_review=NEXT)["decision_id"]
    snaps = {d: json.loads(query(db, "SELECT snapshot FROM decisions WHERE decision_id = ?", [d])[0][0])["lake_snapshot"]
             for d in (first, second)}
    gone = _delete(db, mistake.batch_id)
    assert gone["kept_for_decisions"] == []  # no decision read pilot q's batch
    monkeypatch.setattr(ducklake, "GRACE", "INTERVAL 0 SECOND")
    batches.maintain(db, OP)
    kept = {r[0] for r in query(db, "SELECT snapshot_id FROM ducklake_snapshots('lake')")}
    assert snaps[first] in kept and snaps[second] not in kept
    for at in kept:  # the mistaken rows are in no snapshot left
        assert query(db, f"SELECT count(*) FROM lake.main.usage_events AT (VERSION => {at}) "
                         f"WHERE batch_id = {mistake.batch_id}") == [(0,)]
    for d in (first, second):  # figures as decided still recompute, from the decisions' batches
        run = _cli("summary", "--db", str(db), "--pilot", "p", "--decision", str(d), "--json")
        assert run.returncode == 0 and "Equals the evidence frozen" in run.stderr, run.stderr
