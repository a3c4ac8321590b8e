"""Headline figures for pilots with little or no data: empty results say why, never raise."""

from __future__ import annotations

from pathlib import Path

from helpers import make_pilot, write

from analysis.summary import summary
from readiness import catalog, store
from readiness.ingest import load as ingest
from readiness.security.access import Actor


def _summary(db: Path, name: str = "pilot") -> dict:
    with store.open_store(db) as con:
        return summary(con, catalog.get_pilot(con, name))


def test_empty_pilot_has_no_figures_and_says_why(db: Path) -> None:
    make_pilot(db)
    figures = _summary(db)
    assert figures["usage"]["events"] is None and figures["feedback"]["count"] is None
    assert figures["exceptions"] == {"count": 0, "failure_modes": 0, "per_1k_events": None,
                                     "per_1k_events_interval": None, "per_session": None, "per_session_interval": None}
    assert figures["feedback"]["csat_interval"] is None and figures["intervals"]["methods"] == {}
    assert figures["data_as_of"] is None
    assert "usage" in figures["notes"] and "feedback" in figures["notes"] and "exceptions" in figures["notes"]


def test_pilot_with_only_exceptions(db: Path, tmp_path: Path) -> None:
    text = ("ts,message\n2026-07-06T09:00:00Z,Timeout after 3000 ms\n2026-07-06T10:00:00Z,Timeout after 4000 ms\n"
            "2026-07-07T09:00:00Z,disk full on /dev/sda1\n")
    (r,) = ingest.ingest_files(db, "pilot", "exceptions", [write(tmp_path / "e.csv", text)], actor=Actor("t", "admin", cli=True), create=True)
    assert r.rows_loaded == 3
    figures = _summary(db)
    assert figures["exceptions"]["count"] == 3 and figures["exceptions"]["failure_modes"] == 2
    assert figures["exceptions"]["per_1k_events"] is None  # no usage to divide by
    assert figures["usage"]["events"] is None and "usage" in figures["notes"]
    assert figures["feedback"]["count"] is None and "feedback" in figures["notes"]
    assert figures["data_as_of"].startswith("2026-07-07")
