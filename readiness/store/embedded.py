"""The DuckDB store: short-lived connections, lock retry, versioned migrations.

Process model: DuckDB lets one process hold a database file for writing at a time. Nothing in
Readiness Review keeps the file open between units of work: each command, page rerun or ingest
opens a connection with :func:`open_store`, does its work, and closes it. When another process
holds the file, opening retries with growing back-off for ``lock_timeout_s`` and then raises
:class:`StoreBusy`, whose message says what is busy and what to do.

Turns are fair: a process that waits for the file says so (a marker beside the store), and a
process about to open the file while another waits gives way first (at most ``_GIVE_WAY_S``).
Without that, short opens in a steady stream (pages polling) keep a waiting ingest out until its
timeout, each of its retries landing while one of them holds the file.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

try:
    import fcntl
except ImportError:  # not on Windows: creation is then not serialised across processes
    fcntl = None

from readiness import settings
from readiness.store import lake, postgres
from readiness.store.extensions import load_extensions
from readiness.store.migrations import migrate
from readiness.store.restriction import apply_restriction as _apply_restriction
from readiness.store.restriction import restrict_file_access  # noqa: F401  (the seam exports it)
from readiness.store.transactions import Connection, StoreBusy, StoreError, forget, literal, organisation

ENGINE_VERSION = duckdb.__version__

_log = logging.getLogger(__name__)
_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<prog>.+?) \(PID (?P<pid>\d+)\)", re.DOTALL)
_NEWER_FILE = "created with an newer version of DuckDB"  # DuckDB's wording, typo included
_migrated: set[Path] = set()
_migrate_lock = threading.Lock()
# Threads of one process (e.g. the app's sessions) share the process's DuckDB instance and the
# stores attached to it (see _attach). Opens and closes take turns (each is quick): attaching a
# file while another thread detaches it would otherwise race (and an instance per file, rather than
# one shared, fails with "Unique file handle conflict").
_open_lock = threading.Lock()


def busy_message(err: Exception) -> str:
    """What a page says when the store is busy: what to do, never the file or the process holding it
    (visitors who have not logged in see it too). Those details go to the server log here."""
    _log.warning("Store busy: %s", err)
    return ("Data is being loaded (or a backup taken) right now, and the store stayed busy while this page "
            "waited for it. This page will answer in a moment: press Try again, or reload the page.")


def _busy_message(path: Path, err: Exception, waited: float) -> str:
    m = _LOCK_RE.search(str(err))
    who = f"{Path(m['prog']).name} (PID {m['pid']})" if m else "another process"
    return (
        f"The store {path} is busy: {who} has it open for writing, and it was still busy after "
        f"{waited:.0f} s. Wait for that process to finish (an ingest, sync or backup), or stop it, "
        f"then run the command again. Set READINESS_LOCK_TIMEOUT_S to wait longer."
    )


def _is_lock_error(err: Exception) -> bool:
    text = str(err)
    return "Could not set lock" in text or "Conflicting lock" in text


def connect(path: str | Path | None = None, *, timeout: float | None = None) -> Connection:
    """Open the store at ``path`` (default from settings), retrying while another process holds it.

    Returns a connection with the schema migrated and the session time zone set to UTC.
    Raises StoreBusy after ``timeout`` seconds of lock conflicts.
    """
    path = settings.db_path(path)
    if postgres.is_organisation(path):
        return postgres.connect(path)
    timeout = settings.get("lock_timeout_s") if timeout is None else timeout
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"Cannot create the store's folder {path.parent}: {err.strerror}.") from None
    new = not path.exists()
    start = time.monotonic()
    _give_way(path, start + min(timeout, _GIVE_WAY_S))
    delay = 0.05
    waiting = None  # while we wait, a marker says so (see held_open)
    try:
        while True:
            try:
                with _open_lock, _creating(path, start + timeout):
                    con = _attach(path)
                break
            except duckdb.IOException as err:
                if _NEWER_FILE in str(err):
                    raise StoreError(
                        f"The store {path} was written by a newer DuckDB than this installation's "
                        f"{ENGINE_VERSION}, which cannot read it.",
                        "Run this version of Readiness Review with the DuckDB that wrote the store, or "
                        "convert the store as docs/organisation-deployment.md says (Store files).") from err
                if not _is_lock_error(err):
                    raise StoreError(f"Cannot open the store {path}: {err}") from err
                waited = time.monotonic() - start
                if waited >= timeout:
                    raise StoreBusy(_busy_message(path, err, waited)) from None
                if waiting is None:
                    waiting = path.with_name(f"{path.name}{_WAITING}{os.getpid()}-{threading.get_ident()}")
                    waiting.touch()
                time.sleep(min(delay, max(0.0, timeout - waited)))
                delay = min(delay * 2, _RETRY_MAX_S)
    finally:
        if waiting is not None:
            waiting.unlink(missing_ok=True)
    if new:  # the store holds personal data and password hashes: readable by its owner only
        _owner_only(path)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")  # it would write to the terminal
        _ensure_migrated(con, path)
    except duckdb.Error as err:
        close(con)
        raise StoreError(f"The store {path} could not be brought up to this release's schema: {err}",
                         "Restore it from a backup, or run the release that last wrote it.") from err
    except BaseException:
        close(con)
        raise
    return con


@contextlib.contextmanager
def _creating(path: Path, deadline: float) -> Iterator[None]:
    """Hold the store's folder locked while a store file is first created (nothing once it exists).

    DuckDB creates the file before it takes the file's lock and writes the header, so a second
    process starting at the same moment can find an empty file, call it "not a valid DuckDB
    database file", and leave it empty for everyone (3 processes starting at once are enough).
    Under this lock one process creates the file with its header; the others then open it as usual.
    An empty file found under the lock holds nothing (its creator died before the header): it goes.
    """
    if fcntl is None or _has_header(path):
        yield
        return
    fd, locked = os.open(path.parent, os.O_RDONLY), False
    try:
        while not locked:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"The store {path} is being created by another process and was not ready "
                        f"in time. Run the command again.") from None
                time.sleep(0.02)
            except OSError:  # a file system without locks on folders (some network mounts): no lock
                break
        if locked and path.exists() and path.stat().st_size == 0:
            path.unlink()
        yield
    finally:
        os.close(fd)  # releases the lock


def _has_header(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


_WAITING = ".waiting-"  # <store>.waiting-<pid>-<thread>: a process waits to open the store
# A waiter retries at least this often, so that it comes within the time others give way to it.
_RETRY_MAX_S = 0.25
_GIVE_WAY_S = 1.0


def _give_way(path: Path, deadline: float) -> None:
    """Wait while another live process waits to open the store, until ``deadline`` at most.
    Nothing to wait for when this process has the file attached already (it takes no lock then)."""
    if _alias(path) in _users:
        return
    while time.monotonic() < deadline and _others_waiting(path):
        time.sleep(0.01)


def _others_waiting(path: Path) -> bool:
    """Whether another live process is waiting to open the store (markers of dead ones are removed)."""
    for marker in path.parent.glob(f"{glob.escape(path.name)}{_WAITING}*-*"):
        pid = marker.name.removeprefix(path.name + _WAITING).split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        if pid_alive(int(pid)):
            return True
        marker.unlink(missing_ok=True)
    return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _owner_only(path: Path) -> None:
    for f in (path, path.with_name(path.name + ".wal")):
        try:
            os.chmod(f, 0o600)
        except OSError:
            pass


def close(con: Connection) -> None:
    """Close a connection from :func:`connect` (in turn with other threads' opens and closes); the
    store file is let go (DETACH) when it was the last connection to it in this process."""
    with _open_lock:
        forget(con)
        con.close()
        alias = _alias_of.pop(id(con), None)
        if alias is not None:
            _users[alias] -= 1
            if not _users[alias]:
                del _users[alias]
                _instance().execute(f"DETACH {alias}")


# One in-memory DuckDB instance per process, kept for the process's life; each store file is
# ATTACHed to it while at least one connection to it is open and DETACHed after the last, which
# lets the file go as closing the file's own instance would. Starting a DuckDB instance costs about
# 28 ms (its built-in extensions load), even in memory; attaching and detaching a store costs about
# 5 ms. The app opens the store once per script run: an instance started per open would be most of
# the 35-120 ms a run spends opening it.
_base: Connection | None = None
_users: dict[str, int] = {}  # alias of an attached store -> connections open on it
_alias_of: dict[int, str] = {}  # id(connection) -> alias of its store


def _instance() -> Connection:
    global _base
    if _base is None:
        _base = duckdb.connect()
    return _base


def _alias(path: Path) -> str:
    return "store_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


def _attach(path: Path) -> Connection:
    """A new connection whose default database is the store at ``path`` (attached if it is not yet).
    Called under _open_lock. Raises duckdb.IOException as connecting to the file would."""
    base = _instance()
    alias = _alias(path)
    if alias not in _users:
        if not _users and base.execute("SELECT current_setting('enable_external_access')").fetchone()[0]:
            # spill files next to the store (DuckDB's place for a store's own instance), not in the
            # working folder; a restricted process keeps the first store's (set before the restriction)
            base.execute("SET temp_directory = ?", [str(path.resolve()) + ".tmp"])
        _apply_restriction(base)
        base.execute(f"ATTACH {literal(str(path))} AS {alias}")
        _users[alias] = 0
    con = base.cursor()
    try:
        con.execute(f"USE {alias}")
    except BaseException:
        con.close()
        if not _users[alias]:
            del _users[alias]
            base.execute(f"DETACH {alias}")
        raise
    _users[alias] += 1
    _alias_of[id(con)] = alias
    return con


@contextlib.contextmanager
def held_open(path: str | Path | None = None) -> Iterator[None]:
    """Keep the store attached for the block (the app: one script run).

    Every :func:`open_store` inside the block then reuses the attached file (a new connection to
    the process's DuckDB instance, well under 1 ms) instead of attaching it again. Nothing is held
    after the block. When the store cannot be opened at once (another process writes), the block
    runs anyway: each unit of work waits, retries and reports on its own, as without the block.
    And while another process waits for
    the store (the command line, a sync), nothing is kept open across the block either, so that
    the gaps between units of work let it in: the app would otherwise hold the file almost all the
    time under steady use.
    """
    if _others_waiting(settings.db_path(path)):  # then hold the file only unit by unit
        yield
        return
    try:
        con = connect(path, timeout=0)
    except (StoreBusy, StoreError):
        yield
        return
    try:
        yield
    finally:
        close(con)


@contextlib.contextmanager
def open_store(path: str | Path | None = None, *, timeout: float | None = None) -> Iterator[Connection]:
    """Context manager: a connection for one unit of work, closed on exit."""
    con = connect(path, timeout=timeout)
    try:
        yield con
    finally:
        close(con)


def _ensure_migrated(con: Connection, path: Path) -> None:
    key = path.resolve()
    if key in _migrated:
        return
    with _migrate_lock:  # threads of one process share the file; other processes are kept out by the file lock
        if key not in _migrated:
            migrate(con)
            lake.ensure_views(con)
            _migrated.add(key)


def next_id(con: Connection, sequence: str) -> int:
    """The next value of the store's sequence ``sequence`` (a new record's id, taken before the
    record is inserted with it)."""
    if organisation(con):
        return postgres.next_id(con, sequence)
    return con.execute(f"SELECT nextval({literal(sequence)})").fetchone()[0]


def forget_migrated(path: str | Path) -> None:
    """Forget that ``path`` was migrated in this process (after the file was replaced)."""
    _migrated.discard(Path(path).resolve())


def scratch(path: str | Path | None = None, *, schema: bool = False, spill: Path | None = None,
            extensions: tuple[str, ...] = ()) -> Connection:
    """A connection outside the store: in memory (reading a file before it is loaded; with
    ``schema``, holding the store's empty tables and views, where an ingest works; spilling to
    the folder ``spill``), or a copy of a store read-only (checking a backup). No progress bar;
    the caller closes it. In a process restricted by :func:`restrict_file_access`, an in-memory
    scratch is restricted alike: it reads and writes files only where the store may.

    A store file is attached read-only to the in-memory instance rather than opened read-only:
    DuckDB 1.5 cannot open read-only a file whose write-ahead log holds a migration ("Failure while
    replaying WAL file ..."); attached, both 1.5 and 2.0 read it, log included."""
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        # a file's first rows in order (ORDER BY ... LIMIT) over an application log's records: late
        # materialisation plans the whole record expression twice, 0.3-0.7 s of planning for 40 ms
        # of work; a scratch's tables are small or read whole, never a page's top rows
        con.execute("SET disabled_optimizers = 'late_materialization'")
        if path:
            con.execute(f"ATTACH {literal(str(path))} AS store_copy (READ_ONLY)")
            con.execute("USE store_copy")
        if schema:
            con.execute(_schema_sql())
        if spill is not None:
            con.execute("SET temp_directory = ?", [str(spill)])
        load_extensions(con, *extensions)  # before the restriction: their files are outside the data folders
        if not path:
            _apply_restriction(con)
    except BaseException:
        con.close()
        raise
    return con


@functools.cache
def _schema_sql() -> str:
    """The DDL that makes an empty database like a migrated store: the migrations run once per
    process on a scratch (about 0.2 s), their result is replayed after (a few ms)."""
    probe = duckdb.connect()
    try:
        migrate(probe)
        return ";\n".join(
            [r[0] for r in probe.execute("SELECT sql FROM duckdb_sequences() WHERE NOT temporary").fetchall()]
            + [r[0] for r in probe.execute("SELECT sql FROM duckdb_tables() WHERE NOT temporary "
                                            "ORDER BY table_name").fetchall()]
            + [r[0] for r in probe.execute("SELECT sql FROM duckdb_views() WHERE NOT internal AND NOT temporary "
                                            "ORDER BY view_name").fetchall()])
    finally:
        probe.close()
