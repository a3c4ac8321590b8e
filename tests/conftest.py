"""Fixtures for the library tests; helper functions live in helpers.py (tests/e2e has its own conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Path of a fresh store file in a temp folder (created with its schema on first open)."""
    return tmp_path / "store.duckdb"


@pytest.fixture(autouse=True)
def _fast_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """bcrypt's lowest cost: the tests hash many passwords; the scheme is the same."""
    monkeypatch.setenv("READINESS_BCRYPT_ROUNDS", "4")
