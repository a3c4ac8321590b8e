"""Reviews and the recorded decision: operate, harden further, hand off, reframe, or stop.

A **review** is one cycle of a pilot. It is open until a decision is recorded; recording again
within the same review *supersedes* the earlier record (both kept: the table is append-only and a
new row names the one it supersedes). The next review opens from the current decision of the one
before ("the previous review's outcome is the next one's requirements"): its conditions are the
starting point.

Each decision freezes the evidence it was taken on, as JSON: headline figures, every batch's
sha256, the data version, and the suggested outcome with its reasons. A hand-off names the
receiving owner (an account) and stays *pending acceptance* until that person accepts. A stop
needs no next review and comes with a wind-down checklist.

Every write checks the actor's role and grant (``readiness.security.access``) and is audited in the same
transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from readiness.catalog import Pilot, data_version
from readiness.errors import ReadinessError
from readiness.review import reviews
from readiness.review.conditions import ensure_conditions, list_conditions
from readiness.review.handoff import operating_owner
from readiness.review.reviews import current_decision, current_review
from readiness.review.risks import open_high
from readiness.review.risks import untriaged as untriaged_signals
from readiness.security import audit, privacy
from readiness.security.access import Actor, require
from readiness.store import Connection, lake, transaction

OUTCOMES = {
    "operate": "Operate",
    "harden": "Harden further",
    "handoff": "Hand off",
    "reframe": "Reframe",
    "stop": "Stop",
}
WINDDOWN = ("Tell the pilot's users and their managers that it stops, and from when",
            "Decide whether to keep or delete the pilot's data, and do it",
            "Keep the logs and this review's evidence for the retention period",
            "Switch the capability off and remove its access")

# Suggested outcome: evidence that blocks "operate" (limits from settings: max_exceptions_per_1k,
# signal_csat_min, ..., judged on their intervals by readiness.review.criteria, so the suggestion, the
# conditions and the signals agree).
STOP_USAGE_DROP = -0.5        # usage halved over the last 4 weeks and users unhappy: consider stopping
# A suggestion only: when the evidence is not enough either way, the pilot runs on to collect it
# (the reviewer records it as harden further, with the extension as its rationale).
SUGGESTIONS = {**OUTCOMES, "extend": "Extend the pilot"}


class DecisionError(ReadinessError, ValueError):
    """A decision that cannot be recorded as given; the message says what to fix."""


@dataclass(frozen=True)
class Suggestion:
    outcome: str
    reasons: list[str]
    criteria: tuple = ()     # readiness.review.criteria.Criterion: each threshold with its interval and verdict

    def describe(self) -> str:
        return f"{self.outcome}: " + "; ".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """The suggestion as ``suggest --json`` prints it: outcome, label, reasons, criteria."""
        crit = []
        for c in self.criteria:
            d = {k: v for k, v in c.to_dict().items() if k in ("name", "value", "interval", "threshold", "verdict",
                                                                 "method")}
            if c.verdict == "undecided":
                d["more_data"] = c.more_data
            crit.append(d)
        return {"outcome": self.outcome, "label": SUGGESTIONS[self.outcome], "reasons": self.reasons,
                "criteria": crit}


# ------------------------------------------------------------------------------------------
# Reviews


def open_review(con: Connection, actor: Actor, pilot: Pilot) -> dict[str, Any]:
    """Start the next review cycle of ``pilot`` from its current decision; audited.

    Refused while the latest review has no decision yet (it is still open).
    """
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        last = current_review(con, pilot)
        if last and current_decision(con, pilot, review_id=last["review_id"]) is None:
            raise DecisionError(f"Review {last['number']} of {pilot.name} is still open: record its decision first.")
        return reviews.open_next(con, actor, pilot)


# ------------------------------------------------------------------------------------------
# The evidence frozen with a decision, and the suggested outcome


def snapshot(con: Connection, pilot: Pilot) -> dict[str, Any]:
    """Headline figures, every batch's sha256 and the data version, as plain JSON-able values."""
    from analysis.summary import summary  # loads pandas: imported when used, so the command line starts without it

    batches = reviews.dict_rows(con.execute(
        "SELECT batch_id, kind, file_name, sha256, rows_loaded FROM ingest_batches WHERE pilot_id = ? ORDER BY batch_id",
        [pilot.pilot_id]))
    snap = {"figures": summary(con, pilot), "batches": batches, "data_version": data_version(con, pilot.pilot_id),
            "open_high_risks": open_high(con, pilot.pilot_id), "taken_at": reviews.now().isoformat()}
    at = lake.version(con)
    if at is not None:  # the lake snapshot the evidence was read at: `maintain` keeps it for time travel
        snap["lake_snapshot"] = at
    return snap


def _words(key: str) -> str:
    """A signal's or condition's key as the reason reads it: data_flow -> data flow."""
    return key.replace("_", " ")


def suggest(con: Connection, pilot: Pilot, figures: dict[str, Any] | None = None,
            conditions: list[dict[str, Any]] | None = None, signals: list[dict[str, Any]] | None = None) -> Suggestion:
    """The outcome the evidence points to, with its reasons; the reviewer decides.

    ``conditions``: the review's conditions (with live values); required ones not met block operate.
    ``signals``: computed risk signals; high ones not yet in the register (accepted or dismissed) do too.
    """
    from analysis import usage  # loads pandas: imported when used, so the command line starts without it
    from readiness.review import criteria as judged

    fig = figures or snapshot(con, pilot)["figures"]
    events = fig["usage"]["events"]
    if not events:
        return Suggestion("reframe", ["no usage has been loaded, so there is no evidence that the capability is used"])
    crit = judged.evaluate(fig)
    blockers = [c.reason() for c in crit if c.verdict == "not_met"]
    undecided = [c for c in crit if c.verdict == "undecided"]

    if not (pilot.owner or "").strip() and not operating_owner(con, pilot.pilot_id):
        blockers.append("no owner named (neither the pilot's owner nor an operating owner on Hand-off)")
    high = open_high(con, pilot.pilot_id)
    if high:
        blockers.append(f"{high} high risk{'s' if high != 1 else ''} open")
    untriaged = untriaged_signals(con, pilot.pilot_id, signals)
    if untriaged:
        blockers.append(f"{len(untriaged)} high risk signal{'s' if len(untriaged) != 1 else ''} not yet in the "
                        f"register ({', '.join(_words(s['key'].split('.')[-1]) for s in untriaged)})")
    unmet = [c for c in (conditions or []) if c.get("required") and c.get("status") == "not met"]
    if unmet:
        blockers.append(f"{len(unmet)} required condition{'s' if len(unmet) != 1 else ''} not met "
                        f"({', '.join(_words(c['area']) for c in unmet)})")
    trend = usage.trend(con, pilot)
    pct = getattr(trend, "events_change_pct", None)
    change = None if pct is None else pct / 100
    csat = judged.criterion(fig, "feedback.csat")
    pending = [c.reason() for c in undecided]
    if change is not None and change <= STOP_USAGE_DROP and csat is not None and csat.verdict == "not_met":
        return Suggestion("stop", [f"usage fell {abs(change):.0%} over the last 4 weeks", *blockers, *pending],
                          tuple(crit))
    if blockers:
        return Suggestion("harden", blockers + pending, tuple(crit))
    if undecided:
        return Suggestion("extend", pending + ["extend the pilot and collect " + judged.to_collect(undecided)],
                          tuple(crit))
    return Suggestion("operate", ["no evidence blocks operating it: " + ", ".join(c.reason() for c in crit)],
                      tuple(crit))


def current_suggestion(con: Connection, actor: Actor, pilot: Pilot) -> Suggestion:
    """The suggestion the Decision page shows now: on the live figures, the current review's conditions
    (with live values) and the computed risk signals. Reads only."""
    from readiness.review.conditions import list_conditions
    from readiness.review.signals import compute_signals

    require(con, actor, "read_pilot", pilot.pilot_id)
    sigs = [s.to_dict() for s in compute_signals(con, actor, pilot)]
    return suggest(con, pilot, conditions=list_conditions(con, actor, pilot), signals=sigs)


# ------------------------------------------------------------------------------------------
# Decisions


def list_reviews(con: Connection, actor: Actor, pilot: Pilot) -> list[dict[str, Any]]:
    """The pilot's reviews, newest first, each with its current decision (None while open)."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    rows = reviews.dict_rows(con.execute("SELECT * FROM reviews WHERE pilot_id = ? ORDER BY number DESC", [pilot.pilot_id]))
    for r in rows:
        r["decision"] = current_decision(con, pilot, review_id=r["review_id"])
    return rows


def list_decisions(con: Connection, actor: Actor, pilot: Pilot) -> list[dict[str, Any]]:
    """Every decision of the pilot, oldest first, with review number, current flag and hand-off status."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    rows = reviews.decision_rows(con, pilot.pilot_id)
    for r in rows:
        r["status"] = "current" if r["current"] else "superseded"
        r["handoff"] = None if r["outcome"] != "handoff" else ("accepted" if r["accepted_by"] else "pending acceptance")
    return rows


# A decision's free text, shown: the rationale and owner as typed, and the JSON the decision froze
# (conditions with their evidence and waivers, the wind-down, the suggestion's reasons, the evidence).
_SHOWN_TEXT = ("rationale", "owner")
_SHOWN_JSON = ("conditions", "winddown", "suggested_reasons", "snapshot")


def shown_decisions(con: Connection, actor: Actor, pilot: Pilot) -> list[dict[str, Any]]:
    """Every decision of the pilot, as :func:`list_decisions`, as shown to ``actor``.

    Privacy's one rule: every text shown to a role without the reveal right is masked, so the
    rationale, the owner, and every text in the frozen conditions, wind-down, reasons and evidence
    have emails, phone numbers and card numbers masked unless ``actor`` may reveal the pilot's
    personal data (an admin, or a reviewer with a grant). The Decision page, the decisions CSV and
    the CLI read decisions through this; the Readout, shared more widely, masks for everyone.
    Account names (decided_by, receiver, accepted_by) and codes (outcome, status) are left as they are.
    """
    rows = list_decisions(con, actor, pilot)
    if privacy.may_reveal(con, actor, pilot.pilot_id):
        return rows
    for r in rows:
        for key in _SHOWN_TEXT:
            r[key] = privacy.mask(r[key])
        for key in _SHOWN_JSON:
            if r.get(key):
                r[key] = json.dumps(privacy.masked(json.loads(r[key])), default=str)
    return rows


def operate_refused(suggestion: Suggestion) -> str:
    """Why operate is not recorded against ``suggestion`` without the reviewer saying they mean it."""
    return (f"The evidence suggests {SUGGESTIONS[suggestion.outcome].lower()}: " + "; ".join(suggestion.reasons[:3])
            + (" …" if len(suggestion.reasons) > 3 else "") + ". To record operate anyway, say so (the tick "
            "'Record operate although the evidence suggests …' on the Decision page; --against-evidence).")


def record_decision(con: Connection, actor: Actor, pilot: Pilot, *, outcome: str, rationale: str,
                    owner: str, next_review: date | None = None, receiver: str | None = None,
                    conditions: list[dict[str, Any]] | None = None, today: date | None = None,
                    against_evidence: bool = False) -> dict[str, Any]:
    """Record the review's decision (superseding an earlier one in the same review); audited.

    Raises DecisionError for an unknown outcome, a missing rationale or owner, a missing or past
    next review (except for a stop), a hand-off without a known receiving account, or operate
    while the evidence suggests otherwise, unless ``against_evidence`` says the reviewer means it
    (the Decision page's tick, the CLI's --against-evidence): the page and the CLI both ask.
    """
    outcome = (outcome or "").strip().lower()
    if outcome not in OUTCOMES:
        raise DecisionError(f"Outcome must be one of {', '.join(OUTCOMES)} "
                            f"({', '.join(OUTCOMES.values())}), not {outcome!r}.")
    rationale, owner = (rationale or "").strip(), (owner or "").strip()
    if not rationale:
        raise DecisionError("A decision needs a rationale: why this outcome, on this evidence.")
    if not owner:
        raise DecisionError("A decision needs an accountable owner.")
    today = today or reviews.now().date()
    if outcome != "stop":
        if next_review is None:
            raise DecisionError(f"{OUTCOMES[outcome]} needs a next review date (the next readout).")
        if next_review <= today:
            raise DecisionError(f"The next review ({next_review}) must be after today ({today}).")
    winddown = [{"step": s, "done": False} for s in WINDDOWN] if outcome == "stop" else None
    with transaction(con):
        require(con, actor, "record_decision", pilot.pilot_id)
        if outcome == "handoff":
            receiver = (receiver or "").strip().lower()
            if not receiver:
                raise DecisionError("A hand-off names the receiving owner (their user name), who must accept it.")
            if con.execute("SELECT 1 FROM users WHERE username = ? AND active", [receiver]).fetchone() is None:
                raise DecisionError(f"The receiving owner {receiver!r} has no account; an admin can add one.")
        else:
            receiver = None
        review = current_review(con, pilot) or reviews.open_next(con, actor, pilot)
        earlier = current_decision(con, pilot, review_id=review["review_id"])
        snap = snapshot(con, pilot)
        if conditions is None:  # the review's conditions as they stand, with live values
            ensure_conditions(con, actor, pilot)
            conditions = [{k: c[k] for k in ("area", "title", "required", "status", "owner", "evidence",
                                              "waiver_reason", "waiver_expiry", "live_value")}
                          for c in list_conditions(con, actor, pilot)]
        from readiness.review.signals import (
            compute_signals,  # loads pandas: imported when used, so the command line starts without it
        )

        snap["signals"] = [{k: d[k] for k in ("key", "class", "severity", "finding")}
                           for d in (sig.to_dict() for sig in compute_signals(con, actor, pilot))]
        suggestion = suggest(con, pilot, snap["figures"], conditions, snap["signals"])
        if outcome == "operate" and suggestion.outcome != "operate" and not against_evidence:
            raise DecisionError(operate_refused(suggestion))
        snap["criteria"] = suggestion.to_dict()["criteria"]  # each threshold with its interval and verdict
        con.execute(
            """INSERT INTO decisions (review_id, pilot_id, supersedes, outcome, rationale, owner, next_review, receiver,
                                      conditions, winddown, suggested_outcome, suggested_reasons, snapshot,
                                      decided_by, decided_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [review["review_id"], pilot.pilot_id, earlier["decision_id"] if earlier else None, outcome, rationale,
             owner, None if outcome == "stop" else next_review, receiver, json.dumps(conditions or [], default=str),
             json.dumps(winddown) if winddown else None, suggestion.outcome, json.dumps(suggestion.reasons),
             json.dumps(snap, default=str), actor.name, reviews.now()])
        decision = current_decision(con, pilot, review_id=review["review_id"])
        audit.record(con, actor, "decision.record", f"pilot:{pilot.pilot_id}/decision:{decision['decision_id']}", {
            "pilot": pilot.name, "review": review["number"], "outcome": outcome, "owner": owner,
            "next_review": None if outcome == "stop" else next_review, "receiver": receiver,
            "supersedes": earlier["decision_id"] if earlier else None, "suggested": suggestion.outcome,
            "before": {"outcome": earlier["outcome"], "owner": earlier["owner"]} if earlier else None})
    return decision


def accept_handoff(con: Connection, actor: Actor, pilot: Pilot, decision_id: int,
                   note: str | None = None) -> None:
    """The named receiving owner accepts a hand-off; audited. Anyone else is refused."""
    with transaction(con):
        rows = [r for r in reviews.decision_rows(con, pilot.pilot_id) if r["decision_id"] == decision_id]
        if not rows:
            raise DecisionError(f"{pilot.name} has no decision {decision_id}.")
        d = rows[0]
        if d["outcome"] != "handoff":
            raise DecisionError(f"Decision {decision_id} is not a hand-off.")
        if not d["current"]:
            raise DecisionError(f"Decision {decision_id} was superseded; accept the current one.")
        if d["accepted_by"]:
            raise DecisionError(f"Decision {decision_id} was already accepted by {d['accepted_by']}.")
        require(con, actor, "accept_handoff", pilot.pilot_id, receiver=d["receiver"])
        con.execute("INSERT INTO handoff_acceptances VALUES (?, ?, ?, ?)", [decision_id, actor.name, reviews.now(), note])
        audit.record(con, actor, "handoff.accept", f"pilot:{pilot.pilot_id}/decision:{decision_id}",
                     {"pilot": pilot.name, "note": note})


# ------------------------------------------------------------------------------------------
# Decision summaries (one row per decision) for the CSV export

SUMMARY_COLUMNS = ["pilot", "review", "decision_id", "outcome", "status", "handoff", "decided_by", "decided_at",
                   "rationale", "owner", "next_review", "receiver", "suggested_outcome", "open_high_risks",
                   "conditions_met", "conditions_total", "usage_events", "users", "exceptions_per_1k", "csat",
                   "exceptions_per_1k_low", "exceptions_per_1k_high", "csat_low", "csat_high", "confidence_level",
                   "criteria_undecided"]


def decision_summaries(con: Connection, actor: Actor, pilots: list[Pilot]) -> list[dict[str, Any]]:
    """One row per decision of each pilot (checked per pilot), with the figures it was taken on,
    as shown to ``actor`` (:func:`shown_decisions`: the rationale masked unless they may reveal)."""
    out = []
    for pilot in pilots:
        for d in shown_decisions(con, actor, pilot):
            fig = json.loads(d["snapshot"])["figures"]
            conds = json.loads(d["conditions"] or "[]")
            out.append({
                "pilot": pilot.name, "review": d["review_number"], "decision_id": d["decision_id"],
                "outcome": OUTCOMES[d["outcome"]], "status": d["status"], "handoff": d["handoff"],
                "decided_by": d["decided_by"], "decided_at": d["decided_at"], "rationale": d["rationale"],
                "owner": d["owner"], "next_review": d["next_review"], "receiver": d["receiver"],
                "suggested_outcome": SUGGESTIONS.get(d["suggested_outcome"], d["suggested_outcome"]),
                "open_high_risks": json.loads(d["snapshot"]).get("open_high_risks"),
                "conditions_met": sum(1 for c in conds if c.get("status") == "met"),
                "conditions_total": len(conds),
                "usage_events": fig["usage"]["events"], "users": fig["usage"]["users"],
                "exceptions_per_1k": fig["exceptions"]["per_1k_events"], "csat": fig["feedback"]["csat"],
                **_interval_cells(fig), "criteria_undecided": _undecided(json.loads(d["snapshot"])),
            })
    return out


def _interval_cells(fig: dict[str, Any]) -> dict[str, Any]:
    """The frozen intervals of the two headline rates as low / high cells (empty for evidence frozen
    before intervals were kept), and their level."""
    out: dict[str, Any] = {}
    for cell, (section, name) in (("exceptions_per_1k", ("exceptions", "per_1k_events")), ("csat", ("feedback", "csat"))):
        ends = fig[section].get(f"{name}_interval") or [None, None]
        out[f"{cell}_low"], out[f"{cell}_high"] = ends
    out["confidence_level"] = (fig.get("intervals") or {}).get("level")
    return out


def _undecided(snap: dict[str, Any]) -> str | None:
    """The criteria the decision was taken with no clear evidence on, e.g. 'CSAT: about 60 more ratings'."""
    if "criteria" not in snap:
        return None
    return "; ".join(f"{c['name']}: {c.get('more_data') or 'undecided'}" for c in snap["criteria"]
                     if c["verdict"] == "undecided")
