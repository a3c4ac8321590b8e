"""Secrets kept outside the store: generated randomly on first use, written with mode 0600.

Nothing here has a literal default. A key file that exists but is readable by others is used,
with its mode tightened to 0600.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path


def load(path: Path) -> bytes | None:
    """Return the key in ``path`` (hex text), or None when there is no such file; never creates one."""
    path = Path(path)
    if not path.exists():
        return None
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    text = path.read_text().strip()
    if len(text) < 32:
        raise ValueError(f"The key file {path} is too short to be a key; remove it to generate a new one.")
    return text.encode()


def load_or_create(path: Path, nbytes: int = 32) -> bytes:
    """Return the key in ``path`` (hex text), creating it with ``nbytes`` random bytes if absent."""
    existing = load(path)
    return existing if existing is not None else install(path, generate(nbytes))


def generate(nbytes: int = 32) -> str:
    """A new random key as hex text (not yet written anywhere)."""
    return secrets.token_hex(nbytes)


def install(path: Path, key: str) -> bytes:
    """Put ``key`` at ``path`` (mode 0600) unless a key is there already; return the key in place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole to a private temp file, then linked into place: a process killed half-way
    # leaves no empty key file behind (that would stop every later start), and os.link fails when
    # another process made the key first.
    tmp = _write_temp(path, key + "\n")
    try:
        os.link(tmp, path)
        return key.encode()
    except FileExistsError:  # another process made it first: use theirs
        pass
    finally:
        tmp.unlink()
    existing = load(path)
    return existing if existing is not None else install(path, key)


def _write_temp(path: Path, text: str) -> Path:
    """Write ``text`` to a new mode-0600 temp file beside ``path``, synced to disk; return its path."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return tmp


def write_private(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text``, mode 0600."""
    path = Path(path)
    os.replace(_write_temp(path, text), path)
