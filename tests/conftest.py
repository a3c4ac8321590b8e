"""Fixtures for the library tests; helper functions live in helpers.py (tests/e2e has its own conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Path of a fresh store file in a temp folder (created with its schema on first open)."""
    return tmp_path / "store.duckdb"
