"""Fixtures for the library tests; helper functions live in helpers.py (tests/e2e has its own conftest).

A test module that sets ``DEPLOYMENTS = ("embedded", "organisation")`` runs each of its tests that
take the ``db`` fixture on both deployments: the embedded store file, and the organisation
deployment (records in a throwaway PostgreSQL server's fresh database, telemetry files in a temp
folder), chosen as an operator chooses it, through READINESS_DATABASE_URL and
READINESS_LAKE_DATA_PATH. There ``db`` is the name the organisation store goes by
(``<lake folder>/readiness``), which every function taking a store path accepts.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

_databases = itertools.count(1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    deployments = getattr(metafunc.module, "DEPLOYMENTS", None)
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


@pytest.fixture
def db(tmp_path: Path, deployment: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Path of a fresh store file in a temp folder (created with its schema on first open); for the
    organisation deployment, the name of a fresh one (a new PostgreSQL database, a new lake folder)."""
    if deployment == "embedded":
        return tmp_path / "store.duckdb"
    from readiness import settings
    from readiness.store import postgres
    from tests.postgres_server import create_database

    server = request.getfixturevalue("postgres_server")
    url = create_database(server, f"test_{next(_databases)}")
    monkeypatch.setenv("READINESS_DATABASE_URL", url)
    monkeypatch.setenv("READINESS_LAKE_DATA_PATH", str(tmp_path / "lake"))
    request.addfinalizer(lambda: postgres.release(url))
    return settings.db_path()


@pytest.fixture(autouse=True)
def _fast_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """bcrypt's lowest cost: the tests hash many passwords; the scheme is the same."""
    monkeypatch.setenv("READINESS_BCRYPT_ROUNDS", "4")
