"""Which files DuckDB may touch in this process (the app restricts it to its data folders)."""

from __future__ import annotations

from pathlib import Path

from readiness.store.transactions import Connection

_allowed_dirs: list[str] | None = None  # set by restrict_file_access (the app); None: unrestricted


def restrict_file_access(dirs: list[str | Path]) -> None:
    """From now on, DuckDB in this process may touch files only under ``dirs``.

    The app calls this at start-up with the data folder, the upload folder and the admins' feed
    root; every connection then runs with ``allowed_directories`` set and
    ``enable_external_access`` off (no other files, no network, no extension downloads). The
    command line is an operator's tool and stays unrestricted.
    """
    global _allowed_dirs
    _allowed_dirs = [str(Path(d).resolve()) + "/" for d in dirs if d]


def apply_restriction(con: Connection) -> None:
    if _allowed_dirs is None:
        return
    # Threads share one DuckDB instance per file: only the first connection to it may set this.
    if con.execute("SELECT current_setting('enable_external_access')").fetchone()[0]:
        con.execute("SET allowed_directories = ?", [_allowed_dirs])
        con.execute("SET enable_external_access = false")
