"""Shared helpers for the ingest tests: a real DuckDB store per test, pilots, one-file ingests, table snapshots."""
from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # allow running without an installed package
    sys.path.insert(0, str(PROJECT_ROOT))

from readiness import pilots, store  # noqa: E402
from readiness.ingest import load as ingest  # noqa: E402
from readiness.security.access import Actor  # noqa: E402

# Every table a user's data or history lives in (schema_migrations is bookkeeping).
DATA_TABLES = ("pilots", "ingest_batches", "usage_events", "feedback", "exceptions", "ingest_rejects", "audit_log",
               "usage_by_segment", "usage_by_session", "usage_rollup_state")  # the usage rollup changes with its events


def make_pilot(db: Path, name: str = "pilot", **profile: Any) -> None:
    """Create a pilot in the store at ``db`` (e.g. time_zone='Europe/Paris')."""
    with store.open_store(db) as con:
        with store.transaction(con):
            pilots.create_pilot(con, name, Actor("test", "admin", cli=True), **profile)


def ingest_one(db: Path, path: Path, kind: str = "usage", pilot: str = "pilot", *, create: bool = True,
               **opts: Any) -> ingest.IngestResult:
    """Ingest one file with ``IngestOptions(**opts)``; return its result."""
    results = ingest.ingest_files(db, pilot, kind, [path], actor=Actor("test", "admin", cli=True), opts=ingest.IngestOptions(**opts),
                                  create=create)
    assert len(results) == 1
    return results[0]


def copy_store(src: Path, dst: Path) -> Path:
    """Copy the closed embedded store at ``src`` to ``dst`` with what lives beside it (its audit key
    and head, its Parquet parts): a copy is a store of its own, as a moved store is. Tests that each
    need the same store built by many ingests build it once and take a copy; returns ``dst``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for item in src.parent.glob(f"{src.name}*"):
        target = dst.parent / (dst.name + item.name[len(src.name):])
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy2(item, target)
    return dst


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Run one SQL statement on the store and return all rows."""
    with store.open_store(db) as con:
        return con.execute(sql, params or []).fetchall()


def snapshot(db: Path) -> dict[str, Any]:
    """Row counts of every data table plus the newest audit record: equal snapshots = store unchanged."""
    with store.open_store(db) as con:
        out: dict[str, Any] = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in DATA_TABLES}
        out["audit_max_seq"] = con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    return out


def utc(db: Path, table: str, where: str = "true", params: list | None = None) -> list[str]:
    """The table's times as UTC text 'YYYY-MM-DD HH:MM:SS', in src_row order."""
    rows = query(db, f"SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S') FROM {table} "
                     f"WHERE {where} ORDER BY batch_id, src_row", params)
    return [r[0] for r in rows]


def wait_until(state: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Wait until ``state()`` is truthy and return it; fail with ``what`` after ``timeout`` seconds.
    For a state only the file system shows (a marker file); it looks every 10 ms."""
    deadline = time.monotonic() + timeout
    while not (found := state()):
        assert time.monotonic() < deadline, what
        time.sleep(0.01)
    return found


def write(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) and return the path."""
    path.write_bytes(text.encode("utf-8"))
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    """Write raw bytes (e.g. CRLF line ends) and return the path."""
    path.write_bytes(data)
    return path


# A process that holds a store open until its standard input closes (or it is killed). It opens the
# store as the command line does: waiting while another process has it (an app in a page run), which
# asks the app to let go between its units of work.
HOLDER = f"""
import sys
sys.path.insert(0, {str(PROJECT_ROOT)!r})
from readiness import store
con = store.connect(sys.argv[1], timeout=60)
print('ready', flush=True)
sys.stdin.read()
store.close(con)
"""


@contextlib.contextmanager
def held_by_another_process(db: Path) -> Iterator[subprocess.Popen]:
    """A store at ``db`` that another process holds open for the whole block; yields that process."""
    with store.open_store(db):
        pass
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def page_file(address: str) -> str:
    """The script of the page at ``address`` (``usage`` -> pages/03_usage.py)."""
    return str(next((PROJECT_ROOT / "pages").glob(f"[0-9][0-9]_{address}.py")))
