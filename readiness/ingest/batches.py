"""Ingest batches and their rejected rows: list, inspect, delete."""

from __future__ import annotations

from typing import Any

from readiness.catalog import Pilot
from readiness.errors import ReadinessError
from readiness.ingest import retired
from readiness.ingest.load import TABLES, derive_evidence
from readiness.security import audit, privacy
from readiness.security.access import Actor, require
from readiness.store import Connection, transaction


class BatchNotFound(ReadinessError, LookupError):
    """No batch with that id."""


def _dicts(cur: Connection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def list_batches(con: Connection, actor: Actor, pilot: Pilot) -> list[dict[str, Any]]:
    """Return the pilot's batches, newest first, with counts and provenance."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    return _dicts(con.execute(
        """SELECT batch_id, kind, file_name, format, file_size, sha256, actor, started_at, finished_at,
                  rows_read, rows_loaded, rows_rejected, rows_duplicate,
                  coalesce(rows_skipped, 0) AS rows_skipped, zoneless_rows, first_ts, last_ts
           FROM ingest_batches WHERE pilot_id = ? ORDER BY batch_id DESC""", [pilot.pilot_id]))


def list_rejects(con: Connection, actor: Actor, pilot: Pilot, batch_id: int | None = None,
                 limit: int = 1000, reveal: bool = False) -> list[dict[str, Any]]:
    """Return rejected rows (batch, row, line, column, reason, raw), in file order.

    Personal data in the raw text is masked unless ``reveal`` (which needs the right to reveal
    and is audited).
    """
    require(con, actor, "read_pilot", pilot.pilot_id)
    if reveal:
        privacy.reveal(con, actor, pilot, "rejected rows" + (f" of batch {batch_id}" if batch_id else ""))
    rows = _dicts(con.execute(
        """SELECT r.batch_id, b.file_name, r.src_row AS row, r.line_no AS line, r.column_name AS column,
                  r.reason, r.raw
           FROM ingest_rejects r JOIN ingest_batches b USING (batch_id)
           WHERE r.pilot_id = ? AND (? IS NULL OR r.batch_id = ?)
           ORDER BY r.batch_id, r.src_row LIMIT ?""", [pilot.pilot_id, batch_id, batch_id, limit]))
    if not reveal:
        for r in rows:
            r["raw"] = privacy.mask(r["raw"])
    return rows


def delete_batch(con: Connection, batch_id: int, actor: Actor) -> dict[str, Any]:
    """Delete a batch with its rows and rejects, atomically and audited. Returns what was removed.

    The rows leave every current figure; when a decision's evidence was read from the batch they
    are kept aside (:mod:`readiness.ingest.retired`) for its figures as decided."""
    with transaction(con):
        row = con.execute(
            "SELECT b.kind, b.file_name, b.rows_loaded, b.sha256, p.name FROM ingest_batches b "
            "JOIN pilots p USING (pilot_id) WHERE batch_id = ?", [batch_id]).fetchone()
        if row is None:
            raise BatchNotFound(f"No batch {batch_id}. List them with: python -m readiness batches --pilot NAME")
        kind, file_name, loaded, sha, pilot_name = row
        pilot_id = con.execute("SELECT pilot_id FROM pilots WHERE name = ?", [pilot_name]).fetchone()[0]
        require(con, actor, "delete_batch", pilot_id)
        # a decision's evidence read from this batch can still be recomputed as decided
        pinned = retired.pinned_by(con, batch_id)
        if pinned:
            retired.retire(con, kind, batch_id)
        removed = con.execute(f"DELETE FROM {TABLES[kind]} WHERE batch_id = ?", [batch_id]).fetchone()[0]
        rejects = con.execute("DELETE FROM ingest_rejects WHERE batch_id = ?", [batch_id]).fetchone()[0]
        con.execute("DELETE FROM ingest_batches WHERE batch_id = ?", [batch_id])
        derive_evidence(con, pilot_id, kind, None)  # e.g. themes without the deleted comments
        details = {"pilot": pilot_name, "kind": kind, "file": file_name, "sha256": sha,
                   "rows_deleted": removed, "rejects_deleted": rejects,
                   "kept_for_decisions": pinned}
        audit.record(con, actor, "batch.delete", f"batch:{batch_id}", details)
    return {"batch_id": batch_id, **details}
