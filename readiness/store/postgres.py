"""The organisation deployment: review records in PostgreSQL, telemetry in a DuckLake lake whose
files are in a folder every replica shares.

Chosen when ``database_url`` (``READINESS_DATABASE_URL``) is set; ``lake_data_path`` names the
shared folder. DuckDB stays the query engine: each process runs one DuckDB instance with the
PostgreSQL database attached as ``rec`` through DuckDB's postgres extension (loaded from its
package, never downloaded), and a connection's default schema is ``rec.public``, so the code
above the store seam runs the same SQL on both deployments.

- **Records** (pilots, reviews, decisions, risks, conditions, hand-off, users, grants, login
  sessions, the audit chain, batches, failure modes, feedback themes) are PostgreSQL tables, made
  by ``postgres_schema.sql`` (the embedded schema at its baseline version) and the migrations after it.
- **Telemetry** (usage events and their rollup, feedback, exceptions, rejected rows) is in a DuckLake lake
  (:mod:`readiness.store.ducklake`): its catalog in the same PostgreSQL, its Parquet files under
  ``<lake_data_path>/ducklake``. A batch is staged as Parquet files with nothing held (under
  ``<lake_data_path>/readiness.parts``); when it lands, its rows go into the lake tables and its
  record and listing (``lake_files``, a PostgreSQL table) commit in one PostgreSQL transaction,
  which is what makes it count: a batch is visible whole or not at all, on every replica at once.
  The views read the lake's rows of the listed batches; they are made from ``lake_files``.
- **Writers take turns across replicas**: each write transaction first locks ``audit_log``
  (``SHARE ROW EXCLUSIVE``; readers are never blocked), so the audit chain, batch and review
  numbers follow the record committed before, as the file lock makes them in the embedded store.
  PostgreSQL runs DuckDB's transactions as ``REPEATABLE READ``; the lock is a utility statement,
  which takes no snapshot, so what the transaction reads after it includes every earlier commit.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from pathlib import Path

import duckdb

from readiness import settings
from readiness.store import ducklake, lake, migrations, transactions
from readiness.store.extensions import load_extensions
from readiness.store.restriction import apply_restriction
from readiness.store.transactions import Connection, StoreBusy, StoreError, literal, redact

ALIAS = "rec"
VIEWS = "lake_views"  # an in-memory database of each process's instance: the lake's views
SCHEMA_FILE = Path(__file__).with_name("postgres_schema.sql")
BASELINE = 14  # the embedded migration postgres_schema.sql equals

# Migrations after the baseline: (version, name, PostgreSQL SQL), one per embedded migration after
# BASELINE, with the same number (tests/test_store_contract.py checks none is missing).
MIGRATIONS: list[tuple[int, str, str]] = [
    (15, "evidence kept: each pilot's unfiltered page evidence at a data version",
     "CREATE TABLE IF NOT EXISTS evidence_kept(pilot_id INTEGER NOT NULL, name VARCHAR NOT NULL, "
     "data_version VARCHAR NOT NULL, context VARCHAR NOT NULL, payload BYTEA NOT NULL, "
     "computed_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (pilot_id, name));"),
    (16, "usage outcomes: more success words; rollups rebuilt, kept figures computed again",
     # the events are in the lake, out of this SQL's reach: every pilot's rollup is rebuilt
     "DELETE FROM usage_rollup_state; DELETE FROM evidence_kept; DELETE FROM pilot_figures;"),
    (17, "lake: feedback, exceptions and rejects as lake tables; comments' themes kept per row",
     # the baseline makes these three tables only while their local tables do not exist
     "CREATE TABLE IF NOT EXISTS feedback_theme_rows(pilot_id INTEGER NOT NULL, batch_id BIGINT NOT NULL, "
     "src_row BIGINT NOT NULL, theme_id INTEGER NOT NULL); "
     "INSERT INTO feedback_theme_rows SELECT pilot_id, batch_id, src_row, theme_id FROM feedback "
     "WHERE theme_id IS NOT NULL; ALTER TABLE feedback DROP COLUMN theme_id; "
     "ALTER TABLE feedback RENAME TO feedback_local; ALTER TABLE exceptions RENAME TO exceptions_local; "
     "ALTER TABLE ingest_rejects RENAME TO ingest_rejects_local;"),
]

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_bases: dict[str, Connection] = {}  # database_url -> this process's DuckDB instance with it attached
_migrated: set[str] = set()
_lake_at: dict[str, Path] = {}  # database_url -> the store name (in the lake folder) its lake was attached for
_views_at: dict[str, tuple] = {}  # database_url -> the lake_files fingerprint the shared views were made at


def is_organisation(path: str | Path) -> bool:
    """Whether ``path`` names the organisation deployment's store (see settings.organisation_store)."""
    org = settings.organisation_store()
    return org is not None and Path(path).resolve() == org


def where(url: str) -> str:
    """The database named for a person: host and database, never the password."""
    if "://" in url:
        return re.sub(r"//[^@/]*@", "//", url).split("?", 1)[0]
    keep = [p for p in url.split() if p.split("=", 1)[0] in ("host", "port", "dbname")]
    return " ".join(keep) or "the configured database"


def connect(path: Path) -> Connection:
    """A connection for one unit of work on the organisation store named ``path``."""
    url = settings.get("database_url")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"Cannot create the lake folder {path.parent}: {err.strerror}.") from None
    with _lock:
        base = _bases.get(url)
        if base is None:
            base = _bases[url] = _start(url, path)
        elif _lake_at.get(url) != path:  # the lake folder setting changed (tests): the lake is attached anew
            base.execute(f"DETACH DATABASE IF EXISTS {ducklake.ALIAS}")
            _attach_lake(base, url, path)
            _migrated.discard(url)
        con = base.cursor()
    try:
        _setup(con, path)
        if url not in _migrated:
            with _lock:
                if url not in _migrated:
                    migrate(con)
                    _migrated.add(url)
        _refresh_views(con, url)
    except duckdb.Error as err:
        transactions.forget(con)
        con.close()
        _log.warning("The records database %s could not be used: %s", where(url), redact(str(err)))
        _raise_if_full(err)
        raise StoreError(f"The records database ({where(url)}) could not be used.",
                         "Check that PostgreSQL is running and READINESS_DATABASE_URL names it "
                         "(the server log has the details).") from err
    except BaseException:
        transactions.forget(con)
        con.close()
        raise
    return con


def _start(url: str, path: Path) -> Connection:
    base = duckdb.connect()
    try:
        load_extensions(base, "postgres", "ducklake")
        base.execute("SET temp_directory = ?", [str(path) + ".tmp"])
        try:
            base.execute(f"ATTACH {literal(url)} AS {ALIAS} (TYPE postgres)")
        except duckdb.Error as err:
            _log.warning("Cannot attach the records database: %s", redact(str(err)))
            _raise_if_full(err)
            raise StoreError(f"Cannot reach the records database ({where(url)}).",
                             "Check that PostgreSQL is running and READINESS_DATABASE_URL names it "
                             "(the server log has the details).") from None
        _attach_lake(base, url, path)
        base.execute(f"ATTACH ':memory:' AS {VIEWS}")
        apply_restriction(base)
    except BaseException:
        base.close()
        raise
    return base


def _attach_lake(base: Connection, url: str, path: Path) -> None:
    try:
        ducklake.attach(base, url, path)
    except duckdb.Error as err:
        _log.warning("Cannot attach the telemetry lake: %s", redact(str(err)))
        _raise_if_full(err)
        raise StoreError(f"Cannot open the telemetry lake (catalog in {where(url)}).",
                         "Check that READINESS_LAKE_DATA_PATH names the lake's folder, which every replica "
                         "shares and this process may write (the server log has the details).") from None
    _lake_at[url] = path


def _setup(con: Connection, path: Path) -> None:
    con.execute(f"USE {ALIAS}.public")
    con.execute(f"SET search_path = '{ALIAS}.public,{VIEWS}.main'")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    transactions._organisation[id(con)] = path
    transactions._on_begin[id(con)] = _take_write_turn


def _refresh_views(con: Connection, url: str) -> None:
    """Remake the process's shared lake views when ``lake_files`` changed since they were made (one
    query on the records when it did not). A connection's transaction that changes the files makes
    its own temporary views (lake.recreate_views), which stand in for these until it closes."""
    seen = con.execute("SELECT count(*), coalesce(sum(hash(tbl, batch_id, path)), 0) FROM lake_files").fetchone()
    if _views_at.get(url) == seen:
        return
    with _lock:
        lake.make_views(con, into=f"{VIEWS}.main", local_in=f"{ALIAS}.public")
        _views_at[url] = seen


def _take_write_turn(con: Connection) -> None:
    """First statement of every write transaction: wait (up to lock_timeout_s) for the writers of
    every replica before it."""
    ms = int(settings.get("lock_timeout_s") * 1000)
    try:
        con.execute(f"CALL postgres_execute('{ALIAS}', "
                    f"'SET LOCAL lock_timeout = {ms}; LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE')")
    except duckdb.Error as err:
        if "lock timeout" in str(err):
            raise StoreBusy("The store is busy with another change (an ingest, sync or edit elsewhere); "
                            "try again when it has finished.") from None
        _log.warning("A write could not start on the records database: %s", redact(str(err)))
        _raise_if_full(err)
        raise
    lake.recreate_views(con)  # the lake's listing as of this turn, not as of the connection's opening


# What PostgreSQL answers a new connection when max_connections are all taken
_FULL = ("too many clients already", "remaining connection slots are reserved")


def _raise_if_full(err: duckdb.Error) -> None:
    """Raise StoreBusy, which a page shows as "busy, try again", when ``err`` says PostgreSQL has
    no free connection (every replica's sessions count against its max_connections)."""
    if any(words in str(err) for words in _FULL):
        raise StoreBusy("The records database has no free connection right now; try again in a moment. "
                        "If it keeps happening, an operator should raise PostgreSQL's max_connections "
                        "(docs/operating.md says how many each replica needs).") from None


def derive(con: Connection) -> Connection:
    """A new connection on ``con``'s store, set up as it is (default schema, search path, write turns)."""
    cur = con.cursor()
    try:
        _setup(cur, transactions._organisation[id(con)])
    except BaseException:
        transactions.forget(cur)
        cur.close()
        raise
    return cur


transactions._derive = derive


def migrate(con: Connection) -> list[int]:
    """Bring the records database to this release's schema: the baseline (every statement may run
    again), then each later migration not yet applied, each in one PostgreSQL transaction under an
    advisory lock (replicas starting at once take turns). Returns the versions applied now."""
    applied_before = _applied(con)
    con.execute(f"CALL postgres_execute('{ALIAS}', ?)", [SCHEMA_FILE.read_text()])
    applied = [] if BASELINE in applied_before else [BASELINE]
    for version, name, sql in MIGRATIONS:
        if version in applied_before:
            continue
        body = (f"SELECT pg_advisory_xact_lock(7305); DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM schema_migrations "
                f"WHERE version = {int(version)}) THEN {sql} INSERT INTO schema_migrations VALUES ({int(version)}, "
                f"{literal(name)}, now()); END IF; END $$;")
        con.execute(f"CALL postgres_execute('{ALIAS}', ?)", [body])
        applied.append(version)
    con.execute("CALL pg_clear_cache()")
    _lake_tables(con)
    _files_into_lake(con)
    _rows_into_lake(con)
    return applied


def _lake_tables(con: Connection) -> None:
    """Make the lake's tables as this release has them, in the writers' turn (a column added while
    a batch lands would fail its commit); replicas starting at once may still conflict in the lake's
    catalog, and then try again (the other made them)."""
    if not ducklake.ensure_tables(con, _lake_columns(), dry_run=True):
        return  # as this release has them: no turn taken
    for attempt in range(5):
        try:
            with transactions.transaction(con), ducklake.committed(con) as cur:  # one snapshot for all
                ducklake.ensure_tables(cur, _lake_columns())
            return
        except duckdb.Error as err:
            if attempt == 4 or "onflict" not in str(err):
                raise


@functools.cache
def _lake_columns() -> dict[str, list[tuple[str, str]]]:
    """Each lake table's columns, as the embedded store's migrations make its local table."""
    probe = duckdb.connect()
    try:
        migrations.migrate(probe)
        return {t: probe.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                                 "ORDER BY column_index", [lake.local(t)]).fetchall() for t in lake.LAKE_TABLES}
    finally:
        probe.close()


def _files_into_lake(con: Connection) -> None:
    """Move batches listed as Parquet files (the lake before DuckLake) into the lake's tables, one
    file at a time, each in the writers' turn; the file is deleted once its listing is updated. A
    move cut short runs again whole (the batches' lake rows are replaced); a file that cannot be
    read is logged and stays listed, for the next start."""
    root = lake.parts_dir(transactions.file_of(con))
    for tbl, rel in con.execute("SELECT DISTINCT tbl, path FROM lake_files WHERE path <> '' ORDER BY 1, 2").fetchall():
        try:
            with transactions.transaction(con):
                ids = [r[0] for r in con.execute("SELECT batch_id FROM lake_files WHERE tbl = ? AND path = ?",
                                                 [tbl, rel]).fetchall()]
                if not ids:
                    continue  # moved by another replica meanwhile
                with ducklake.committed(con) as cur:
                    cur.execute(f"DELETE FROM {ducklake.table(tbl)} WHERE list_contains(?, batch_id)", [ids])
                    cur.execute(ducklake.insert_sql(tbl) + " WHERE list_contains(?, batch_id)",
                                [str(root / rel), ids])
                con.execute("UPDATE lake_files SET path = '' WHERE tbl = ? AND path = ?", [tbl, rel])
                transactions.after_commit(con, lambda f=root / rel: f.unlink(missing_ok=True))
        except duckdb.Error as err:
            _log.warning("A listed lake file was not moved into the lake (it stays listed): %s %s: %s",
                         tbl, rel, redact(str(err)))


def _rows_into_lake(con: Connection) -> None:
    """Move the rows PostgreSQL tables kept before migration 17 (feedback, exceptions, rejects) into
    the lake, a table at a time, each in the writers' turn: the lake's insert commits first, then
    the batches' listing and the deletion of their PostgreSQL rows, in one transaction (the views
    read a batch's rows from one place or the other). Cut short in between, the lake's rows are
    unlisted: swept, and the move runs again at the next start."""
    moved = [t for t in lake.LAKE_TABLES if t not in lake.USAGE_TABLES]
    if not any(con.execute(f"SELECT count(*) FROM {lake.local(t)}").fetchone()[0] for t in moved):
        return
    lake.sweep(con)  # what a move cut short left in the lake
    for table in moved:
        try:
            with transactions.transaction(con):
                batches = con.execute(f"SELECT batch_id, any_value(pilot_id), count(*) FROM {lake.local(table)} "
                                      "GROUP BY batch_id ORDER BY batch_id").fetchall()
                if not batches:
                    continue
                with ducklake.committed(con) as cur:
                    cur.execute(f"INSERT INTO {ducklake.table(table)} BY NAME SELECT * FROM "
                                f"{ALIAS}.public.{lake.local(table)}")
                con.executemany("INSERT INTO lake_files VALUES (?, ?, ?, '', ?, now())",
                                [[table, b, p, n] for b, p, n in batches])
                con.execute(f"DELETE FROM {lake.local(table)}")
                lake.recreate_views(con)
        except duckdb.Error as err:
            _log.warning("The %s rows kept in PostgreSQL were not moved into the lake (they stay "
                         "there, read as before): %s", table, redact(str(err)))


def _applied(con: Connection) -> set[int]:
    try:
        return {r[0] for r in con.execute(
            f"SELECT * FROM postgres_query('{ALIAS}', 'SELECT version FROM schema_migrations')").fetchall()}
    except duckdb.Error:
        return set()


def next_id(con: Connection, sequence: str) -> int:
    """The next value of PostgreSQL's sequence ``sequence``."""
    sql = f"SELECT nextval({literal(sequence)})"
    return con.execute(f"SELECT * FROM postgres_query('{ALIAS}', {literal(sql)})").fetchone()[0]


def release(url: str) -> None:
    """Close this process's DuckDB instance for ``url`` (its connections must be closed)."""
    with _lock:
        base = _bases.pop(url, None)
        _migrated.discard(url)
        _lake_at.pop(url, None)
        _views_at.pop(url, None)
    if base is not None:
        base.close()


def schema_changed(url: str) -> None:
    """Forget what this process knows of the records database's tables (DuckDB's cached catalog)
    and the lake views made from it, after another process changed them."""
    with _lock:
        base = _bases.get(url)
        _views_at.pop(url, None)
        if base is not None:
            base.execute("CALL pg_clear_cache()")


def lake_dropped(url: str) -> None:
    """Let go of the lake before its catalog is dropped (tests empty the database between tests):
    the next connection attaches it anew and makes its tables."""
    with _lock:
        base = _bases.get(url)
        if base is not None and _lake_at.pop(url, None) is not None:
            base.execute(f"DETACH DATABASE IF EXISTS {ducklake.ALIAS}")
        _migrated.discard(url)
