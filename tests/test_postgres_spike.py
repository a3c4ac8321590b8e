"""The organisation deployment's spike, as tests: review records in PostgreSQL and telemetry in a
DuckLake lake (catalog in the same PostgreSQL, Parquet files in a folder), both reached through
DuckDB's extensions. What works is asserted; so are the refusals the design in
docs/organisation-deployment.md is built around (if a DuckDB upgrade lifts one, its test fails
and the design can be simplified).

Needs PostgreSQL's server binaries and the extension packages of requirements.txt (postgres, ducklake), which
are built for DuckDB 1.5.5: under another DuckDB the whole file is skipped, with the reason.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from readiness import store
from readiness.store import migrations, postgres
from readiness.store.extensions import ExtensionMissing, load_extensions
from tests.postgres_server import missing_reason, throwaway_postgres


def _skip_reason() -> str | None:
    reason = missing_reason()
    if reason:
        return reason
    con = store.scratch()
    try:
        load_extensions(con, "postgres", "ducklake")
    except ExtensionMissing as err:
        return f"DuckDB {store.ENGINE_VERSION}: {err}"
    finally:
        con.close()
    return None


_REASON = _skip_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=f"no PostgreSQL spike: {_REASON}")

ROLLUP = 4  # the usage rollup migration: telemetry, and its backfill is DuckDB SQL (GROUP BY ALL)
TELEMETRY = ("usage_events", "feedback", "exceptions", "ingest_rejects")


def records_sql(step: object) -> str:
    """A migration's SQL as PostgreSQL runs it: DuckDB's DOUBLE is PostgreSQL's DOUBLE PRECISION
    (which DuckDB also reads); every other statement of the records' migrations is the same."""
    sql = migrations._V3_AUTH if callable(step) else str(step)
    return re.sub(r"\bDOUBLE\b", "DOUBLE PRECISION", sql)


def connect(dsn: str, lake: Path | None = None):
    """A DuckDB connection with the records attached as ``rec`` (and the lake as ``lake``)."""
    con = store.scratch()
    load_extensions(con, "postgres", "ducklake")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"ATTACH '{dsn}' AS rec (TYPE postgres)")
    if lake is not None:
        con.execute(f"ATTACH 'ducklake:postgres:{dsn}' AS lake (DATA_PATH '{lake}', METADATA_SCHEMA 'lake')")
    return con


def at_once(work, writers: int, dsn: str, lake: Path | None = None) -> list[str]:
    """Run ``work(connection, n)`` in ``writers`` threads at once, each on a DuckDB instance of its
    own (so on connections of its own to PostgreSQL); return the errors they met."""
    errors: list[str] = []

    def run(n: int) -> None:
        c = connect(dsn, lake)
        try:
            work(c, n)
        except Exception as err:  # noqa: BLE001 - returned to the test, which asserts there is none
            errors.append(str(err))
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.fixture(scope="module")
def pg(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A throwaway server with the records' schema (the organisation deployment's baseline) and a lake whose data files are in a tmp folder."""
    lake = tmp_path_factory.mktemp("lake")
    with throwaway_postgres() as dsn:
        con = connect(dsn)
        try:
            # the records as the organisation deployment makes them (its baseline, which the spike led to)
            con.execute("CALL postgres_execute('rec', ?)", [postgres.SCHEMA_FILE.read_text()])
            con.execute("ALTER TABLE rec.ingest_batches ADD COLUMN state VARCHAR DEFAULT 'pending'")
        finally:
            con.close()
        yield dsn, lake


@pytest.fixture
def con(pg):
    dsn, lake = pg
    c = connect(dsn, lake)
    yield c
    c.close()


# -- records: our migrations, through DuckDB and natively ---------------------------------------

def test_our_migrations_cannot_run_through_duckdb_on_postgres(pg):
    # DuckDB's DDL on a postgres attach refuses sequences, and the first migration makes three
    con = connect(pg[0])
    try:
        con.execute("CALL postgres_execute('rec', 'CREATE SCHEMA scratch')")
        con.execute("USE rec.scratch")
        with pytest.raises(store.DatabaseError, match="Postgres databases do not support creating sequences"):
            con.execute(migrations._V1_FOUNDATION)
    finally:
        con.close()


def test_run_natively_the_records_migrations_make_every_records_table(con):
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'rec'").fetchall()}
    assert {"pilots", "ingest_batches", "audit_log", "users", "grants", "auth_sessions", "reviews",
            "decisions", "conditions", "approvals", "risks", "risk_history", "handoffs", "constraints",
            "backlog", "sources", "feed_folders", "failure_modes", "feedback_themes"} <= tables
    # and the rollup's backfill is DuckDB SQL that PostgreSQL 15 does not take
    with pytest.raises(store.DatabaseError, match="syntax error"):
        con.execute("CALL postgres_execute('rec', ?)", [records_sql(migrations._V4_USAGE_ROLLUP)])


def test_inserts_through_duckdb_get_postgres_defaults_and_constraints(con):
    con.execute("INSERT INTO rec.pilots (name, created_by) VALUES ('alpha', 'ann')")
    pilot_id, tier, start = con.execute(
        "SELECT pilot_id, risk_tier, work_start FROM rec.pilots WHERE name = 'alpha'").fetchone()
    assert pilot_id >= 1 and tier == "medium" and str(start) == "09:00:00"  # the sequence's default
    with pytest.raises(store.DatabaseError, match="pilots_risk_tier_check"):
        con.execute("INSERT INTO rec.pilots (name, risk_tier) VALUES ('beta', 'extreme')")
    with pytest.raises(store.DatabaseError, match="pilots_name_key"):
        con.execute("INSERT INTO rec.pilots (name) VALUES ('alpha')")


def refused(con, cases: dict[str, str]) -> None:
    """Each statement (key) fails with an error matching its value."""
    for sql, error in cases.items():
        with pytest.raises(store.DatabaseError, match=error):
            con.execute(sql)


def test_what_the_postgres_attach_refuses(con):
    refused(con, {
        "INSERT INTO rec.pilots (name) VALUES ('gamma') RETURNING pilot_id": "RETURNING clause not yet supported",
        "SELECT nextval('rec.pilot_id_seq')": "pilot_id_seq does not exist",
        "SELECT * FROM rec.pilots FOR UPDATE": "locking clause is not supported",
    })
    # the sequence is PostgreSQL's: reached through postgres_query
    first, second = (con.execute("SELECT * FROM postgres_query('rec', 'SELECT nextval(''batch_id_seq'')')")
                     .fetchone()[0] for _ in range(2))
    assert second == first + 1


def test_upserts_json_lists_and_rollback_work_on_the_records(con):
    con.execute("INSERT INTO rec.grants VALUES ('ann', 1, now(), 'admin') ON CONFLICT DO NOTHING")
    assert con.execute("INSERT INTO rec.grants VALUES ('ann', 1, now(), 'admin') ON CONFLICT DO NOTHING"
                       ).fetchone() == (0,)
    for owner in ("ops", "platform"):
        con.execute("INSERT INTO rec.handoffs (pilot_id, operating_owner, updated_by, updated_at) "
                    "VALUES (1, ?, 'ann', now()) ON CONFLICT (pilot_id) DO UPDATE SET "
                    "operating_owner = excluded.operating_owner", [owner])
    assert con.execute("SELECT operating_owner FROM rec.handoffs WHERE pilot_id = 1").fetchall() == [("platform",)]
    con.execute("INSERT INTO rec.audit_log (actor, action, details) VALUES ('ann', 'x', json_object('all', 'true'))")
    assert con.execute("SELECT (details->>'all') = 'true' FROM rec.audit_log WHERE action = 'x'").fetchall() == [(True,)]
    con.execute("INSERT INTO rec.feedback_themes VALUES (1, 1, 'speed', ['slow', 'wait'], 2, 0.1, 3.0, ['x'], now())")
    assert con.execute("SELECT top_terms FROM rec.feedback_themes").fetchall() == [(["slow", "wait"],)]
    con.execute("BEGIN")
    con.execute("INSERT INTO rec.pilots (name) VALUES ('rolled back')")
    con.execute("ROLLBACK")
    assert con.execute("SELECT count(*) FROM rec.pilots WHERE name = 'rolled back'").fetchone() == (0,)


def test_a_table_lock_first_in_the_transaction_keeps_a_chain_of_three_writers_whole(pg):
    # The attach runs each transaction in REPEATABLE READ; LOCK TABLE takes no snapshot, so the
    # head read after it is the newest (an advisory lock taken by a query would not be).
    dsn = pg[0]
    setup = connect(dsn)
    setup.execute("CALL postgres_execute('rec', 'CREATE TABLE chain (seq BIGINT PRIMARY KEY, writer INTEGER)')")
    setup.close()

    def append(c, n: int) -> None:
        for _ in range(15):
            c.execute("BEGIN")
            c.execute("CALL postgres_execute('rec', 'LOCK TABLE chain IN SHARE ROW EXCLUSIVE MODE')")
            head = c.execute("SELECT coalesce(max(seq), 0) FROM rec.chain").fetchone()[0]
            c.execute("INSERT INTO rec.chain VALUES (?, ?)", [head + 1, n])
            c.execute("COMMIT")

    assert at_once(append, 3, dsn) == []
    check = connect(dsn)
    try:
        assert check.execute("SELECT count(*), max(seq), count(DISTINCT writer) FROM rec.chain").fetchone() == (45, 45, 3)
    finally:
        check.close()


# -- the lake -------------------------------------------------------------------------------------

def _telemetry_tables(con) -> None:
    """The telemetry tables in the lake: the records' columns, with no key, unique or check
    (DuckLake has none)."""
    for table in TELEMETRY:
        source = "usage_events_local" if table == "usage_events" else table  # the events under the lake view
        con.execute(f"CREATE TABLE IF NOT EXISTS lake.{table} AS SELECT * FROM rec.{source} LIMIT 0")


def test_the_lake_refuses_keys_checks_sequences_and_returning(con):
    refused(con, {
        "CREATE TABLE lake.k (id INTEGER PRIMARY KEY)": "PRIMARY KEY/UNIQUE constraints are not supported in DuckLake",
        "CREATE TABLE lake.k (id INTEGER CHECK (id > 0))": "CHECK constraints are not supported in DuckLake",
        "CREATE SEQUENCE lake.s": "DuckLake does not support sequences",
    })
    con.execute("CREATE TABLE lake.k (id INTEGER NOT NULL, j JSON, ts TIMESTAMPTZ DEFAULT now())")
    refused(con, {
        "INSERT INTO lake.k (id) VALUES (1) RETURNING id": "RETURNING clause not yet supported",
        "INSERT INTO lake.k (id) VALUES (NULL)": "NOT NULL constraint failed",
    })


def test_one_transaction_writes_to_one_database_only(con):
    _telemetry_tables(con)
    con.execute("BEGIN")
    con.execute("INSERT INTO rec.ingest_batches (batch_id, pilot_id, kind, file_name, file_size, sha256, format, "
                "actor, started_at, finished_at, rows_read, rows_loaded, rows_rejected, rows_duplicate) "
                "VALUES (900, 1, 'usage', 'f.csv', 1, 'x', 'csv', 'ann', now(), now(), 1, 1, 0, 0)")
    with pytest.raises(store.DatabaseError, match="a single transaction can only write to a single attached database"):
        con.execute("INSERT INTO lake.usage_events (pilot_id, batch_id, src_row, ts) VALUES (1, 900, 1, now())")
    con.execute("ROLLBACK")
    assert con.execute("SELECT count(*) FROM rec.ingest_batches WHERE batch_id = 900").fetchone() == (0,)
    # reading the records while writing the lake is one database written: allowed
    con.execute("BEGIN")
    con.execute("INSERT INTO lake.usage_events (pilot_id, batch_id, src_row, ts) "
                "SELECT pilot_id, -1, 1, now() FROM rec.pilots LIMIT 1")
    con.execute("ROLLBACK")


def _visible_events(con, pilot_id: int) -> int:
    """The usage a page counts: rows of committed batches only."""
    return con.execute(
        "SELECT count(*) FROM lake.usage_events e WHERE e.pilot_id = ? AND e.batch_id IN "
        "(SELECT batch_id FROM rec.ingest_batches WHERE pilot_id = ? AND state = 'committed')",
        [pilot_id, pilot_id]).fetchone()[0]


def _land(con, batch_id: int, rows: int, *, die_before_commit: bool = False) -> None:
    """A batch in three short steps: its record (pending), its rows in the lake, its record committed."""
    con.execute("INSERT INTO rec.ingest_batches (batch_id, pilot_id, kind, file_name, file_size, sha256, format, "
                "actor, started_at, finished_at, rows_read, rows_loaded, rows_rejected, rows_duplicate, state) "
                "VALUES (?, 1, 'usage', 'f.csv', 1, ?, 'csv', 'ann', now(), now(), ?, ?, 0, 0, 'pending')",
                [batch_id, f"sha-{batch_id}", rows, rows])
    con.execute("INSERT INTO lake.usage_events (pilot_id, batch_id, src_row, ts, user_id, event) "
                "SELECT 1, ?, range, TIMESTAMPTZ '2026-07-01' + range * INTERVAL 1 SECOND, 'u' || (range % 7), 'open' "
                "FROM range(?)", [batch_id, rows])
    if not die_before_commit:
        con.execute("UPDATE rec.ingest_batches SET state = 'committed' WHERE batch_id = ?", [batch_id])


def test_a_batch_shows_whole_or_not_at_all_through_the_batches_table(con):
    _telemetry_tables(con)
    before = _visible_events(con, 1)
    _land(con, 101, 1000)
    assert _visible_events(con, 1) == before + 1000
    _land(con, 102, 500, die_before_commit=True)  # rows in the lake, batch never committed
    assert _visible_events(con, 1) == before + 1000
    # clean-up of what a dead ingest left: lake rows of batches not committed, then their records
    con.execute("DELETE FROM lake.usage_events WHERE batch_id IN "
                "(SELECT batch_id FROM rec.ingest_batches WHERE state = 'pending')")
    con.execute("DELETE FROM rec.ingest_batches WHERE state = 'pending'")
    assert con.execute("SELECT count(*) FROM lake.usage_events WHERE batch_id = 102").fetchone() == (0,)
    assert _visible_events(con, 1) == before + 1000


def test_a_lake_snapshot_gives_the_figures_as_they_were(con):
    _telemetry_tables(con)
    _land(con, 201, 300)
    snapshot = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('lake')").fetchone()[0]
    then = con.execute("SELECT count(*) FROM lake.usage_events").fetchone()[0]
    _land(con, 202, 200)
    con.execute("DELETE FROM lake.usage_events WHERE batch_id = 201")
    assert con.execute("SELECT count(*) FROM lake.usage_events").fetchone()[0] == then - 300 + 200
    assert con.execute(f"SELECT count(*) FROM lake.usage_events AT (VERSION => {int(snapshot)})").fetchone()[0] == then


def test_two_writers_append_to_one_lake_table_at_once(pg):
    dsn, lake = pg
    setup = connect(dsn, lake)
    _telemetry_tables(setup)
    before = setup.execute("SELECT count(*) FROM lake.usage_events").fetchone()[0]
    setup.close()

    def append(c, n: int) -> None:
        for i in range(5):
            c.execute("INSERT INTO lake.usage_events (pilot_id, batch_id, src_row, ts) "
                      "SELECT 1, ?, range, now() FROM range(2000)", [1000 + 10 * n + i])

    assert at_once(append, 2, dsn, lake) == []
    check = connect(dsn, lake)
    try:
        assert check.execute("SELECT count(*) FROM lake.usage_events").fetchone()[0] == before + 2 * 5 * 2000
    finally:
        check.close()
