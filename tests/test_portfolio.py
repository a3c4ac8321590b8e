"""Portfolio for many pilots: names in natural order, filters that narrow the grid and live in the
address bar, and "Need attention" as counts per kind that filter the grid."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from helpers import page_file
from streamlit.testing.v1 import AppTest

from readiness import pilots, store
from readiness.catalog import get_pilot
from readiness.review import decisions, portfolio
from readiness.review.portfolio import PortfolioFilter
from readiness.security.access import Actor, cli_actor

OP = cli_actor()


def _row(name: str, **kw) -> dict:
    return {"pilot": name, "owner": None, "risk_tier": "medium", "decision": "in review", "next_review": None,
            "overdue": False, "open_high_risks": 0, "untriaged_high": 0, "flags": "", "data_as_of": None} | kw


def test_names_sort_as_people_write_them() -> None:
    names = ["Pilot 10", "pilot 2", "Pilot 1", "Alpha", "Pilot 11", "Pilot 2b"]
    assert sorted(names, key=portfolio.natural_key) == ["Alpha", "Pilot 1", "pilot 2", "Pilot 2b", "Pilot 10", "Pilot 11"]


def test_filters_narrow_and_sort_with_empty_values_last() -> None:
    rows = [_row("Pilot 10", owner="Ann", next_review=date(2026, 1, 5), overdue=True),
            _row("Pilot 2", owner="Bob", open_high_risks=2),
            _row("Pilot 1", owner="Ann", next_review=date(2026, 3, 1), flags="waiver expired"),
            _row("Other", risk_tier="high")]
    names = lambda flt: [r["pilot"] for r in portfolio.narrowed(rows, flt)]  # noqa: E731
    assert names(PortfolioFilter()) == ["Other", "Pilot 1", "Pilot 2", "Pilot 10"]
    assert names(PortfolioFilter(owners=("Ann",))) == ["Pilot 1", "Pilot 10"]
    assert names(PortfolioFilter(search="pilot 1")) == ["Pilot 1", "Pilot 10"]
    assert names(PortfolioFilter(needs="overdue")) == ["Pilot 10"]
    assert names(PortfolioFilter(needs="any")) == ["Pilot 1", "Pilot 2", "Pilot 10"]
    assert names(PortfolioFilter(tiers=("high",))) == ["Other"]
    assert names(PortfolioFilter(sort="next_review")) == ["Pilot 10", "Pilot 1", "Other", "Pilot 2"]
    assert names(PortfolioFilter(sort="next_review", descending=True))[:2] == ["Pilot 1", "Pilot 10"]
    assert portfolio.attention_counts(rows) == {"overdue": 1, "open_high": 1, "untriaged": 0, "between": 1}


def test_a_filter_round_trips_through_the_address_bar_and_drops_what_it_does_not_know() -> None:
    flt = PortfolioFilter(search="inv", owners=("Ann", "Bob"), tiers=("high",), needs="overdue", sort="owner",
                          descending=True)
    assert PortfolioFilter.from_query(flt.to_query()) == flt
    odd = PortfolioFilter.from_query({"tier": ["urgent"], "needs": "everything", "sort": "'; DROP"})
    assert odd == PortfolioFilter()


@pytest.fixture(scope="module")
def many_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sixty pilots: three owners, one in five with a review overdue."""
    db = tmp_path_factory.mktemp("portfolio") / "store.duckdb"
    os.environ["READINESS_BCRYPT_ROUNDS"] = "4"
    with store.open_store(db) as con:
        for i in range(1, 61):
            with store.transaction(con):
                pilots.create_pilot(con, f"Pilot {i}", OP, owner=["Ann", "Bob", "Cy"][i % 3])
            if i % 5 == 0:
                decisions.record_decision(con, OP, get_pilot(con, f"Pilot {i}"), outcome="harden",
                                          rationale="More hardening", owner="Ann", next_review=date(2026, 2, 1),
                                          today=date(2026, 1, 1))
    return db


def _portfolio(db: Path, **params) -> AppTest:
    os.environ["READINESS_DB"] = str(db)
    at = AppTest.from_file(page_file("pilots"), default_timeout=120)
    at.session_state["_rr_actor"] = Actor("cli:test", "admin", cli=True)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def test_sixty_pilots_filter_by_owner_overdue_and_name_and_keep_it_in_the_address(many_db: Path) -> None:
    at = _portfolio(many_db)
    assert not at.exception
    grid = at.dataframe[0].value
    assert list(grid["pilot"][:3]) == ["Pilot 1", "Pilot 2", "Pilot 3"] and len(grid) == 60
    needs = next(w for w in at.get("button_group") if getattr(w, "key", None) == "_pf_needs")
    assert "Review overdue · 12" in list(needs.options)
    needs.set_value("overdue").run()
    assert list(at.dataframe[0].value["pilot"]) == [f"Pilot {i}" for i in range(5, 61, 5)]
    at.multiselect(key="_pf_owner").select("Bob").run()
    assert list(at.dataframe[0].value["pilot"]) == ["Pilot 10", "Pilot 25", "Pilot 40", "Pilot 55"]
    assert at.query_params["needs"] in ("overdue", ["overdue"]) and at.query_params["owner"] in ("Bob", ["Bob"])
    at.text_input(key="_pf_q").input("pilot 4").run()
    assert list(at.dataframe[0].value["pilot"]) == ["Pilot 40"]
    # the link reopens the same view
    again = _portfolio(many_db, q="pilot 4", owner="Bob", needs="overdue")
    assert list(again.dataframe[0].value["pilot"]) == ["Pilot 40"]
    # sorted by next review: the pilots with one first, the others after in natural order; kept in the link
    by_date = _portfolio(many_db, owner="Bob")
    by_date.selectbox(key="_pf_sort").select("next_review").run()
    assert by_date.query_params["sort"] in ("next_review", ["next_review"])
    assert list(by_date.dataframe[0].value["pilot"])[:6] == ["Pilot 10", "Pilot 25", "Pilot 40", "Pilot 55",
                                                             "Pilot 1", "Pilot 4"]
    reopened = _portfolio(many_db, owner="Bob", sort="next_review")
    assert list(reopened.dataframe[0].value["pilot"]) == list(by_date.dataframe[0].value["pilot"])
