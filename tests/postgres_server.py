"""A throwaway PostgreSQL server in a temporary folder, for the organisation deployment's tests and
benchmarks: Debian's server binaries (package postgresql-15 or newer), trust authentication, a Unix
socket only (no TCP port is opened), stopped and removed on exit."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def binaries() -> Path | None:
    """The folder of the newest installed PostgreSQL server's programs, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def missing_reason() -> str | None:
    """Why no throwaway server can start here, or None when one can."""
    if binaries() is None:
        return "no PostgreSQL server binaries (install Debian's postgresql package)"
    if os.geteuid() == 0:
        try:
            import pwd
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user for initdb"
    return None


def _as_server_user(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextlib.contextmanager
def throwaway_postgres(max_connections: int = 50) -> Iterator[str]:
    """Start a server taking at most ``max_connections`` clients; yield a libpq connection string
    to its database ``postgres``."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError(missing_reason())
    # not under pytest's tmp_path: its folders are readable by their owner only, and the server runs
    # as the postgres user when this runs as root
    folder = Path(tempfile.mkdtemp(prefix="readiness-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    try:
        subprocess.run(_as_server_user([str(bin_dir / "initdb"), "--no-sync", "-A", "trust", "-U", "postgres",
                                        "-E", "UTF8", "--locale", "C", "-D", str(data)]),
                       check=True, capture_output=True, timeout=60)
        options = f"-k {folder} -c listen_addresses='' -c fsync=off -c max_connections={int(max_connections)}"
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                                        "-l", str(folder / "server.log"), "-w", "start"]),
                       check=True, capture_output=True, timeout=60)
        try:
            yield f"host={folder} port=5432 user=postgres dbname=postgres"
        finally:
            subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                           capture_output=True, timeout=60)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def create_database(dsn: str, name: str) -> str:
    """Create the database ``name`` on the server of ``dsn`` (from :func:`throwaway_postgres`);
    return the connection string to it."""
    fields = dict(p.split("=", 1) for p in dsn.split())
    subprocess.run([str(binaries() / "createdb"), "-h", fields["host"], "-p", fields["port"], "-U", fields["user"], name],
                   check=True, capture_output=True, timeout=60)
    return " ".join(f"{k}={name if k == 'dbname' else v}" for k, v in fields.items())
