"""The store's contract, held by both deployments: the embedded store file, and the organisation
deployment (records in PostgreSQL, telemetry as Parquet files in a shared folder). The test
modules that set ``DEPLOYMENTS`` (risks, decisions, conditions, hand-off, stored figures, figures as
decided) run whole on both as well; these are the properties of the store itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import PROJECT_ROOT, ingest_one, make_pilot, query, write

from readiness import settings, store
from readiness.catalog import get_pilot
from readiness.review import risks
from readiness.security.access import Actor
from readiness.store import lake, migrations, postgres

DEPLOYMENTS = ("embedded", "organisation")
OP = Actor("cli:test", "admin", cli=True)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "readiness", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=180)


def _usage(n: int, prefix: str) -> str:
    return "ts,user,event,session,outcome\n" + "".join(
        f"2026-03-02T10:{i % 60:02d}:00Z,{prefix}{i % 7},{'open' if i % 3 else 'export'},{prefix}s{i % 11},"
        f"{'failed' if i % 4 == 0 else 'ok'}\n" for i in range(n))


def test_records_are_kept_where_the_deployment_says(db: Path, deployment: str) -> None:
    make_pilot(db, "p")
    with store.open_store(db) as con:
        kind = con.execute("SELECT type FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    assert kind == ("postgres" if deployment == "organisation" else "duckdb")
    assert db.is_file() == (deployment == "embedded")  # no store file in the organisation's lake folder


def test_a_batch_lands_whole_is_read_through_the_lake_and_is_found_again(db: Path, tmp_path: Path) -> None:
    first = ingest_one(db, write(tmp_path / "u1.csv", _usage(300, "a")), pilot="p")
    again = ingest_one(db, write(tmp_path / "u1-copy.csv", _usage(300, "a")), pilot="p")
    assert (first.rows_loaded, again.duplicate) == (300, True)
    parts = list(Path(f"{db}.parts").glob("usage_events/*.parquet"))
    if postgres.is_organisation(db):  # the events are in the DuckLake lake; its staged file is gone
        assert parts == []
        assert query(db, "SELECT count(*) FROM lake.main.usage_events") == [(300,)]
        assert list(db.parent.glob("ducklake/**/*.parquet"))
    else:
        assert len(parts) == 1  # the events are a Parquet file beside the store, listed in lake_files
    assert query(db, "SELECT count(*), count(DISTINCT user_id) FROM usage_events") == [(300, 7)]
    assert query(db, "SELECT sum(events) FROM usage_by_session") == [(300,)]
    out = _cli("summary", "--db", str(db), "--pilot", "p", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["usage"]["events"] == 300


def test_deleting_a_batch_takes_its_rows_and_files_away(db: Path, tmp_path: Path) -> None:
    ingest_one(db, write(tmp_path / "u1.csv", _usage(50, "a")), pilot="p")
    second = ingest_one(db, write(tmp_path / "u2.csv", _usage(70, "b")), pilot="p")
    out = _cli("batches", "--db", str(db), "delete", str(second.batch_id))
    assert out.returncode == 0, out.stdout + out.stderr
    assert query(db, "SELECT count(*) FROM usage_events") == [(50,)]
    if postgres.is_organisation(db):  # the lake keeps the first batch's rows only
        assert query(db, "SELECT batch_id, count(*) FROM lake.main.usage_events GROUP BY ALL") == [
            (second.batch_id - 1, 50)]
    else:
        assert len(list(Path(f"{db}.parts").glob("usage_events/*.parquet"))) == 1


def test_writers_in_three_processes_take_turns_and_keep_the_audit_chain(db: Path) -> None:
    make_pilot(db, "p")
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(PROJECT_ROOT)!r})
        from readiness import store
        from readiness.catalog import get_pilot
        from readiness.review import risks
        from readiness.security.access import Actor
        with store.open_store({str(db)!r}) as con:
            for i in range(8):
                risks.add_risk(con, Actor("cli:w" + sys.argv[1], "admin", cli=True), get_pilot(con, "p"),
                               risk_class="data", title=f"risk {{sys.argv[1]}}-{{i}}", likelihood=2, impact=3,
                               owner="Tom", mitigation="watch it", due=None)
    """)
    writers = [subprocess.Popen([sys.executable, "-c", script, str(n)], cwd=PROJECT_ROOT,
                                stderr=subprocess.PIPE, text=True) for n in range(3)]
    for w in writers:
        assert w.wait(timeout=180) == 0, w.stderr.read()
    assert query(db, "SELECT count(*), count(DISTINCT risk_id) FROM risks") == [(24, 24)]
    out = _cli("audit", "--db", str(db), "verify")
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_reader_is_never_held_up_by_a_writer_and_a_second_writer_waits(db: Path, monkeypatch) -> None:
    if not postgres.is_organisation(db):
        pytest.skip("the embedded store lets one process at a time open its file: "
                    "tests/test_ingest_lock.py covers reading during an ingest there")
    make_pilot(db, "p")
    monkeypatch.setenv("READINESS_LOCK_TIMEOUT_S", "1")
    # the writer holds its transaction open until its standard input closes (after the checks below)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(PROJECT_ROOT)!r})
        from readiness import store
        with store.open_store({str(db)!r}) as con, store.transaction(con):
            con.execute("UPDATE pilots SET owner = 'Held' WHERE name = 'p'")
            print("holding", flush=True)
            sys.stdin.read()
    """)], cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert query(db, "SELECT owner FROM pilots") == [(None,)]  # the writer's change is not yet committed
        assert holder.poll() is None  # answered while the writer still held its transaction open
        with store.open_store(db) as con, pytest.raises(store.StoreBusy, match="busy with another change"):
            with store.transaction(con):
                con.execute("UPDATE pilots SET sponsor = 'x'")
    finally:
        holder.stdin.close()  # the writer commits
        holder.wait(timeout=30)
    assert holder.returncode == 0
    assert query(db, "SELECT owner, sponsor FROM pilots") == [("Held", None)]


def test_the_schemas_of_both_deployments_have_the_same_tables_and_columns(db: Path, deployment: str, tmp_path) -> None:
    if deployment != "organisation":
        pytest.skip("compares the organisation's schema with the embedded one")
    ingest_one(db, write(tmp_path / "u.csv", _usage(10, "a")), pilot="p")
    sql = ("SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_catalog = current_database() "
           "AND table_schema = current_schema() AND table_name NOT LIKE '%\\_retired' ESCAPE '\\' ORDER BY ALL")
    embedded = tmp_path / "embedded.duckdb"
    with store.open_store(embedded) as con:
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        want = [r for r in con.execute(sql).fetchall() if r[0] not in views]
    got = query(db, sql)
    # PostgreSQL keeps JSON as text and double as float8; everything else has the same type
    same = {"JSON": "VARCHAR"}
    assert [(t, c, same.get(d, d)) for t, c, d in want] == got


def test_every_embedded_migration_has_its_postgresql_counterpart() -> None:
    later = [v for v, _n, _s in migrations.MIGRATIONS if v > postgres.BASELINE]
    assert [v for v, _n, _s in postgres.MIGRATIONS] == later, (
        "each migration after the PostgreSQL baseline needs its PostgreSQL SQL in readiness/store/postgres.py")


def test_the_organisation_store_needs_its_lake_folder(monkeypatch) -> None:
    monkeypatch.setenv("READINESS_DATABASE_URL", "host=/nowhere dbname=readiness")
    monkeypatch.delenv("READINESS_LAKE_DATA_PATH", raising=False)
    with pytest.raises(Exception, match="READINESS_LAKE_DATA_PATH"):
        settings.db_path()


def test_an_unreachable_database_is_a_clear_error_without_its_password(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("READINESS_DATABASE_URL", f"postgresql://ops:s3cret@localhost:1/readiness?host={tmp_path}")
    monkeypatch.setenv("READINESS_LAKE_DATA_PATH", str(tmp_path / "lake"))
    with pytest.raises(store.StoreError) as err:
        store.open_store().__enter__()
    assert "Cannot reach the records database" in str(err.value)
    assert "s3cret" not in str(err.value) + str(getattr(err.value, "hint", ""))
    from readiness.web import login

    shown = login.page_text(err.value)  # a page names neither the host nor the folder
    assert shown.startswith("Cannot reach the records database.") and "localhost" not in shown and str(tmp_path) not in shown


def test_risk_ids_come_from_the_store_in_order(db: Path) -> None:
    make_pilot(db, "p")
    with store.open_store(db) as con:
        p = get_pilot(con, "p")
        ids = [risks.add_risk(con, OP, p, risk_class="data", title=f"r{i}", likelihood=1, impact=1, owner="Tom",
                              mitigation="m", due=None) for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_migrate_says_which_deployment_and_backup_points_the_organisation_to_pg_dump(db: Path, deployment: str,
                                                                                     tmp_path: Path) -> None:
    out = _cli("migrate", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert f"Schema version {migrations.MIGRATIONS[-1][0]}" in out.stdout
    assert ("records in PostgreSQL" in out.stdout) == (deployment == "organisation")
    saved = _cli("backup", "--db", str(db), "--out", str(tmp_path / "backup"))
    if deployment == "organisation":
        assert saved.returncode != 0 and "pg_dump" in saved.stderr + saved.stdout
    else:
        assert saved.returncode == 0, saved.stderr


SAMPLES = Path(__file__).parent / "samples"
FILES = [("usage", SAMPLES / "real" / "analytics_export.jsonl"), ("usage", SAMPLES / "raw" / "access_combined.log"),
         ("feedback", SAMPLES / "real" / "nps_survey.csv"), ("exceptions", SAMPLES / "raw" / "python_app.log"),
         ("exceptions", SAMPLES / "raw" / "java_app.log")]


def test_the_same_files_give_the_same_figures_on_both_deployments(db: Path, deployment: str, tmp_path: Path) -> None:
    if deployment != "organisation":
        pytest.skip("compares the organisation deployment with an embedded store loaded alike")
    embedded = tmp_path / "embedded.duckdb"
    for kind, path in FILES:
        for target in (db, embedded):
            ingest_one(target, path, kind=kind, pilot="p")
    said = {}
    for name, target in (("organisation", db), ("embedded", embedded)):
        said[name] = [_cli(*cmd, "--db", str(target), "--pilot", "p", "--json").stdout
                      for cmd in (["summary"], ["failure-modes"], ["signals"])]
    summary = json.loads(said["embedded"][0])
    assert summary["usage"]["events"] > 0 and summary["feedback"]["count"] > 0  # the files loaded
    assert said["organisation"] == said["embedded"]


def test_a_migration_after_the_postgresql_baseline_is_applied_once(db: Path, deployment: str, monkeypatch) -> None:
    if deployment != "organisation":
        pytest.skip("the PostgreSQL migrations after its baseline")
    make_pilot(db, "p")
    later = (99, "a later migration", "ALTER TABLE pilots ADD COLUMN contract_ref VARCHAR;")
    monkeypatch.setattr(postgres, "MIGRATIONS", [later])
    with store.open_store(db) as con:
        try:
            assert postgres.migrate(con) == [99]
            assert postgres.migrate(con) == []  # recorded: not applied again
            con.execute("UPDATE pilots SET contract_ref = 'C-1'")
            assert con.execute("SELECT contract_ref FROM pilots").fetchall() == [("C-1",)]
            assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == 99
        finally:  # the records database is this test process's for the next tests too
            con.execute("CALL postgres_execute('rec', 'ALTER TABLE pilots DROP COLUMN IF EXISTS contract_ref; "
                        "DELETE FROM schema_migrations WHERE version = 99')")
            con.execute("CALL pg_clear_cache()")


def test_batches_kept_as_listed_files_move_into_the_lake_on_upgrade(db: Path, deployment: str, tmp_path: Path) -> None:
    if deployment != "organisation":
        pytest.skip("the organisation deployment's lake moved from listed Parquet files to DuckLake")
    batch = ingest_one(db, write(tmp_path / "u1.csv", _usage(120, "a")), pilot="p")
    # the batch as the release before DuckLake kept it: a Parquet file per table, listed by path
    parts = Path(f"{db}.parts")
    with store.open_store(db) as con, store.transaction(con):
        for table in lake.USAGE_TABLES:  # the tables that release kept in the lake
            (parts / table).mkdir(parents=True, exist_ok=True)
            rel = f"{table}/old_host-1-{table}.parquet"
            con.cursor().execute(f"COPY (SELECT * FROM lake.main.{table}) TO '{parts / rel}' (FORMAT parquet)")
            if table != "usage_events":  # its move was cut short: rows in the lake, the file still listed
                con.cursor().execute(f"DELETE FROM lake.main.{table}")
            con.execute("UPDATE lake_files SET path = ? WHERE tbl = ?", [rel, table])
        # and a listed file that is not there (lost from the folder): it must not stop the store
        con.execute("INSERT INTO lake_files VALUES ('usage_events', 999, 1, 'usage_events/gone.parquet', 5, now())")
    postgres.release(os.environ["READINESS_DATABASE_URL"])  # a new release starts: it migrates
    assert query(db, "SELECT count(*), count(DISTINCT user_id) FROM usage_events") == [(120, 7)]
    assert query(db, "SELECT sum(events) FROM usage_by_session") == [(120,)]
    assert query(db, "SELECT count(*) FROM lake.main.usage_events") == [(120,)]  # not twice
    assert query(db, "SELECT path FROM lake_files WHERE path <> ''") == [("usage_events/gone.parquet",)]
    assert list(parts.glob("*/*.parquet")) == []  # the moved files are gone
    out = _cli("summary", "--db", str(db), "--pilot", "p", "--json")
    assert json.loads(out.stdout)["usage"]["events"] == 120 and batch.rows_loaded == 120


def test_a_write_transaction_reads_every_batch_landed_before_its_turn(db: Path, deployment: str,
                                                                      tmp_path: Path) -> None:
    if deployment != "organisation":
        pytest.skip("the embedded store lets one process at a time open its file")
    ingest_one(db, write(tmp_path / "u1.csv", _usage(120, "a")), pilot="p")
    with store.open_store(db) as con:  # opened before another process lands a second batch
        out = _cli("ingest", "--db", str(db), "--pilot", "p", "--kind", "usage", str(write(tmp_path / "u2.csv",
                                                                                            _usage(80, "b"))))
        assert out.returncode == 0, out.stdout + out.stderr
        with store.transaction(con):  # e.g. a decision freezing its evidence
            assert con.execute("SELECT count(*) FROM usage_events").fetchone()[0] == 200
            assert con.execute("SELECT sum(events) FROM usage_by_session").fetchone()[0] == 200


def test_passwords_of_connection_strings_are_masked() -> None:
    from readiness.ingest.formats import duckdb_reason

    said = duckdb_reason(RuntimeError('IO Error: Unable to connect to Postgres at "host=db port=5432 user=r '
                                      'password=s3cret dbname=x": refused'))
    assert "s3cret" not in said and "password=***" in said
    assert store.redact("postgresql://ops:s3cret@db/readiness") == "postgresql://ops:***@db/readiness"


def test_a_batch_written_ahead_that_the_lake_refuses_is_appended_in_its_turn(db: Path, deployment: str,
                                                                               tmp_path: Path, monkeypatch) -> None:
    if deployment != "organisation":
        pytest.skip("the organisation deployment writes a batch into its lake ahead of the writers' turn")
    from readiness.store import ducklake

    ingest_one(db, write(tmp_path / "u1.csv", _usage(120, "a")), pilot="p")
    commit = ducklake.commit_append
    refused = []

    def after_a_deletion(cur):  # a sweep elsewhere deletes from the table while the batch waits for its turn
        other = cur.cursor()
        other.execute("INSERT INTO lake.main.usage_events (pilot_id, batch_id, src_row) VALUES (1, -5, 1)")
        other.execute("DELETE FROM lake.main.usage_events WHERE batch_id = -5")
        other.close()
        ok = commit(cur)
        refused.append(not ok)
        return ok

    monkeypatch.setattr(ducklake, "commit_append", after_a_deletion)
    second = ingest_one(db, write(tmp_path / "u2.csv", _usage(80, "b")), pilot="p", create=False)
    assert refused == [True] and second.rows_loaded == 80
    assert query(db, "SELECT count(*) FROM usage_events") == [(200,)]
    assert query(db, "SELECT batch_id, count(*) FROM lake.main.usage_events GROUP BY ALL ORDER BY 1") == [
        (second.batch_id - 1, 120), (second.batch_id, 80)]
    assert query(db, "SELECT sum(events) FROM usage_by_session") == [(200,)]


def _feedback(n: int) -> str:
    said = ('"Export failed again, lost my work"', "Love it")
    rows = [f"2026-03-02T11:{i % 60:02d}:00Z,{1 + i % 5},{said[i % 2 == 0]},u{i}" for i in range(n)]
    return "timestamp,rating,comment,user\n" + "\n".join([*rows, "not a time,9,broken row,u0"]) + "\n"


def _exceptions(messages: list[str]) -> str:
    return "".join(f"2026-03-02T12:{i % 60:02d}:00Z ERROR [app] {m}\n" for i, m in enumerate(messages))


def test_feedback_exceptions_and_rejects_are_kept_as_batches_of_the_lake(db: Path, deployment: str,
                                                                        tmp_path: Path) -> None:
    fb = ingest_one(db, write(tmp_path / "fb.csv", _feedback(40)), kind="feedback", pilot="p")
    ex = ingest_one(db, write(tmp_path / "app.log", _exceptions([f"Timeout after {i} ms calling billing"
                                                                 for i in range(30)])), kind="exceptions", pilot="p")
    assert (fb.rows_loaded, fb.rows_rejected, ex.rows_loaded) == (40, 1, 30)
    # the evidence computed per row before the rows were written out reads as before
    assert query(db, "SELECT count(*), count(sentiment), count(*) FILTER (triage = 'operational:reliability') "
                     "FROM feedback") == [(40, 40, 20)]
    assert query(db, "SELECT count(DISTINCT failure_mode), count(failure_mode) FROM exceptions") == [(1, 30)]
    assert query(db, "SELECT count(*) FROM ingest_rejects WHERE batch_id = ?", [fb.batch_id]) == [(1,)]
    for table in ("feedback", "exceptions", "ingest_rejects"):  # none of the rows is a local table's
        assert query(db, f"SELECT count(*) FROM {lake.local(table)}") == [(0,)]
    if deployment == "organisation":
        assert query(db, "SELECT (SELECT count(*) FROM lake.main.feedback), (SELECT count(*) FROM lake.main.exceptions), "
                         "(SELECT count(*) FROM lake.main.ingest_rejects)") == [(40, 30, 1)]
    else:
        assert sorted(p.parent.name for p in Path(f"{db}.parts").glob("*/*.parquet")) == [
            "exceptions", "feedback", "ingest_rejects"]
    out = _cli("batches", "--db", str(db), "delete", str(fb.batch_id))
    assert out.returncode == 0, out.stdout + out.stderr
    assert query(db, "SELECT (SELECT count(*) FROM feedback), (SELECT count(*) FROM ingest_rejects), "
                     "(SELECT count(*) FROM feedback_theme_rows)") == [(0, 0, 0)]
    if deployment == "organisation":  # swept from the lake once the deletion committed
        assert query(db, "SELECT count(*) FROM lake.main.feedback") == [(0,)]
    else:
        assert sorted(p.parent.name for p in Path(f"{db}.parts").glob("*/*.parquet")) == ["exceptions"]


def _lands_first(monkeypatch, db: Path, first: Path, waiting: str, *, kind: str, rows: int) -> None:
    """Make ``first`` (of the pilot p) be ingested and land while the file named ``waiting``,
    staged already, waits to land."""
    from readiness.ingest import load

    land = load._land

    def first_lands(opened, batch, result, actor, opts):
        if batch.name == waiting and not query(db, "SELECT count(*) FROM ingest_batches WHERE file_name = ?",
                                               [first.name])[0][0]:
            assert ingest_one(db, first, kind=kind, pilot="p").rows_loaded == rows
        return land(opened, batch, result, actor, opts)

    monkeypatch.setattr(load, "_land", first_lands)


def test_an_exceptions_batch_staged_while_another_landed_is_grouped_against_its_modes(
        db: Path, tmp_path: Path, monkeypatch) -> None:
    shared = [f"Timeout after {i} ms calling billing" for i in range(10)]
    a = write(tmp_path / "a.log", _exceptions([*shared, *(f"Disk {i} is full on host{i}" for i in range(5))]))
    b = write(tmp_path / "b.log", _exceptions([*(f"Timeout after {i} ms calling billing" for i in range(50, 55)),
                                               *(f"Queue {i} rejected a message" for i in range(6))]))
    _lands_first(monkeypatch, db, a, "b.log", kind="exceptions", rows=15)
    assert ingest_one(db, b, kind="exceptions", pilot="p").rows_loaded == 11
    # as if they had come one after the other: b's timeouts join a's mode; every mode id is one mode
    by_file = query(db, "SELECT b.file_name, m.template, count(*) FROM exceptions e JOIN ingest_batches b USING (batch_id) "
                        "JOIN failure_modes m ON m.pilot_id = e.pilot_id AND m.mode_id = e.failure_mode "
                        "GROUP BY ALL ORDER BY 1, 2")
    assert [(f, n) for f, _t, n in by_file] == [("a.log", 5), ("a.log", 10), ("b.log", 6), ("b.log", 5)]
    assert query(db, "SELECT count(*), count(DISTINCT fingerprint) FROM failure_modes") == [(3, 3)]
    timeouts = query(db, "SELECT DISTINCT failure_mode FROM exceptions WHERE message LIKE '%Timeout%'")
    assert len(timeouts) == 1
    assert query(db, "SELECT count(*) FROM exceptions WHERE failure_mode IS NULL") == [(0,)]


def test_rows_kept_in_postgresql_before_the_lake_took_them_move_into_it(db: Path, deployment: str,
                                                                        tmp_path: Path) -> None:
    if deployment != "organisation":
        pytest.skip("the organisation deployment kept feedback, exceptions and rejects in PostgreSQL")
    fb = ingest_one(db, write(tmp_path / "fb.csv", _feedback(40)), kind="feedback", pilot="p")
    before = query(db, "SELECT sum(sentiment), count(*) FROM feedback")
    # the batch as the release before kept it: rows in PostgreSQL tables, nothing in the lake
    with store.open_store(db) as con, store.transaction(con):
        for table in ("feedback", "ingest_rejects"):
            con.execute(f"INSERT INTO {lake.local(table)} BY NAME SELECT * FROM lake.main.{table}")
            con.cursor().execute(f"DELETE FROM lake.main.{table}")
        con.execute("DELETE FROM lake_files WHERE tbl IN ('feedback', 'ingest_rejects')")
    assert query(db, "SELECT count(*) FROM feedback_local") == [(40,)]
    postgres.release(os.environ["READINESS_DATABASE_URL"])  # a new release starts: it moves them
    assert query(db, "SELECT count(*) FROM feedback_local") == [(0,)]
    assert query(db, "SELECT (SELECT count(*) FROM lake.main.feedback), (SELECT count(*) FROM lake.main.ingest_rejects)"
                 ) == [(40, 1)]
    assert query(db, "SELECT sum(sentiment), count(*) FROM feedback") == before
    assert query(db, "SELECT tbl, batch_id, rows FROM lake_files WHERE tbl <> 'usage_events' ORDER BY 1") == [
        ("feedback", fb.batch_id, 40), ("ingest_rejects", fb.batch_id, 1)]


def test_a_feedback_batch_staged_while_another_landed_stores_themes_of_both(
        db: Path, tmp_path: Path, monkeypatch) -> None:
    from analysis import feedback

    said = {"export": ("export to excel failed", "excel export lost rows", "export button does nothing"),
            "password": ("password reset email never came", "reset password link expired", "password rules confusing"),
            "dashboard": ("dashboard charts load slowly", "dashboard filters reset", "charts on the dashboard are blank")}

    def comments(path: Path, topics: tuple[str, ...], n: int) -> Path:
        return write(path, "timestamp,rating,comment\n" + "".join(
            f"2026-03-02T11:{i % 60:02d}:00Z,{1 + i % 5},{said[topics[i % 2]][i % 3]} on monday {i}\n" for i in range(n)))

    a = comments(tmp_path / "a.csv", ("export", "password"), 30)
    b = comments(tmp_path / "b.csv", ("dashboard", "export"), 24)
    _lands_first(monkeypatch, db, a, "b.csv", kind="feedback", rows=30)
    assert ingest_one(db, b, kind="feedback", pilot="p").rows_loaded == 24
    stored = query(db, "SELECT theme_id, label, size FROM feedback_themes ORDER BY 1")
    # the comments of both batches have their themes
    assert query(db, "SELECT count(*), count(DISTINCT batch_id) FROM feedback_theme_rows") == [
        (sum(n for _t, _l, n in stored), 2)]
    with store.open_store(db) as con, store.transaction(con):  # the same as computed from scratch now
        feedback.recompute_themes(con, get_pilot(con, "p").pilot_id)
    assert query(db, "SELECT theme_id, label, size FROM feedback_themes ORDER BY 1") == stored
    # a batch landing alone stores the themes computed before its turn, its own comments included
    assert ingest_one(db, comments(tmp_path / "c.csv", ("password", "dashboard"), 20), kind="feedback",
                      pilot="p").rows_loaded == 20
    stored = query(db, "SELECT theme_id, label, size FROM feedback_themes ORDER BY 1")
    assert query(db, "SELECT count(*), count(DISTINCT batch_id) FROM feedback_theme_rows") == [
        (sum(n for _t, _l, n in stored), 3)]
    with store.open_store(db) as con, store.transaction(con):
        feedback.recompute_themes(con, get_pilot(con, "p").pilot_id)
    assert query(db, "SELECT theme_id, label, size FROM feedback_themes ORDER BY 1") == stored


def test_a_usage_batch_whose_pilot_changed_zone_while_it_loaded_rolls_up_its_own_events(
        db: Path, tmp_path: Path, monkeypatch) -> None:
    from readiness.ingest import load

    ingest_one(db, write(tmp_path / "u0.csv", _usage(50, "z")), pilot="p")
    land = load._land

    def zone_changed(opened, batch, result, actor, opts):
        with store.open_store(db) as con, store.transaction(con):  # staged in UTC days; the pilot now in Tokyo's
            con.execute("UPDATE pilots SET time_zone = 'Asia/Tokyo' WHERE name = 'p'")
        return land(opened, batch, result, actor, opts)

    monkeypatch.setattr(load, "_land", zone_changed)
    ingest_one(db, write(tmp_path / "u1.csv", _usage(120, "a")), pilot="p")
    assert query(db, "SELECT count(*) FROM usage_events") == [(170,)]
    assert query(db, "SELECT sum(events) FROM usage_by_session") == [(170,)]  # the pilot's rollup, rebuilt
    assert query(db, "SELECT time_zone FROM usage_rollup_state") == [("Asia/Tokyo",)]


def test_a_full_records_database_is_busy_not_a_traceback(tmp_path: Path) -> None:
    from tests.postgres_server import binaries, create_database, missing_reason, throwaway_postgres

    if missing_reason():
        pytest.skip(missing_reason())
    with throwaway_postgres(max_connections=8) as server:
        url = create_database(server, "full")
        env = {**os.environ, "READINESS_DATABASE_URL": url, "READINESS_LAKE_DATA_PATH": str(tmp_path / "lake")}
        made = subprocess.run([sys.executable, "-m", "readiness", "pilots"], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=180)
        assert made.returncode == 0, made.stderr
        fields = dict(p.split("=", 1) for p in url.split())
        sleepers = []
        try:  # take every connection the server has: a client that gets one prints 1 and waits
            while True:
                p = subprocess.Popen([str(binaries() / "psql"), "-h", fields["host"], "-U", "postgres", "-d", "full",
                                      "-Atc", "SELECT 1", "-c", "SELECT pg_sleep(120)"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                sleepers.append(p)
                if p.stdout.readline().strip() != "1":  # refused: the server is full
                    assert "too many clients" in p.stderr.read()
                    break
                assert len(sleepers) <= 8
            out = subprocess.run([sys.executable, "-m", "readiness", "pilots"], cwd=PROJECT_ROOT, env=env,
                                 capture_output=True, text=True, timeout=180)
        finally:
            for p in sleepers:
                p.kill()
                p.wait()
    assert out.returncode != 0
    assert "no free connection right now; try again in a moment" in out.stdout + out.stderr
    said = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in out.stderr and len(said) == 1 and fields["host"] not in said[0]  # the path: log only
