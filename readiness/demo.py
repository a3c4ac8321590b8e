"""Load the demo pilot into a store through the same ingest path as a user's files."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

from readiness import catalog, pilots, settings, store
from readiness.demo_data import DEMO_PILOT, write_demo_files
from readiness.ingest import load as ingest
from readiness.security import users
from readiness.security.access import Actor
from readiness.settings import PROJECT_ROOT

DEMO_DIR = PROJECT_ROOT / "data" / "demo"


def _profile() -> dict:
    p = {k: v for k, v in DEMO_PILOT.items() if k != "name"}
    for k in ("start_date", "end_date", "validated_on"):
        p[k] = date.fromisoformat(p[k])
    for k in ("work_start", "work_end"):
        p[k] = time.fromisoformat(p[k])
    return p


def load_demo(db: str | Path | None, actor: Actor, out_dir: Path | None = None) -> list[ingest.IngestResult]:
    """Create the demo pilot (if absent), write its files and ingest them. Returns one result per file."""
    out_dir = out_dir or DEMO_DIR
    files = write_demo_files(out_dir)
    name = DEMO_PILOT["name"]
    with store.open_store(db) as con:
        if name not in catalog.pilot_names(con):
            with store.transaction(con):
                pilots.create_pilot(con, name, actor, **_profile())
    results = []
    for kind in ("usage", "feedback", "exceptions"):
        results += ingest.ingest_files(db, name, kind, files[kind], actor=actor)
    return results


DEMO_ACCOUNTS = (("demo-reviewer", "reviewer"), ("demo-lead", "lead"), ("demo-viewer", "viewer"))


def demo_accounts(con, actor: Actor) -> list[tuple[str, str, str]]:
    """One account per non-admin role, granted the demo pilot, with random passwords.

    Returns (name, role, password) for the accounts created now (to print once); existing
    accounts are left as they are.
    """
    made = []
    for name, role in DEMO_ACCOUNTS:
        if users.get_user(con, name) is None:
            password = users.random_password()
            users.add_user(con, actor, name, role, password, display_name=f"Demo {role}")
            made.append((name, role, password))
        users.grant(con, actor, name, DEMO_PILOT["name"])
    return made


def load_demo_if_empty(db: str | Path | None, actor: Actor) -> bool:
    """Load the demo into the default store when it has no pilots; True when loaded.

    A store named by READINESS_DB or --db is a deployment's own and starts empty.
    """
    path = settings.db_path(db)
    if not settings.is_default_db(path) or not settings.get("demo_on_empty"):
        return False
    with store.open_store(path) as con:
        if catalog.pilot_names(con):
            return False
    load_demo(path, actor)
    return True
