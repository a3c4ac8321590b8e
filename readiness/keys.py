"""Secrets kept outside the store: generated randomly on first use, written with mode 0600.

Nothing here has a literal default. A key file that exists but is readable by others is used,
with its mode tightened to 0600.

Several app replicas must share their secrets (:data:`SHARED_SECRETS`): an operator gives them in a
secrets file (setting ``secrets_file``), and a configured secret that is empty or weak is refused
(:class:`SecretError`), never replaced.
"""

from __future__ import annotations

import functools
import os
import secrets
import threading
import tomllib
from pathlib import Path

from readiness import settings
from readiness.errors import ReadinessError


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


# Secrets that every app replica must share, from one file an operator provides (setting
# secrets_file). With none, one server makes its keys beside the store (the callers' fallback).
SHARED_SECRETS = {
    "cookie_secret": "Streamlit's server.cookieSecret (signs Streamlit's own cookies)",
    "cookie_key": "the key that signs the login cookie",
    "audit_key": "the audit log's HMAC key",
}
MIN_SECRET_LENGTH = 32
MIN_SECRET_CHARACTERS = 10  # distinct characters: refuses "aaaa…" and "abababab…"


class SecretError(ReadinessError, ValueError):
    """A configured secret cannot be used (missing file, empty, weak); the message names where it came from."""


def configured(name: str) -> str | None:
    """The secret ``name`` (one of SHARED_SECRETS) from the secrets file, else (the login cookie
    key only) from the setting ``cookie_key``; None when neither gives it. Raises SecretError for a
    configured secret that is empty or weak: a configured secret is never replaced by a default."""
    path = settings.get("secrets_file")
    if path:
        values = _secrets_file(Path(path))
        if name in values:
            return check_secret(name, values[name], f"{name} in the secrets file {path}")
    if name == "cookie_key":
        raw = settings.given("cookie_key")
        if raw is not None:
            return check_secret(name, raw, "READINESS_COOKIE_KEY (or cookie_key in .streamlit/secrets.toml)")
    return None


def check_secret(name: str, value: object, source: str) -> str:
    """``value`` stripped, when it is strong enough to be ``name``; else SecretError saying why and what to do."""
    text = str(value).strip() if isinstance(value, str) else ""
    fix = ("Put a random value there: `python -m readiness secrets --out FILE` writes a new secrets file, "
           "or `python -c 'import secrets; print(secrets.token_hex(32))'` prints one.")
    if not isinstance(value, str):
        raise SecretError(f"{source} is not text.", fix)
    if not text:
        raise SecretError(f"{source} is empty; an empty secret is never used.", fix)
    if len(text) < MIN_SECRET_LENGTH:
        raise SecretError(f"{source} is too short to be {SHARED_SECRETS[name]}: {len(text)} characters, "
                          f"at least {MIN_SECRET_LENGTH} needed.", fix)
    if len(set(text)) < MIN_SECRET_CHARACTERS:
        raise SecretError(f"{source} is too easy to guess: it repeats {len(set(text))} characters.", fix)
    return text


def shared_secrets() -> dict[str, str]:
    """The three shared secrets from the secrets file, checked; {} when no secrets file is set.

    A secrets file must give all three: replicas that shared two of them would still disagree on
    the third (each generating its own beside its store).
    """
    path = settings.get("secrets_file")
    if not path:
        return {}
    values = _secrets_file(Path(path))
    missing = [n for n in SHARED_SECRETS if n not in values]
    if missing:
        raise SecretError(f"The secrets file {path} lacks {', '.join(missing)}; every replica must share all of "
                          f"{', '.join(SHARED_SECRETS)}.",
                          "`python -m readiness secrets --out FILE` writes a complete one.")
    return {n: check_secret(n, values[n], f"{n} in the secrets file {path}") for n in SHARED_SECRETS}


def _secrets_file(path: Path) -> dict[str, object]:
    """The secrets file's values, parsed again only when the file changes; SecretError when it is
    missing, unreadable, readable by others, or names something that is not a shared secret."""
    try:
        st = path.stat()
    except OSError as err:
        raise SecretError(f"The secrets file {path} (READINESS_SECRETS_FILE) cannot be read: {err.strerror}.",
                          "Set READINESS_SECRETS_FILE to the file, or unset it to run one server "
                          "with keys beside the store.") from None
    if st.st_mode & 0o077:
        raise SecretError(f"The secrets file {path} can be read by other users (mode {st.st_mode & 0o777:o}).",
                          f"Run `chmod 600 {path}`.")
    return _parsed_secrets_file(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4)
def _parsed_secrets_file(path: Path, _mtime_ns: int, _size: int) -> dict[str, object]:
    try:
        with path.open("rb") as f:
            values = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise SecretError(f"The secrets file {path} is not readable TOML: {err}.",
                          "Write it as lines of name = \"value\".") from None
    unknown = sorted(set(values) - set(SHARED_SECRETS))
    if unknown:
        raise SecretError(f"The secrets file {path} names {', '.join(unknown)}, which are not shared secrets "
                          f"(it holds only {', '.join(SHARED_SECRETS)}).", "Remove or correct those names.")
    return values


def new_secrets(existing: dict[str, bytes | None]) -> str:
    """The text of a new secrets file: each shared secret from ``existing`` (a key already in use)
    where given, else random."""
    lines = ["# Secrets every Readiness Review replica shares (READINESS_SECRETS_FILE). Keep it mode 0600.\n"]
    for name, what in SHARED_SECRETS.items():
        kept = existing.get(name)
        value = kept.decode() if kept else generate()
        lines.append(f"# {what}{' (taken over from the running store)' if kept else ''}\n{name} = \"{value}\"\n")
    return "".join(lines)
