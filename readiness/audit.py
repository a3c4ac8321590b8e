"""The audit log: who did what, when (UTC), to which object.

Callers write the record with :func:`record` inside the same transaction as the change it
describes, so a change and its record land together or not at all.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

import duckdb


def cli_actor() -> str:
    """The actor name for command-line writes: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (e.g. a container with an unknown uid)
        user = "unknown"
    return f"cli:{user}"


def record(con: duckdb.DuckDBPyConnection, actor: str, action: str, obj: str,
           details: dict[str, Any] | None = None, role: str | None = None) -> int:
    """Append one audit record; return its sequence number."""
    row = con.execute(
        "INSERT INTO audit_log (actor, role, action, object, details) VALUES (?, ?, ?, ?, ?) RETURNING seq",
        [actor, role, action, obj, json.dumps(details or {}, default=str, sort_keys=True)],
    ).fetchone()
    return row[0]


def recent(con: duckdb.DuckDBPyConnection, limit: int = 50) -> list[dict[str, Any]]:
    """Return the newest audit records first."""
    cur = con.execute(
        "SELECT seq, ts, actor, role, action, object, details FROM audit_log ORDER BY seq DESC LIMIT ?",
        [limit],
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]
