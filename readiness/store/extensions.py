"""DuckDB extensions loaded from installed Python packages, never downloaded.

The organisation deployment reaches PostgreSQL and a DuckLake lake through DuckDB's ``postgres``
and ``ducklake`` extensions (and object storage through ``httpfs``); both deployments read Excel
workbooks through ``excel``. The machines they run on reach no extension repository, so each
extension comes from its ``duckdb-extension-<name>`` package (requirements.txt, or
requirements-postgres.txt for httpfs), which installs the extension file for one DuckDB version under
``duckdb_extension_<name>/extensions/v<version>/<name>.duckdb_extension``. :func:`load_extensions`
finds those files for the running DuckDB and LOADs them; a missing one is a :class:`ExtensionMissing`
that says which requirements file to install.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

import duckdb

from readiness.store.transactions import Connection, StoreError, literal

REQUIREMENTS = "requirements-postgres.txt"
# The extensions every deployment may load come with requirements.txt.
_REQUIRED_BY = {"postgres": "requirements.txt", "ducklake": "requirements.txt", "excel": "requirements.txt"}

# DuckDB derives an extension's entry point from its file name; these packages ship the file under
# the extension's short name, which for these differs from the name the extension was built as.
_BUILT_AS = {"postgres": "postgres_scanner"}


class ExtensionMissing(StoreError):
    """A DuckDB extension the configured deployment needs is not installed for this DuckDB."""


def extension_file(name: str) -> Path:
    """The extension file that the package ``duckdb-extension-<name>`` installed for the running
    DuckDB. Raises :class:`ExtensionMissing` when the package or that version's file is absent."""
    version = duckdb.__version__
    hint = (f"Install the extension packages with `pip install -r {_REQUIRED_BY.get(name, REQUIREMENTS)}`; they are built for "
            f"one DuckDB version each, so DuckDB must be the version they name.")
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionMissing(f"The DuckDB extension '{name}' is not installed "
                               f"(no package duckdb-extension-{name}).", hint)
    folders = [Path(p) / "extensions" for p in spec.submodule_search_locations]
    for folder in folders:
        candidate = folder / f"v{version}" / f"{name}.duckdb_extension"
        if candidate.is_file():
            return candidate
    found = sorted({p.name.removeprefix("v") for f in folders if f.is_dir() for p in f.iterdir()})
    raise ExtensionMissing(
        f"The DuckDB extension '{name}' is installed for DuckDB {', '.join(found) or 'no version'}, "
        f"but this is DuckDB {version}.", hint)


def load_extensions(con: Connection, *names: str) -> None:
    """LOAD each named extension (``postgres``, ``ducklake``, ``httpfs`` …) into ``con``'s DuckDB
    instance from its installed package; one already loaded is left as it is.

    Call it before file access is restricted (LOAD reads a file outside the data folders). Every
    file is found before any is loaded, so a missing one changes nothing.
    """
    if not con.execute("SELECT current_setting('enable_external_access')").fetchone()[0]:
        raise RuntimeError("DuckDB extensions are loaded before file access is restricted "
                           "(restrict_file_access), not after.")
    files = {name: extension_file(name) for name in names if not _loaded(con, _BUILT_AS.get(name, name))}
    for name, file in files.items():
        built_as = _BUILT_AS.get(name, name)
        if built_as == name:
            _load(con, file)
            continue
        # LOAD the file under the name it was built as, through a link in a private folder that
        # goes again once the library is loaded (the process keeps it mapped).
        folder = Path(tempfile.mkdtemp(prefix="readiness-ext-"))
        try:
            link = folder / f"{built_as}.duckdb_extension"
            link.symlink_to(file)
            _load(con, link)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _loaded(con: Connection, built_as: str) -> bool:
    row = con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = ?", [built_as]).fetchone()
    return bool(row and row[0])


def _load(con: Connection, file: Path) -> None:
    try:
        con.execute(f"LOAD {literal(str(file))}")
    except duckdb.Error as err:
        name = file.name.split(".")[0]
        raise ExtensionMissing(f"The DuckDB extension {file.name} could not be loaded: {err}",
                               f"Reinstall the packages in {_REQUIRED_BY.get(name, REQUIREMENTS)} for DuckDB "
                               f"{duckdb.__version__}.") from err
