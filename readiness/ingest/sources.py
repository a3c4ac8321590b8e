"""Sources ("real source material"): per pilot and log kind, a feed or a manual source process.

A **feed** is a folder or glob under the admins' ``feed_root`` (e.g. ``erp-exports/usage-*.csv.gz``);
:func:`sync` re-reads every feed of a pilot and loads the files not loaded yet, each as its own
atomic batch through :func:`readiness.ingest.load.ingest_files`, in name order. A **manual source
process** says who provides what, how often, and who owns the process, for a kind with no feed.

Feeds never reach outside the feed root: a pattern with ``..``, an absolute path elsewhere, or a
match that resolves (through a symbolic link) outside the root is refused, and nothing loads.

Nor outside the pilot's **feed folder**: one feed root serves every team, so each pilot's feeds
live under a folder of it that an admin assigns (:func:`set_feed_folder`, admin only, audited).
A pattern whose fixed part is not under that folder, or a match that resolves (after ``..`` and
links) outside it, is refused, when the feed is set and again at every sync. Until an admin
assigns one, only admins set and sync the pilot's feeds (a reviewer could otherwise point their
pilot at ``other-team/*.csv`` and load that team's files).
Every change and every sync is audited in the same transaction as the change it records.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from readiness import pilots, settings, store
from readiness.catalog import Pilot
from readiness.errors import ReadinessError
from readiness.ingest import load as ingest
from readiness.ingest.columns import KINDS
from readiness.security import audit
from readiness.security.access import AccessDenied, Actor, current_role, require
from readiness.store import Connection

MODES = ("feed", "manual")
MANUAL_FIELDS = ("provider", "what", "frequency", "owner")
_GLOB_CHARS = frozenset("*?[")
_EXAMPLE = "e.g. erp-exports/usage-*.csv.gz"


class SourceError(ReadinessError, ValueError):
    """A source cannot be set or synced as asked (no feed root, a pattern outside it, ...); says why."""


def feed_root() -> Path:
    """The admins' feed root, resolved; SourceError when none is set or it is not a folder."""
    value = settings.get("feed_root")
    if not value:
        raise SourceError("No feed root is set, so no feeds are allowed. An admin sets READINESS_FEED_ROOT "
                          "(or feed_root under [readiness] in .streamlit/secrets.toml) to the one folder "
                          "feeds may be read from.")
    root = Path(value).expanduser()
    if not root.is_dir():
        raise SourceError(f"The feed root {root} is not a folder. An admin must create it or correct "
                          f"READINESS_FEED_ROOT.")
    return root.resolve()


def _relative(pattern: str, root: Path) -> str:
    """``pattern`` as a path relative to ``root``; SourceError for '..' or an absolute path elsewhere."""
    text = (pattern or "").strip()
    if not text:
        raise SourceError(f"A feed needs a folder or glob under the feed root {root}, {_EXAMPLE}.")
    path = Path(text)
    if path.is_absolute():
        configured = Path(settings.get("feed_root")).expanduser().absolute()
        for base in (root, configured):
            if path.is_relative_to(base):
                path = path.relative_to(base)
                break
        else:
            raise SourceError(f"The feed {text!r} is outside the feed root {root}. Give a folder or glob "
                              f"under it, {_EXAMPLE}.")
    if ".." in path.parts:
        raise SourceError(f"The feed {text!r} climbs out of the feed root with '..'. Give a folder or glob "
                          f"under {root}, {_EXAMPLE}.")
    return path.as_posix() if path.parts else "."


def _inside(path: Path, root: Path, pattern: str, folder: str | None = None) -> Path:
    """``path`` resolved; SourceError when it leads outside ``root`` (e.g. a symbolic link), or,
    with ``folder`` (the pilot's feed folder, relative to the feed root), outside that folder."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        raise SourceError(f"The feed {pattern!r} is refused: {shown} leads outside the feed root {root} "
                          f"(to {resolved}). Nothing was loaded. Move the files under the root or remove the link.")
    if folder is not None and not resolved.is_relative_to((root / folder).resolve()):
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        raise SourceError(f"The feed {pattern!r} is refused: {shown} leads outside this pilot's feed folder "
                          f"{folder}/ (to {resolved}). Nothing was loaded. Move the files into the folder or "
                          f"remove the link.")
    return resolved


def _fixed_part(rel: str) -> tuple[str, ...]:
    """The folders a (relative) pattern names before its first glob: 'team-a/in/*.csv' -> team-a, in."""
    fixed = []
    for part in Path(rel).parts:
        if not _GLOB_CHARS.isdisjoint(part):
            break
        fixed.append(part)
    return tuple(p for p in fixed if p != ".")


def _check_folder(rel: str, folder: str, root: Path, pattern: str) -> None:
    """SourceError unless the pattern's fixed part lies in the pilot's feed folder ('team-*/x.csv'
    or 'other-team/*.csv' under folder 'team-a' is refused, whatever it matches today)."""
    inside = Path(folder).parts if folder != "." else ()
    if _fixed_part(rel)[:len(inside)] != tuple(inside):
        raise SourceError(f"The feed {pattern!r} is outside this pilot's feed folder {folder}/ under the feed root "
                          f"{root}. Give a folder or glob under it, e.g. {folder}/usage-*.csv.gz; only an admin "
                          f"can assign the pilot another folder.")


def resolve_feed(pattern: str, folder: str | None = None) -> list[Path]:
    """The files a feed names now, resolved and in name order (hidden files skipped).

    A folder means the files directly in it; a glob is matched under the feed root (``**`` recurses).
    ``folder``: the pilot's feed folder (relative to the root); the pattern and every file it names
    must lie in it. Raises SourceError when no feed root is set or anything would lead outside the
    root or the folder.
    """
    root = feed_root()
    rel = _relative(pattern, root)
    if folder is not None:
        _check_folder(rel, folder, root, pattern)
        _inside(root / folder, root, folder)  # the folder itself must not lead outside the root
    if _GLOB_CHARS.isdisjoint(rel):
        base = _inside(root / rel, root, pattern, folder)
        candidates = sorted(base.iterdir()) if base.is_dir() else [root / rel] if base.exists() else []
    else:
        fixed = root.joinpath(*_fixed_part(rel))
        if fixed.exists():  # a linked folder before the glob is refused even while it matches nothing
            _inside(fixed, root, pattern, folder)
        candidates = list(root.glob(rel))
    found: dict[Path, str] = {}
    for path in candidates:
        if path.name.startswith("."):  # e.g. a file still being copied in as .name.tmp
            continue
        resolved = _inside(path, root, pattern, folder)
        if resolved.is_file():
            found.setdefault(resolved, path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name)
    return sorted(found, key=lambda p: found[p])


def _folder(con: Connection, pilot_id: int) -> str | None:
    row = con.execute("SELECT folder FROM feed_folders WHERE pilot_id = ?", [pilot_id]).fetchone()
    return row[0] if row else None


def feed_folder(con: Connection, actor: Actor, pilot: Pilot) -> str | None:
    """The folder under the feed root the pilot's feeds must lie in (relative, e.g. 'team-a'; '.'
    for the whole root), or None: none assigned yet, so only admins set and sync its feeds."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    return _folder(con, pilot.pilot_id)


def _needs_folder(con: Connection, actor: Actor, pilot: Pilot, doing: str) -> str | None:
    """The pilot's feed folder; AccessDenied when it has none and ``actor`` is not an admin."""
    folder = _folder(con, pilot.pilot_id)
    if folder is None and current_role(con, actor) != "admin":
        raise AccessDenied(
            f"{pilot.name} has no feed folder yet, so only an admin may {doing} its feeds: one feed root serves "
            f"every team, and the folder keeps this pilot's feeds to its own files. An admin assigns it on the "
            f"Sources page or with: python -m readiness sources --pilot {pilot.name!r} --feed-folder FOLDER")
    return folder


def set_feed_folder(con: Connection, actor: Actor, pilot: Pilot, folder: str | None) -> str | None:
    """Assign the folder under the feed root that ``pilot``'s feeds must lie in; admin only, audited.

    ``folder`` is relative to the root (or absolute inside it), must exist and must not lead
    outside the root; it is stored resolved and relative ('.' for the whole root). None or ''
    takes the assignment away (then only admins set and sync the pilot's feeds). Feeds already
    set outside the new folder are refused at the next sync. Returns the folder stored.
    Raises AccessDenied (not an admin), SourceError (no feed root, not a folder, outside the root).
    """
    require(con, actor, "edit_pilot", pilot.pilot_id)
    if current_role(con, actor) != "admin":
        raise AccessDenied("Only an admin assigns a pilot's feed folder: it decides which files under the feed root "
                           "the pilot's feeds may read.")
    text = (folder or "").strip()
    rel = None
    if text:
        root = feed_root()
        path = _inside(root / _relative(text, root), root, text)
        if not path.is_dir():
            raise SourceError(f"The feed folder {text!r} is not a folder under the feed root {root}. Create it "
                              f"first (files can arrive later).")
        rel = path.relative_to(root).as_posix()
    with store.transaction(con):
        before = _folder(con, pilot.pilot_id)
        con.execute("DELETE FROM feed_folders WHERE pilot_id = ?", [pilot.pilot_id])
        if rel is not None:
            con.execute("INSERT INTO feed_folders (pilot_id, folder, assigned_by, assigned_at) VALUES (?, ?, ?, ?)",
                        [pilot.pilot_id, rel, actor.name, datetime.now(UTC)])
        audit.record(con, actor, "sources.feed_folder", f"pilot:{pilot.pilot_id}",
                     {"pilot": pilot.name, "before": before, "after": rel})
    return rel


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise SourceError(f"Unknown log kind {kind!r}: use one of {', '.join(KINDS)}.")


def _current(con: Connection, pilot_id: int, kind: str) -> dict[str, Any] | None:
    cur = con.execute("SELECT * FROM sources WHERE pilot_id = ? AND kind = ?", [pilot_id, kind])
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row)) if row else None


def _save(con: Connection, actor: Actor, pilot: Pilot, kind: str, values: dict[str, Any]) -> None:
    """Insert or replace the (pilot, kind) source with ``values`` and audit it (caller checked access)."""
    row = {"mode": values["mode"], "pattern": values.get("pattern"),
           **{f: values.get(f) for f in MANUAL_FIELDS}}
    now = datetime.now(UTC)
    with store.transaction(con):
        before = _current(con, pilot.pilot_id, kind)
        if before is None:
            con.execute(
                f"INSERT INTO sources (pilot_id, kind, {', '.join(row)}, created_by, created_at, updated_by, "
                f"updated_at) VALUES (?, ?, {', '.join('?' for _ in row)}, ?, ?, ?, ?)",
                [pilot.pilot_id, kind, *row.values(), actor.name, now, actor.name, now])
        else:
            con.execute(f"UPDATE sources SET {', '.join(f'{k} = ?' for k in row)}, updated_by = ?, updated_at = ? "
                        f"WHERE source_id = ?", [*row.values(), actor.name, now, before["source_id"]])
        audit.record(con, actor, "sources.set", f"pilot:{pilot.pilot_id}", {
            "pilot": pilot.name, "kind": kind, "after": row,
            "before": {k: before[k] for k in row} if before else None})


def set_feed(con: Connection, actor: Actor, pilot: Pilot, kind: str, pattern: str) -> list[Path]:
    """Make ``kind`` of ``pilot`` a feed read from ``pattern`` (under the pilot's feed folder); audited.

    Returns the files the feed names now (it may be empty: files can arrive later).
    Raises AccessDenied (also: the pilot has no feed folder and ``actor`` is not an admin),
    SourceError (unknown kind, no feed root, pattern outside the root or the pilot's feed folder).
    """
    require(con, actor, "ingest", pilot.pilot_id)
    _check_kind(kind)
    files = resolve_feed(pattern, _needs_folder(con, actor, pilot, "set"))
    _save(con, actor, pilot, kind, {"mode": "feed", "pattern": _relative(pattern, feed_root())})
    return files


def set_manual(con: Connection, actor: Actor, pilot: Pilot, kind: str, provider: str, what: str,
               frequency: str, owner: str) -> None:
    """Record the manual source process of ``kind``: who provides what, how often, owner; audited.

    Replaces a feed of that kind. Raises AccessDenied, SourceError (unknown kind, a field left empty).
    """
    require(con, actor, "ingest", pilot.pilot_id)
    _check_kind(kind)
    values = {"provider": provider, "what": what, "frequency": frequency, "owner": owner}
    values = {k: (v or "").strip() for k, v in values.items()}
    missing = [k for k, v in values.items() if not v]
    if missing:
        raise SourceError(f"A manual source process says who provides what, how often, and who owns it; "
                          f"missing: {', '.join(missing)}.")
    _save(con, actor, pilot, kind, {"mode": "manual", **values})


def list_sources(con: Connection, actor: Actor, pilot: Pilot) -> list[dict[str, Any]]:
    """One row per log kind: its source, or ``mode`` None and ``missing`` True when it has none;
    ``feed_folder``: the pilot's (see :func:`feed_folder`)."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    folder = _folder(con, pilot.pilot_id)
    out = []
    for kind in KINDS:
        row = _current(con, pilot.pilot_id, kind) or {"kind": kind, "mode": None}
        row["missing"] = row["mode"] is None
        row["feed_folder"] = folder
        if isinstance(row.get("last_sync_summary"), str):
            row["last_sync_summary"] = json.loads(row["last_sync_summary"])
        out.append(row)
    return out


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _known_files(con: Connection, pilot_id: int, kind: str) -> dict[tuple[int, str], int]:
    rows = con.execute("SELECT file_size, sha256, batch_id FROM ingest_batches WHERE pilot_id = ? AND kind = ?",
                       [pilot_id, kind]).fetchall()
    return {(size, sha): batch for size, sha, batch in rows}


def _load_feed(db: str | Path | None, actor: Actor, pilot: Pilot, kind: str, files: list[Path],
               known: dict[tuple[int, str], int]) -> list[ingest.IngestResult]:
    """Load ``files`` in order; a file already loaded (same size and sha256) is reported without re-reading it."""
    sizes = {size for size, _sha in known}
    results: list[ingest.IngestResult | None] = []
    new: list[Path] = []
    for path in files:
        size = path.stat().st_size
        batch = known.get((size, _sha256(path))) if size in sizes else None
        if batch is None:
            new.append(path)
            results.append(None)
        else:  # the same check ingest makes, without decompressing and staging the file again
            results.append(ingest.IngestResult(path.name, kind, duplicate=True, duplicate_of=batch))
    loaded = iter(ingest.ingest_files(db, pilot.name, kind, new, actor=actor) if new else [])
    return [r if r is not None else next(loaded) for r in results]


def _summary(pattern: str, results: list[ingest.IngestResult]) -> dict[str, Any]:
    return {"pattern": pattern, "files": len(results),
            "loaded": sum(1 for r in results if r.batch_id is not None and not r.error),
            "duplicate": sum(1 for r in results if r.duplicate),
            "errors": [r.file for r in results if r.error],
            "rows_loaded": sum(r.rows_loaded for r in results)}


def _record_sync(db: str | Path | None, actor: Actor, pilot: Pilot, summaries: dict[str, dict[str, Any]]) -> None:
    with store.open_store(db) as con, store.transaction(con):
        now = datetime.now(UTC)
        for kind, summary in summaries.items():
            con.execute("UPDATE sources SET last_sync_at = ?, last_sync_summary = ? WHERE pilot_id = ? AND kind = ?",
                        [now, json.dumps(summary), pilot.pilot_id, kind])
        audit.record(con, actor, "sources.sync", f"pilot:{pilot.pilot_id}", {"pilot": pilot.name, "feeds": summaries})


def sync(db: str | Path | None, actor: Actor, pilot_name: str) -> list[ingest.IngestResult]:
    """Re-read every feed of the pilot; load new files (one atomic batch each), skip those already loaded.

    Returns one result per file, feeds in kind order and files in name order; an unusable file
    is reported in its result (``error``), the others still load. Raises PilotNotFound,
    AccessDenied (also: the pilot has no feed folder and ``actor`` is not an admin), StoreBusy, and
    SourceError when the pilot has no feed, no feed root is set, or a feed leads outside the root
    or the pilot's feed folder (then nothing loads; the refusal is recorded as the last sync).
    """
    with store.open_store(db) as con:
        pilot = pilots.pilot_for(con, actor, pilot_name)
        require(con, actor, "ingest", pilot.pilot_id)
        # checked again at every sync: a feed set before the folder was assigned or moved is refused
        folder = _needs_folder(con, actor, pilot, "sync")
        feeds = con.execute("SELECT kind, pattern FROM sources WHERE pilot_id = ? AND mode = 'feed'",
                            [pilot.pilot_id]).fetchall()
        known = {kind: _known_files(con, pilot.pilot_id, kind) for kind in KINDS}
    if not feeds:
        raise SourceError(f"{pilot.name} has no feeds to sync. Set one with: python -m readiness sources "
                          f"--pilot {pilot.name!r} --feed KIND PATTERN")
    feeds.sort(key=lambda f: KINDS.index(f[0]))
    try:
        files = {kind: resolve_feed(pattern, folder) for kind, pattern in feeds}
    except SourceError as err:
        _record_sync(db, actor, pilot, {kind: {"pattern": pattern, "refused": str(err)} for kind, pattern in feeds})
        raise
    results: list[ingest.IngestResult] = []
    summaries: dict[str, dict[str, Any]] = {}
    for kind, pattern in feeds:
        done = _load_feed(db, actor, pilot, kind, files[kind], known[kind])
        summaries[kind] = _summary(pattern, done)
        results += done
    _record_sync(db, actor, pilot, summaries)
    return results
