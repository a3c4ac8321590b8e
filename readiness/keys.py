"""Secrets kept outside the store: generated randomly on first use, written with mode 0600.

Nothing here has a literal default. A key file that exists but is readable by others is used,
with its mode tightened to 0600.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create(path: Path, nbytes: int = 32) -> bytes:
    """Return the key in ``path`` (hex text), creating it with ``nbytes`` random bytes if absent."""
    path = Path(path)
    if path.exists():
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        text = path.read_text().strip()
        if len(text) < 32:
            raise ValueError(f"The key file {path} is too short to be a key; remove it to generate a new one.")
        return text.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return load_or_create(path, nbytes)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key.encode()


def write_private(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text``, mode 0600."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
