"""Units of work on the store: transactions, after-commit callbacks, and the store's errors.

Writers in one process take turns: DuckDB would let two transactions append concurrently, and
the audit chain needs each record to follow the one committed before it.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb

from readiness import settings
from readiness.errors import ReadinessError

# The seam's types: code outside readiness.store names these, never the driver's own.
Connection = duckdb.DuckDBPyConnection
DatabaseError = duckdb.Error


class StoreBusy(ReadinessError, RuntimeError):
    """Another process holds the store file; the message says who and what to do.

    The message names the file and the holder (program, PID): it is for the operator (the
    command line prints it) and the server log. A page shows :func:`busy_message` instead.
    """


class StoreError(ReadinessError, RuntimeError):
    """The store file cannot be opened for a reason other than a lock (message is user-facing)."""


# Writers in one process take turns: DuckDB would let two transactions append concurrently, and
# the audit chain needs each record to follow the one committed before it.
_write_lock = threading.RLock()


_after_commit: dict[int, list] = {}  # id(connection) -> callbacks run after its COMMIT

# Connections of the organisation deployment (readiness.store.postgres): id -> the store's name,
# and what each of its transactions runs first (it takes the records' write lock).
_organisation: dict[int, Path] = {}
_on_begin: dict[int, object] = {}


_derive = None  # set by readiness.store.postgres: prepares a cursor of an organisation connection


def derived(con: Connection) -> Connection:
    """A new connection (cursor) on ``con``'s store, set up as ``con`` is (its default database;
    for the organisation deployment its search path and lake views). The caller closes it."""
    if id(con) in _organisation:
        return _derive(con)
    db = con.execute("SELECT current_database()").fetchone()[0]
    cur = con.cursor()
    cur.execute(f"USE {ident(db)}")
    return cur


def forget(con: Connection) -> None:
    """Drop what this module keeps about ``con`` (it is closing)."""
    _organisation.pop(id(con), None)
    _on_begin.pop(id(con), None)


def organisation(con: Connection) -> bool:
    """Whether ``con`` is a connection of the organisation deployment (records in PostgreSQL)."""
    return id(con) in _organisation


@contextlib.contextmanager
def transaction(con: Connection) -> Iterator[Connection]:
    """BEGIN ... COMMIT, or ROLLBACK on any exception (which propagates).

    Writers in one process take turns (waiting up to ``lock_timeout_s``). Callbacks registered
    with :func:`after_commit` run after COMMIT, still in turn, and are dropped on ROLLBACK.
    """
    timeout = settings.get("lock_timeout_s")
    if not _write_lock.acquire(timeout=timeout):
        raise StoreBusy(f"The store is busy with another change in this process (waited {timeout:.0f} s). "
                        "Try again when it has finished.")
    try:
        nested = id(con) in _after_commit
        if nested:  # an inner transaction() joins the outer one
            yield con
            return
        _after_commit[id(con)] = []
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                begin = _on_begin.get(id(con))
                if begin is not None:
                    begin(con)
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            callbacks = _after_commit.get(id(con), [])
        finally:
            _after_commit.pop(id(con), None)
        for fn in callbacks:
            fn()
    finally:
        _write_lock.release()


@contextlib.contextmanager
def held_still(con: Connection) -> Iterator[Path]:
    """Hold the store still so that its file can be copied; yields the file's path.

    Other processes are kept out by the file lock that ``con`` holds; writers in this process wait
    on the write lock; CHECKPOINT moves everything committed from the write-ahead log into the
    file. Raises StoreBusy when the log cannot be emptied (a change still open).
    """
    if id(con) in _organisation:
        raise StoreError("The organisation deployment is not copied by this command: back up its PostgreSQL "
                         "database with pg_dump and its lake folder (READINESS_LAKE_DATA_PATH) with a file copy, "
                         "as docs/operating.md says.")
    timeout = settings.get("lock_timeout_s")
    if not _write_lock.acquire(timeout=timeout):
        raise StoreBusy(f"The store is busy with another change in this process (waited {timeout:.0f} s).")
    try:
        path = Path(con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0])
        con.execute("CHECKPOINT")
        wal = Path(f"{path}.wal")
        if wal.exists() and wal.stat().st_size:
            raise StoreBusy(f"The store {path} has a change in progress (its write-ahead log {wal.name} "
                            "did not empty); try again when it has finished.")
        yield path
    finally:
        _write_lock.release()


def in_transaction(con: Connection) -> bool:
    """True inside :func:`transaction` on this connection."""
    return id(con) in _after_commit


def after_commit(con: Connection, fn, *, once: str | None = None) -> None:
    """Run ``fn()`` once the current transaction on ``con`` has committed (not if it rolls back).
    With ``once``, a callback registered under that name in this transaction already stands for it."""
    callbacks = _after_commit[id(con)]
    if once is not None:
        if any(getattr(f, "_once", None) == once for f in callbacks):
            return
        fn._once = once
    callbacks.append(fn)


def file_of(con: Connection) -> Path:
    """The file of the store behind ``con`` (the organisation deployment: the name its files are kept beside)."""
    if id(con) in _organisation:
        return _organisation[id(con)]
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return Path(row[0])


def ident(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """Quote an SQL string literal (for statements that take no bound parameters: ATTACH, a view's body)."""
    return "'" + text.replace("'", "''") + "'"


def redact(text: str) -> str:
    """``text`` with the passwords of connection strings in it masked (for logs and messages)."""
    text = re.sub(r"(?i)(password\s*=\s*)('[^']*'|\S+)", r"\1***", text)
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)
