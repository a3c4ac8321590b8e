"""The audit log: who did what, when (UTC), to which object — hash-chained and anchored outside.

Every record is written by :func:`record` inside the same transaction as the change it
describes, so a change and its record land together or not at all. Each record carries
``prev_hash`` (the previous record's hash) and ``hash`` = HMAC-SHA256 over its own fields and
``prev_hash``, with a key kept outside the database (``audit_key_file``, mode 0600). After each
commit the newest sequence number and hash go to the head file (``audit_head_file``) with a
signature (an HMAC of the pair under the same key), so deleting the newest records is detected
too. :func:`verify` walks the chain and checks the head.

The rules the head keeps:

* Sequence numbers are contiguous from 1: a missing record shows as a jump.
* The head moves on one record at a time, and only from a head the key signed at the record
  before: a missing, unsigned, badly signed or older head is left for verify to report, never
  signed over by the next write.
* Before COMMIT the records being committed are signed into ``<head>.next`` (under the same
  rule), so a process killed between the commit and the head update leaves a head that verifies.
* Verify fails on a head that is missing, unsigned, badly signed, ahead of the chain, apart from
  it or behind it; only an admin re-anchors it (:func:`write_head`, audited).
* Verify never makes a key. Whoever holds the key can rewrite log and head alike: a head kept
  off the machine (``verify(anchors=...)``) is what catches that.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: head updates are then not serialised across processes
    fcntl = None

from readiness import keys, store
from readiness.errors import ReadinessError
from readiness.security.access import Actor, require
from readiness.store import Connection, chain
from readiness.store.chain import GENESIS, head_path, key_path

_COLS = "seq, ts, actor, role, action, object, details, prev_hash, hash"
_log = logging.getLogger(__name__)


def _key_for_writing(con: Connection) -> bytes:
    """The audit key. A new log gets a key and a head at record 0 signed with it, the head first:
    a process killed between the two leaves no key, and the next write makes both again."""
    path = key_path(con)
    key = chain.load_key(con)
    if key is not None:
        if not head_path(con).exists() and not _last(con)[0]:  # a key whose log has no head yet: record 0
            chain.write_head_file(head_path(con), key, (0, GENESIS))
        return key
    new = keys.generate()
    if not _last(con)[0] and _unanchored(head_path(con)):
        chain.write_head_file(head_path(con), new.encode(), (0, GENESIS))
    return keys.install(path, new)


def _unanchored(path: Path) -> bool:
    """No head file, or one at record 0: nothing a new key's head would hide."""
    try:
        anchored = _read_head(path)
    except ValueError:
        return False
    return anchored is None or anchored["seq"] == 0


def _last(con: Connection) -> tuple[int, str]:
    # max(seq), not ORDER BY seq DESC LIMIT 1: DuckDB 2.0's top-N misses a row committed after a
    # delete and a re-attach, and the next record would then take a used sequence number.
    row = con.execute("SELECT seq, hash FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


def record(con: Connection, actor: Actor, action: str, obj: str | None,
           details: dict[str, Any] | None = None) -> int:
    """Append one chained audit record inside the caller's transaction; return its sequence number."""
    if not store.in_transaction(con):
        raise RuntimeError("audit.record must run inside store.transaction(), with the change it records")
    key = _key_for_writing(con)
    last_seq, last_hash = _last(con)
    seq = last_seq + 1
    ts = datetime.now(UTC)
    text = json.dumps(details or {}, default=str, sort_keys=True, ensure_ascii=False)
    digest = chain.record_hash(key, seq, ts, actor.name, actor.role, action, obj, text, last_hash)
    con.execute(f"INSERT INTO audit_log ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [seq, ts, actor.name, actor.role, action, obj, text, last_hash, digest])
    path = head_path(con)
    with _head_turn(path):
        _stage_head(path, key, (last_seq, last_hash), (seq, digest))
    store.after_commit(con, lambda: _advance_head_in_turn(path, key, (last_seq, last_hash), (seq, digest)))
    return seq


# ---------------------------------------------------------------------------------------------
# The head file: {"seq", "hash", "sig"}, sig = HMAC of the pair under the audit key. While a
# transaction commits, <head>.next lists the same for its records (beyond the head).


def _next_path(path: Path) -> Path:
    return path.with_name(path.name + ".next")


def _read_head(path: Path) -> dict[str, Any] | None:
    """The head file's contents; None when there is none, ValueError when it holds no head."""
    if not path.exists():
        return None
    anchored = json.loads(path.read_text())
    if not isinstance(anchored, dict) or not isinstance(anchored.get("seq"), int):
        raise ValueError(f"The head file {path} does not hold an audit head")
    return anchored


def _signature(key: bytes, anchored: dict[str, Any]) -> str:
    """'valid', 'unsigned' (as releases before signed heads wrote it) or 'invalid'."""
    sig = anchored.get("sig")
    if not sig:
        return "unsigned"
    good = chain.head_signature(key, anchored["seq"], str(anchored.get("hash")))
    return "valid" if hmac.compare_digest(str(sig), good) else "invalid"


def _signed_at(key: bytes, path: Path) -> tuple[int, str] | None:
    """(seq, hash) of the head in ``path`` when this key signed it, else None."""
    try:
        anchored = _read_head(path)
    except ValueError:
        return None
    if anchored is None or _signature(key, anchored) != "valid":
        return None
    return anchored["seq"], anchored["hash"]


def _staged(key: bytes, path: Path) -> list[tuple[int, str]]:
    """The records signed into <head>.next, in order (those whose signature holds)."""
    try:
        entries = json.loads(_next_path(path).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(entries, list):
        return []
    heads = [e for e in entries if isinstance(e, dict) and isinstance(e.get("seq"), int)]
    return [(e["seq"], e["hash"]) for e in heads if _signature(key, e) == "valid"]


def _signed_heads(key: bytes, path: Path) -> list[tuple[int, str]]:
    """The signed head, then the records staged beyond it; [] when the head is not signed."""
    at = _signed_at(key, path)
    if at is None:
        return []
    return [at, *(s for s in _staged(key, path) if s[0] > at[0])]


def _stage_head(path: Path, key: bytes, prev: tuple[int, str], new: tuple[int, str]) -> None:
    """Before COMMIT: sign the record being committed into <head>.next, after those already staged
    up to ``prev``, so that a process killed between the commit and the head update leaves a head
    that still verifies. Only from the head signed at ``prev`` or staged for it, as :func:`_advance_head`."""
    heads = _signed_heads(key, path)
    if prev not in heads:
        return
    staged = heads[1:heads.index(prev) + 1] + [new]
    keys.write_private(_next_path(path), json.dumps([chain.signed(key, at) for at in staged]) + "\n")


@contextlib.contextmanager
def _head_turn(path: Path) -> Iterator[None]:
    """Processes read and rewrite the head files in turn (a lock on ``<head>.lock``): in the
    organisation deployment, one replica advances the head after its commit while another, already
    past its own, stages the next record."""
    if fcntl is None:
        yield
        return
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _advance_head_in_turn(path: Path, key: bytes, prev: tuple[int, str], new: tuple[int, str]) -> None:
    with _head_turn(path):
        _advance_head(path, key, prev, new)


def _advance_head(path: Path, key: bytes, prev: tuple[int, str], new: tuple[int, str]) -> None:
    """After COMMIT: move the signed head one record on, only from the head this key signed at the
    record before (or staged for it).

    A head that is missing, unsigned, badly signed or elsewhere stays as it is, so that verify
    keeps reporting it: moving it on would sign over records cut off before this write.
    """
    heads = _signed_heads(key, path)
    if prev not in heads:
        _log.warning("Audit head %s left at its place, not moved to record %d: it is not the signed head of "
                     "record %d. Run `python -m readiness audit verify`.", path, new[0], prev[0])
        return
    chain.write_head_file(path, key, new)
    if heads[-1][0] <= new[0]:  # nothing staged beyond this record (a later one of the same commit stays)
        _next_path(path).unlink(missing_ok=True)


def head(con: Connection) -> dict[str, Any]:
    """The newest record's sequence number and hash (to anchor elsewhere), what the head file says and
    whether its signature holds ('valid', 'unsigned', 'invalid', 'no key', 'unreadable'). Makes no key."""
    seq, digest = _last(con)
    path = head_path(con)
    try:
        anchored, key = _read_head(path), chain.load_key(con)
    except ValueError:
        anchored, key, status = None, None, "unreadable"
    else:
        status = None if anchored is None else "no key" if key is None else _signature(key, anchored)
    says = {"seq": anchored["seq"], "hash": anchored.get("hash")} if anchored else None
    return {"seq": seq, "hash": digest, "head_file": str(path), "head_file_says": says, "head_file_signature": status}


@dataclass
class Verification:
    ok: bool
    checked: int
    first_bad_seq: int | None
    message: str
    warnings: list[str]


def _rows(con: Connection, batch: int = 10_000) -> Iterator[tuple]:
    cur = con.execute(f"SELECT {_COLS} FROM audit_log ORDER BY seq")
    while chunk := cur.fetchmany(batch):
        yield from chunk


def _failed(checked: int, first_bad: int | None, message: str) -> Verification:
    return Verification(False, checked, first_bad, message, [])


def _span(first: int, last: int) -> str:
    return f"Record {first} is" if first == last else f"Records {first}-{last} are"


def _walk(con: Connection, key: bytes, wanted: set[int]) -> tuple[int, dict[int, str]] | Verification:
    """Walk the chain: contiguous sequence, each prev_hash, each HMAC. Returns (records, hashes of the
    ``wanted`` records, record 0 being the genesis), or the failure naming the first bad record."""
    expected_seq, prev = 1, GENESIS
    hashes_at = {0: GENESIS}
    for seq, ts, actor, role, action, obj, details, prev_hash, digest in _rows(con):
        checked = expected_seq - 1
        if seq != expected_seq:
            return _failed(checked, expected_seq, f"{_span(expected_seq, seq - 1)} missing: the sequence jumps "
                                                  f"from {expected_seq - 1} to {seq}.")
        if prev_hash != prev:
            return _failed(checked, seq, f"Record {seq} does not follow record {seq - 1}: its link to the "
                                         "previous hash is broken.")
        if not hmac.compare_digest(digest or "", chain.record_hash(key, seq, ts, actor, role, action, obj, details, prev_hash)):
            return _failed(checked, seq, f"Record {seq} was altered after it was written: its hash does not "
                                         "match its contents.")
        if seq in wanted:
            hashes_at[seq] = digest
        prev, expected_seq = digest, seq + 1
    return expected_seq - 1, hashes_at


def _anchor_problem(last: int, hashes_at: dict[int, str], anchors: dict[int, str]) -> tuple[int, str] | None:
    """The first anchor kept elsewhere ({seq: hash}) that the store's chain no longer holds."""
    for seq, digest in sorted(anchors.items()):
        if seq > last:
            return last + 1, (f"{_span(last + 1, seq)} missing: a head kept elsewhere says the log reached {seq}, "
                              f"the store ends at {last} (the newest records were cut off).")
        if hashes_at.get(seq) != digest:
            return seq, f"Record {seq} differs from the head kept elsewhere: the log was rewritten from there on."
    return None


_REANCHOR = "`python -m readiness audit head --write`"


def _head_problem(key: bytes, hpath: Path, anchored: dict[str, Any] | None, last: int,
                  hashes_at: dict[int, str]) -> tuple[int | None, str] | None:
    """What is wrong with the head file, if anything: missing, unsigned, badly signed, ahead, apart or behind."""
    if anchored is None:
        return None, (f"The head file {hpath} is missing, so cut-off records cannot be ruled out. Restore it from "
                      f"a backup, or sign the current head with {_REANCHOR} after checking the log some other "
                      "way (e.g. against a head kept elsewhere).")
    status = _signature(key, anchored)
    if status == "unsigned":
        return None, (f"The head file {hpath} is not signed (written by a release before signed heads, or by "
                      f"hand), so cut-off records cannot be ruled out; the chain itself holds {last:,} records. "
                      f"After checking them (e.g. against a head kept elsewhere), sign the current head with "
                      f"{_REANCHOR}.")
    if status == "invalid":
        return None, (f"The head file {hpath}: its signature does not match the audit key (it was edited, or "
                      "belongs to another store). Keep the evidence; re-anchor with "
                      f"{_REANCHOR} only after the investigation.")
    a_seq, a_hash = _effective_head(key, hpath, anchored, hashes_at)
    if a_seq > last:
        return last + 1, (f"{_span(last + 1, a_seq)} missing: the head file says the log reached {a_seq}, the "
                          f"store ends at {last} (the newest records were cut off).")
    if hashes_at.get(a_seq) != a_hash:
        return a_seq, f"Record {a_seq} differs from the one anchored in the head file."
    if a_seq < last:
        return a_seq + 1, (f"The head file is behind: it was signed at record {a_seq}, the store goes on to {last}. "
                           "An older head file put back after the newest records were cut off looks so (a head "
                           f"update that failed, e.g. on a full disk, too). Check records {a_seq + 1}-{last} (e.g. "
                           f"against a head kept elsewhere), then re-anchor with {_REANCHOR}.")
    return None


def _effective_head(key: bytes, hpath: Path, anchored: dict[str, Any],
                    hashes_at: dict[int, str]) -> tuple[int, str | None]:
    """The head file's head, or the furthest record staged beyond it that is in the chain (a process
    stopped between a commit and the head update)."""
    committed = [at for at in _signed_heads(key, hpath)[1:] if hashes_at.get(at[0]) == at[1]]
    return max(committed) if committed else (anchored["seq"], anchored.get("hash"))


def _head_seqs(key: bytes, hpath: Path, anchored: dict[str, Any] | None) -> set[int]:
    if anchored is None:
        return set()
    return {anchored["seq"]} | {seq for seq, _ in _signed_heads(key, hpath)}


def verify(con: Connection, anchors: dict[int, str] | None = None) -> Verification:
    """Walk the chain, then check the signed head file and any ``anchors`` ({seq: hash} kept elsewhere).

    Never makes a key: with the key missing nothing can be checked, which is a failure unless
    the log has never been written.
    """
    hpath = head_path(con)
    try:
        key, anchored = chain.load_key(con), _read_head(hpath)
    except keys.SecretError:  # a configured key that cannot be used: the operator's to fix, not a backup's
        raise
    except ValueError as err:
        return _failed(0, None, f"{err}. Restore the audit key and head files from a backup.")
    if key is None:
        if not _last(con)[0] and (anchored is None or anchored["seq"] == 0):
            return Verification(True, 0, None, "Audit log empty: nothing has been written yet.", [])
        return _failed(0, None, f"The audit key {key_path(con)} is missing, so the chain cannot be checked. "
                                "Restore it from a backup (the folder's audit-key); verify makes no new key, "
                                "as records signed with another key would not verify.")
    walked = _walk(con, key, set(anchors or {}) | _head_seqs(key, hpath, anchored))
    if isinstance(walked, Verification):
        return walked
    last, hashes_at = walked
    problem = _anchor_problem(last, hashes_at, anchors or {}) or _head_problem(key, hpath, anchored, last, hashes_at)
    if problem:
        return _failed(last, *problem)
    return Verification(True, last, None, f"Audit log intact: {last:,} records, head {last} (signed).", [])


class AuditKeyMissing(ReadinessError, RuntimeError):
    """The audit key file is gone while the log has records; the message says what to do."""


def write_head(con: Connection, actor: Actor) -> dict[str, Any]:
    """Sign the store's newest record as the head: an admin's repair step, after checking the log; audited.

    Raises AuditKeyMissing when the key is gone and the log has records: a head signed with a new
    key would not make those records verify.
    """
    require(con, actor, "verify_audit")
    if chain.load_key(con) is None and _last(con)[0]:
        raise AuditKeyMissing(f"The audit key {key_path(con)} is missing; restore it from a backup before "
                              "re-anchoring the head.")
    before = head(con)
    chain.write_head_file(head_path(con), chain.read_key(con), (before["seq"], before["hash"]))  # the record below moves it on
    with store.transaction(con):
        record(con, actor, "audit.reanchor", "audit_log",
               {"newest_before": before["seq"], "head_file": {"said": before["head_file_says"],
                                                              "signature": before["head_file_signature"]}})
    seq, digest = _last(con)
    return {"seq": seq, "hash": digest}


def recent(con: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """Return the newest audit records first."""
    cur = con.execute(
        "SELECT seq, ts, actor, role, action, object, details FROM audit_log ORDER BY seq DESC LIMIT ?",
        [limit],
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def search(con: Connection, *, actor: str | None = None, action: str | None = None,
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
