"""Backup and restore of the whole store: the DuckDB file, the audit key and head, and a manifest.

A backup is a folder (mode 0700) holding ``store.duckdb``, ``audit-key`` (mode 0600),
``audit-head``, ``parts/`` (the batches' Parquet files the store lists, see
:mod:`readiness.store.lake`) and ``manifest.json`` (time, schema version, row counts per table,
audit head, sha256 and size of each file, tool versions). The manifest is written last and the folder is
renamed into place at the end, so a folder with a manifest is a whole backup.

How the copy stays consistent while the app runs: the app holds no connection between reruns,
so :func:`backup` opens the store like any other process (:func:`store.connect`: lock retry,
then StoreBusy). Holding that connection keeps every other process out (DuckDB's file lock);
:func:`store.held_still` also stops writers in this process and CHECKPOINTs, so the committed
state is all in the one file. The file is then copied byte for byte. A byte copy, rather than
``COPY FROM DATABASE`` into a new file, keeps everything as it was: sequences, constraints,
the audit log's exact bytes, and restores the same file. It never copies a file a writer is
changing, because no writer can hold the file meanwhile. The Parquet files are never changed
once listed: they are hard-linked into the backup while the store is held (copied when the
backup is on another file system) and hashed after.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from readiness import __version__, keys, settings, store
from readiness.errors import ReadinessError
from readiness.security import access, audit
from readiness.security.access import AccessDenied, Actor
from readiness.store import ENGINE_VERSION, DatabaseError, chain, lake
from readiness.store.migrations import MIGRATIONS

DB_FILE, KEY_FILE, HEAD_FILE, MANIFEST = "store.duckdb", "audit-key", "audit-head", "manifest.json"
PARTS_DIR = "parts"  # the store's listed Parquet files, by their path under <store>.parts
FORMAT = 1  # of the backup folder; raise when its layout changes


class BackupError(ReadinessError, RuntimeError):
    """The backup folder cannot be used, or the restore was refused (the message says why and what to do)."""


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    aside: Path | None
    migrations_applied: list[int]
    verification: audit.Verification
    sessions_ended: int = 0
    tables: dict[str, int] = field(default_factory=dict)


def _sidecars(db: Path) -> tuple[Path, Path]:
    """The store's audit key and head files (settings, else beside the store)."""
    return (settings.sidecar(db, "audit_key_file", ".audit-key"),
            settings.sidecar(db, "audit_head_file", ".audit-head"))


def _copy(src: Path, dst: Path, mode: int = 0o600) -> dict[str, Any]:
    """Copy ``src`` to a new file ``dst`` (``mode``), synced to disk; return its sha256 and size."""
    h, size = hashlib.sha256(), 0
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with src.open("rb") as fin, os.fdopen(fd, "wb") as fout:
        while chunk := fin.read(4 * 1024 * 1024):
            h.update(chunk)
            size += len(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return {"sha256": h.hexdigest(), "bytes": size}


def _copy_key(con: store.Connection, key_file: Path, dst: Path) -> dict[str, Any]:
    """The audit key into the backup: the key file's bytes, or the configured key (secrets file)
    written as a key file would hold it, so that every backup restores on its own."""
    if keys.configured("audit_key") is None:
        return _copy(key_file, dst)
    text = chain.read_key(con) + b"\n"
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return {"sha256": hashlib.sha256(text).hexdigest(), "bytes": len(text)}


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _describe(db_file: Path) -> dict[str, Any]:
    """Schema versions, row counts per table and audit head of a DuckDB file, opened read-only.

    Opening the copy (rather than counting in the live store) also proves the copy is whole.
    """
    con = store.scratch(db_file)
    try:
        versions = sorted(r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall())
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND NOT temporary ORDER BY table_name").fetchall()]
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        if counts.pop("lake_files", None) is not None:  # a lake table's rows: its local table's and its files'
            for t in lake.LAKE_TABLES:
                counts[t] = counts.pop(lake.local(t), 0) + con.execute(
                    "SELECT coalesce(sum(rows), 0) FROM lake_files WHERE tbl = ?", [t]).fetchone()[0]
        row = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        con.close()
    return {"schema_version": max(versions, default=0), "migrations": versions, "tables": counts,
            "audit_head": {"seq": row[0], "hash": row[1]} if row else None}


def _manifest(folder: Path, files: dict[str, dict[str, Any]], source: Path) -> dict[str, Any]:
    return {"format": FORMAT, "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": str(source.resolve()), "host": socket.gethostname(),
            **_describe(folder / DB_FILE), "files": files,
            "tool": {"readiness": __version__, "duckdb": ENGINE_VERSION, "python": platform.python_version()}}


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    fd = os.open(folder / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(manifest, indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _partial(out: Path) -> Path:
    """A new private folder beside ``out`` to build into; raises BackupError when ``out`` is in use."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} already exists and is not an empty folder; choose a new folder for the backup.")
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(mode=0o700)
    return part


def _embedded_only(db: Path) -> None:
    if db == settings.organisation_store():
        raise BackupError("backup and restore copy the embedded store file. The organisation deployment is backed "
                          "up with pg_dump of its PostgreSQL database plus a copy of its lake folder "
                          "(READINESS_LAKE_DATA_PATH) and the secrets file, as docs/operating.md says.")


def backup(db: str | Path | None, out: str | Path, actor: Actor) -> dict[str, Any]:
    """Copy the store, its audit key and head into the new folder ``out``; return the manifest.

    Writes an audit record (who, where to) first, so that the backup holds it. Raises BackupError
    when ``out`` is not a new or empty folder, StoreBusy when the store stays busy.
    """
    db, out = settings.db_path(db), Path(out)
    _embedded_only(db)
    if not db.exists():
        raise BackupError(f"There is no store at {db} to back up.")
    part = _partial(out)
    try:
        con = store.connect(db)
        try:
            access.require(con, actor, "backup")
            with store.transaction(con):
                audit.record(con, actor, "backup", "store",
                             {"out": str(out.resolve()), "host": socket.gethostname()})
            key, head = _sidecars(db)
            with store.held_still(con) as path:
                files = {DB_FILE: _copy(path, part / DB_FILE)}
                files[KEY_FILE] = _copy_key(con, key, part / KEY_FILE)
                files[HEAD_FILE] = _copy(head, part / HEAD_FILE)
                parts = _link_parts(con, part)
        finally:
            store.close(con)
        files.update(_described(part, parts))
        manifest = _manifest(part, files, db)
        anchored = json.loads((part / HEAD_FILE).read_text())
        if manifest["audit_head"] != {"seq": anchored["seq"], "hash": anchored["hash"]}:
            raise BackupError(f"The audit head file {head} does not match the store's newest audit record; "
                              "run `python -m readiness audit verify` and fix that first.")
        _write_manifest(part, manifest)
        os.rename(part, out)  # replaces an empty folder; the backup appears whole or not at all
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    return manifest


def _listed_parts(con) -> list[str]:
    """The Parquet files the store lists, by their path under its parts folder."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND table_name = 'lake_files'").fetchone()[0]:
        return []
    return [r[0] for r in con.execute("SELECT DISTINCT path FROM lake_files ORDER BY path").fetchall()]


def _link_parts(con, folder: Path) -> list[str]:
    """Link (or copy) the store's listed Parquet files into ``folder``/parts; returns their names there."""
    root, names = lake.parts_dir(store.file_of(con)), []
    for rel in _listed_parts(con):
        dst = folder / PARTS_DIR / rel
        dst.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _link_or_copy(root / rel, dst)
        names.append(f"{PARTS_DIR}/{rel}")
    return names


def _described(folder: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    return {n: {"sha256": _sha256(folder / n), "bytes": (folder / n).stat().st_size} for n in names}


def read_backup(folder: str | Path) -> dict[str, Any]:
    """Return the manifest of the backup in ``folder`` after checking every file's sha256.

    Raises BackupError naming what is missing or altered, or a schema newer than this code knows.
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        files = manifest["files"]
        version = int(manifest["schema_version"])
    except FileNotFoundError:
        raise BackupError(f"{folder} is not a backup: it has no {MANIFEST}.") from None
    except (ValueError, KeyError, TypeError) as err:
        raise BackupError(f"{folder / MANIFEST} is not a readable backup manifest ({err}).") from None
    for name in (DB_FILE, KEY_FILE, HEAD_FILE):
        if name not in files:
            raise BackupError(f"The backup in {folder} lists no {name}; it cannot be restored.")
    for name in files:
        path = folder / name
        if name.startswith("/") or ".." in Path(name).parts:
            raise BackupError(f"{folder / MANIFEST} lists {name!r}, outside the backup folder; it cannot be restored.")
        if not path.is_file():
            raise BackupError(f"The backup in {folder} is incomplete: {name} is missing.")
        if _sha256(path) != files[name].get("sha256"):
            raise BackupError(f"{path} differs from the manifest (sha256 mismatch): the backup was altered or "
                              "damaged; restore from another backup, and keep this one for investigation.")
    _check_schema(folder, version)
    return manifest


def _check_schema(folder: Path, version: int) -> None:
    known = {v for v, _name, _step in MIGRATIONS}
    try:
        found = set(_describe(folder / DB_FILE)["migrations"])
    except DatabaseError as err:
        raise BackupError(f"{folder / DB_FILE} cannot be opened by this DuckDB ({ENGINE_VERSION}): "
                          f"{str(err).splitlines()[0]}") from None
    newer = sorted(found - known) or ([version] if version > max(known) else [])
    if newer:
        raise BackupError(f"The backup in {folder} has schema version(s) {', '.join(map(str, newer))}, newer than "
                          f"this code knows (up to {max(known)}); restore it with the release that made it.")


def restore(db: str | Path | None, folder: str | Path, actor: Actor, *, force: bool = False) -> RestoreResult:
    """Put the backup in ``folder`` in place of the store at ``db``; return what was done and the audit verification.

    Refuses (BackupError) to replace an existing store unless ``force``; then the current store,
    key and head are first moved aside to ``<store>.before-restore-<UTC time>`` (itself a backup
    folder). Applies migrations to an older backup, ends the login sessions it holds, and writes
    an audit record "restore" naming the folder.
    """
    db, folder = settings.db_path(db), Path(folder)
    _embedded_only(db)
    manifest = read_backup(folder)
    given = keys.configured("audit_key")
    if given is not None and keys.load(folder / KEY_FILE) != given.encode():
        raise BackupError(f"The backup in {folder} was signed with another audit key than the secrets file's "
                          "audit_key: its audit log would not verify.",
                          "Restore with the secrets file of the deployment that made the backup.")
    key, head = _sidecars(db)
    wal = Path(f"{db}.wal")
    present = [p for p in (db, wal, key, head) if p.exists()]
    if present and not force:
        raise BackupError(f"{db} already holds a store ({', '.join(p.name for p in present)}); restore with "
                          "--force to move it aside first, or restore to another --db.")
    if not present and not actor.cli:
        raise AccessDenied("Only an operator may create a store from a backup.")
    db.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    staged = {db: db.with_name(f".{db.name}.restore-{os.getpid()}"),
              key: key.with_name(f".{key.name}.restore-{os.getpid()}"),
              head: head.with_name(f".{head.name}.restore-{os.getpid()}")}
    aside = None
    try:
        for target, name in ((db, DB_FILE), (key, KEY_FILE), (head, HEAD_FILE)):
            staged[target].unlink(missing_ok=True)
            if _copy(folder / name, staged[target])["sha256"] != manifest["files"][name]["sha256"]:
                raise BackupError(f"{folder / name} changed while it was being copied; try again.")
        _put_parts(folder, manifest, lake.parts_dir(db))  # the files first: the store that lists them comes last
        if db.exists():
            aside = _swap_in(db, key, head, staged, db.with_name(f"{db.name}.before-restore-{stamp}"), actor,
                             manifest["files"])
        else:
            for p in (wal, key, head):  # strays of a store that is gone
                if p.exists():
                    aside = aside or _new_dir(db.with_name(f"{db.name}.before-restore-{stamp}"))
                    os.rename(p, aside / p.name)
            for target in (key, head, db):  # the store last: whoever opens it finds its key and head
                os.replace(staged[target], target)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    store.forget_migrated(db)
    known_before = set(manifest.get("migrations") or [])
    with store.open_store(db) as con:
        applied = sorted({v for v, _n, _s in MIGRATIONS} - known_before) if known_before else []
        with store.transaction(con):
            # Logins open at backup time would be honoured again (even one ended since by a logout or
            # a password change): everyone logs in again.
            ended = con.execute("UPDATE auth_sessions SET ended_at = now(), end_reason = 'store restored' "
                                "WHERE ended_at IS NULL").fetchone()[0]
            audit.record(con, actor, "restore", "store", {
                "from": str(folder.resolve()), "backup_created_at": manifest.get("created_at"),
                "backup_audit_head": manifest.get("audit_head"), "moved_aside": str(aside) if aside else None,
                "migrations_applied": applied, "sessions_ended": ended})
        verification = audit.verify(con)
        tables = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in manifest.get("tables", {})
                  if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
                                "AND table_catalog = current_database()", [t]).fetchone()[0]}
    return RestoreResult(manifest, aside, applied, verification, ended, tables)


def _put_parts(folder: Path, manifest: dict[str, Any], root: Path) -> None:
    """Copy the backup's Parquet files into the parts folder ``root`` (a file already there under
    the same name is the same immutable file when its sha256 matches, and is kept)."""
    for name, info in manifest["files"].items():
        if not name.startswith(PARTS_DIR + "/"):
            continue
        dst = root / name.removeprefix(PARTS_DIR + "/")
        if dst.exists() and _sha256(dst) == info["sha256"]:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.restore-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        if _copy(folder / name, tmp)["sha256"] != info["sha256"]:
            tmp.unlink(missing_ok=True)
            raise BackupError(f"{folder / name} changed while it was being copied; try again.")
        os.replace(tmp, dst)


def _new_dir(path: Path) -> Path:
    path.mkdir(mode=0o700)
    return path


def _swap_in(db: Path, key: Path, head: Path, staged: dict[Path, Path], aside_path: Path, actor: Actor,
             manifest_files: dict[str, Any]) -> Path:
    """Holding the current store (no other process can have it), move it aside and put the staged files in place.

    The store path never goes missing: the current file gets a second name in the aside folder
    (a hard link), then the staged file replaces it in one rename. Returns the aside folder,
    which has a manifest of its own, so it can be restored like any backup.
    """
    con = store.connect(db)
    try:
        access.require(con, actor, "backup")
        with store.held_still(con):
            aside = _new_dir(aside_path)
            files = {}
            for src, name in ((db, DB_FILE), (key, KEY_FILE), (head, HEAD_FILE)):
                if src.exists():
                    _link_or_copy(src, aside / name)
                    files[name] = {"sha256": _sha256(aside / name), "bytes": (aside / name).stat().st_size}
            parts = _link_parts(con, aside)
            for target in (key, head, db):
                if staged[target].exists():
                    os.replace(staged[target], target)
            # the replaced store's files that the restored one does not list: kept in the aside folder only
            restored = {n for n in manifest_files if n.startswith(PARTS_DIR + "/")}
            for name in set(parts) - restored:
                (lake.parts_dir(db) / name.removeprefix(PARTS_DIR + "/")).unlink(missing_ok=True)
    finally:
        store.close(con)
    files.update(_described(aside, parts))
    _write_manifest(aside, _manifest(aside, files, db))
    return aside


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links
        shutil.copy2(src, dst)
