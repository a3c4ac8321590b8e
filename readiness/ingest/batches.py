"""Ingest batches and their rejected rows: list, inspect, delete; clean up after dead ingests and
merge a pilot's small Parquet files."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from readiness import settings
from readiness.catalog import Pilot
from readiness.errors import ReadinessError
from readiness.ingest import retired
from readiness.ingest.load import TABLES, derive_evidence, owned_prefix
from readiness.security import audit, privacy
from readiness.security.access import Actor, require
from readiness.store import (
    Connection,
    DatabaseError,
    ducklake,
    file_of,
    lake,
    open_store,
    organisation,
    pid_alive,
    scratch,
    transaction,
)

_log = logging.getLogger(__name__)


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
        table = TABLES[kind]
        # rows loaded before the lake held them are deleted; the batch's files (its rows, a usage
        # batch's rollup, its rejects) are unlisted now and deleted once this commits
        removed = con.execute(f"DELETE FROM {lake.local(table)} WHERE batch_id = ?", [batch_id]).fetchone()[0]
        removed += lake.unregister(con, "batch_id = ? AND tbl = ?", [batch_id, table])
        rejects = con.execute(f"DELETE FROM {lake.local('ingest_rejects')} WHERE batch_id = ?", [batch_id]).fetchone()[0]
        rejects += lake.unregister(con, "batch_id = ? AND tbl = ?", [batch_id, "ingest_rejects"])
        lake.unregister(con, "batch_id = ?", [batch_id])
        con.execute("DELETE FROM ingest_batches WHERE batch_id = ?", [batch_id])
        derive_evidence(con, pilot_id, kind, None)  # e.g. themes without the deleted comments
        details = {"pilot": pilot_name, "kind": kind, "file": file_name, "sha256": sha,
                   "rows_deleted": removed, "rejects_deleted": rejects,
                   "kept_for_decisions": pinned}
        audit.record(con, actor, "batch.delete", f"batch:{batch_id}", details)
    return {"batch_id": batch_id, **details}


COMPACT_ABOVE = 8  # a pilot's table listing more files than this has them merged by `maintain`


def maintain(db: str | Path | None, actor: Actor, *, compact_above: int = COMPACT_ABOVE) -> dict[str, Any]:
    """Remove what ingests that died before their batch landed left: Parquet files no batch lists
    (beside the store) and work folders (in the upload folder), of processes of this host that
    are gone. Then merge the files of every pilot's lake table listing more than
    ``compact_above`` files into one (:func:`compact`). Audited. Returns what was done."""
    with open_store(db) as con:
        require(con, actor, "backup")
        swept = lake.sweep(con)  # the organisation's lake: rows of batches no listing names
        with transaction(con):  # holding the store: no batch lands meanwhile
            files = lake.remove_orphans(con, pid_alive)
            folder = settings.upload_dir(file_of(con))
            before = {p.name for p in folder.glob("ingest-*")}
            owned_prefix("ingest", folder)  # removes the work folders of dead ingests
            folders = sorted(before - {p.name for p in folder.glob("ingest-*")})
            details = {"files_removed": len(files), "work_folders_removed": len(folders)}
            if organisation(con):
                details["lake_rows_removed"] = swept
            audit.record(con, actor, "maintain", "store", details)
    merged = compact(db, actor, compact_above)
    return {**details, "files": [str(f) for f in files], "work_folders": folders, "merged": merged}


def _tidy_lake(con: Connection, actor: Actor) -> dict[str, Any]:
    """The organisation deployment's lake merges its own small files (with no turn held: writers
    keep landing); then, in the writers' turn, its snapshots no decision pins are expired and the
    files only they needed deleted (:func:`ducklake.tidy`). Audited."""
    try:
        before = ducklake.merge_files(con)
    except DatabaseError as err:  # e.g. a batch deleted meanwhile from a file being merged
        _log.warning("The lake's files were not merged this time: %s", err)
        before = None
    with transaction(con):
        entry = {"table": "lake", "lake_files_after_merge": before,
                 **ducklake.tidy(con, retired.pinned_snapshots(con), retired.kept_batches(con))}
        audit.record(con, actor, "lake.compact", "store", entry)
    return entry


def compact(db: str | Path | None, actor: Actor, above: int = COMPACT_ABOVE) -> list[dict[str, Any]]:
    """Merge the files of each (pilot, lake table) listing more than ``above`` into one, so that
    a page's query reads a few files' metadata, not hundreds.

    The merged file is written in a scratch connection with the store let go; a short transaction
    then lists it in place of the old files (one ``lake_files`` row per batch, pointing at the
    shared file) and recreates the views; the old files are deleted after the commit. Killed
    before the commit, the old files stay listed and the merged one is an orphan the next
    ``maintain`` removes. A group that changed meanwhile (a batch deleted, a rollup rebuilt) is
    left for the next run. Each merge is audited ("lake.compact"). Returns one entry per merge."""
    with open_store(db) as con:
        require(con, actor, "backup")
        if organisation(con):
            return [_tidy_lake(con, actor)]
        path = file_of(con)
        groups = lake.crowded(con, above)
    done = []
    root = lake.parts_dir(path)
    for pid, table, planned in groups:
        olds, swapped = sorted({p for _b, p, _n in planned}), False
        scratch_con = scratch()
        try:
            merged, rows = lake.merge(scratch_con, path, table, [root / p for p in olds])
        except DatabaseError:  # a file deleted meanwhile (its batch deleted): left for the next run
            continue
        finally:
            scratch_con.close()
        with open_store(db) as con, transaction(con):
            expected = sum(n for _b, _p, n in planned)
            swapped = rows == expected and lake.swap(con, table, pid, planned, merged)
            if swapped:
                name = con.execute("SELECT name FROM pilots WHERE pilot_id = ?", [pid]).fetchone()[0]
                entry = {"pilot": name, "table": table, "files_merged": len(olds),
                         "batches": len({b for b, _p, _n in planned}), "rows": rows,
                         "file": str(merged.relative_to(root))}
                audit.record(con, actor, "lake.compact", f"pilot:{pid}", entry)
                done.append(entry)
        if not swapped:
            merged.unlink(missing_ok=True)
    return done
