"""Every knob of Readiness Review, named once with its default and help.

Values come from, in order: an explicit override (e.g. ``--db``), the environment
(``READINESS_<NAME>``), ``.streamlit/secrets.toml`` (section ``[readiness]``), the default.
"""

from __future__ import annotations

import functools
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from readiness.errors import ReadinessError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("db", str(PROJECT_ROOT / "data" / "readiness.duckdb"), "Path of the DuckDB store file."),
    Setting("database_url", "",
            "The organisation deployment: a PostgreSQL connection string (postgresql://user@host/db or "
            "libpq's key=value form) for the review records; with lake_data_path. Empty: the embedded "
            "store file (db)."),
    Setting("lake_data_path", "",
            "The organisation deployment: the folder (a file system every replica mounts) holding the "
            "telemetry's Parquet files, the audit head and uploads. Required with database_url."),
    Setting("lock_timeout_s", 15.0,
            "How long a command or page waits for another process to release the store before "
            "saying it is busy (seconds)."),
    Setting("max_upload_mb", 1024, "Largest file accepted for ingest (MB, as sent)."),
    Setting("max_decompressed_mb", 4096,
            "Largest decompressed size of a compressed file (.gz, .bz2, .xz, .zst, .zip) in MB; guards against decompression bombs."),
    Setting("preview_rows", 10, "Rows shown by an ingest preview."),
    Setting("secrets_file", "",
            "TOML file (mode 0600) holding the secrets every app replica must share: cookie_secret "
            "(Streamlit's server.cookieSecret), cookie_key and audit_key, each at least 32 characters. "
            "Empty: none (one server: keys are generated beside the store)."),
    Setting("audit_key_file", "",
            "File holding the audit log's HMAC key (created with mode 0600 on first use) when the "
            "secrets file holds none. Empty: beside the store, <store>.audit-key."),
    Setting("audit_head_file", "",
            "File where the newest audit sequence number and hash are written after each audited "
            "write, so that cutting off the newest records is detected. Empty: <store>.audit-head."),
    Setting("cookie_key", "",
            "Secret that signs the login cookie (at least 32 characters), when the secrets file holds "
            "none. Empty: a random key generated on first run and kept in cookie_key_file (mode 0600). "
            "Never a literal default."),
    Setting("cookie_key_file", "",
            "File holding the generated cookie key when cookie_key is empty. Empty: <store>.cookie-key."),
    Setting("cookie_name", "readiness_auth", "Name of the login cookie."),
    Setting("session_idle_minutes", 30.0,
            "A login session ends after this many minutes without a page interaction."),
    Setting("session_max_hours", 12.0,
            "A login session ends this many hours after the login, however active."),
    Setting("login_max_failures", 5,
            "Failed logins allowed per user name (and per client address) before a back-off."),
    Setting("login_backoff_s", 30.0,
            "First back-off after too many failed logins (seconds); doubles with each further failure."),
    Setting("login_window_minutes", 15.0,
            "Failed logins older than this no longer count towards the throttle."),
    Setting("min_password_length", 12, "Shortest password accepted for any account."),
    Setting("bcrypt_rounds", 12, "bcrypt cost of new password hashes (the tests lower it to run fast)."),
    Setting("admin_password", "",
            "Password for the first 'admin' account. Empty: a random one, printed once in the "
            "terminal on first run."),
    Setting("upload_dir", "",
            "Private folder (mode 0700) where uploaded files wait, under generated names, until they "
            "are ingested, and where ingest decompresses. Empty: an 'uploads' folder beside the store."),
    Setting("feed_root", "",
            "The one folder (set by an admin) from which the app may read log feeds; empty: none."),
    Setting("max_exceptions_per_1k", 5.0,
            "The error-handling condition and the suggested outcome: more than 5 exceptions per 1,000 "
            "usage events is not ready to run unattended."),
    Setting("confidence_level", 0.95,
            "Level of the intervals shown beside every rate and mean, and on which a criterion is met, not met "
            "or undecided (analysis/intervals.py). A pilot is small: its figures move with a few more answers."),
    Setting("page_times_log", "",
            "File to which the app appends one tab-separated line per run of a page: UTC time, page, "
            "seconds the server spent running it, and how the run ended (ok, or the Streamlit "
            "exception that ended it: a rerun, a stop, a page switch). Empty: none. For capacity "
            "planning; bench/load.py reads it to split a page view's time between server and browser."),
    Setting("demo_on_empty", True,
            "Load the demo pilot when the default store is empty (never for a store named by "
            "READINESS_DB or --db)."),
    # Risk signals (readiness/review/signals.py): a signal fires past its threshold and is "high" at twice
    # the threshold, or halfway from the threshold to 100% when that comes sooner (see signals.py).
    Setting("signal_min_count", 10,
            "Fewer rows than this (ratings, sessions, failures) are anecdotes: no share-based signal fires on them."),
    Setting("signal_personal_data_share", 0.0,
            "Personal data in a log needs a lawful basis and a retention rule: any share above this fires."),
    Setting("signal_personal_data_high_share", 0.01,
            "When 1 in 100 rows carry personal data it is a logging habit, not a slip: high."),
    Setting("signal_data_error_share", 0.05,
            "More than 1 in 20 exceptions from unparseable or unexpected input means the data flow is not reliable."),
    Setting("signal_session_exception_share", 0.05,
            "More than 1 in 20 sessions hitting an error is felt by users."),
    Setting("signal_mode_user_share", 0.25,
            "One failure hitting more than 1 in 4 users is felt across the pilot, not by a few."),
    Setting("signal_rising_share", 0.05,
            "Rising failure modes making more than 1 in 20 exceptions will soon be felt (smaller ones: low)."),
    Setting("signal_csat_min", 0.7,
            "Fewer than 7 in 10 ratings at 4-5 stars: users are not satisfied enough to rely on it."),
    Setting("signal_negative_share", 0.2,
            "More than 1 in 5 written comments negative is a pattern, not a few bad days."),
    Setting("signal_task_failure_rate", 0.1,
            "More than 1 in 10 attempts failing is not good enough to run in operations."),
    Setting("signal_anonymous_usage_share", 0.01,
            "Usage that cannot be tied to a signed-in user cannot be audited or supported."),
    Setting("signal_top_user_share", 0.3,
            "When the top 10% of users make more than 30% of the use, the evidence rests on a few enthusiasts."),
    Setting("signal_team_share", 0.6,
            "When one team makes more than 60% of the use, the capability depends on how that team works."),
    Setting("signal_dependency_share", 0.5,
            "When one host causes half of the timeouts and connection errors, its outages are the pilot's outages."),
    Setting("signal_off_hours_share", 0.1,
            "More than 1 in 10 failures outside working hours happen when nobody is on duty to notice."),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def _secrets() -> dict[str, Any]:
    """The ``[readiness]`` section of ``.streamlit/secrets.toml``, parsed again only when the file
    changes (settings are read many times in every rerun of every page)."""
    path = PROJECT_ROOT / ".streamlit" / "secrets.toml"
    try:
        return _parsed_secrets(path, path.stat().st_mtime_ns)
    except FileNotFoundError:
        return {}


@functools.lru_cache(maxsize=1)
def _parsed_secrets(path: Path, _mtime_ns: int) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f).get("readiness", {})


def get(name: str) -> Any:
    """Return the value of setting ``name``, converted to the type of its default."""
    setting = _BY_NAME[name]
    raw = given(name)
    if raw is None:
        return setting.default
    kind = type(setting.default)
    if kind is bool:
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    return kind(raw)


def given(name: str) -> str | None:
    """The raw value of setting ``name`` where one is given (the environment, then
    ``.streamlit/secrets.toml``), even an empty one; None when it is left at its default."""
    raw = os.environ.get(f"READINESS_{name.upper()}")
    if raw is None:
        raw = _secrets().get(name)
    return None if raw is None else str(raw)


def db_path(override: str | os.PathLike | None = None) -> Path:
    """Return the store's path: ``override``, else the organisation store's name when
    ``database_url`` is set (see :func:`organisation_store`), else ``READINESS_DB``, else the
    default under data/."""
    if override:
        return Path(override)
    return organisation_store() or Path(get("db"))


ORGANISATION_NAME = "readiness"


def organisation_store() -> Path | None:
    """The name that stands for the organisation deployment's store when ``database_url`` is set:
    ``<lake_data_path>/readiness``. Files kept beside a store (the Parquet parts, the audit head,
    the key files) are kept beside this name, in the lake folder every replica shares."""
    if not get("database_url"):
        return None
    lake = get("lake_data_path")
    if not lake:
        raise ReadinessError("READINESS_DATABASE_URL is set but READINESS_LAKE_DATA_PATH is not.",
                             "Set READINESS_LAKE_DATA_PATH to the folder (shared by every replica) that holds "
                             "the telemetry's files.")
    return Path(lake).resolve() / ORGANISATION_NAME


def sidecar(db: str | os.PathLike | None, setting: str, suffix: str) -> Path:
    """Path of a file kept outside the store: the setting when given, else ``<store><suffix>``."""
    value = get(setting)
    return Path(value) if value else Path(f"{db_path(db)}{suffix}")


def upload_dir(db: str | os.PathLike | None = None) -> Path:
    """The private upload / work folder (created with mode 0700)."""
    value = get("upload_dir")
    path = Path(value) if value else db_path(db).parent / "uploads"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def is_default_db(path: Path) -> bool:
    """True when ``path`` is the bundled default store (where the demo may be loaded)."""
    return Path(path).resolve() == Path(_BY_NAME["db"].default).resolve()
