"""Tests for the seeded demo-pilot generator (readiness.demo_data)."""
from __future__ import annotations

import gzip
import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # allow running without an installed package

from readiness.demo_data import DEMO_PILOT, write_demo_files  # noqa: E402

USAGE_COLUMNS = ["time", "user", "session_id", "event", "feature", "duration_ms", "outcome", "team", "client_version"]
FEEDBACK_COLUMNS = ["created_at", "user_email", "stars", "nps", "comment", "channel", "category"]
EXCEPTION_COLUMNS = ["@timestamp", "uid", "session_id", "error_type", "error_message", "stack_trace", "level",
                     "component", "host"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    files = write_demo_files(tmp_path_factory.mktemp("demo"))
    return {kind: paths[0] for kind, paths in files.items()}


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def _src(kind: str, path: Path) -> str:
    reader = {"usage": "read_csv", "feedback": "read_json", "exceptions": "read_parquet"}[kind]
    return f"{reader}('{path.as_posix()}')"


def test_returned_paths(demo: dict[str, Path]) -> None:
    assert demo["usage"].name == "usage.csv.gz"
    assert demo["feedback"].name == "feedback.jsonl"
    assert demo["exceptions"].name == "exceptions.parquet"
    assert all(p.is_file() for p in demo.values())


def test_deterministic(tmp_path: Path, demo: dict[str, Path]) -> None:
    again = write_demo_files(tmp_path / "again")
    for kind, path in demo.items():
        assert again[kind][0].read_bytes() == path.read_bytes(), kind


def test_row_counts(demo: dict[str, Path], con: duckdb.DuckDBPyConnection) -> None:
    bounds = {"usage": (140_000, 160_000), "feedback": (1_400, 1_600), "exceptions": (13_000, 17_000)}
    for kind, (lo, hi) in bounds.items():
        (n,), = con.execute(f"SELECT count(*) FROM {_src(kind, demo[kind])}").fetchall()
        assert lo <= n <= hi, (kind, n)


def test_column_names(demo: dict[str, Path], con: duckdb.DuckDBPyConnection) -> None:
    expected = {"usage": USAGE_COLUMNS, "feedback": FEEDBACK_COLUMNS, "exceptions": EXCEPTION_COLUMNS}
    for kind, cols in expected.items():
        described = con.execute(f"DESCRIBE SELECT * FROM {_src(kind, demo[kind])}").fetchall()
        assert [row[0] for row in described] == cols, kind
    header = gzip.open(demo["usage"], "rt").readline().strip()
    assert header == ",".join(USAGE_COLUMNS)


def test_exception_timestamp_is_utc(demo: dict[str, Path]) -> None:
    import pyarrow.parquet as pq

    field = pq.read_schema(demo["exceptions"]).field("@timestamp")
    assert str(field.type.tz) == "UTC"


def test_bulk_approve_not_kept(demo: dict[str, Path], con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(f"""
        SELECT feature,
               count(DISTINCT "user") FILTER (WHERE time >= TIMESTAMP '2026-08-10') / count(DISTINCT "user")
        FROM {_src('usage', demo['usage'])}
        WHERE feature IN ('bulk-approve', 'auto-triage')
        GROUP BY feature""").fetchall()
    share = dict(rows)
    assert share["auto-triage"] > 0.7
    assert share["bulk-approve"] < 0.5 * share["auto-triage"]


def test_exception_leaks_email(demo: dict[str, Path], con: duckdb.DuckDBPyConnection) -> None:
    (n,), = con.execute(f"""
        SELECT count(*) FROM {_src('exceptions', demo['exceptions'])}
        WHERE regexp_matches(error_message, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]+')""").fetchall()
    assert n >= 1


def test_feedback_shape(demo: dict[str, Path], con: duckdb.DuckDBPyConnection) -> None:
    (mean, null_nps, lo, hi), = con.execute(f"""
        SELECT avg(stars), avg((nps IS NULL)::INT), min(stars), max(stars)
        FROM {_src('feedback', demo['feedback'])}""").fetchall()
    assert 3.3 <= mean <= 3.9 and 1 <= lo and hi <= 5
    assert 0.2 <= null_nps <= 0.4
    assert not demo["feedback"].read_text(encoding="utf-8").endswith("\n\n")


def test_pilot_profile() -> None:
    assert DEMO_PILOT["name"] == "Invoice triage assistant"
    assert DEMO_PILOT["risk_tier"] == "medium" and DEMO_PILOT["time_zone"] == "Europe/London"
    for key in ("capability", "sponsor", "owner", "start_date", "end_date", "work_days", "work_start", "work_end",
                "validated_by", "validated_on", "validation_method", "validation_result"):
        assert DEMO_PILOT[key]
