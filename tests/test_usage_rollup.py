"""The usage rollup (analysis/usage_rollup.py): every usage figure read from it equals the raw-scan
reference (tests/usage_reference.py, the implementation before the rollup) for random pilots under
many filters, after ingests, a batch deletion, a re-sent file and a time-zone change."""

from __future__ import annotations

import dataclasses
import math
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import usage_reference as reference
from helpers import PROJECT_ROOT  # noqa: F401  (puts the project on sys.path)

from analysis import usage  # noqa: E402
from analysis.common import NO_FILTERS, Empty, Filters  # noqa: E402
from analysis.usage_rollup import ROLLUP_TABLES, rebuild_usage_rollup  # noqa: E402
from readiness import catalog, pilots, store  # noqa: E402
from readiness.ingest import batches
from readiness.ingest import load as ingest
from readiness.security.access import Actor  # noqa: E402
from readiness.store import migrations

OP = Actor("t", "admin", cli=True)

FUNCTIONS = ("totals", "dau_mean", "active_users", "retention", "lifecycle", "feature_adoption",
             "task_success", "concentration", "trend")

# Values chosen to hit every rule: blanks and padding (trimmed for figures, exact for filters),
# a whitespace-only user (a user), outcome case and padding, times near local midnight and DST.
USERS = ["u1", "u2", "u3", "u4", "u5", "u6", "u7", " "]
SESSIONS = ["s1", "s2", " s2 ", "s3", "", "  ", "s4"]
TEAMS = ["A", " A", "B", "", "  "]
FEATURES = ["search", "export", " search", "", "  ", "share"]
OUTCOMES = ["success", "Success ", "failure", "", "ok", "error", "1", "completed"]
GROUPS = ["g1", "g2", "", None]
START = datetime(2026, 2, 20, tzinfo=UTC)  # spans Berlin's and New York's spring DST changes


def _csv(rng: random.Random, rows: int, days: int) -> str:
    lines = ["timestamp,user_id,event,session_id,team,feature,outcome,user_group"]
    for _ in range(rows):
        t = START + timedelta(days=rng.randrange(days), hours=rng.choice([0, 4, 11, 22, 23]),
                              minutes=rng.randrange(60))
        group = rng.choice(GROUPS)
        lines.append(",".join([t.strftime("%Y-%m-%dT%H:%M:%SZ"), rng.choice(USERS), rng.choice(["open", "run"]),
                               rng.choice(SESSIONS), rng.choice(TEAMS), rng.choice(FEATURES),
                               rng.choice(OUTCOMES), "" if group is None else group]))
    return "\n".join(lines) + "\n"


def _filters(rng: random.Random) -> list[Filters]:
    day = START.date()
    some = [day + timedelta(days=rng.randrange(60)) for _ in range(4)]
    a, b = sorted(some[:2])
    return [
        NO_FILTERS,
        Filters(start=a),
        Filters(end=b),
        Filters(start=a, end=b),
        Filters(start=date(2026, 3, 29), end=date(2026, 3, 29)),   # Berlin's DST day
        Filters(segment={"team": "A"}),
        Filters(segment={"team": " A"}),                            # filters match the loaded value
        Filters(segment={"team": "  "}),                           # blank teams only: "no team" reasons
        Filters(start=a, segment={"feature": "  "}),
        Filters(segment={"feature": "search"}),
        Filters(segment={"user_group": "g1"}),
        Filters(start=a, end=b, segment={"team": "B", "feature": "export"}),
        Filters(start=some[2], segment={"user_group": "g2", "team": "A"}),
        Filters(segment={"event": "open"}),                         # a raw column: answered from the events
        Filters(segment={"region": "north"}),                       # no such column: matches nothing
        Filters(segment={"team": "Nobody"}),
        Filters(start=date(2030, 1, 1)),
    ]


def _same(got, want, where: str) -> None:
    if isinstance(want, pd.DataFrame):
        assert isinstance(got, pd.DataFrame), where
        pd.testing.assert_frame_equal(got, want, check_exact=True, obj=where)
    elif isinstance(want, Empty):
        assert isinstance(got, Empty) and got.reason == want.reason, (where, got, want)
    elif dataclasses.is_dataclass(want):
        assert type(got).__name__ == type(want).__name__, where
        for f in dataclasses.fields(want):
            _same(getattr(got, f.name), getattr(want, f.name), f"{where}.{f.name}")
    elif isinstance(want, float) and math.isnan(want):
        assert isinstance(got, float) and math.isnan(got), where
    else:
        assert got == want and type(got) is type(want), (where, got, want)


def _compare(db: Path, name: str, filters: list[Filters], *, rollup: bool = True) -> None:
    """Every usage function under every filter equals the reference; the rollup answers when expected."""
    with store.open_store(db) as con:
        pilot = catalog.get_pilot(con, name)
        for f in filters:
            if rollup and usage.ROLLUP_SEGMENTS.issuperset(f.segment):
                assert usage._reads_rollup(con, pilot, f), f
            for fn in FUNCTIONS:
                _same(getattr(usage, fn)(con, pilot, f), getattr(reference, fn)(con, pilot, f), f"{fn}{f}")


def _rollup_rows(db: Path, pilot_id: int) -> dict[str, list[tuple]]:
    with store.open_store(db) as con:
        return _rollup_rows_con(con, pilot_id)


def _rebuilt(db: Path, pilot_id: int) -> dict[str, list[tuple]]:
    with store.open_store(db) as con:
        con.execute("BEGIN TRANSACTION")
        rebuild_usage_rollup(con, pilot_id)
        rows = _rollup_rows_con(con, pilot_id)
        con.execute("ROLLBACK")
    return rows


def _rollup_rows_con(con, pilot_id: int) -> dict[str, list[tuple]]:
    """The pilot's rollup, merged over batches and sorted (what any reader sees)."""
    out = {}
    for table in ROLLUP_TABLES:
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        keys = [c for c in cols if c not in ("pilot_id", "batch_id", "events", "outcomes", "successes",
                                             "with_team", "with_feature")]
        sums = [f"sum({c})" for c in cols if c not in keys and c not in ("pilot_id", "batch_id")]
        rows = con.execute(f"SELECT {', '.join(keys + sums)} FROM {table} WHERE pilot_id = ? GROUP BY ALL",
                           [pilot_id]).fetchall()
        out[table] = sorted(rows, key=repr)
    return out


def _ingest(db: Path, path: Path, name: str) -> ingest.IngestResult:
    [r] = ingest.ingest_files(db, name, "usage", [path], actor=OP)
    assert r.error is None, r
    return r


@pytest.mark.parametrize("seed", [1])  # one seed: each runs ~35 s; the seed varies the data, not the paths
def test_rollup_equals_raw_scan_through_the_pilot_lifecycle(tmp_path, seed):
    rng = random.Random(seed)
    db = tmp_path / "store.duckdb"
    with store.open_store(db) as con, store.transaction(con):
        pilot_id = pilots.create_pilot(con, "p", OP, time_zone="Europe/Berlin").pilot_id
        pilots.create_pilot(con, "other", OP, time_zone="UTC")  # its rows must never leak into "p"
    files = []
    for i in range(3):  # overlapping days, so that batches share rollup keys
        files.append(tmp_path / f"b{i}.csv")
        files[-1].write_text(_csv(rng, rng.randrange(60, 120), 50), encoding="utf-8")
    other = tmp_path / "other.csv"
    other.write_text(_csv(rng, 50, 50), encoding="utf-8")
    filters = _filters(rng)
    # after the first state a subset: the raw reference takes ~50 ms a call, keep the test quick
    some = [f for i, f in enumerate(filters) if i % 3 == 0 or f.segment.get("team") == "  "]

    results = [_ingest(db, f, "p") for f in files]
    _ingest(db, other, "other")
    _compare(db, "p", filters)
    assert _rollup_rows(db, pilot_id) == _rebuilt(db, pilot_id)  # incremental = from scratch

    with store.open_store(db) as con:
        batches.delete_batch(con, results[1].batch_id, actor=OP)
    _compare(db, "p", some)
    assert _rollup_rows(db, pilot_id) == _rebuilt(db, pilot_id)

    before = _rollup_rows(db, pilot_id)
    again = ingest.ingest_files(db, "p", "usage", [files[0]], actor=OP)[0]
    assert again.duplicate  # a re-sent file adds nothing
    assert _rollup_rows(db, pilot_id) == before

    with store.open_store(db) as con:  # a time-zone change: the rollup is stale until rebuilt
        con.execute("UPDATE pilots SET time_zone = 'America/New_York' WHERE pilot_id = ?", [pilot_id])
        assert not usage._reads_rollup(con, catalog.get_pilot(con, "p"), NO_FILTERS)
    _compare(db, "p", some, rollup=False)  # answered from the events meanwhile
    with store.open_store(db) as con, store.transaction(con):
        rebuild_usage_rollup(con, pilot_id)
    _compare(db, "p", some)

    with store.open_store(db) as con:  # changed again, then a batch lands: the ingest rebuilds
        con.execute("UPDATE pilots SET time_zone = 'Asia/Kolkata' WHERE pilot_id = ?", [pilot_id])
    _ingest(db, files[1], "p")
    _compare(db, "p", some)
    assert _rollup_rows(db, pilot_id) == _rebuilt(db, pilot_id)

    with store.open_store(db) as con:
        for r in batches.list_batches(con, OP, catalog.get_pilot(con, "p")):
            batches.delete_batch(con, r["batch_id"], actor=OP)
        assert all(con.execute(f"SELECT count(*) FROM {t} WHERE pilot_id = ?", [pilot_id]).fetchone()[0] == 0
                   for t in ROLLUP_TABLES)
    _compare(db, "p", some)  # "No usage events have been loaded", from the (empty) rollup


def test_migration_backfills_the_rollup_of_a_store_that_had_usage(tmp_path, monkeypatch):
    # A store from before migration 4 already holds events: the migrations after it must aggregate
    # them (4) and keep them readable under the same table names (the lake's views).
    rng = random.Random(7)
    new, db = tmp_path / "new.duckdb", tmp_path / "old.duckdb"
    for d in (new, db):
        with monkeypatch.context() as m:
            if d == db:  # the release before the rollup
                m.setattr(migrations, "MIGRATIONS", [x for x in migrations.MIGRATIONS if x[0] < 4])
            with store.open_store(d) as con, store.transaction(con):
                pilot_id = pilots.create_pilot(con, "p", OP, time_zone="Europe/Berlin").pilot_id
                pilots.create_pilot(con, "quiet", OP, time_zone="Pacific/Auckland")
    for i in range(2):
        path = tmp_path / f"b{i}.csv"
        path.write_text(_csv(rng, 150, 50), encoding="utf-8")
        _ingest(new, path, "p")
    expected = _rollup_rows(new, pilot_id)
    with store.open_store(new) as con:  # the same events and batches, as the old release stored them
        con.execute(f"COPY (SELECT * FROM usage_events) TO '{tmp_path / 'ev.parquet'}' (FORMAT parquet)")
        con.execute(f"COPY (SELECT * EXCLUDE (rows_skipped) FROM ingest_batches) TO '{tmp_path / 'b.parquet'}' "
                    "(FORMAT parquet)")
    with store.open_store(db) as con:
        con.execute(f"INSERT INTO usage_events BY NAME SELECT * FROM read_parquet('{tmp_path / 'ev.parquet'}')")
        con.execute(f"INSERT INTO ingest_batches BY NAME SELECT * FROM read_parquet('{tmp_path / 'b.parquet'}')")
    store.forget_migrated(db)
    with store.open_store(db) as con:
        assert con.execute("SELECT count(*) FROM schema_migrations WHERE version = 4").fetchone()[0] == 1
        assert sorted(con.execute("SELECT pilot_id, time_zone FROM usage_rollup_state").fetchall()) == [
            (pilot_id, "Europe/Berlin"), (pilot_id + 1, "Pacific/Auckland")]
        assert con.execute("SELECT count(*) FROM usage_events_local").fetchone()[0] == 300  # kept where they were
    assert _rollup_rows(db, pilot_id) == expected
    _compare(db, "p", _filters(rng)[::2])
    _compare(db, "quiet", [NO_FILTERS])


def test_a_pilot_without_rollup_state_reads_the_events(tmp_path):
    db = tmp_path / "s.duckdb"
    with store.open_store(db) as con, store.transaction(con):
        pilots.create_pilot(con, "new", OP)
    with store.open_store(db) as con:
        p = catalog.get_pilot(con, "new")
        assert not usage._reads_rollup(con, p, NO_FILTERS)
        assert usage.totals(con, p).reason == "No usage events have been loaded for this pilot."


def test_many_distinct_outcomes_are_judged_row_by_row_with_the_same_figures(tmp_path, monkeypatch):
    """The rollup judges each distinct outcome once; a column with more distinct values than
    MANY_OUTCOMES is judged row by row. Both give the same rollup and the reference's figures."""
    from analysis import usage_rollup

    rng = random.Random(11)
    text = _csv(rng, 1500, 30)
    lines = text.splitlines()  # a free-text outcome on every third row: many distinct values
    lines[1::3] = [line.replace(",success,", f",done #{i},") for i, line in enumerate(lines[1::3])]
    path = tmp_path / "usage.csv"
    path.write_text("\n".join(lines) + "\n")
    db = tmp_path / "s.duckdb"
    with store.open_store(db) as con, store.transaction(con):
        pilots.create_pilot(con, "p", OP, time_zone="Europe/Berlin")
    _ingest(db, path, "p")
    with store.open_store(db) as con:
        pid = catalog.get_pilot(con, "p").pilot_id
        distinct = con.execute("SELECT count(DISTINCT outcome) FROM usage_events").fetchone()[0]
    judged_once = _rollup_rows(db, pid)
    monkeypatch.setattr(usage_rollup, "MANY_OUTCOMES", distinct - 1)
    assert _rebuilt(db, pid) == judged_once
    monkeypatch.setattr(usage_rollup, "MANY_OUTCOMES", distinct + 1)
    assert _rebuilt(db, pid) == judged_once
    assert any(row[-1] for row in judged_once["usage_by_feature"])  # successes were counted
    _compare(db, "p", [NO_FILTERS])
