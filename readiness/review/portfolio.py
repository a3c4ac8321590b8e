"""Portfolio for many pilots: the filters a lead narrows it with, the kinds of attention a pilot
needs, and an order that reads names as people write them ("Pilot 2" before "Pilot 10").

Plain functions over the rows of :func:`readiness.review.between.portfolio` (one per pilot), so the
page only draws. A filter round-trips through the address bar (:meth:`PortfolioFilter.to_query`,
:meth:`PortfolioFilter.from_query`): a link reopens the same view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

# Each kind of attention: what the count and the filter are called.
ATTENTION = {
    "overdue": "Review overdue",
    "open_high": "Open high risks",
    "untriaged": "High signals to triage",
    "between": "Flags between reviews",
}
SORTS = {
    "pilot": "Pilot",
    "next_review": "Next review",
    "open_high_risks": "Open high risks",
    "untriaged_high": "High signals to triage",
    "risk_tier": "Risk tier",
    "decision": "Decision",
    "owner": "Owner",
    "data_as_of": "Data as of",
}
_TIER_ORDER = {"high": 0, "medium": 1, "low": 2}
QUERY_KEYS = ("q", "owner", "tier", "decision", "needs", "sort", "desc")  # the address bar's keys of a view


def natural_key(text: Any) -> tuple:
    """Sort key reading runs of digits as numbers and ignoring case: Pilot 2 < Pilot 10 < pilot 11."""
    parts = re.split(r"(\d+)", str(text or "").casefold())
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p != "")


def attention(row: dict[str, Any]) -> list[str]:
    """The kinds of attention a portfolio row needs (keys of :data:`ATTENTION`), in that order."""
    kinds = []
    if row.get("overdue"):
        kinds.append("overdue")
    if row.get("open_high_risks"):
        kinds.append("open_high")
    if row.get("untriaged_high"):
        kinds.append("untriaged")
    if row.get("flags"):
        kinds.append("between")
    return kinds


def attention_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many pilots need each kind of attention (every kind listed, zeros included)."""
    counts = dict.fromkeys(ATTENTION, 0)
    for row in rows:
        for kind in attention(row):
            counts[kind] += 1
    return counts


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if v]


@dataclass(frozen=True)
class PortfolioFilter:
    """What a lead narrowed the portfolio to. Empty fields filter nothing."""

    search: str = ""
    owners: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()
    needs: str | None = None          # a key of ATTENTION, or "any"
    sort: str = "pilot"
    descending: bool = False
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def matches(self, row: dict[str, Any]) -> bool:
        if self.search and self.search.casefold() not in str(row.get("pilot", "")).casefold():
            return False
        if self.owners and (row.get("owner") or "—") not in self.owners:
            return False
        if self.tiers and row.get("risk_tier") not in self.tiers:
            return False
        if self.decisions and row.get("decision") not in self.decisions:
            return False
        kinds = attention(row)
        if self.needs == "any":
            return bool(kinds)
        return self.needs is None or self.needs in kinds

    def to_query(self) -> dict[str, Any]:
        """The filter as query parameters (lists for the multi-choice ones); defaults left out."""
        params: dict[str, Any] = {}
        if self.search:
            params["q"] = self.search
        if self.owners:
            params["owner"] = list(self.owners)
        if self.tiers:
            params["tier"] = list(self.tiers)
        if self.decisions:
            params["decision"] = list(self.decisions)
        if self.needs:
            params["needs"] = self.needs
        if self.sort != "pilot":
            params["sort"] = self.sort
        if self.descending:
            params["desc"] = "1"
        return params

    @classmethod
    def from_query(cls, params: dict[str, Any]) -> PortfolioFilter:
        """A filter from query parameters; unknown values are dropped, not trusted."""
        needs = params.get("needs")
        sort = params.get("sort")
        return cls(search=str(params.get("q") or "")[:200], owners=tuple(_list(params.get("owner"))),
                   tiers=tuple(t for t in _list(params.get("tier")) if t in _TIER_ORDER),
                   decisions=tuple(_list(params.get("decision"))),
                   needs=needs if needs in ATTENTION or needs == "any" else None,
                   sort=sort if sort in SORTS else "pilot", descending=params.get("desc") == "1")


def _sort_value(row: dict[str, Any], column: str) -> tuple:
    value = row.get(column)
    if column == "pilot" or column in ("owner", "decision"):
        return (value is None, natural_key(value))
    if column == "risk_tier":
        return (value is None, _TIER_ORDER.get(value, 3))
    if column in ("next_review", "data_as_of"):
        return (value is None, value or date.min)
    return (value is None, value or 0)


def narrowed(rows: list[dict[str, Any]], flt: PortfolioFilter) -> list[dict[str, Any]]:
    """The rows the filter keeps, in its order (names in natural order within equal values). Empty
    values sort last either way."""
    kept = sorted((r for r in rows if flt.matches(r)), key=lambda r: natural_key(r.get("pilot")))
    if flt.sort == "pilot":
        return sorted(kept, key=lambda r: natural_key(r.get("pilot")), reverse=flt.descending)
    present = [r for r in kept if r.get(flt.sort) is not None]
    missing = [r for r in kept if r.get(flt.sort) is None]
    return sorted(present, key=lambda r: _sort_value(r, flt.sort), reverse=flt.descending) + missing


def choices(rows: list[dict[str, Any]], column: str) -> list[str]:
    """The distinct values of ``column`` in natural order ("—" for a pilot with none)."""
    return sorted({r.get(column) or "—" for r in rows}, key=natural_key)
