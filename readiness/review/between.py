"""Between reviews: what changed since the current decision, and what needs attention.

* :func:`diff` — headline figures, risks and conditions now against the evidence frozen with the
  current decision (and that decision against the previous review's).
* :func:`flags` — an overdue next review, an expired waiver, an overdue risk, usage falling since
  the decision, and drift: a computed condition that held at decision time and no longer does on
  the data loaded since.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from readiness.catalog import Pilot, get_pilot
from readiness.pilots import list_pilots
from readiness.review import conditions, decisions, reviews, risks
from readiness.security.access import Actor, require
from readiness.store import Connection

USAGE_FALL = -0.3  # daily events since the decision at least 30% below the rate before it


@dataclass(frozen=True)
class Flag:
    key: str
    severity: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FIGURES = (("usage", "events"), ("usage", "users"), ("usage", "sessions"), ("usage", "dau_mean"),
           ("feedback", "count"), ("feedback", "csat"), ("feedback", "nps"), ("exceptions", "count"),
           ("exceptions", "failure_modes"), ("exceptions", "per_1k_events"))


FIGURE_LABELS = {"usage.events": "Usage events", "usage.users": "Users", "usage.sessions": "Sessions",
                 "usage.dau_mean": "Mean daily users", "feedback.count": "Feedback entries", "feedback.csat": "CSAT",
                 "feedback.nps": "NPS", "exceptions.count": "Exceptions", "exceptions.failure_modes": "Failure modes",
                 "exceptions.per_1k_events": "Exceptions per 1,000 events"}


def diff(con: Connection, actor: Actor, pilot: Pilot, against: str = "current",
         figures: dict[str, Any] | None = None, conds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """{"figures": [{figure, at_decision, now, change}], "risks": {...}, "conditions": [...]}; empty without a decision.

    ``against`` names the decision whose frozen evidence "now" is compared with: ``"current"``, the
    pilot's current decision; ``"previous"``, the decision the current review started from (the
    previous review's outcome, i.e. this review's requirements). ``figures``: the headline figures
    now (analysis.summary.summary), and ``conds`` the current review's conditions
    (conditions.list_conditions), when the caller has them cached.
    """
    require(con, actor, "read_pilot", pilot.pilot_id)
    if against == "previous":
        review = reviews.current_review(con, pilot)
        current = reviews.get_decision(con, pilot, review["previous_decision_id"]) if review else None
    elif against == "current":
        current = reviews.current_decision(con, pilot)
    else:
        raise ValueError(f"against is 'current' or 'previous', not {against!r}")
    if current is None:
        return {"figures": [], "risks": {}, "conditions": [], "decision": None}
    then = json.loads(current["snapshot"])
    now = {"figures": figures} if figures is not None else decisions.snapshot(con, pilot)
    conds = conditions.list_conditions(con, actor, pilot) if conds is None else conds
    figures = []
    for section, name in FIGURES:
        a, b = then["figures"][section].get(name), now["figures"][section].get(name)
        change = (b - a) if isinstance(a, int | float) and isinstance(b, int | float) else None
        figures.append({"figure": f"{section}.{name}", "at_decision": a, "now": b, "change": change})
    cond_then = {c["area"]: c["status"] for c in json.loads(current["conditions"] or "[]")}
    cond_now = {c["area"]: c["status"] for c in conds}
    return {
        "decision": {"decision_id": current["decision_id"], "outcome": current["outcome"],
                     "decided_at": current["decided_at"], "review_number": current["review_number"],
                     "next_review": current["next_review"], "owner": current["owner"]},
        "figures": figures,
        "risks": {"open_high_at_decision": then.get("open_high_risks"), "open_high_now": risks.open_high(con, pilot.pilot_id)},
        "conditions": [{"area": a, "at_decision": cond_then.get(a), "now": cond_now.get(a)}
                       for a in sorted(set(cond_then) | set(cond_now)) if cond_then.get(a) != cond_now.get(a)],
    }


def flags(con: Connection, actor: Actor, pilot: Pilot, today: date | None = None,
          conds: list[dict[str, Any]] | None = None) -> list[Flag]:
    """What needs attention between reviews (none when nothing is wrong); ``conds`` the pilot's
    conditions as judged on ``today`` (conditions.list_conditions), when the caller has them."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    today = today or datetime.now(UTC).date()
    conds = conditions.list_conditions(con, actor, pilot, today) if conds is None else conds
    out: list[Flag] = []
    current = reviews.current_decision(con, pilot)
    if current and current["next_review"] and current["next_review"] < today:
        out.append(Flag("next_review_overdue", "high",
                        f"The next review was due on {current['next_review']} ({(today - current['next_review']).days} days ago)."))
    for c in conds:
        if c.get("live_value", "") and str(c["live_value"]).startswith("waiver expired"):
            out.append(Flag("waiver_expired", "medium", f"The waiver of '{c['title']}' {c['live_value']}."))
    for r in risks.list_risks(con, actor, pilot, include_dismissed=False, today=today):
        if r["overdue"]:
            out.append(Flag("risk_overdue", "medium", f"Risk {r['risk_id']} ({r['title']}) was due on {r['due']} and is still open."))
    if current:
        out += _usage_falling(con, pilot, current)
        out += _drift(current, conds)
    return out


def _usage_falling(con, pilot: Pilot, decision: dict[str, Any]) -> list[Flag]:
    at = decision["decided_at"]
    row = con.execute(
        """SELECT count(*) FILTER (WHERE ts < ?), count(*) FILTER (WHERE ts >= ?),
                  min(ts), max(ts) FROM usage_events WHERE pilot_id = ?""", [at, at, pilot.pilot_id]).fetchone()
    before, after, first, last = row
    if not before or not after or last <= at:
        return []
    days_before = max((at - first).total_seconds() / 86400, 1.0)
    days_after = max((last - at).total_seconds() / 86400, 1.0)
    change = (after / days_after) / (before / days_before) - 1
    if change <= USAGE_FALL:
        return [Flag("usage_falling", "medium",
                     f"Usage since the decision is {abs(change):.0%} lower per day than before it.")]
    return []


def _drift(decision: dict[str, Any], conds: list[dict[str, Any]]) -> list[Flag]:
    then = {c["area"]: c for c in json.loads(decision["conditions"] or "[]")}
    out = []
    for c in conds:
        old = then.get(c["area"])
        was, now = old.get("status") if old else None, c["status"]
        if not c["computed"] or (was, now) not in (("met", "not met"), ("met", "undecided"), ("undecided", "not met")):
            continue
        held = "held at the decision" if was == "met" else "was not yet settled at the decision"
        since = "now fails" if now == "not met" else "no longer clearly holds"
        out.append(Flag("drift", "high", f"'{c['title']}' {held} and {since}: {c['live_value']}."))
    return out


def portfolio(con: Connection, actor: Actor, today: date | None = None) -> list[dict[str, Any]]:
    """One row per pilot the actor may read: decision (or 'in review'), next review and whether it is
    overdue (on ``today``, default today UTC), open high risks, conditions met / total, and the
    between-review flags, each computed afresh (Portfolio reads the stored ones:
    readiness.review.figures)."""
    today = today or datetime.now(UTC).date()
    out = []
    for row in list_pilots(con, actor):
        pilot = get_pilot(con, row["name"])
        current = reviews.current_decision(con, pilot)
        conds = conditions.list_conditions(con, actor, pilot, today)
        found = flags(con, actor, pilot, today, conds)
        out.append({
            "pilot": pilot.name, "owner": pilot.owner, "risk_tier": pilot.risk_tier,
            "decision": decisions.OUTCOMES[current["outcome"]] if current else "in review",
            "next_review": current["next_review"] if current else None,
            "overdue": bool(current and current["next_review"] and current["next_review"] < today),
            "open_high_risks": risks.open_high(con, pilot.pilot_id),
            "conditions": (f"{sum(1 for c in conds if c['status'] in ('met', 'waived'))} / {len(conds)}"
                           if conds else "—"),
            "flags": "; ".join(f.message for f in found if f.key != "next_review_overdue"),
            "data_as_of": row["last_ts"],
        })
    return out
