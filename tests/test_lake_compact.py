"""`maintain` merges a pilot's small Parquet files: after many small batches each of its lake tables
is one file, the figures are the same, and a batch of a merged file can still be deleted (its rows
leave every view, the others stay) with the figures as decided intact."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import copy_store, ingest_one, make_pilot, query, write

from analysis.summary import summary
from readiness import backup, cli, store
from readiness.catalog import get_pilot
from readiness.ingest import batches
from readiness.review import asof, decisions
from readiness.security import audit
from readiness.security.access import Actor
from readiness.store import lake

OP = Actor("cli:test", "admin", cli=True)
BATCHES = 12


def _usage(i: int) -> str:
    """Batch ``i``: 10 + i events on day 1 + i % 9, users and sessions of its own."""
    return "ts,user,event,session,outcome\n" + "".join(
        f"2026-03-{1 + i % 9:02d}T10:{j:02d}:00Z,u{i}-{j % 3},{'open' if j % 2 else 'export'},s{i}-{j % 4},"
        f"{'failed' if j % 5 == 0 else 'ok'}\n" for j in range(10 + i))


def _add_pilot(db: Path, tmp_path: Path, name: str) -> list[int]:
    """Pilot ``name`` with ``BATCHES`` small batches (one Parquet file per lake table each); its batch ids."""
    make_pilot(db, name)
    return [ingest_one(db, write(tmp_path / f"{name}{i}.csv", _usage(i)), pilot=name).batch_id
            for i in range(BATCHES)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """A store with pilot p's batches, built once: each test takes a copy of it rather than loading them again."""
    folder = tmp_path_factory.mktemp("built")
    db = folder / "store.duckdb"
    return db, _add_pilot(db, folder, "p")


def _store(db: Path, built: tuple[Path, list[int]]) -> dict[str, list[int]]:
    """A copy of the built store at ``db``: pilot p's batch ids."""
    copy_store(built[0], db)
    return {"p": list(built[1])}


def _figures(db: Path, pilot: str = "p") -> dict:
    with store.open_store(db) as con:
        return json.loads(json.dumps(summary(con, get_pilot(con, pilot)), default=str))


def _files(db: Path) -> dict[tuple[int, str], int]:
    return {(p, t): n for p, t, n in query(db, "SELECT pilot_id, tbl, count(DISTINCT path) FROM lake_files GROUP BY ALL")}


def _on_disk(db: Path) -> int:
    return len(list(lake.parts_dir(db).glob("*/*.parquet")))


def test_maintain_merges_each_pilots_files_and_keeps_the_figures(db: Path, tmp_path: Path, built, capsys) -> None:
    _store(db, built)
    _add_pilot(db, tmp_path, "q")
    make_pilot(db, "few")
    for i in range(3):
        ingest_one(db, write(tmp_path / f"few{i}.csv", _usage(i)), pilot="few")
    before = {name: _figures(db, name) for name in ("p", "q", "few")}
    events = query(db, "SELECT pilot_id, count(*), sum(hash(user_id, ts, src_row)) FROM usage_events GROUP BY 1 "
                       "ORDER BY 1")
    assert set(_files(db).values()) == {BATCHES, 3}

    capsys.readouterr()
    assert cli.main(["maintain", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert out.count("Merged 12 files of") == 10 and "few" not in out  # 2 pilots x 5 tables; 3 files stay

    files = _files(db)
    few = query(db, "SELECT pilot_id FROM pilots WHERE name = 'few'")[0][0]
    assert {k: v for k, v in files.items() if k[0] != few} == {k: 1 for k in files if k[0] != few}
    assert {v for k, v in files.items() if k[0] == few} == {3}
    assert _on_disk(db) == 2 * 5 + 3 * 5  # the merged files' old files are gone from the disk
    assert {name: _figures(db, name) for name in ("p", "q", "few")} == before
    assert query(db, "SELECT pilot_id, count(*), sum(hash(user_id, ts, src_row)) FROM usage_events GROUP BY 1 "
                     "ORDER BY 1") == events
    # one lake_files row per batch still, each with its rows in the merged file
    assert query(db, "SELECT count(*) FROM lake_files WHERE tbl = 'usage_events'") == [(2 * BATCHES + 3,)]
    with store.open_store(db) as con:
        assert audit.verify(con).ok
        assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'lake.compact'").fetchone()[0] == 10

    # a second run has nothing to merge; a lower threshold merges the small pilot too
    assert cli.main(["maintain", "--db", str(db)]) == 0
    assert "Merged" not in capsys.readouterr().out
    assert cli.main(["maintain", "--db", str(db), "--compact-above", "1"]) == 0
    assert set(_files(db).values()) == {1}
    assert _figures(db, "few") == before["few"]


def test_a_batch_of_a_merged_file_can_be_deleted_and_decided_figures_hold(db: Path, built) -> None:
    ids = _store(db, built)["p"]
    with store.open_store(db) as con:
        d = decisions.record_decision(con, OP, get_pilot(con, "p"), outcome="harden", rationale="timeouts",
                                      owner="Tom", next_review=date.today() + timedelta(days=30))
    batches.maintain(db, OP)
    assert set(_files(db).values()) == {1}
    gone, kept = ids[4], [b for b in ids if b != ids[4]]
    rows = {t: query(db, f"SELECT batch_id, count(*) FROM {t} GROUP BY 1 ORDER BY 1") for t in lake.LAKE_TABLES}

    with store.open_store(db) as con:
        deleted = batches.delete_batch(con, gone, OP)
    assert deleted["rows_deleted"] == 10 + 4 and deleted["kept_for_decisions"] == [d["decision_id"]]
    for table in lake.LAKE_TABLES:  # exactly the batch's rows left every view; the others' stay
        assert query(db, f"SELECT batch_id, count(*) FROM {table} GROUP BY 1 ORDER BY 1") == [
            r for r in rows[table] if r[0] != gone], table
    assert query(db, "SELECT DISTINCT batch_id FROM lake_files ORDER BY 1") == [(b,) for b in kept]
    assert set(_files(db).values()) == {1} and _on_disk(db) == 5  # the merged files were rewritten without it

    with store.open_store(db) as con:
        as_decided = asof.decided_figures(con, OP, get_pilot(con, "p"), d["decision_id"])
        assert as_decided["matches"], as_decided["differences"]
        assert audit.verify(con).ok
    assert _figures(db)["usage"]["events"] == sum(10 + i for i in range(BATCHES)) - 14


def test_a_merge_killed_before_its_commit_leaves_an_orphan_and_the_data_whole(db: Path, built) -> None:
    _store(db, built)
    before = _figures(db)
    with store.open_store(db) as con:  # what a merge killed after writing its file leaves
        (_pid, table, planned), *_ = lake.crowded(con, 8)
    scratch = store.scratch()
    merged, rows = lake.merge(scratch, db, table, [lake.parts_dir(db) / p for p in sorted({p for _b, p, _n in planned})])
    scratch.close()
    dead = merged.with_name(merged.name.replace(f"-{os.getpid()}-", "-999999999-"))
    merged.rename(dead)
    assert rows == sum(n for _b, _p, n in planned)
    assert _figures(db) == before and _on_disk(db) == 5 * BATCHES + 1
    done = batches.maintain(db, OP)
    assert done["files_removed"] == 1 and len(done["merged"]) == 5 and not dead.exists()
    assert _figures(db) == before and _on_disk(db) == 5


def test_a_group_changed_while_its_merge_was_written_is_left_for_the_next_run(db: Path, built) -> None:
    ids = _store(db, built)["p"]
    with store.open_store(db) as con:
        groups = lake.crowded(con, 8)
    _pid, table, planned = next(g for g in groups if g[1] == "usage_events")
    scratch = store.scratch()
    merged, _rows = lake.merge(scratch, db, table, [lake.parts_dir(db) / p for _b, p, _n in planned])
    scratch.close()
    with store.open_store(db) as con:  # meanwhile a batch of the group is deleted
        batches.delete_batch(con, ids[0], OP)
        with store.transaction(con):
            assert not lake.swap(con, table, _pid, planned, merged)
    merged.unlink()
    assert query(db, "SELECT count(*) FROM usage_events WHERE batch_id = ?", [ids[0]]) == [(0,)]
    assert _files(db)[(_pid, "usage_events")] == BATCHES - 1
    assert len(batches.maintain(db, OP)["merged"]) == 5  # the next run merges what is left
    assert query(db, "SELECT count(*) FROM usage_events") == [(sum(10 + i for i in range(1, BATCHES)),)]


def test_a_backup_of_merged_files_restores_with_the_same_figures(db: Path, tmp_path: Path, built) -> None:
    _store(db, built)
    batches.maintain(db, OP)
    before = _figures(db)
    backup.backup(db, tmp_path / "bk", OP)
    assert len(list((tmp_path / "bk").glob("parts/*/*.parquet"))) == 5  # each merged file once
    elsewhere = tmp_path / "other" / "store.duckdb"
    backup.restore(elsewhere, tmp_path / "bk", OP)
    assert _figures(elsewhere) == before
    with store.open_store(elsewhere) as con:  # a batch of a restored merged file still deletes
        batches.delete_batch(con, query(elsewhere, "SELECT min(batch_id) FROM ingest_batches")[0][0], OP)
    assert _figures(elsewhere)["usage"]["events"] == before["usage"]["events"] - 10
