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

Every write checks the actor's role and grant (``readiness.access``) and is audited in the same
transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from readiness import audit, privacy
from readiness.access import Actor, require
from readiness.pilots import Pilot, data_version
from readiness.store import transaction

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
# signal_csat_min, ..., judged on their intervals by readiness.criteria, so the suggestion, the
# conditions and the signals agree).
STOP_USAGE_DROP = -0.5        # usage halved over the last 4 weeks and users unhappy: consider stopping
# A suggestion only: when the evidence is not enough either way, the pilot runs on to collect it
# (the reviewer records it as harden further, with the extension as its rationale).
SUGGESTIONS = {**OUTCOMES, "extend": "Extend the pilot"}


class DecisionError(ValueError):
    """A decision that cannot be recorded as given; the message says what to fix."""


@dataclass(frozen=True)
class Suggestion:
    outcome: str
    reasons: list[str]
    criteria: tuple = ()     # readiness.criteria.Criterion: each threshold with its interval and verdict

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


def _now() -> datetime:
    return datetime.now(UTC)


def _dicts(cur) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


# ------------------------------------------------------------------------------------------
# Reviews


def current_review(con: duckdb.DuckDBPyConnection, pilot: Pilot) -> dict[str, Any] | None:
    rows = _dicts(con.execute("SELECT * FROM reviews WHERE pilot_id = ? ORDER BY number DESC LIMIT 1",
                              [pilot.pilot_id]))
    return rows[0] if rows else None


def _open_review(con, actor: Actor, pilot: Pilot) -> dict[str, Any]:
    last = current_review(con, pilot)
    previous = current_decision(con, pilot) if last else None
    number = (last["number"] + 1) if last else 1
    con.execute("INSERT INTO reviews (pilot_id, number, opened_at, opened_by, previous_decision_id) "
                "VALUES (?, ?, ?, ?, ?)",
                [pilot.pilot_id, number, _now(), actor.name, previous["decision_id"] if previous else None])
    review = current_review(con, pilot)
    carried = json.loads(previous["conditions"]) if previous and previous["conditions"] else []
    audit.record(con, actor, "review.open", f"pilot:{pilot.pilot_id}/review:{number}",
                 {"pilot": pilot.name, "previous_decision": previous["decision_id"] if previous else None,
                  "carried_conditions": carried})
    return review


def open_review(con: duckdb.DuckDBPyConnection, actor: Actor, pilot: Pilot) -> dict[str, Any]:
    """Start the next review cycle of ``pilot`` from its current decision; audited.

    Refused while the latest review has no decision yet (it is still open).
    """
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        last = current_review(con, pilot)
        if last and current_decision(con, pilot, review_id=last["review_id"]) is None:
            raise DecisionError(f"Review {last['number']} of {pilot.name} is still open: record its decision first.")
        return _open_review(con, actor, pilot)


# ------------------------------------------------------------------------------------------
# The evidence frozen with a decision, and the suggested outcome


def snapshot(con: duckdb.DuckDBPyConnection, pilot: Pilot) -> dict[str, Any]:
    """Headline figures, every batch's sha256 and the data version, as plain JSON-able values."""
    from analysis.summary import summary

    batches = _dicts(con.execute(
        "SELECT batch_id, kind, file_name, sha256, rows_loaded FROM ingest_batches WHERE pilot_id = ? ORDER BY batch_id",
        [pilot.pilot_id]))
    from readiness.risks import open_high

    return {"figures": summary(con, pilot), "batches": batches, "data_version": data_version(con, pilot.pilot_id),
            "open_high_risks": open_high(con, pilot.pilot_id), "taken_at": _now().isoformat()}


def _words(key: str) -> str:
    """A signal's or condition's key as the reason reads it: data_flow -> data flow."""
    return key.replace("_", " ")


def suggest(con: duckdb.DuckDBPyConnection, pilot: Pilot, figures: dict[str, Any] | None = None,
            conditions: list[dict[str, Any]] | None = None, signals: list[dict[str, Any]] | None = None) -> Suggestion:
    """The outcome the evidence points to, with its reasons; the reviewer decides.

    ``conditions``: the review's conditions (with live values); required ones not met block operate.
    ``signals``: computed risk signals; high ones not yet in the register (accepted or dismissed) do too.
    """
    from analysis import usage
    from readiness import criteria as judged

    fig = figures or snapshot(con, pilot)["figures"]
    events = fig["usage"]["events"]
    if not events:
        return Suggestion("reframe", ["no usage has been loaded, so there is no evidence that the capability is used"])
    crit = judged.evaluate(fig)
    blockers = [c.reason() for c in crit if c.verdict == "not_met"]
    undecided = [c for c in crit if c.verdict == "undecided"]
    from readiness.handoff import operating_owner

    if not (pilot.owner or "").strip() and not operating_owner(con, pilot.pilot_id):
        blockers.append("no owner named (neither the pilot's owner nor an operating owner on Hand-off)")
    from readiness.risks import open_high
    from readiness.risks import untriaged as untriaged_signals

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


def current_suggestion(con: duckdb.DuckDBPyConnection, actor: Actor, pilot: Pilot) -> Suggestion:
    """The suggestion the Decision page shows now: on the live figures, the current review's conditions
    (with live values) and the computed risk signals. Reads only."""
    from readiness.conditions import list_conditions
    from readiness.signals import compute_signals

    require(con, actor, "read_pilot", pilot.pilot_id)
    sigs = [s.to_dict() for s in compute_signals(con, actor, pilot)]
    return suggest(con, pilot, conditions=list_conditions(con, actor, pilot), signals=sigs)


# ------------------------------------------------------------------------------------------
# Decisions


def _decision_rows(con, pilot_id: int, review_id: int | None = None) -> list[dict[str, Any]]:
    return _dicts(con.execute(
        """SELECT d.*, r.number AS review_number,
                  NOT EXISTS (SELECT 1 FROM decisions s WHERE s.supersedes = d.decision_id) AS current,
                  a.accepted_by, a.accepted_at
           FROM decisions d JOIN reviews r USING (review_id)
           LEFT JOIN handoff_acceptances a USING (decision_id)
           WHERE d.pilot_id = ? AND (? IS NULL OR d.review_id = ?)
           ORDER BY d.decision_id""", [pilot_id, review_id, review_id]))


def current_decision(con: duckdb.DuckDBPyConnection, pilot: Pilot, review_id: int | None = None) -> dict[str, Any] | None:
    """The current (not superseded) decision of the latest review that has one, or of ``review_id``."""
    rows = [r for r in _decision_rows(con, pilot.pilot_id, review_id) if r["current"]]
    return rows[-1] if rows else None


def get_decision(con: duckdb.DuckDBPyConnection, pilot: Pilot, decision_id: int | None) -> dict[str, Any] | None:
    """One decision of ``pilot`` by id (None when there is none)."""
    rows = [r for r in _decision_rows(con, pilot.pilot_id) if r["decision_id"] == decision_id]
    return rows[0] if rows else None


def list_reviews(con: duckdb.DuckDBPyConnection, actor: Actor, pilot: Pilot) -> list[dict[str, Any]]:
    """The pilot's reviews, newest first, each with its current decision (None while open)."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    reviews = _dicts(con.execute("SELECT * FROM reviews WHERE pilot_id = ? ORDER BY number DESC", [pilot.pilot_id]))
    for r in reviews:
        r["decision"] = current_decision(con, pilot, review_id=r["review_id"])
    return reviews


def list_decisions(con: duckdb.DuckDBPyConnection, actor: Actor, pilot: Pilot) -> list[dict[str, Any]]:
    """Every decision of the pilot, oldest first, with review number, current flag and hand-off status."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    rows = _decision_rows(con, pilot.pilot_id)
    for r in rows:
        r["status"] = "current" if r["current"] else "superseded"
        r["handoff"] = None if r["outcome"] != "handoff" else ("accepted" if r["accepted_by"] else "pending acceptance")
    return rows


# A decision's free text, shown: the rationale and owner as typed, and the JSON the decision froze
# (conditions with their evidence and waivers, the wind-down, the suggestion's reasons, the evidence).
_SHOWN_TEXT = ("rationale", "owner")
_SHOWN_JSON = ("conditions", "winddown", "suggested_reasons", "snapshot")


def shown_decisions(con: duckdb.DuckDBPyConnection, actor: Actor, pilot: Pilot) -> list[dict[str, Any]]:
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


def record_decision(con: duckdb.DuckDBPyConnection, actor: Actor, pilot: Pilot, *, outcome: str, rationale: str,
                    owner: str, next_review: date | None = None, receiver: str | None = None,
                    conditions: list[dict[str, Any]] | None = None, today: date | None = None,
                    against_evidence: bool = False) -> dict[str, Any]:
    """Record the review's decision (superseding an earlier one in the same review); audited.

    Raises DecisionError for an unknown outcome, a missing rationale or owner, a missing or past
    next review (except for a stop), a hand-off without a known receiving account, or operate
    while the evidence suggests otherwise, unless ``against_evidence`` says the reviewer means it
    (the Decision page's tick, the CLI's --against-evidence; before, only the page asked).
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
    today = today or _now().date()
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
        review = current_review(con, pilot) or _open_review(con, actor, pilot)
        earlier = current_decision(con, pilot, review_id=review["review_id"])
        snap = snapshot(con, pilot)
        if conditions is None:  # the review's conditions as they stand, with live values
            from readiness.conditions import ensure_conditions, list_conditions

            ensure_conditions(con, actor, pilot)
            conditions = [{k: c[k] for k in ("area", "title", "required", "status", "owner", "evidence",
                                              "waiver_reason", "waiver_expiry", "live_value")}
                          for c in list_conditions(con, actor, pilot)]
        from readiness.signals import compute_signals

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
             json.dumps(snap, default=str), actor.name, _now()])
        decision = current_decision(con, pilot, review_id=review["review_id"])
        audit.record(con, actor, "decision.record", f"pilot:{pilot.pilot_id}/decision:{decision['decision_id']}", {
            "pilot": pilot.name, "review": review["number"], "outcome": outcome, "owner": owner,
            "next_review": None if outcome == "stop" else next_review, "receiver": receiver,
            "supersedes": earlier["decision_id"] if earlier else None, "suggested": suggestion.outcome,
            "before": {"outcome": earlier["outcome"], "owner": earlier["owner"]} if earlier else None})
    return decision


def accept_handoff(con: duckdb.DuckDBPyConnection, actor: Actor, pilot: Pilot, decision_id: int,
                   note: str | None = None) -> None:
    """The named receiving owner accepts a hand-off; audited. Anyone else is refused."""
    with transaction(con):
        rows = [r for r in _decision_rows(con, pilot.pilot_id) if r["decision_id"] == decision_id]
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
        con.execute("INSERT INTO handoff_acceptances VALUES (?, ?, ?, ?)", [decision_id, actor.name, _now(), note])
        audit.record(con, actor, "handoff.accept", f"pilot:{pilot.pilot_id}/decision:{decision_id}",
                     {"pilot": pilot.name, "note": note})


# ------------------------------------------------------------------------------------------
# Decision summaries (one row per decision) for the CSV export

SUMMARY_COLUMNS = ["pilot", "review", "decision_id", "outcome", "status", "handoff", "decided_by", "decided_at",
                   "rationale", "owner", "next_review", "receiver", "suggested_outcome", "open_high_risks",
                   "conditions_met", "conditions_total", "usage_events", "users", "exceptions_per_1k", "csat",
                   "exceptions_per_1k_low", "exceptions_per_1k_high", "csat_low", "csat_high", "confidence_level",
                   "criteria_undecided"]


def decision_summaries(con: duckdb.DuckDBPyConnection, actor: Actor, pilots: list[Pilot]) -> list[dict[str, Any]]:
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
