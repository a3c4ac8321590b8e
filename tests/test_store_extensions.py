"""DuckDB extensions come from installed packages (requirements-postgres.txt), never a download."""

from __future__ import annotations

import importlib.util

import pytest

from readiness import store
from readiness.errors import ReadinessError
from readiness.store.extensions import ExtensionMissing, extension_file, load_extensions

WHEELS = ("postgres", "ducklake", "httpfs")


def _installed_for_this_duckdb(name: str) -> bool:
    try:
        extension_file(name)
    except ExtensionMissing:
        return False
    return True


needs_wheels = pytest.mark.skipif(
    not all(_installed_for_this_duckdb(n) for n in WHEELS),
    reason=f"the duckdb-extension-* packages of requirements-postgres.txt are not installed for DuckDB "
           f"{store.ENGINE_VERSION} (they are built for 1.5.5)")


def _loaded(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}


@needs_wheels
def test_the_installed_extensions_load_offline_and_work():
    con = store.scratch()
    try:
        con.execute("SET autoinstall_known_extensions = false")  # nothing may come from a repository
        load_extensions(con, *WHEELS)
        assert {"postgres_scanner", "ducklake", "httpfs"} <= _loaded(con)
        load_extensions(con, *WHEELS)  # loading again is harmless
        functions = {r[0] for r in con.execute("SELECT function_name FROM duckdb_functions()").fetchall()}
        assert {"postgres_query", "ducklake_snapshots"} <= functions
    finally:
        con.close()


@needs_wheels
def test_a_ducklake_in_a_folder_takes_a_table(tmp_path):
    con = store.scratch()
    try:
        load_extensions(con, "ducklake")
        con.execute(f"ATTACH 'ducklake:{tmp_path / 'catalog.ducklake'}' AS lake (DATA_PATH '{tmp_path / 'files'}')")
        con.execute("CREATE TABLE lake.t AS SELECT range AS n FROM range(1000)")
        assert con.execute("SELECT count(*), sum(n) FROM lake.t").fetchone() == (1000, 499500)
        assert any((tmp_path / "files").rglob("*.parquet"))
    finally:
        con.close()


def test_a_missing_extension_package_says_which_requirements_to_install():
    assert importlib.util.find_spec("duckdb_extension_nosuchthing") is None
    con = store.scratch()
    try:
        with pytest.raises(ReadinessError) as err:
            load_extensions(con, "nosuchthing")
        if _installed_for_this_duckdb("ducklake"):  # all are found before any is loaded
            with pytest.raises(ExtensionMissing):
                load_extensions(con, "ducklake", "nosuchthing")
            assert "ducklake" not in _loaded(con)
    finally:
        con.close()
    text = str(err.value)
    assert "'nosuchthing' is not installed" in text and "requirements-postgres.txt" in text


@pytest.mark.skipif(_installed_for_this_duckdb("postgres"), reason="the postgres extension package is installed here")
def test_without_the_packages_the_postgres_extension_is_missing_with_a_hint():
    con = store.scratch()
    try:
        with pytest.raises(ExtensionMissing, match=r"requirements\.txt"):
            load_extensions(con, "postgres")
        assert "postgres_scanner" not in _loaded(con)
    finally:
        con.close()


def test_loading_after_file_access_is_restricted_is_a_bug_said_plainly():
    con = store.scratch()
    try:
        con.execute("SET enable_external_access = false")
        with pytest.raises(RuntimeError, match="before file access is restricted"):
            load_extensions(con, "ducklake")
    finally:
        con.close()
