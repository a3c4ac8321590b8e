"""Headline figures of a pilot's evidence, as one nested dict (the CLI's `summary --json`).

Each rate and mean comes with ``<name>_interval: [low, high]`` at the ``confidence_level`` setting
(analysis.confidence; None where the figure is), and ``intervals`` says the level and each method.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analysis import confidence, failure_modes, feedback, usage
from analysis.common import NO_FILTERS, Empty, Filters
from analysis.intervals import level_default
from readiness.catalog import Pilot
from readiness.store import Connection


def _value(obj: Any, name: str) -> Any:
    if isinstance(obj, Empty) or obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def summary(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> dict[str, Any]:
    """Return {"usage": {...}, "feedback": {...}, "exceptions": {...}, "data_as_of": ...}.

    Figures a pilot lacks are None, with the reason under "notes".
    """
    notes: dict[str, str] = {}
    tot = usage.totals(con, pilot, filters)
    if isinstance(tot, Empty):
        notes["usage"] = tot.reason
    fb = feedback.feedback_summary(con, pilot, filters)
    if isinstance(fb, Empty):
        notes["feedback"] = fb.reason
    elif fb.missing:  # a figure not given says why, e.g. too few ratings for CSAT
        notes["feedback"] = " ".join(fb.missing.values())
    modes = failure_modes.failure_modes(con, pilot, filters)
    if isinstance(modes, Empty):
        notes["exceptions"] = modes.reason
    exc_count = 0 if isinstance(modes, Empty) else int(modes["count"].sum())
    events = _value(tot, "events")
    figs = confidence.rate_intervals(con, pilot, filters)

    def rate(name: str, digits: int = 4) -> Any:
        return round(figs[name].interval.value, digits) if name in figs else None

    def interval(name: str, digits: int = 4) -> list[float] | None:
        return figs[name].interval.as_list(digits) if name in figs else None
    as_of = con.execute(
        "SELECT max(last_ts) FROM ingest_batches WHERE pilot_id = ?", [pilot.pilot_id]).fetchone()[0]
    out = {
        "pilot": pilot.name,
        "usage": {
            "events": _value(tot, "events"),
            "users": _value(tot, "users"),
            "sessions": _value(tot, "sessions"),
            "sessions_reading": _value(tot, "sessions_reading"),
            "active_days": _value(tot, "active_days"),
            "dau_mean": _value(tot, "dau_mean"),
            "attempts": int(figs["usage.task_success"].base) if "usage.task_success" in figs else None,
            "task_success": rate("usage.task_success"),       # successes over the attempts (events with an outcome)
            "task_success_interval": interval("usage.task_success"),
            "stickiness": rate("usage.stickiness"),           # DAU / MAU over the last 28 days
            "stickiness_interval": interval("usage.stickiness"),
            "retention_week_1": rate("usage.retention_week_1"),  # of users, back in the week after their first
            "retention_week_1_interval": interval("usage.retention_week_1"),
        },
        "feedback": {
            "count": _value(fb, "count"),
            "rated": _value(fb, "rated"),        # the base of mean_rating and csat
            "scored": _value(fb, "scored"),      # the base of nps
            "comments": _value(fb, "comments"),  # rows with a non-blank comment
            "analysed": _value(fb, "analysed"),  # comments with a sentiment: the base of negative_share
            "mean_rating": _value(fb, "mean_rating"),
            "csat": _value(fb, "csat"),
            "nps": _value(fb, "nps"),
            "negative_share": _value(fb, "negative_share"),
            "mean_rating_interval": interval("feedback.mean_rating"),
            "csat_interval": interval("feedback.csat"),
            "nps_interval": interval("feedback.nps", 2),
            "negative_share_interval": interval("feedback.negative_share"),
        },
        "exceptions": {
            "count": exc_count,
            "failure_modes": 0 if isinstance(modes, Empty) else len(modes),
            "per_1k_events": round(1000 * exc_count / events, 2) if events else None,
            "per_1k_events_interval": interval("exceptions.per_1k_events", 2),
            "per_session": rate("exceptions.per_session"),    # per (user, session id) pair
            "per_session_interval": interval("exceptions.per_session"),
        },
        "intervals": {"level": level_default(),
                      "methods": {name: f.interval.method for name, f in figs.items()}},
        "data_as_of": as_of.isoformat() if as_of else None,
        "notes": notes,
    }
    return {k: ({kk: _plain(vv) for kk, vv in v.items()} if isinstance(v, dict) else _plain(v))
            for k, v in out.items()}
