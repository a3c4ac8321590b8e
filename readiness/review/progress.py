"""Where a review stands: the guided review's steps, each done or not, with what is missing.

The stepper in the app's sidebar shows these. A step is done when its evidence or record is there:
the logs are loaded, the failure modes are triaged, no high risk signal waits for a decision, the
required conditions are met or waived, the hand-off names an owner and a support path, and the
current review has its decision. Small reads only: counts from the batch, note, condition,
hand-off and decision tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from readiness.catalog import Pilot
from readiness.review import conditions, decisions, reviews
from readiness.security.access import Actor, require
from readiness.store import Connection

KINDS = ("usage", "feedback", "exceptions")


@dataclass(frozen=True)
class Step:
    name: str      # as in the navigation: "Sources", "Usage", ...
    done: bool
    detail: str    # what is there, or what is missing


def steps(con: Connection, actor: Actor, pilot: Pilot, untriaged_high: int = 0,
          conds: list[dict] | None = None) -> list[Step]:
    """The review's steps for ``pilot``; ``untriaged_high`` is the number of high signals not yet
    in the register (the caller has the signals cached); ``conds``, the current review's conditions
    when the caller has them (else they are listed here, computed ones judged afresh)."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    pid = pilot.pilot_id
    counts = con.execute("""SELECT kind, sum(rows_loaded), sum(rows_loaded + coalesce(rows_skipped, 0))
                            FROM ingest_batches WHERE pilot_id = ? GROUP BY kind""", [pid]).fetchall()
    loaded = {kind: n for kind, n, _ in counts}
    read = {kind: n for kind, _, n in counts}  # an exception log of information lines only was read, though empty
    missing = [k for k in KINDS if not read.get(k)]
    out = [Step("Sources", not missing,
                "all three kinds of log loaded" if not missing else f"no {', no '.join(missing)} loaded yet")]
    out.append(Step("Usage", bool(loaded.get("usage")),
                    f"{loaded['usage']:,} events" if loaded.get("usage") else "load usage logs on Sources"))
    out.append(Step("Feedback", bool(loaded.get("feedback")),
                    f"{loaded['feedback']:,} entries" if loaded.get("feedback") else "load feedback on Sources"))

    modes, untriaged = con.execute("""
        SELECT count(*), count(*) FILTER (WHERE coalesce(n.status, 'new') = 'new')
        FROM failure_modes m LEFT JOIN failure_mode_notes n USING (pilot_id, mode_id)
        WHERE m.pilot_id = ?""", [pid]).fetchone()
    if "exceptions" in missing:
        out.append(Step("Failure modes", False, "load exception logs on Sources"))
    elif not loaded.get("exceptions"):
        out.append(Step("Failure modes", True, "the exception logs held no warning or error"))
    else:
        out.append(Step("Failure modes", untriaged == 0,
                        f"all {modes} modes triaged" if untriaged == 0 else f"{untriaged} of {modes} modes still 'new'"))

    register = con.execute("SELECT count(*) FROM risks WHERE pilot_id = ?", [pid]).fetchone()[0]
    out.append(Step("Risks", untriaged_high == 0 and register > 0,
                    f"{untriaged_high} high signal{'s' * (untriaged_high != 1)} to accept or dismiss"
                    if untriaged_high else (f"{register} in the register" if register else "the register is empty")))

    conds = conditions.list_conditions(con, actor, pilot) if conds is None else conds
    blocking = conditions.blocking(conds)
    if not conds:
        out.append(Step("Readiness", False, "open the Readiness page to start the checklist"))
    else:
        met = sum(1 for c in conds if c["status"] in ("met", "waived"))  # undecided is not met
        out.append(Step("Readiness", not blocking,
                        f"{met} of {len(conds)} conditions met or waived"
                        + (f"; {len(blocking)} required still open" if blocking else "")))

    row = con.execute("SELECT operating_owner, support_path FROM handoffs WHERE pilot_id = ?", [pid]).fetchone()
    lacks = [what for what, value in zip(("an operating owner", "a support path"), row or (None, None), strict=True)
             if not (value or "").strip()]
    out.append(Step("Hand-off", not lacks, "owner and support path named" if not lacks else f"needs {' and '.join(lacks)}"))

    review = reviews.current_review(con, pilot)
    decided = reviews.current_decision(con, pilot, review_id=review["review_id"]) if review else None
    if decided:
        out.append(Step("Decision", True, f"{decisions.OUTCOMES[decided['outcome']]} (review {review['number']})"))
    else:
        out.append(Step("Decision", False, f"review {review['number']} has no decision yet" if review
                        else "no review recorded yet"))
    return out
