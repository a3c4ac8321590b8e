"""Readiness conditions — what must be true before broader use — and the four-eyes approvals.

Each review gets the seed's areas from :data:`TEMPLATE`, scaled by the pilot's risk tier (a
low-risk pilot gets a light path: fewer conditions are required). A condition is *met*, *not met*
or *waived* (reason and expiry), with an owner and evidence. Conditions the logs can show are
computed and show their live value (exceptions per 1,000 events, a named owner); a computed
condition cannot be set by hand.

Four eyes: a waiver, and lowering a pilot's risk tier, are *requests* that take effect only when a
second person — a lead or an admin, not the requester — approves them.

The next review starts from the previous review's conditions (status, owner, evidence carried).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from readiness import settings
from readiness.catalog import RISK_TIERS, Pilot, get_pilot
from readiness.errors import ReadinessError
from readiness.review import reviews
from readiness.review.risks import open_high
from readiness.security import audit
from readiness.security.access import Actor, require
from readiness.store import Connection, next_id, transaction

STATUSES = ("met", "not met", "waived")  # set by hand; a computed one may also read "undecided" (see _rate_verdict)
# the exception-rate condition says so when the exception logs run this far past the usage's period
OVERHANG = timedelta(days=7)


@dataclass(frozen=True)
class Area:
    key: str
    title: str
    required_from: str  # the lowest risk tier for which it is required
    computed: str | None = None  # rule name when the logs can show it


TEMPLATE: tuple[Area, ...] = (
    Area("infrastructure", "Approved infrastructure (request approval early: it is a long-lead item)", "low"),
    Area("auth", "Real authentication and access control", "low"),
    Area("data_flow", "Reliable data flow, or an owned manual source process (for every log kind)", "medium",
         "source_process"),
    Area("monitoring", "Error handling, exception routing, monitoring and logs (few exceptions per 1,000 events)",
         "low", "exception_rate"),
    Area("security_review", "A recorded security review (who, when, findings)", "medium"),
    Area("docs", "Minimal user docs and operating notes", "medium"),
    Area("ownership", "A named owner and support path", "low", "owner_named"),
    Area("risks", "No high risk left open in the register", "medium", "no_high_risk_open"),
)
_TIER_RANK = {t: i for i, t in enumerate(("low", "medium", "high"))}


class ConditionError(ReadinessError, ValueError):
    """A condition change that cannot be made as asked; the message says why."""


def _now() -> datetime:
    return datetime.now(UTC)


def _dicts(cur) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def required_for(area: Area, tier: str) -> bool:
    return _TIER_RANK[tier] >= _TIER_RANK[area.required_from]


def _review(con, actor: Actor, pilot: Pilot) -> dict[str, Any]:
    return reviews.current_review(con, pilot) or reviews.open_next(con, actor, pilot)


def ensure_conditions(con: Connection, actor: Actor, pilot: Pilot) -> int:
    """Give the current review its conditions (from the previous review's where there was one).

    Returns how many were created (0 when the review already has them). Audited.
    """
    with transaction(con):
        require(con, actor, "read_pilot", pilot.pilot_id)
        review = _review(con, actor, pilot)
        if con.execute("SELECT count(*) FROM conditions WHERE review_id = ?", [review["review_id"]]).fetchone()[0]:
            return 0
        previous = {r["area"]: r for r in _dicts(con.execute(
            """SELECT c.* FROM conditions c JOIN reviews r USING (review_id)
               WHERE c.pilot_id = ? AND r.number = ?""", [pilot.pilot_id, review["number"] - 1]))}
        now = _now()
        for area in TEMPLATE:
            prev = previous.get(area.key, {})
            status = prev.get("status") or "not met"
            if status == "waived" and prev.get("waiver_expiry") and prev["waiver_expiry"] < now.date():
                status = "not met"  # an expired waiver does not carry over
            con.execute(
                """INSERT INTO conditions (review_id, pilot_id, area, title, required, computed, status, owner, evidence,
                                           waiver_reason, waiver_expiry, requested_on, updated_by, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [review["review_id"], pilot.pilot_id, area.key, area.title, required_for(area, pilot.risk_tier),
                 area.computed, status, prev.get("owner"), prev.get("evidence"),
                 prev.get("waiver_reason") if status == "waived" else None,
                 prev.get("waiver_expiry") if status == "waived" else None, prev.get("requested_on"),
                 actor.name, now])
        audit.record(con, actor, "conditions.create", f"pilot:{pilot.pilot_id}/review:{review['number']}",
                     {"pilot": pilot.name, "tier": pilot.risk_tier, "carried_from_review": review["number"] - 1
                      if previous else None})
        return len(TEMPLATE)


def _live(con, pilot: Pilot, rule: str, rates: dict[str, Any] | None = None) -> tuple[bool, str]:
    if rule == "owner_named":  # the Hand-off page's operating owner (else the pilot's owner) and support path
        row = con.execute("SELECT operating_owner, support_path FROM handoffs WHERE pilot_id = ?",
                          [pilot.pilot_id]).fetchone() or (None, None)
        operating, support = ((v or "").strip() for v in row)
        owner = operating or (pilot.owner or "").strip()
        said = (f"owner: {owner}" + ("" if operating else " (the pilot's owner; no operating owner on Hand-off)")
                if owner else "no owner named (Hand-off: operating owner)")
        said += f"; support: {support}" if support else "; no support path named (Hand-off)"
        return bool(owner and support), said
    if rule == "exception_rate":
        # From the batch counts (rows in the store per batch), not a scan of the event tables.
        events, exceptions, info, every_line = con.execute(
            """SELECT coalesce(sum(rows_loaded) FILTER (WHERE kind = 'usage'), 0),
                      coalesce(sum(rows_loaded) FILTER (WHERE kind = 'exceptions'), 0),
                      coalesce(sum(rows_skipped) FILTER (WHERE kind = 'exceptions'), 0),
                      count(*) FILTER (WHERE kind = 'exceptions' AND (options->>'all_levels') = 'true')
               FROM ingest_batches WHERE pilot_id = ?""", [pilot.pilot_id]).fetchone()
        if not events:
            return False, "no usage loaded, so the exception rate is unknown"
        rate = 1000 * exceptions / events
        limit = settings.get("max_exceptions_per_1k")
        said = f"{rate:,.1f} exceptions per 1,000 events over the whole pilot (limit {limit:g})"
        if info:
            said += f"; {info:,} information lines (INFO, DEBUG, ...) of the exception logs are not counted"
        if every_line:
            logs = "1 exception log was" if every_line == 1 else f"{every_line:,} exception logs were"
            said += f"; {logs} loaded with every line, so information lines count here"
        # logs of different periods give a rate of nothing (2015 exceptions against 2026 usage would
        # read "53333.3 per 1,000"); the batches' first and last times say so without a scan
        spans = dict((k, (a, b)) for k, a, b in con.execute(
            """SELECT kind, min(first_ts), max(last_ts) FROM ingest_batches
               WHERE pilot_id = ? AND kind IN ('usage', 'exceptions') GROUP BY kind""", [pilot.pilot_id]).fetchall())
        (u0, u1), (e0, e1) = spans.get("usage", (None, None)), spans.get("exceptions", (None, None))
        if None in (u0, u1, e0, e1):
            pass
        elif e1 < u0 or e0 > u1:
            said += (f"; the exception and usage logs do not overlap in time (exceptions {e0:%Y-%m-%d} to "
                     f"{e1:%Y-%m-%d}, usage {u0:%Y-%m-%d} to {u1:%Y-%m-%d}), so this compares different periods")
        elif e0 < u0 - OVERHANG or e1 > u1 + OVERHANG:
            said += (f"; the exception logs ({e0:%Y-%m-%d} to {e1:%Y-%m-%d}) reach well beyond the usage ({u0:%Y-%m-%d} "
                     f"to {u1:%Y-%m-%d}), so part of this compares different periods")
        return _rate_verdict(con, pilot, exceptions, events, limit, rates), said
    if rule == "source_process":
        have = {r[0] for r in con.execute(
            "SELECT kind FROM sources WHERE pilot_id = ? AND (mode = 'feed' OR NULLIF(trim(owner), '') IS NOT NULL)",
            [pilot.pilot_id]).fetchall()}
        missing = [k for k in ("usage", "feedback", "exceptions") if k not in have]
        return not missing, ("every log kind has a feed or an owned manual process" if not missing
                             else f"no feed or owned manual process for {', '.join(missing)}")
    if rule == "no_high_risk_open":
        n = open_high(con, pilot.pilot_id)
        return n == 0, f"{n} high risk{'s' if n != 1 else ''} open"
    raise ValueError(rule)


def _rate_verdict(con, pilot: Pilot, exceptions: int, events: int, limit: float,
                  rates: dict[str, Any] | None = None) -> dict[str, Any]:
    """The exception-rate condition judged on its interval: met when the whole interval lies under the
    limit, not met when it lies wholly at or over it, undecided (with how much more data would settle
    it) when it straddles the limit. The interval is the evidence's (analysis.confidence: by user),
    scaled to the rate the batch counts give: taken from ``rates`` when given (the pilot's unfiltered
    confidence.rate_intervals, which holds the same figure), else computed."""
    from analysis import confidence, intervals

    rate = 1000 * exceptions / events
    fig = rates.get("exceptions.per_1k_events") if rates is not None else confidence.exception_rate(con, pilot)
    if fig is None or (not fig.interval.value and rate):  # failure modes not computed: the counts alone
        iv = intervals.poisson_rate(exceptions, events, per=1000)
    else:
        factor = rate / fig.interval.value if fig.interval.value else 1.0
        iv = intervals.scaled(fig.interval, factor, rate)
    verdict = intervals.verdict(iv, limit, "below")
    more = None
    if verdict == "undecided" and fig is not None:
        more = intervals.more_data(iv, limit, fig.base, fig.noun, fig.per_day)
    return {"verdict": verdict, "interval": iv.as_list(2), "method": iv.method, "more_data": more, "level": iv.level}


def list_conditions(con: Connection, actor: Actor, pilot: Pilot, today: date | None = None,
                    rates: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The current review's conditions; computed ones show their live value and status, and a waiver
    that expired before ``today`` (default: today, UTC) reads "not met". ``rates``: the pilot's
    unfiltered analysis.confidence.rate_intervals when the caller has them (kept evidence, see
    readiness.review.evidence): the exception rate is judged on them instead of computing its
    interval again."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    review = con.execute("SELECT review_id FROM reviews WHERE pilot_id = ? ORDER BY number DESC LIMIT 1",
                         [pilot.pilot_id]).fetchone()
    if review is None:
        return []
    rows = _dicts(con.execute(
        """SELECT c.*, a.approval_id AS pending_approval, a.requested_by AS waiver_requested_by
           FROM conditions c LEFT JOIN approvals a
             ON a.kind = 'waiver' AND a.object_id = c.condition_id AND a.decided_at IS NULL
           WHERE c.review_id = ? ORDER BY c.condition_id""", [review[0]]))
    for r in rows:
        r["live_value"] = None
        if r["computed"] and r["status"] != "waived":
            ok, value = _live(con, pilot, r["computed"], rates)
            if isinstance(ok, dict):  # judged on an interval: met, not met or undecided
                r.update(ok)
                ok = ok["verdict"].replace("_", " ")
            r["status"], r["live_value"] = ({True: "met", False: "not met"}.get(ok, ok)), value
        if r["status"] == "waived" and r["waiver_expiry"] and r["waiver_expiry"] < (today or _now().date()):
            r["status"] = "not met"
            r["live_value"] = f"waiver expired on {r['waiver_expiry']}"
    return rows


def live_text(row: dict[str, Any]) -> str | None:
    """A computed condition's live value as shown, with its interval and, when undecided, "not enough
    evidence yet" and how much more data would settle it."""
    text = row.get("live_value")
    if not row.get("interval") or row.get("status") == "waived":
        return text
    low, high = row["interval"]
    text = f"{text}; {row.get('level', 0.95):.0%} interval {low:,.1f}–{high:,.1f} ({row['method']})"
    if row.get("verdict") == "undecided":
        text += f"; not enough evidence yet: {row['more_data'] or 'more data'} would settle it"
    return text


def blocking(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Required conditions that are not met (nor validly waived)."""
    return [r for r in rows if r["required"] and r["status"] == "not met"]


def _condition(con, pilot: Pilot, condition_id: int) -> dict[str, Any]:
    rows = _dicts(con.execute("SELECT * FROM conditions WHERE condition_id = ? AND pilot_id = ?",
                              [condition_id, pilot.pilot_id]))
    if not rows:
        raise ConditionError(f"{pilot.name} has no condition {condition_id}.")
    return rows[0]


def set_condition(con: Connection, actor: Actor, pilot: Pilot, condition_id: int, *,
                  status: str | None = None, owner: str | None = None, evidence: str | None = None,
                  requested_on: date | None = None) -> None:
    """Mark a condition met / not met and record its owner and evidence; audited with before and after.

    A waiver is not set here: it is requested with :func:`request_waiver` and needs a second person.
    """
    if status is not None and status not in ("met", "not met"):
        raise ConditionError("Set a condition to 'met' or 'not met'; a waiver is requested and approved.")
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        before = _condition(con, pilot, condition_id)
        if before["computed"] and status is not None:
            raise ConditionError(f"'{before['title']}' is computed from the logs; its status cannot be set by hand.")
        after = {"status": status or before["status"], "owner": owner if owner is not None else before["owner"],
                 "evidence": evidence if evidence is not None else before["evidence"],
                 "requested_on": requested_on or before["requested_on"]}
        con.execute("UPDATE conditions SET status = ?, owner = ?, evidence = ?, requested_on = ?, updated_by = ?, "
                    "updated_at = ? WHERE condition_id = ?",
                    [after["status"], after["owner"], after["evidence"], after["requested_on"], actor.name, _now(),
                     condition_id])
        audit.record(con, actor, "condition.edit", f"pilot:{pilot.pilot_id}/condition:{condition_id}", {
            "area": before["area"], "before": {k: before[k] for k in after}, "after": after})


# ------------------------------------------------------------------------------------------
# Four eyes


def request_waiver(con: Connection, actor: Actor, pilot: Pilot, condition_id: int, *,
                   reason: str, expiry: date) -> int:
    """Ask for a condition to be waived until ``expiry``; it stays as it is until someone else approves."""
    reason = (reason or "").strip()
    if not reason:
        raise ConditionError("A waiver needs a reason.")
    if expiry <= _now().date():
        raise ConditionError("A waiver needs an expiry date after today.")
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        cond = _condition(con, pilot, condition_id)
        return _request(con, actor, pilot, "waiver", condition_id,
                        {"area": cond["area"], "reason": reason, "expiry": expiry.isoformat()})


def request_tier_change(con: Connection, actor: Actor, pilot: Pilot, tier: str, reason: str) -> int | None:
    """Change the pilot's risk tier: raising it applies at once; lowering it waits for a second person.

    Returns the approval id of a pending request, or None when applied.
    """
    if tier not in RISK_TIERS:
        raise ConditionError(f"Risk tier must be one of {', '.join(RISK_TIERS)}, not {tier!r}.")
    if not (reason or "").strip():
        raise ConditionError("A tier change needs a reason.")
    with transaction(con):
        require(con, actor, "change_risk_tier", pilot.pilot_id)
        current = get_pilot(con, pilot.name).risk_tier
        if tier == current:
            raise ConditionError(f"{pilot.name} is already {tier} risk.")
        if _TIER_RANK[tier] > _TIER_RANK[current]:
            _apply_tier(con, actor, pilot, current, tier, reason, approved_by=None)
            return None
        return _request(con, actor, pilot, "tier", pilot.pilot_id, {"from": current, "to": tier, "reason": reason})


def _request(con, actor: Actor, pilot: Pilot, kind: str, object_id: int, payload: dict[str, Any]) -> int:
    if con.execute("SELECT 1 FROM approvals WHERE kind = ? AND object_id = ? AND pilot_id = ? AND decided_at IS NULL",
                   [kind, object_id, pilot.pilot_id]).fetchone():
        raise ConditionError(f"A {kind} request for this is already waiting for approval.")
    approval_id = next_id(con, "approval_id_seq")
    con.execute(
        "INSERT INTO approvals (approval_id, pilot_id, kind, object_id, payload, requested_by, requested_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [approval_id, pilot.pilot_id, kind, object_id, json.dumps(payload), actor.name, _now()])
    audit.record(con, actor, f"{kind}.request", f"pilot:{pilot.pilot_id}/approval:{approval_id}",
                 {"pilot": pilot.name, **payload})
    return approval_id


def _apply_tier(con, actor: Actor, pilot: Pilot, before: str, after: str, reason: str, approved_by: str | None) -> None:
    con.execute("UPDATE pilots SET risk_tier = ? WHERE pilot_id = ?", [after, pilot.pilot_id])
    # the current review's conditions follow the new tier
    for area in TEMPLATE:
        con.execute("UPDATE conditions SET required = ? WHERE pilot_id = ? AND area = ? AND review_id = "
                    "(SELECT max(review_id) FROM reviews WHERE pilot_id = ?)",
                    [required_for(area, after), pilot.pilot_id, area.key, pilot.pilot_id])
    audit.record(con, actor, "pilot.risk_tier", f"pilot:{pilot.pilot_id}",
                 {"before": {"risk_tier": before}, "after": {"risk_tier": after}, "reason": reason,
                  "approved_by": approved_by})


def describe_request(req: dict[str, Any]) -> str:
    """A pending approval in a reviewer's words, never its raw JSON payload."""
    payload = json.loads(req["payload"]) if isinstance(req["payload"], str) else req["payload"]
    if req["kind"] == "waiver":
        area = next((a.title for a in TEMPLATE if a.key == payload.get("area")),
                    str(payload.get("area", "")).replace("_", " "))
        return f"Waive “{area}” until {payload.get('expiry')}. Reason: {payload.get('reason')}"
    if req["kind"] == "tier":
        return (f"Lower the risk tier from {payload.get('from')} to {payload.get('to')}. "
                f"Reason: {payload.get('reason')}")
    return f"{req['kind']}: {json.dumps(payload)}"


def pending_approvals(con: Connection, actor: Actor, pilot: Pilot) -> list[dict[str, Any]]:
    require(con, actor, "read_pilot", pilot.pilot_id)
    return _dicts(con.execute("SELECT * FROM approvals WHERE pilot_id = ? AND decided_at IS NULL ORDER BY approval_id",
                              [pilot.pilot_id]))


def decide_approval(con: Connection, actor: Actor, pilot: Pilot, approval_id: int, *,
                    approve: bool, note: str | None = None) -> None:
    """A lead or admin other than the requester approves (the change takes effect) or rejects."""
    with transaction(con):
        rows = _dicts(con.execute("SELECT * FROM approvals WHERE approval_id = ? AND pilot_id = ?",
                                  [approval_id, pilot.pilot_id]))
        if not rows:
            raise ConditionError(f"{pilot.name} has no approval request {approval_id}.")
        req = rows[0]
        if req["decided_at"] is not None:
            raise ConditionError(f"Request {approval_id} was already {'approved' if req['approved'] else 'rejected'}.")
        require(con, actor, "approve", pilot.pilot_id, requested_by=req["requested_by"])
        payload = json.loads(req["payload"])
        con.execute("UPDATE approvals SET decided_by = ?, decided_at = ?, approved = ?, note = ? WHERE approval_id = ?",
                    [actor.name, _now(), approve, note, approval_id])
        if approve and req["kind"] == "waiver":
            con.execute("UPDATE conditions SET status = 'waived', waiver_reason = ?, waiver_expiry = ?, "
                        "updated_by = ?, updated_at = ? WHERE condition_id = ?",
                        [payload["reason"], date.fromisoformat(payload["expiry"]), actor.name, _now(), req["object_id"]])
        elif approve and req["kind"] == "tier":
            _apply_tier(con, actor, pilot, payload["from"], payload["to"], payload["reason"], approved_by=actor.name)
        audit.record(con, actor, f"{req['kind']}.{'approve' if approve else 'reject'}",
                     f"pilot:{pilot.pilot_id}/approval:{approval_id}",
                     {"pilot": pilot.name, "requested_by": req["requested_by"], "note": note, **payload})
