"""A decision's headline figures recomputed as decided: from the batches its evidence was read
from, whatever was loaded or deleted since.

The decision's frozen evidence lists its batches. Each evidence table is read through a view of
the rows of those batches: rows still loaded, plus the rows of deleted batches that were kept for
it (:mod:`readiness.ingest.retired`). Batches loaded later are left out. The figures are computed
by the same code as today's (``analysis.summary``) under the pilot's current settings (time zone,
success values, confidence level): when one of those changed since, the note says so.
"""

from __future__ import annotations

import json
from typing import Any

from readiness.catalog import Pilot
from readiness.errors import NotFound
from readiness.ingest import retired
from readiness.review import reviews
from readiness.security.access import Actor, require
from readiness.store import Connection, id_list, shadowed, table_of


class DecisionNotFound(NotFound):
    """No decision with that id for the pilot."""


def _views(con: Connection, batch_ids: list[int]) -> dict[str, str]:
    ids = id_list(batch_ids)
    kept = retired.retired_tables(con)
    views = {}
    for table in (*(t for tables in retired.BATCH_TABLES.values() for t in tables), retired.RECORD_TABLE):
        select = f"SELECT * FROM {table_of(con, table)} WHERE list_contains({ids}, batch_id)"
        if table in kept:
            select += (f" UNION ALL BY NAME SELECT * FROM {table_of(con, retired.retired_name(table))} "
                       f"WHERE list_contains({ids}, batch_id)")
        views[table] = select
    return views


def _plain(value: Any) -> Any:
    """As the frozen evidence holds it: JSON's values."""
    return json.loads(json.dumps(value, default=str))


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Dotted paths where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    return [] if a == b else [path or "(all)"]


def decided_figures(con: Connection, actor: Actor, pilot: Pilot, decision_id: int) -> dict[str, Any]:
    """{"decision_id", "decided_at", "outcome", "batches", "figures" (recomputed), "frozen" (as
    recorded), "matches", "differences"}."""
    from analysis.summary import summary  # loads pandas: imported when used, so the command line starts without it

    require(con, actor, "read_pilot", pilot.pilot_id)
    decision = reviews.get_decision(con, pilot, decision_id)
    if decision is None:
        raise DecisionNotFound(
            f"No decision {decision_id} for {pilot.name}. "
            f"List them with: python -m readiness decisions --pilot {json.dumps(pilot.name)}")
    snap = json.loads(decision["snapshot"])
    batch_ids = [int(b["batch_id"]) for b in snap.get("batches", [])]
    with shadowed(con, _views(con, batch_ids)) as asof:
        figures = _plain(summary(asof, pilot))
    frozen = snap.get("figures", {})
    diff = differences(figures, frozen)
    return {"decision_id": decision_id, "decided_at": str(decision.get("decided_at") or snap.get("taken_at")),
            "outcome": decision.get("outcome"), "batches": batch_ids, "figures": figures,
            "frozen": frozen, "matches": not diff, "differences": diff}


def describe(result: dict[str, Any]) -> str:
    """One line for a page: what the figures as decided were recomputed from, and whether they
    equal the frozen ones."""
    fig = result["figures"]
    parts = []
    for label, value in (("events", fig.get("usage", {}).get("events")),
                         ("task success", fig.get("usage", {}).get("task_success")),
                         ("CSAT", fig.get("feedback", {}).get("csat")),
                         ("exceptions", fig.get("exceptions", {}).get("count"))):
        if value is not None:
            parts.append(f"{label} {value:.0%}" if isinstance(value, float) and value <= 1 and label != "events"
                         else f"{label} {value:,}")
    n = len(result["batches"])
    head = (f"As decided (decision {result['decision_id']}): " + (", ".join(parts) or "no figures")
            + f", recomputed from the {n} batch{'es' if n != 1 else ''} its evidence was read from")
    if result["matches"]:
        return head + ": equal to the figures frozen with the decision."
    return (head + ": differs from the frozen figures in " + ", ".join(result["differences"][:6])
            + (" …" if len(result["differences"]) > 6 else "")
            + " (the pilot's time zone, success values or confidence level changed since, or data was lost).")
