"""Batches kept as Parquet files beside the store, read through views: the store's lake.

The usage events and the usage rollup's four tables are the bulk of a store; feedback, exceptions
and the rejected rows of every batch come in batches too (:data:`LAKE_TABLES`). Their rows are kept
in two places: a local table ``<table>_local`` (rows loaded before the lake existed, and a
rollup rebuilt in a new time zone) and immutable Parquet files, one per batch and table, in the
store's parts folder ``<store>.parts/<table>/<host>-<pid>-<uuid>.parquet``. ``lake_files`` lists
the files that belong to the store (paths relative to the parts folder), one row per batch and
file, and ``<table>`` is a view over the local table and every listed file. Readers keep the
table names. `maintain` merges a pilot's many small files of a table into one (:func:`merge`,
:func:`swap`), whose path is then listed once per batch it holds.

Why: an ingest writes a batch's files with no lock on the store (the heavy work runs in a
scratch database), then lands it in one short transaction that lists the files and recreates
the views. A file means nothing until that transaction commits, so a batch is visible whole
or not at all; a file that no commit lists, whose writer process is gone, is garbage
(:func:`remove_orphans`). Files are never changed: deleting a batch unlists its files and
deletes them after the commit (a merged file still holding other batches is replaced by a copy
without the deleted batch's rows).

The organisation deployment keeps the same listing in PostgreSQL, but its rows in a DuckLake lake
(:mod:`readiness.store.ducklake`): a batch's staged file is inserted into the lake table when it
lands, ``lake_files`` lists the batch (path ``''``), and the view reads the lake's rows of the
listed batches.

A view holds absolute paths (DuckDB reads a relative path from the working folder); when the
store has moved (a restore elsewhere, a copied folder), :func:`ensure_views` rebuilds the views
from ``lake_files`` when the store is first opened by a process.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from readiness.store import ducklake
from readiness.store.transactions import Connection, after_commit, file_of, in_transaction, literal, organisation

USAGE_TABLES = ("usage_events", "usage_by_segment", "usage_by_session", "usage_by_feature", "usage_by_team")
# Every table whose rows come in batches, a batch's rows never changed once landed.
LAKE_TABLES = (*USAGE_TABLES, "feedback", "exceptions", "ingest_rejects")
PARTS = ".parts"  # <store>.parts: the store's Parquet files, one folder per table
# How every Parquet file of the lake is written. Format version 2's encodings (delta, byte stream
# split) make a usage batch's events file a quarter the size (10M events: 22 MB against 89 MB),
# written and read as fast.
PARQUET = "(FORMAT parquet, PARQUET_VERSION V2)"


def local(table: str) -> str:
    """The table rows of ``table`` are written to: its local table for a lake table, else itself."""
    return f"{table}_local" if table in LAKE_TABLES else table


def parts_dir(db: str | Path) -> Path:
    """The folder of the store's Parquet files: ``<store>.parts`` beside the store file."""
    db = Path(db).resolve()
    return db.with_name(db.name + PARTS)


def new_part(db: str | Path, table: str) -> Path:
    """A new file name for one batch's rows of ``table``, named after this host and process
    (so that what a dead writer left can be told apart from what a live one is writing)."""
    folder = parts_dir(db) / table
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{_host()}-{os.getpid()}-{uuid.uuid4().hex}.parquet"


def _host() -> str:
    return socket.gethostname().replace("-", "_")


# The organisation deployment's batch written to the lake ahead of its turn (:func:`ahead`), by
# connection: [lake connection, state] with state "open", "committed" or "refused".
_ahead: dict[int, list] = {}


@contextlib.contextmanager
def ahead(con: Connection, parts: dict[str, tuple[Path, int]]) -> Iterator[None]:
    """Around a batch's transaction on the organisation deployment: its files' rows are written into
    the lake first, with no turn held (a 10M-row batch: seconds), and committed by the first
    :func:`register` in the transaction, in the writers' turn (milliseconds). Uncommitted, they
    are rolled back when the block ends. Nothing to do for the embedded store."""
    if not organisation(con) or not parts:
        yield
        return
    cur = ducklake.begin_append(con, {t: p for t, (p, _rows) in parts.items()})
    if cur is None:
        yield
        return
    _ahead[id(con)] = [cur, "open"]
    try:
        yield
    finally:
        _ahead.pop(id(con), None)
        cur.close()  # rolls back what was not committed


def drop_ahead(con: Connection) -> None:
    """Roll back what :func:`ahead` wrote for ``con``'s batch, whose files changed since: each
    :func:`register` then appends its file in the turn."""
    state = _ahead.get(id(con))
    if state is not None and state[1] == "open":
        state[0].execute("ROLLBACK")
        state[1] = "refused"


def _written_ahead(con: Connection) -> bool:
    """Whether the batch's rows are in the lake already (committing them now if they were written
    ahead): False when the batch's transaction must append them itself."""
    state = _ahead.get(id(con))
    if state is None or state[1] == "refused":
        return False
    if state[1] == "open":
        state[1] = "committed" if ducklake.commit_append(state[0]) else "refused"
    return state[1] == "committed"


def register(con: Connection, table: str, batch_id: int, pilot_id: int, path: Path, rows: int) -> None:
    """List ``path`` (a file under the parts folder) as batch ``batch_id``'s rows of ``table``
    (inside the batch's transaction); call :func:`recreate_views` after the last one. On the
    organisation deployment the file's rows go into the lake table, and the file once this commits."""
    if organisation(con):
        if not _written_ahead(con):
            ducklake.append(con, table, path)
        con.execute("INSERT INTO lake_files VALUES (?, ?, ?, '', ?, now())", [table, batch_id, pilot_id, rows])
        after_commit(con, lambda: path.unlink(missing_ok=True))
        return
    rel = path.resolve().relative_to(parts_dir(file_of(con)))
    con.execute("INSERT INTO lake_files VALUES (?, ?, ?, ?, ?, now())", [table, batch_id, pilot_id, str(rel), rows])


def unregister(con: Connection, where: str, params: list, tables: tuple[str, ...] = LAKE_TABLES) -> int:
    """Unlist the files of ``tables`` matching ``where`` (SQL over lake_files' columns), recreate the
    views, and delete the files once the transaction commits. Returns the rows the files held.

    A merged file (:func:`merge`) holds several batches: when batches it holds stay listed, it is
    rewritten without the unlisted batches' rows into a new file, which takes its place (a
    rollback leaves that file unlisted: an orphan once this process is gone)."""
    marks = ", ".join("?" * len(tables))
    rows = con.execute(f"SELECT path, batch_id, rows FROM lake_files WHERE tbl IN ({marks}) AND ({where})",
                       [*tables, *params]).fetchall()
    if not rows:
        return 0
    con.execute(f"DELETE FROM lake_files WHERE tbl IN ({marks}) AND ({where})", [*tables, *params])
    if organisation(con):  # the lake's rows of unlisted batches are swept once this commits
        recreate_views(con)
        if in_transaction(con):
            ducklake.sweep_after_commit(con)
        return sum(n for _p, _b, n in rows)
    root = parts_dir(file_of(con))
    gone: list[Path] = []
    for rel in sorted({p for p, _b, _n in rows}):
        left = con.execute("SELECT DISTINCT tbl FROM lake_files WHERE path = ?", [rel]).fetchall()
        if left:  # the batches still listed in it keep their rows, in a file without the others'
            dropped = sorted({b for p, b, _n in rows if p == rel})
            fresh = new_part(file_of(con), left[0][0])
            con.execute(f"COPY (SELECT * FROM read_parquet({literal(str(root / rel))}) WHERE NOT list_contains(?, batch_id)) "
                        f"TO {literal(str(fresh))} {PARQUET}", [dropped])
            con.execute("UPDATE lake_files SET path = ? WHERE path = ?", [str(fresh.relative_to(root)), rel])
        gone.append(root / rel)
    recreate_views(con)
    if in_transaction(con):  # else (a bare BEGIN) unlisted files stay until `maintain` removes them
        after_commit(con, lambda: [f.unlink(missing_ok=True) for f in gone])
    return sum(n for _p, _b, n in rows)


def version(con: Connection) -> int | None:
    """The lake snapshot reads see now: the organisation deployment's DuckLake snapshot (a decision
    records it, and `maintain` keeps it); None for the embedded store, whose files have none."""
    return ducklake.version(con) if organisation(con) else None


def files(con: Connection, table: str, pilot_id: int | None = None) -> list[Path]:
    """The listed files of ``table`` (of one pilot), absolute, in batch order (none on the
    organisation deployment, whose rows are in its lake's tables)."""
    if organisation(con):
        return []
    root = parts_dir(file_of(con))
    return [root / r[0] for r in con.execute(
        "SELECT path FROM lake_files WHERE tbl = ? AND (? IS NULL OR pilot_id = ?) GROUP BY path "
        "ORDER BY min(batch_id), path", [table, pilot_id, pilot_id]).fetchall()]


def view_sql(table: str, paths: list[Path]) -> str:
    """The view ``table``: its local table and the files, matched by column name (a file written
    before a column was added reads NULL in it)."""
    return f"CREATE OR REPLACE VIEW {table} AS {_body(table, paths)}"


def _body(table: str, paths: list[Path]) -> str:
    if not paths:
        return f"SELECT * FROM {local(table)}"
    listed = ", ".join(literal(str(p)) for p in paths)
    return f"SELECT * FROM {local(table)} UNION ALL BY NAME SELECT * FROM read_parquet([{listed}])"


def view_body(con: Connection, table: str) -> str:
    """The SELECT the view ``table`` stands for, as ``lake_files`` lists its files now."""
    if organisation(con):
        return ducklake.view_body(table, local(table), _batches(con)[table])
    return _body(table, files(con, table))


def _batches(con: Connection) -> dict[str, list[int]]:
    """The organisation deployment's listing: each lake table's listed batches."""
    listed: dict[str, list[int]] = {t: [] for t in LAKE_TABLES}
    for tbl, bid in con.execute("SELECT DISTINCT tbl, batch_id FROM lake_files ORDER BY tbl, batch_id").fetchall():
        if tbl in listed:
            listed[tbl].append(bid)
    return listed


def _listed(con: Connection) -> dict[str, list[Path]]:
    root = parts_dir(file_of(con))
    listed: dict[str, list[Path]] = {t: [] for t in LAKE_TABLES}
    for tbl, path in con.execute("SELECT tbl, path FROM lake_files GROUP BY tbl, path "
                                 "ORDER BY tbl, min(batch_id), path").fetchall():
        if tbl in listed:
            listed[tbl].append(root / path)
    return listed


def recreate_views(con: Connection) -> None:
    """Make every lake table's view list exactly the files in ``lake_files`` (inside a transaction).
    On an organisation connection these are its own temporary views, which stand in for the
    process's shared ones (:func:`make_views`) until the connection closes."""
    if organisation(con):
        batches = _batches(con)
        for table in LAKE_TABLES:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS "
                        f"{ducklake.view_body(table, local(table), batches[table])}")
        return
    listed = _listed(con)
    for table in LAKE_TABLES:
        con.execute(view_sql(table, listed[table]))


def make_views(con: Connection, into: str, local_in: str) -> None:
    """Make the lake tables' views in the schema ``into`` over the local tables in ``local_in``
    (the organisation deployment's views, shared by a process's connections)."""
    batches = _batches(con)
    for table in LAKE_TABLES:
        con.execute(f"CREATE OR REPLACE VIEW {into}.{table} AS "
                    f"{ducklake.view_body(table, f'{local_in}.{local(table)}', batches[table])}")


def ensure_views(con: Connection) -> None:
    """Rebuild the views when they name another parts folder than this store's (the store moved)."""
    if organisation(con):
        return  # its views are made as each connection opens
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND table_name = 'lake_files'").fetchone()[0]:
        return  # a store whose schema predates the lake
    if not con.execute("SELECT count(*) FROM lake_files").fetchone()[0]:
        return
    root = literal(str(parts_dir(file_of(con))))[:-1] + "/"
    stale = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE database_name = current_database() AND view_name IN "
        f"({', '.join('?' * len(LAKE_TABLES))}) AND sql LIKE '%read_parquet%' AND NOT contains(sql, ?)",
        [*LAKE_TABLES, root]).fetchone()[0]
    if stale:
        from readiness.store.transactions import transaction

        with transaction(con):
            recreate_views(con)


def crowded(con: Connection, above: int) -> list[tuple[int, str, list[tuple[int, str, int]]]]:
    """The (pilot, table) pairs listing more than ``above`` files, each with its rows of
    ``lake_files`` as (batch, path, rows): what :func:`compact` merges (none on the organisation
    deployment, whose lake merges its own files)."""
    if organisation(con):
        return []
    out: dict[tuple[int, str], list[tuple[int, str, int]]] = {}
    for pid, tbl, bid, path, rows in con.execute(
            "SELECT pilot_id, tbl, batch_id, path, rows FROM lake_files JOIN (SELECT pilot_id, tbl FROM lake_files "
            "GROUP BY pilot_id, tbl HAVING count(DISTINCT path) > ?) USING (pilot_id, tbl) "
            "ORDER BY pilot_id, tbl, batch_id, path", [above]).fetchall():
        out.setdefault((pid, tbl), []).append((bid, path, rows))
    return [(pid, tbl, listed) for (pid, tbl), listed in out.items()]


def merge(scratch: Connection, db: str | Path, table: str, paths: list[Path]) -> tuple[Path, int]:
    """Write the rows of ``paths`` (files of one pilot's ``table``) as one new file in the parts
    folder, batch by batch, each batch's rows in their order; on a connection outside the store
    (the store is not held). Returns the file and its rows. Until :func:`swap` lists it, the new
    file is an orphan like an unlanded batch's."""
    out = new_part(db, table)
    listed = ", ".join(literal(str(p)) for p in paths)
    try:
        scratch.execute(f"COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet([{listed}], union_by_name = true, "
                        f"file_row_number = true) ORDER BY batch_id, file_row_number) TO {literal(str(out))} {PARQUET}")
        rows = scratch.execute(f"SELECT count(*) FROM read_parquet({literal(str(out))})").fetchone()[0]
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out, rows


def swap(con: Connection, table: str, pilot_id: int, planned: list[tuple[int, str, int]], merged: Path) -> bool:
    """List ``merged`` in place of the files of ``planned`` (inside a transaction), if they are still
    listed exactly so (no batch of theirs deleted, no rollup rebuilt meanwhile): one row per batch
    points at the merged file with the batch's rows. The old files are deleted after the commit.
    Returns whether it was swapped."""
    paths = sorted({p for _b, p, _n in planned})
    now = con.execute(
        "SELECT batch_id, path, rows FROM lake_files WHERE tbl = ? AND pilot_id = ? AND list_contains(?, path) "
        "ORDER BY batch_id, path", [table, pilot_id, paths]).fetchall()
    if sorted(now) != sorted(planned):
        return False
    root = parts_dir(file_of(con))
    con.execute("UPDATE lake_files SET path = ? WHERE tbl = ? AND pilot_id = ? AND list_contains(?, path)",
                [str(merged.resolve().relative_to(root)), table, pilot_id, paths])
    recreate_views(con)
    gone = [root / p for p in paths]
    after_commit(con, lambda: [f.unlink(missing_ok=True) for f in gone])
    return True


def orphans(con: Connection, pid_alive: Callable[[int], bool]) -> list[Path]:
    """Files in the parts folder that no batch lists and whose writer (a process of this host) is
    gone (``pid_alive`` is false): what an ingest killed before its batch landed left behind.
    Files of live processes (an ingest on its way) and of other hosts are left alone."""
    root = parts_dir(file_of(con))
    if not root.is_dir():
        return []
    listed = {r[0] for r in con.execute("SELECT path FROM lake_files").fetchall()}
    host, out = _host(), []
    for table_dir in root.iterdir():
        for f in table_dir.glob("*.parquet") if table_dir.is_dir() else ():
            if str(f.relative_to(root)) in listed:
                continue
            who, _, rest = f.name.partition("-")
            pid = rest.split("-", 1)[0]
            if who == host and pid.isdigit() and not pid_alive(int(pid)):
                out.append(f)
    return out


def sweep(con: Connection) -> int:
    """The organisation deployment's lake: delete the rows of batches no listing names (see
    :func:`ducklake.sweep`). Returns the rows deleted; nothing to do for the embedded store."""
    return ducklake.sweep(con) if organisation(con) else 0


def remove_orphans(con: Connection, pid_alive: Callable[[int], bool]) -> list[Path]:
    """Delete :func:`orphans`; returns them. A file of a dead process can no longer be listed."""
    gone = orphans(con, pid_alive)
    for f in gone:
        f.unlink(missing_ok=True)
    return gone


MIGRATION = f"""
-- Batches kept as Parquet files beside the store (readiness/store/lake.py): the usage events and
-- the usage rollup become views over their local table (the rows loaded so far) and the listed files.
CREATE TABLE lake_files (
    tbl      VARCHAR NOT NULL,      -- the view the file belongs to, e.g. 'usage_events'
    batch_id BIGINT NOT NULL,
    pilot_id INTEGER NOT NULL,
    path     VARCHAR NOT NULL UNIQUE,  -- relative to <store>.parts (no longer unique from migration 14)
    rows     BIGINT NOT NULL,
    added_at TIMESTAMPTZ NOT NULL
);
{"".join(f"ALTER TABLE {t} RENAME TO {t}_local; CREATE VIEW {t} AS SELECT * FROM {t}_local;" for t in USAGE_TABLES)}
"""

MERGED_FILES = """
-- A merged file holds several batches of a pilot's table (`maintain` merges small files): lake_files
-- keeps one row per batch and file, so a path is listed once per batch it holds.
CREATE TABLE lake_files_v14 (
    tbl      VARCHAR NOT NULL,      -- the view the file belongs to, e.g. 'usage_events'
    batch_id BIGINT NOT NULL,
    pilot_id INTEGER NOT NULL,
    path     VARCHAR NOT NULL,      -- relative to <store>.parts; shared by the batches of a merged file
    rows     BIGINT NOT NULL,       -- the batch's rows in the file
    added_at TIMESTAMPTZ NOT NULL
);
INSERT INTO lake_files_v14 SELECT * FROM lake_files;
DROP TABLE lake_files;
ALTER TABLE lake_files_v14 RENAME TO lake_files;
"""
