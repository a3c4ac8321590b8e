"""Fixtures for the library tests; helper functions live in helpers.py (tests/e2e has its own conftest).

A test module that sets ``DEPLOYMENTS = ("embedded", "organisation")`` runs each of its tests that
take the ``db`` fixture on both deployments (a test marked ``@pytest.mark.deployments("embedded")``
on the ones it names): the embedded store file, and the organisation
deployment (records in a throwaway PostgreSQL server's fresh database, telemetry files in a temp
folder), chosen as an operator chooses it, through READINESS_DATABASE_URL and
READINESS_LAKE_DATA_PATH. There ``db`` is the name the organisation store goes by
(``<lake folder>/readiness``), which every function taking a store path accepts.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

_databases = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    # The tests start many Python processes (the command line, app servers, test workers): they keep
    # the project's compiled modules in __pycache__ (ignored by git) rather than compile each module
    # again in every process, about 0.25 s a process where PYTHONDONTWRITEBYTECODE is set.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    deployments = getattr(metafunc.module, "DEPLOYMENTS", None)
    marker = metafunc.definition.get_closest_marker("deployments")
    if marker:  # @pytest.mark.deployments("embedded"): this test on these only
        deployments = marker.args
    if deployments and "db" in metafunc.fixturenames:
        metafunc.parametrize("deployment", deployments, indirect=True)


@pytest.fixture
def deployment(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "embedded")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """A throwaway PostgreSQL server for this test process (skips, saying why, when none can start)."""
    from tests.postgres_server import missing_reason, throwaway_postgres

    reason = missing_reason()
    if reason:
        pytest.skip(f"the organisation deployment needs PostgreSQL: {reason}")
    with throwaway_postgres() as dsn:
        yield dsn


# Emptying the records database between tests: every table's rows, every sequence back to 1, the
# retired copies and the lake's catalog dropped (the lake is attached anew, in the test's folder).
# Quicker than a new database, which costs each test a DuckDB instance with the extensions loaded
# and the schema made (about 1 s).
_EMPTY = """DROP SCHEMA IF EXISTS ducklake CASCADE; DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE '%\\_retired' LOOP
    EXECUTE 'DROP TABLE ' || quote_ident(r.tablename); END LOOP;
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations' LOOP
    EXECUTE 'TRUNCATE ' || quote_ident(r.tablename); END LOOP;
  FOR r IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' LOOP
    EXECUTE 'ALTER SEQUENCE ' || quote_ident(r.sequencename) || ' RESTART'; END LOOP;
END $$;"""


@pytest.fixture(scope="session")
def organisation_database(postgres_server: str) -> str:
    """One records database for this test process's organisation tests, emptied before each."""
    from tests.postgres_server import create_database

    return create_database(postgres_server, f"tests_{next(_databases)}")


@pytest.fixture
def db(tmp_path: Path, deployment: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Path of a fresh store file in a temp folder (created with its schema on first open); for the
    organisation deployment, the name of an empty one (the records database emptied, a new lake folder)."""
    if deployment == "embedded":
        return tmp_path / "store.duckdb"
    from readiness import settings
    from readiness.store import postgres
    from tests.postgres_server import binaries

    url = request.getfixturevalue("organisation_database")
    monkeypatch.setenv("READINESS_DATABASE_URL", url)
    monkeypatch.setenv("READINESS_LAKE_DATA_PATH", str(tmp_path / "lake"))
    postgres.lake_dropped(url)
    subprocess.run([str(binaries() / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", _EMPTY],
                   check=True, capture_output=True, timeout=60)
    postgres.schema_changed(url)  # tables dropped; the views name the previous test's files
    return settings.db_path()


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the demo pilot as readiness.demo.load_demo makes it, made once for the whole
    run: the test processes share it (the first makes it, under a lock). Take a copy
    (tests.helpers.copy_store) and use that: nothing writes to this one."""
    import fcntl
    import shutil

    from readiness import demo
    from readiness.security.access import cli_actor

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # xdist: the run's folder
    folder = shared / "demo-store"
    with open(shared / "demo-store.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "made").exists():  # absent, or left half made by a process that died
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            demo.load_demo(folder / "store.duckdb", cli_actor(), out_dir=folder / "files")
            (folder / "made").touch()
    return folder / "store.duckdb"


@pytest.fixture(scope="module")
def _built_stores() -> dict:
    return {}


@pytest.fixture
def built_once(db: Path, deployment: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
               _built_stores: dict) -> Callable[[Callable[[Path, Path], object]], object]:
    """``built_once(build)``: the store at ``db`` as ``build(db, folder)`` leaves it (``folder`` for
    the files it loads); returns what ``build`` returned. An embedded store is built once per module
    and each test gets a copy of its own (tests.helpers.copy_store); an organisation one is built for
    each test (its records live in the server's one database)."""
    from tests.helpers import copy_store

    def build_or_copy(build: Callable[[Path, Path], object]) -> object:
        if deployment != "embedded":
            return build(db, tmp_path)
        if build not in _built_stores:
            folder = tmp_path_factory.mktemp("built")
            _built_stores[build] = (folder / db.name, build(folder / db.name, folder))
        template, made = _built_stores[build]
        copy_store(template, db)
        return made

    return build_or_copy


@pytest.fixture(autouse=True)
def _fast_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """bcrypt's lowest cost: the tests hash many passwords; the scheme is the same."""
    monkeypatch.setenv("READINESS_BCRYPT_ROUNDS", "4")
