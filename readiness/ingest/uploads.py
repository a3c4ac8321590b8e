"""Files sent through the app: kept under generated names in the private upload folder, removed after ingest.

The uploaded name is only ever shown (as the batch's file name), never used as a path: a name
like ``../../etc/passwd`` or ``=cmd|' /C calc'!A0.csv`` cannot reach the file system.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from readiness import settings
from readiness.ingest import load as ingest
from readiness.security.access import Actor

CHUNK = 1 << 20


def shown_name(name: str | None) -> str:
    """The uploaded name as shown: its last part after '/' or '\\', control characters removed."""
    last = re.split(r"[/\\]", name or "")[-1]
    last = "".join(ch for ch in last if ch.isprintable()).strip()
    return last if last not in ("", ".", "..") else "upload"


def save(stream: BinaryIO, db: str | Path | None = None) -> Path:
    """Copy an uploaded stream to a new private file (mode 0600) with a generated name; return its path."""
    folder = settings.upload_dir(db)
    # named after this host and process, so that a copy left by a killed app is removed later
    path = folder / f"{ingest.owned_prefix('upload', folder)}{uuid.uuid4().hex}"
    limit = settings.get("max_upload_mb") * 1024 * 1024
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    written = 0
    try:
        with os.fdopen(fd, "wb") as f:
            while chunk := stream.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise ingest.UnusableFile(f"The file is over the {limit // (1024 * 1024)} MB upload limit "
                                              "(READINESS_MAX_UPLOAD_MB).")
                f.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def preview_upload(db: str | Path | None, name: str, stream: BinaryIO, kind: str,
                   opts: ingest.IngestOptions | None = None, time_zone: str = "UTC") -> ingest.Preview:
    """Preview an uploaded stream (see :func:`readiness.ingest.load.preview`) under its shown ``name``.

    The saved copy is removed whatever happens; UnusableFile messages name the file as uploaded.
    """
    shown = shown_name(name)
    saved = save(stream, db)
    try:
        found = ingest.preview(saved, kind, opts, time_zone=time_zone, work_root=saved.parent)
    except ingest.UnusableFile as err:
        raise ingest.UnusableFile(f"{shown}: {ingest.shown_error(err, saved, shown)}") from None
    finally:
        saved.unlink(missing_ok=True)
    found.file = shown
    return found


def ingest_uploads(db: str | Path | None, pilot_name: str, kind: str, files: Iterable[tuple[str, BinaryIO]], *,
                   actor: Actor, opts: ingest.IngestOptions | None = None,
                   create: bool = False) -> list[ingest.IngestResult]:
    """Ingest uploaded (name, stream) pairs as batches; the saved copies are removed whatever happens."""
    saved: list[Path] = []
    names: list[str] = []
    try:
        for name, stream in files:
            saved.append(save(stream, db))
            names.append(shown_name(name))  # shown only; never a path
        return ingest.ingest_files(db, pilot_name, kind, saved, actor=actor, opts=opts, create=create,
                                   display_names=names)
    finally:
        for path in saved:
            path.unlink(missing_ok=True)
