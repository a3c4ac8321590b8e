"""The organisation deployment's telemetry lake: a DuckLake lake, its catalog in the records'
PostgreSQL (schema ``ducklake``), its Parquet files under ``<lake_data_path>/ducklake``.

The lake tables (:data:`readiness.store.lake.LAKE_TABLES`: usage events and their rollup,
feedback, exceptions and rejected rows) are
DuckLake tables of the same columns as the embedded store's local tables. What counts is decided
in PostgreSQL, not in the lake: ``lake_files`` lists the batches whose rows of each table are
current, and the views read a lake table's rows of the listed batches only. So a batch is visible
whole or not at all at its records' commit, although DuckDB writes the lake and the records in two
transactions (it refuses one transaction writing two attached databases):

- **landing**: the staged Parquet files are inserted into the lake tables in one lake transaction
  left open, with no turn held (:func:`begin_append`: the heavy part); in the batch's records
  transaction, which holds the writers' turn, that lake transaction commits (a lake snapshot;
  :func:`append` inserts there instead when the lake refused the commit), then the records
  transaction lists the batch and commits. Killed in between, the lake holds rows no listing
  names: nobody reads them, and the next writer's :func:`sweep` deletes them;
- **deleting** a batch unlists it in the records transaction; its rows leave the lake afterwards
  (:func:`sweep`, after the commit or by the next writer);
- a :func:`sweep` runs in the writers' turn, so it never sees a batch between its lake commit and
  its listing.

Every lake commit is a snapshot. A decision records the snapshot its evidence was read at
(:func:`version`), and ``maintain`` keeps it (:func:`tidy`), so the lake ``AT (VERSION => n)`` still
holds the rows the decision read; figures as decided are recomputed from the decision's batches
(:mod:`readiness.review.asof`), on both deployments alike. A batch deleted outright (no decision
read it) leaves the lake's files: the pinned snapshots holding it are expired.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from readiness.store.transactions import (
    Connection,
    DatabaseError,
    StoreError,
    after_commit,
    in_transaction,
    literal,
    redact,
    transaction,
)

_log = logging.getLogger(__name__)
ALIAS = "lake"
SCHEMA = "ducklake"  # the PostgreSQL schema of the lake's catalog
DATA = "ducklake"  # the lake's data files: <lake_data_path>/ducklake
# Snapshots and files dropped by `maintain` are kept this long, for a page's query still reading them.
GRACE = "INTERVAL 10 MINUTE"


def attach(base: Connection, url: str, store: Path) -> None:
    """Attach the lake to a process's DuckDB instance (the ducklake extension is loaded)."""
    data = store.parent / DATA
    data.mkdir(parents=True, exist_ok=True)
    base.execute(f"ATTACH {literal('ducklake:postgres:' + url)} AS {ALIAS} "
                 f"(DATA_PATH {literal(str(data) + '/')}, METADATA_SCHEMA {literal(SCHEMA)})")


def table(name: str, at: int | None = None) -> str:
    """The lake table ``name`` (as of snapshot ``at``)."""
    return f"{ALIAS}.main.{name}" + (f" AT (VERSION => {int(at)})" if at is not None else "")


def ensure_tables(con: Connection, tables: dict[str, list[tuple[str, str]]], *, dry_run: bool = False) -> list[str]:
    """Create the lake ``tables`` (name -> [(column, type)]), and add the columns a later release
    gave them (with ``dry_run``, only say what that would do). Returns the changes."""
    done = []
    for name, columns in tables.items():
        have = {r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' "
            "AND table_name = ?", [ALIAS, name]).fetchall()}
        if not have:
            cols = ", ".join(f'"{c}" {t}' for c, t in columns)
            if not dry_run:
                con.execute(f"CREATE TABLE IF NOT EXISTS {table(name)} ({cols})")
            done.append(f"create {name}")
            continue
        for c, t in columns:
            if c not in have:
                if not dry_run:
                    con.execute(f'ALTER TABLE {table(name)} ADD COLUMN "{c}" {t}')
                done.append(f"add {name}.{c}")
    return done


def insert_sql(name: str) -> str:
    """Insert a Parquet file's rows (the bound parameter) into the lake table ``name``, by column name."""
    return f"INSERT INTO {table(name)} BY NAME SELECT * FROM read_parquet(?)"


def _lake_cursor(con: Connection) -> Connection:
    """A connection of its own for the lake's transaction (the caller's may have written records)."""
    return con.cursor()


@contextlib.contextmanager
def committed(con: Connection) -> Iterator[Connection]:
    """A lake transaction on a connection of its own, committed when the block ends (one
    snapshot); rolled back when it raises."""
    cur = _lake_cursor(con)
    try:
        cur.execute("BEGIN TRANSACTION")
        yield cur
        cur.execute("COMMIT")
    finally:
        cur.close()  # rolls back what did not commit


def append(con: Connection, name: str, path: Path) -> int:
    """Insert the rows of the Parquet file ``path`` into the lake table ``name`` and commit them in
    the lake, inside ``con``'s records transaction (which holds the writers' turn). The rows count
    once that transaction lists their batch. Returns the rows inserted."""
    assert in_transaction(con), "a lake append runs in the batch's records transaction"
    cur = _lake_cursor(con)
    try:
        return cur.execute(insert_sql(name), [str(path)]).fetchone()[0]
    except DatabaseError as err:  # the lake's catalog or folder, not the file: nothing was loaded
        _log.warning("The lake could not take a batch's rows of %s: %s", name, redact(str(err)))
        raise StoreError("The telemetry lake could not take the batch; nothing was loaded.",
                         "Try again; if it keeps failing, an operator should check the lake folder and "
                         "the database (the server log has the details).") from None
    finally:
        cur.close()


def begin_append(con: Connection, files: dict[str, Path]) -> Connection | None:
    """Insert the batch's staged files into their lake tables in a lake transaction left open, on a
    connection of its own, with no turn held: the heavy part of landing. :func:`commit_append`
    commits it in the writers' turn. None when it could not be written (the batch's transaction
    then appends in its turn)."""
    cur = _lake_cursor(con)
    try:
        cur.execute("BEGIN TRANSACTION")
        for name, path in files.items():
            cur.execute(insert_sql(name), [str(path)])
    except DatabaseError as err:
        _log.warning("A batch's rows were not written to the lake ahead of its turn: %s", redact(str(err)))
        cur.close()
        return None
    return cur


def commit_append(cur: Connection) -> bool:
    """Commit what :func:`begin_append` wrote, in the writers' turn. False when the lake refused
    (a deletion from the same table committed meanwhile conflicts with an insert): the caller then
    appends in its turn."""
    try:
        cur.execute("COMMIT")
        return True
    except DatabaseError as err:
        _log.info("The lake refused a batch written ahead of its turn; appending it in the turn: %s",
                  redact(str(err)))
        return False


def batches_in(con: Connection, name: str) -> set[int]:
    """The batches that have rows in the lake table ``name``."""
    return {r[0] for r in con.execute(f"SELECT DISTINCT batch_id FROM {table(name)}").fetchall()}


def unlisted(con: Connection) -> dict[str, list[int]]:
    """Per lake table, the batches with rows in the lake that ``lake_files`` does not list."""
    out = {}
    for name in _tables(con):
        listed = {r[0] for r in con.execute("SELECT DISTINCT batch_id FROM lake_files WHERE tbl = ?",
                                            [name]).fetchall()}
        gone = sorted(batches_in(con, name) - listed)
        if gone:
            out[name] = gone
    return out


def sweep(con: Connection) -> int:
    """Delete from the lake the rows of batches no listing names (unlisted batches, batches whose
    landing was killed between its two commits), in a writers' turn of its own: never inside a
    transaction, whose own uncommitted unlisting would be taken as final. Returns the rows deleted."""
    if in_transaction(con):
        raise RuntimeError("the lake's sweep runs in a transaction of its own")
    if not unlisted(con):  # the usual case: nothing to do, and no turn taken
        return 0
    deleted = 0
    with transaction(con):
        cur = _lake_cursor(con)
        try:
            for name, gone in unlisted(con).items():
                deleted += cur.execute(f"DELETE FROM {table(name)} WHERE list_contains(?, batch_id)",
                                       [gone]).fetchone()[0]
        finally:
            cur.close()
    return deleted


def sweep_after_commit(con: Connection) -> None:
    """Sweep once ``con``'s transaction has committed (once however often asked; best effort: the
    next writer sweeps too)."""
    def run() -> None:
        try:
            sweep(con)
        except Exception:  # noqa: BLE001 - the rows are unlisted already; the next writer sweeps again
            _log.warning("The lake's rows of unlisted batches stay until the next sweep", exc_info=True)
    after_commit(con, run, once="lake.sweep")


def version(con: Connection) -> int:
    """The lake's newest snapshot."""
    return con.execute(f"SELECT id FROM {ALIAS}.current_snapshot()").fetchone()[0]


def merge_files(con: Connection) -> int:
    """Merge the lake's small files (rows and batches unchanged), outside the writers' turn: it may
    rewrite hundreds of megabytes. Returns the data files after it."""
    cur = _lake_cursor(con)
    try:
        cur.execute(f"CALL ducklake_merge_adjacent_files({literal(ALIAS)})").fetchall()
        return _data_files(cur)
    finally:
        cur.close()


def tidy(con: Connection, pinned: set[int], kept_batches: set[int]) -> dict[str, int]:
    """Expire the snapshots older than :data:`GRACE` that are neither the newest nor ``pinned`` (by a
    decision), and delete the files no kept snapshot needs and the files no snapshot names (written
    by an append that never committed). A pinned snapshot holding rows of a batch that is neither in
    ``kept_batches`` (listed now, or read by a decision) is expired too: a batch deleted outright
    leaves the lake's files. In the writers' turn (``con`` in a transaction). Returns counts."""
    cur = _lake_cursor(con)
    try:
        newest = cur.execute(f"SELECT id FROM {ALIAS}.current_snapshot()").fetchone()[0]
        keep = {s for s in pinned if s != newest and not _holds_other(cur, s, kept_batches)}
        old = [r[0] for r in cur.execute(
            f"SELECT snapshot_id FROM ducklake_snapshots({literal(ALIAS)}) "
            f"WHERE snapshot_time < now() - {GRACE} AND snapshot_id <> ? AND NOT list_contains(?, snapshot_id) "
            "ORDER BY snapshot_id", [newest, sorted(keep)]).fetchall()]
        if old:
            cur.execute(f"CALL ducklake_expire_snapshots({literal(ALIAS)}, versions => ?)", [old]).fetchall()
        removed = cur.execute(f"CALL ducklake_cleanup_old_files({literal(ALIAS)}, older_than => now() - {GRACE})"
                              ).fetchall()
        stray = cur.execute(f"CALL ducklake_delete_orphaned_files({literal(ALIAS)}, older_than => now() - {GRACE})"
                            ).fetchall()
        return {"lake_files": _data_files(cur), "snapshots_expired": len(old),
                "snapshots_pinned": len(keep), "lake_files_deleted": len(removed) + len(stray)}
    finally:
        cur.close()


def _holds_other(cur: Connection, at: int, kept_batches: set[int]) -> bool:
    """Whether the lake as of snapshot ``at`` holds rows of a batch not in ``kept_batches``."""
    for name in _tables(cur):
        try:
            held = {r[0] for r in cur.execute(f"SELECT DISTINCT batch_id FROM {table(name, at)}").fetchall()}
        except DatabaseError:  # the table did not exist at that snapshot
            continue
        if held - kept_batches:
            return True
    return False


def _tables(con: Connection) -> list[str]:
    return [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
                                      "ORDER BY table_name", [ALIAS]).fetchall()]


def _data_files(cur: Connection) -> int:
    return sum(cur.execute(f"SELECT count(*) FROM ducklake_list_files({literal(ALIAS)}, ?)", [t]).fetchone()[0]
               for t in _tables(cur))


def view_body(name: str, local_table: str, batch_ids: list[int]) -> str:
    """A lake table's view: the lake's rows of ``batch_ids`` (the listed batches) and its local
    table's rows of other batches. A batch's rows of a table are in one of the two (a time-zone
    rebuild moves a pilot's rollup into the local table and unlists its lake rows), so a view made
    before such a commit, still in use after it, reads the old rows once, not both."""
    if not batch_ids:
        return f"SELECT * FROM {local_table}"
    ids = ", ".join(str(int(b)) for b in sorted(set(batch_ids)))
    return (f"SELECT * FROM {local_table} WHERE batch_id NOT IN ({ids}) UNION ALL BY NAME "
            f"SELECT * FROM {table(name)} WHERE batch_id IN ({ids})")
