"""The audit table's hash chain: how a record and the head are sealed, and sealing old rows.

Each audit record's ``hash`` is an HMAC-SHA256 over its canonical fields and ``prev_hash``, under a
key kept outside the database; the head file holds the newest (seq, hash) signed under the same key.
This module is the format only; writing records and verifying the chain is
:mod:`readiness.security.audit`. It sits with the store because a migration seals the rows written
before the chain existed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from readiness import keys, settings
from readiness.store.transactions import Connection, after_commit, file_of

GENESIS = "0" * 64


HEAD_TAG = "audit-head"


def key_path(con: Connection) -> Path:
    return settings.sidecar(file_of(con), "audit_key_file", ".audit-key")


def head_path(con: Connection) -> Path:
    return settings.sidecar(file_of(con), "audit_head_file", ".audit-head")


def load_key(con: Connection) -> bytes | None:
    """The audit key: the secrets file's audit_key when one is configured, else the key file (None
    when there is none yet; never makes one).

    A configured key must be the one that signed the log: a key file beside the store that holds
    another key means the log was signed with that one, and is refused (SecretError).
    """
    given = keys.configured("audit_key")
    if given is None:
        return keys.load(key_path(con))
    path = key_path(con)
    in_file = keys.load(path)
    if in_file is not None and in_file != given.encode():
        raise keys.SecretError(
            f"The audit_key in the secrets file differs from the key file {path}, which signed this store's audit "
            "log: records would not verify.",
            "Put that file's key in the secrets file (`python -m readiness secrets --out FILE` takes it over), "
            "then remove the file.")
    return given.encode()


def read_key(con: Connection) -> bytes:
    """The audit key, made (in the key file) when none is configured or made yet."""
    return load_key(con) or keys.load_or_create(key_path(con))


def ts_text(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(key: bytes, seq: int, ts: datetime, actor: str, role: str | None, action: str,
            obj: str | None, details: str | None, prev_hash: str) -> str:
    canonical = json.dumps([seq, ts_text(ts), actor, role, action, obj, details, prev_hash],
                           separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def head_signature(key: bytes, seq: int, digest: str) -> str:
    # Its own canonical form (tagged "audit-head"), so that no record's hash can pass for a head's signature.
    text = json.dumps([HEAD_TAG, seq, digest], separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def signed(key: bytes, at: tuple[int, str]) -> dict[str, Any]:
    return {"seq": at[0], "hash": at[1], "sig": head_signature(key, *at)}


def write_head_file(path: Path, key: bytes, at: tuple[int, str]) -> None:
    keys.write_private(path, json.dumps(signed(key, at)) + "\n")


def seal_unchained(con: Connection) -> int:
    """Chain records written before the log was chained (migration 3). Returns how many.

    A log with no records yet is left alone: its first record makes the key and the head.
    """
    rows = con.execute("SELECT seq, ts, actor, role, action, object, details FROM audit_log ORDER BY seq").fetchall()
    if not rows:
        return 0
    key = read_key(con)
    prev = GENESIS
    for new_seq, (old_seq, ts, actor, role, action, obj, details) in enumerate(rows, start=1):
        digest = record_hash(key, new_seq, ts, actor, role, action, obj, details, prev)
        con.execute("UPDATE audit_log SET seq = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                    [new_seq, prev, digest, old_seq])
        prev = digest
    path = head_path(con)
    n, last = len(rows), prev
    after_commit(con, lambda: write_head_file(path, key, (n, last)))
    return n
