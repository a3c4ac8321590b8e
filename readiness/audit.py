"""The audit log: who did what, when (UTC), to which object — hash-chained and anchored outside.

Every record is written by :func:`record` inside the same transaction as the change it
describes, so a change and its record land together or not at all. Each record carries
``prev_hash`` (the previous record's hash) and ``hash`` = HMAC-SHA256 over its own fields and
``prev_hash``, with a key kept outside the database (``audit_key_file``, mode 0600). After each
commit the newest sequence number and hash are written to the head file (``audit_head_file``),
so deleting the newest records is detected too. :func:`verify` walks the chain.

Sequence numbers are contiguous from 1: a missing record shows as a jump.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from readiness import keys, settings, store
from readiness.access import Actor

GENESIS = "0" * 64
_COLS = "seq, ts, actor, role, action, object, details, prev_hash, hash"


def store_path(con: duckdb.DuckDBPyConnection) -> Path:
    """The file of the store behind ``con``."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return Path(row[0])


def key_path(con: duckdb.DuckDBPyConnection) -> Path:
    return settings.sidecar(store_path(con), "audit_key_file", ".audit-key")


def head_path(con: duckdb.DuckDBPyConnection) -> Path:
    return settings.sidecar(store_path(con), "audit_head_file", ".audit-head")


def _key(con: duckdb.DuckDBPyConnection) -> bytes:
    return keys.load_or_create(key_path(con))


def _ts_text(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(key: bytes, seq: int, ts: datetime, actor: str, role: str | None, action: str,
            obj: str | None, details: str | None, prev_hash: str) -> str:
    canonical = json.dumps([seq, _ts_text(ts), actor, role, action, obj, details, prev_hash],
                           separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _last(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    row = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


def record(con: duckdb.DuckDBPyConnection, actor: Actor, action: str, obj: str | None,
           details: dict[str, Any] | None = None) -> int:
    """Append one chained audit record inside the caller's transaction; return its sequence number."""
    if not store.in_transaction(con):
        raise RuntimeError("audit.record must run inside store.transaction(), with the change it records")
    key = _key(con)
    last_seq, last_hash = _last(con)
    seq = last_seq + 1
    ts = datetime.now(UTC)
    text = json.dumps(details or {}, default=str, sort_keys=True, ensure_ascii=False)
    digest = _digest(key, seq, ts, actor.name, actor.role, action, obj, text, last_hash)
    con.execute(f"INSERT INTO audit_log ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [seq, ts, actor.name, actor.role, action, obj, text, last_hash, digest])
    path = head_path(con)
    store.after_commit(con, lambda: _write_head(path, seq, digest))
    return seq


def _write_head(path: Path, seq: int, digest: str) -> None:
    keys.write_private(path, json.dumps({"seq": seq, "hash": digest}) + "\n")


def seal_unchained(con: duckdb.DuckDBPyConnection) -> int:
    """Chain records written before the log was chained (migration 3). Returns how many."""
    key = _key(con)
    rows = con.execute("SELECT seq, ts, actor, role, action, object, details FROM audit_log ORDER BY seq").fetchall()
    prev = GENESIS
    for new_seq, (old_seq, ts, actor, role, action, obj, details) in enumerate(rows, start=1):
        digest = _digest(key, new_seq, ts, actor, role, action, obj, details, prev)
        con.execute("UPDATE audit_log SET seq = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                    [new_seq, prev, digest, old_seq])
        prev = digest
    if rows:
        path = head_path(con)
        n, last = len(rows), prev
        store.after_commit(con, lambda: _write_head(path, n, last))
    return len(rows)


def head(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The newest record's sequence number and hash (for anchoring elsewhere), and the head file's."""
    seq, digest = _last(con)
    path = head_path(con)
    anchored = json.loads(path.read_text()) if path.exists() else None
    return {"seq": seq, "hash": digest, "head_file": str(path), "head_file_says": anchored}


@dataclass
class Verification:
    ok: bool
    checked: int
    first_bad_seq: int | None
    message: str
    warnings: list[str]


def _rows(con: duckdb.DuckDBPyConnection, batch: int = 10_000) -> Iterator[tuple]:
    cur = con.execute(f"SELECT {_COLS} FROM audit_log ORDER BY seq")
    while chunk := cur.fetchmany(batch):
        yield from chunk


def verify(con: duckdb.DuckDBPyConnection) -> Verification:
    """Walk the chain: contiguous sequence, each prev_hash, each HMAC, and the head file."""
    key = _key(con)
    expected_seq, prev, checked = 1, GENESIS, 0
    hashes_at: dict[int, str] = {}
    hpath = head_path(con)
    anchored = json.loads(hpath.read_text()) if hpath.exists() else None
    for seq, ts, actor, role, action, obj, details, prev_hash, digest in _rows(con):
        if seq != expected_seq:
            gap = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
            return Verification(False, checked, expected_seq,
                                f"Record {gap} is missing: the sequence jumps from {expected_seq - 1} to {seq}.", [])
        if prev_hash != prev:
            return Verification(False, checked, seq,
                                f"Record {seq} does not follow record {seq - 1}: its link to the previous hash is broken.", [])
        if not hmac.compare_digest(digest or "", _digest(key, seq, ts, actor, role, action, obj, details, prev_hash)):
            return Verification(False, checked, seq,
                                f"Record {seq} was altered after it was written: its hash does not match its contents.", [])
        if anchored and seq == anchored.get("seq"):
            hashes_at[seq] = digest
        prev, expected_seq, checked = digest, seq + 1, checked + 1
    last = expected_seq - 1
    warnings: list[str] = []
    if anchored is None:
        if last:
            return Verification(False, checked, None,
                                f"The head file {hpath} is missing, so cut-off records cannot be ruled out. "
                                "Restore it from a backup, or anchor the current head with `audit head --write` "
                                "after checking the log some other way.", [])
    else:
        a_seq, a_hash = int(anchored["seq"]), anchored.get("hash")
        if a_seq > last:
            return Verification(False, checked, last + 1,
                                f"Records {last + 1}-{a_seq} are missing: the head file says the log reached "
                                f"{a_seq}, the store ends at {last} (the newest records were cut off).", [])
        if hashes_at.get(a_seq) != a_hash:
            return Verification(False, checked, a_seq,
                                f"Record {a_seq} differs from the one anchored in the head file.", [])
        if a_seq < last:
            warnings.append(f"The head file is behind ({a_seq} < {last}), e.g. after a crash between a commit "
                            "and the head update; the next audited write brings it up to date.")
    return Verification(True, checked, None, f"Audit log intact: {checked:,} records, head {last}.", warnings)


def write_head(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Anchor the store's current newest record in the head file (an admin's repair step)."""
    seq, digest = _last(con)
    _write_head(head_path(con), seq, digest)
    return {"seq": seq, "hash": digest}


def recent(con: duckdb.DuckDBPyConnection, limit: int = 50) -> list[dict[str, Any]]:
    """Return the newest audit records first."""
    cur = con.execute(
        "SELECT seq, ts, actor, role, action, object, details FROM audit_log ORDER BY seq DESC LIMIT ?",
        [limit],
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def search(con: duckdb.DuckDBPyConnection, *, actor: str | None = None, action: str | None = None,
           text: str | None = None, since: datetime | None = None, until: datetime | None = None,
           limit: int = 1000) -> list[dict[str, Any]]:
    """Audit records matching the filters, newest first (bound parameters throughout)."""
    cur = con.execute(
        """SELECT seq, ts, actor, role, action, object, details FROM audit_log
           WHERE (? IS NULL OR actor = ?) AND (? IS NULL OR action = ?)
             AND (? IS NULL OR object ILIKE '%' || ? || '%' OR details ILIKE '%' || ? || '%')
             AND (? IS NULL OR ts >= ?) AND (? IS NULL OR ts < ?)
           ORDER BY seq DESC LIMIT ?""",
        [actor, actor, action, action, text, text, text, since, since, until, until, limit])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]
