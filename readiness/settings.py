"""Every knob of Readiness Review, named once with its default and help.

Values come from, in order: an explicit override (e.g. ``--db``), the environment
(``READINESS_<NAME>``), ``.streamlit/secrets.toml`` (section ``[readiness]``), the default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("db", str(PROJECT_ROOT / "data" / "readiness.duckdb"), "Path of the DuckDB store file."),
    Setting("lock_timeout_s", 15.0,
            "How long a command or page waits for another process to release the store before "
            "saying it is busy (seconds)."),
    Setting("max_upload_mb", 1024, "Largest file accepted for ingest (MB, as sent)."),
    Setting("max_decompressed_mb", 4096,
            "Largest decompressed size of a .gz file (MB); guards against gzip bombs."),
    Setting("preview_rows", 10, "Rows shown by an ingest preview."),
    Setting("demo_on_empty", True,
            "Load the demo pilot when the default store is empty (never for a store named by "
            "READINESS_DB or --db)."),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def _secrets() -> dict[str, Any]:
    path = PROJECT_ROOT / ".streamlit" / "secrets.toml"
    if not path.exists():
        return {}
    with path.open("rb") as f:
        return tomllib.load(f).get("readiness", {})


def get(name: str) -> Any:
    """Return the value of setting ``name``, converted to the type of its default."""
    setting = _BY_NAME[name]
    raw = os.environ.get(f"READINESS_{name.upper()}")
    if raw is None:
        raw = _secrets().get(name)
    if raw is None:
        return setting.default
    kind = type(setting.default)
    if kind is bool:
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    return kind(raw)


def db_path(override: str | os.PathLike | None = None) -> Path:
    """Return the store's path: ``override``, else ``READINESS_DB``, else the default under data/."""
    return Path(override) if override else Path(get("db"))


def is_default_db(path: Path) -> bool:
    """True when ``path`` is the bundled default store (where the demo may be loaded)."""
    return Path(path).resolve() == Path(_BY_NAME["db"].default).resolve()
