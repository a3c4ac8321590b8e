"""Risk signals: what the telemetry says could go wrong in operations.

:func:`compute_signals` returns the signals that fire for a pilot, each in one of four classes
(``data``, ``customer_impact``, ``compliance``, ``operational_dependency``) with a severity, a
one-line finding in a reviewer's words, the figures behind it, and ``rows``: which rows show it.
A signal that does not fire is absent; when the data it needs is missing (no feedback, no session
ids, no outcomes...) it does not fire and nothing raises. :func:`signal_catalog` lists every signal.

Thresholds are the ``signal_*`` settings (readiness/settings.py), each with its reason. CSAT, the
negative share and task failures are also judged on their intervals (analysis.confidence): one
whose interval straddles the threshold is "low" and says how much more data would settle it.
Severity: a share past its threshold is "medium", and "high" at twice the threshold or halfway
from the threshold to 100%, whichever comes sooner (0.05 -> 0.10, 0.5 -> 0.75); a floor such as
CSAT is judged on its complement (dissatisfied share). Exceptions are named in the catalogue
(e.g. a missing owner is always high, a small rising failure mode is low).

``rows`` is a small dict a page passes to :func:`signal_rows`:
``{"table": "exceptions", "where": "personal_data"}`` or, with values,
``{"table": "exceptions", "where": "failure_mode", "values": [3, 7]}``. ``where`` names one of
the predicates in ``ROW_FILTERS`` (per table); the same predicates count the rows that make a
signal fire, so the rows shown are the rows counted.

The register-based signals read the review's own records: a data or security constraint with no
owner or mitigation (constraints register), no recorded security review (the security-review
condition), and a log kind with neither a feed nor an owned manual source process (sources).
"No named owner" reads the pilot's owner; the support path is a readiness condition.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from typing import Any

import pandas as pd

from analysis import failure_modes as fm
from analysis import feedback as fb
from analysis import intervals, usage
from analysis.common import Empty, frame, local_ts_sql
from readiness import settings
from readiness.catalog import Pilot
from readiness.review.handoff import operating_owner
from readiness.security import privacy
from readiness.security.access import Actor, require
from readiness.store import Connection

CLASSES = ("data", "customer_impact", "compliance", "operational_dependency")
SEVERITIES = ("low", "medium", "high")
LOG_KINDS = ("usage", "feedback", "exceptions")

# Words in a failure mode's error type or template that mark bad input data rather than a fault
# of the capability itself (parse / decode / schema errors, missing keys, rejected values).
DATA_ERROR_RE = r"pars(?:e|ing)|decod|schema|keyerror|valueerror|validat|malformed|unicode"
# Words in an exception's type or message that mark a timeout or a connection failure.
NETWORK_ERROR_RE = (r"timeout|timed out|connection|connect error|refused|reset by peer|unreachable|econn"
                    r"|name resolution|bad gateway|gateway timeout|service unavailable")
# user_id values that name nobody (lower-cased, trimmed); NULL and blank count too.
ANONYMOUS_IDS = ("", "anonymous", "anon", "guest", "unknown", "-", "0", "null", "none", "n/a")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The host an exception message names: a URL's host, host:port, or an IPv4 address (lower-cased).
HOST_SQL = (
    "lower(coalesce("
    r"NULLIF(regexp_extract(message, '[A-Za-z][A-Za-z0-9+.-]*://([^/:\s?#@]+)', 1), ''), "
    r"NULLIF(regexp_extract(message, '(?:^|[^A-Za-z0-9.-])((?:[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+)"
    r"|localhost):[0-9]{2,5}', 1), ''), "
    r"NULLIF(regexp_extract(message, '(?:^|[^0-9.])([0-9]{1,3}(?:\.[0-9]{1,3}){3})(?:[^0-9.]|$)', 1), '')))"
)
_NETWORK_SQL = f"regexp_matches(lower(coalesce(error_type, '') || ' ' || coalesce(message, '')), {_lit(NETWORK_ERROR_RE)})"
_ANONYMOUS_SQL = f"(user_id IS NULL OR lower(trim(user_id)) IN ({', '.join(_lit(v) for v in ANONYMOUS_IDS)}))"
_FAILED_SQL = (f"(NULLIF(trim(outcome), '') IS NOT NULL AND lower(trim(outcome)) NOT IN "
               f"({', '.join(_lit(v) for v in usage.SUCCESS_VALUES)}))")


def _work_days(text: str) -> set[int] | None:
    """ISO weekdays (1 = Monday) of 'Mon-Fri', 'Mon,Wed,Fri' or 'Sun-Thu'; None when unreadable."""
    out: set[int] = set()
    for part in (text or "").lower().replace(" ", "").split(","):
        ends = part.split("-")
        if not part or len(ends) > 2 or any(e[:3] not in _DAYS for e in ends):
            return None
        a, b = _DAYS.index(ends[0][:3]), _DAYS.index(ends[-1][:3])
        out.update(1 + (a + i) % 7 for i in range((b - a) % 7 + 1))
    return out


def _off_hours_sql(pilot: Pilot) -> str:
    """SQL predicate: the row's ``ts`` falls outside the pilot's working days and hours (local time)."""
    days = _work_days(pilot.work_days)
    if days is None:
        return "false"
    local = local_ts_sql(pilot, "ts")
    t, start, end = f"CAST({local} AS TIME)", _lit(str(pilot.work_start)), _lit(str(pilot.work_end))
    if pilot.work_start < pilot.work_end:
        hours = f"({t} >= TIME {start} AND {t} < TIME {end})"
    elif pilot.work_start > pilot.work_end:  # a shift past midnight
        hours = f"({t} >= TIME {start} OR {t} < TIME {end})"
    else:
        hours = "true"
    return f"NOT (isodow({local}) IN ({', '.join(map(str, sorted(days)))}) AND {hours})"


# table -> where -> predicate: a SQL string, or a function of (pilot, values) giving (SQL, params).
ROW_FILTERS: dict[str, dict[str, Any]] = {
    "exceptions": {
        "personal_data": "personal_data",
        "failure_mode": lambda p, v: (f"failure_mode IN ({', '.join('?' for _ in v)})", list(v)),
        "in_session": "NULLIF(trim(session_id), '') IS NOT NULL",
        "host": lambda p, v: (f"{_NETWORK_SQL} AND {HOST_SQL} IN ({', '.join('?' for _ in v)})", list(v)),
        "off_hours": lambda p, v: (_off_hours_sql(p), []),
    },
    "feedback": {
        "personal_data": "personal_data",
        "low_rating": "rating < 4",
        "negative": f"NULLIF(trim(comment), '') IS NOT NULL AND sentiment <= {fb.NEGATIVE_SENTIMENT}",
    },
    "usage_events": {
        "failed_outcome": _FAILED_SQL,
        "anonymous_user": _ANONYMOUS_SQL,
        "user_id": lambda p, v: (f"user_id IN ({', '.join('?' for _ in v)})", list(v)),
        "team": lambda p, v: ("team IN (" + ", ".join("?" for _ in v) + ")", list(v)),
    },
    "ingest_batches": {"all": "true"},
    "pilots": {"all": "true"},
}


def rows_where(pilot: Pilot, rows: dict) -> tuple[str, str, list[Any]]:
    """(table, WHERE clause, params) of the rows behind a signal (``Signal.rows``) for ``pilot``."""
    table, name = rows["table"], rows["where"]
    pred = ROW_FILTERS[table][name]
    sql, params = pred(pilot, rows.get("values", [])) if callable(pred) else (pred, [])
    return table, f"pilot_id = ? AND ({sql})", [pilot.pilot_id, *params]


def signal_rows(con: Connection, actor: Actor, pilot: Pilot, rows: dict,
                limit: int = 100) -> pd.DataFrame:
    """The rows behind a signal (newest first where rows have times), every text column masked."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    table, clause, params = rows_where(pilot, rows)
    order = {"pilots": "pilot_id", "ingest_batches": "batch_id"}.get(table, "ts DESC, batch_id, src_row")
    df = frame(con, f"SELECT * FROM {table} WHERE {clause} ORDER BY {order} LIMIT ?", [*params, int(limit)])
    # every text column, not only message and comment: error_type, component, category, team, the
    # kept source columns (attributes)...; a user id becomes a pseudonym, as on Failure modes
    return privacy.mask_frame(df)


# --- results ------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """``value`` with numpy scalars, dates and tuples turned into JSON types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


@dataclass(frozen=True)
class Signal:
    key: str                 # stable, e.g. 'data.personal_data_in_exceptions'
    risk_class: str          # one of CLASSES
    severity: str            # low | medium | high
    finding: str             # one line in a reviewer's words
    figures: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, Any] = field(default_factory=dict)   # see rows_where / signal_rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``class`` for risk_class)."""
        d = _plain(asdict(self))
        d["class"] = d.pop("risk_class")
        return d


@dataclass(frozen=True)
class SignalSpec:
    key: str
    risk_class: str
    trigger: str             # what makes it fire
    setting: str | None      # its threshold setting, if any
    severity: str            # how severity is set

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["class"] = d.pop("risk_class")
        if self.setting:
            d["threshold"] = settings.get(self.setting)
        return d


def _share_severity(value: float, threshold: float) -> str:
    """'high' at twice the threshold or halfway from it to 100%, whichever is sooner; else 'medium'."""
    high = min(2 * threshold, (1 + threshold) / 2) if threshold > 0 else 0.5
    return "high" if value >= high else "medium"


def _pct(x: float) -> str:
    return f"{x:.1%}" if x < 0.1 else f"{x:.0%}"


def _n(x: int) -> str:
    return f"{int(x):,}"


def _quote(template: str, width: int = 60) -> str:
    t = str(template)
    return f"“{t[:width - 1]}…”" if len(t) > width else f"“{t}”"


class _Evidence:
    """What the checks share for one pilot, each figure computed once."""

    def __init__(self, con: Connection, pilot: Pilot):
        self.con, self.pilot = con, pilot

    def one(self, sql: str, params: list[Any]) -> tuple:
        return self.con.execute(sql, params).fetchone()

    def count(self, rows: dict) -> int:
        table, clause, params = rows_where(self.pilot, rows)
        return int(self.one(f"SELECT count(*) FROM {table} WHERE {clause}", params)[0])

    def total(self, table: str) -> int:
        return int(self.one(f"SELECT count(*) FROM {table} WHERE pilot_id = ?", [self.pilot.pilot_id])[0])

    @functools.cached_property
    def exceptions(self) -> int:
        return self.total("exceptions")

    @functools.cached_property
    def modes(self) -> pd.DataFrame | None:
        out = fm.failure_modes(self.con, self.pilot)
        return None if isinstance(out, Empty) else out

    @functools.cached_property
    def rollup_built(self) -> bool:
        """Whether the usage rollup (analysis.usage_rollup) holds the pilot's events: per user and
        session it has them whatever its time zone, so user-level figures read it, not the events."""
        return bool(self.one("SELECT count(*) FROM usage_rollup_state WHERE pilot_id = ?", [self.pilot.pilot_id])[0])

    @property
    def usage_by_user(self) -> str:
        """A table of the pilot's usage with ``user_id`` and ``events`` (one row per event, or the rollup's)."""
        return ("usage_by_session" if self.rollup_built
                else "(SELECT pilot_id, user_id, 1 AS events FROM usage_events)")

    @functools.cached_property
    def usage_users(self) -> int:
        return int(self.one(f"SELECT count(DISTINCT user_id) FROM {self.usage_by_user} WHERE pilot_id = ? AND NOT "
                            + _ANONYMOUS_SQL, [self.pilot.pilot_id])[0])

    @functools.cached_property
    def feedback(self) -> fb.FeedbackSummary | None:
        out = fb.feedback_summary(self.con, self.pilot)
        return None if isinstance(out, Empty) else out

    @functools.cached_property
    def rates(self) -> dict:
        """The headline figures with their intervals (analysis.confidence), by summary name."""
        from analysis import confidence

        return confidence.rate_intervals(self.con, self.pilot)

    def judged(self, name: str, threshold: float, better: str, flip: bool = False) -> tuple[str | None, str, dict]:
        """A share rule's figure judged on its interval: (verdict, words to add to the finding, figures).
        ``flip``: the signal reads the complement (failures of a success rate). An undecided one says
        how much more data would settle it; None without an interval."""
        fig = self.rates.get(name)
        if fig is None:
            return None, "", {}
        verdict = intervals.verdict(fig.interval, threshold, better)
        low, high = (1 - fig.interval.high, 1 - fig.interval.low) if flip else (fig.interval.low, fig.interval.high)
        words = f" ({fig.interval.level:.0%} interval {_pct(low)}–{_pct(high)})"
        if verdict == "undecided":
            words += f"; not enough evidence yet: {fig.more_data(threshold)} would settle it"
        return verdict, words, {"interval": [low, high], "verdict": verdict, "method": fig.interval.method}

    @functools.cached_property
    def personal_user_ids(self) -> dict[str, list[str]]:
        """Per log table, the user ids that are themselves personal data (emails, phone numbers)."""
        out = {}
        for table in ("usage_events", "exceptions", "feedback"):
            source = self.usage_by_user if table == "usage_events" else table
            ids = [r[0] for r in self.con.execute(
                f"SELECT DISTINCT user_id FROM {source} WHERE pilot_id = ? AND user_id IS NOT NULL ORDER BY 1",
                [self.pilot.pilot_id]).fetchall()]
            hits = [i for i in ids if privacy.has_personal_data(i)]
            if hits:
                out[table] = hits
        return out


Check = Callable[[_Evidence], "Signal | None"]
_CHECKS: list[tuple[SignalSpec, Check]] = []


# Checks that read nothing but the pilot's loaded logs (no profile, time zone, register, source or
# review record): their results change only when a batch is loaded or deleted, so the app keeps them
# across review edits (readiness.web.cache.signals), which re-run only the others. On 10M events they are 1.4 of 2 s.
_LOGS_ONLY: set[str] = set()


def _signal(key: str, trigger: str, setting: str | None, severity: str,
            logs_only: bool = False) -> Callable[[Check], Check]:
    """Register a check under its catalogue entry; ``logs_only``: see _LOGS_ONLY."""
    risk_class = key.split(".", 1)[0]
    assert risk_class in CLASSES, key

    def register(fn: Check) -> Check:
        _CHECKS.append((SignalSpec(key, risk_class, trigger, setting, severity), fn))
        if logs_only:
            _LOGS_ONLY.add(key)
        return fn
    return register


def _make(key: str, severity: str, finding: str, figures: dict, rows: dict) -> Signal:
    """A fired signal. Its finding and figures are shown (Risks, Readout, the decision's frozen
    evidence) and quote log values (an error type, a team, a host): masked here, once. ``rows`` is a
    query, not shown: it keeps the raw values it selects by."""
    return Signal(key, key.split(".", 1)[0], severity, privacy.mask(finding), privacy.masked(figures), rows)


def _min_count() -> int:
    return int(settings.get("signal_min_count"))


# --- data ---------------------------------------------------------------------------------------

def _personal_data(ev: _Evidence, key: str, table: str, total: int, noun: str) -> Signal | None:
    rows = {"table": table, "where": "personal_data"}
    n = ev.count(rows)
    if not total or not n or n / total <= settings.get("signal_personal_data_share"):
        return None
    share = n / total
    sev = "high" if share >= settings.get("signal_personal_data_high_share") else "medium"
    return _make(key, sev, f"{_n(n)} {noun} ({_pct(share)}) contain emails, phone numbers or card-like numbers",
                 {"rows": n, "total": total, "share": share}, rows)


@_signal("data.personal_data_in_exceptions", "Exception messages contain emails, phone numbers or card-like "
         "numbers.", "signal_personal_data_share", "high from signal_personal_data_high_share of messages",
         logs_only=True)
def _pd_exceptions(ev: _Evidence) -> Signal | None:
    return _personal_data(ev, "data.personal_data_in_exceptions", "exceptions", ev.exceptions, "exception messages")


@_signal("data.personal_data_in_feedback", "Feedback comments contain emails, phone numbers or card-like numbers.",
         "signal_personal_data_share", "high from signal_personal_data_high_share of comments")
def _pd_feedback(ev: _Evidence) -> Signal | None:
    comments = ev.feedback.comments if ev.feedback else 0
    return _personal_data(ev, "data.personal_data_in_feedback", "feedback", comments, "feedback comments")


@_signal("data.data_errors", "Failure modes whose type or template reads as a parse / decode / schema / "
         "KeyError / ValueError / validation error make too large a share of exceptions.",
         "signal_data_error_share", "share rule")
def _data_errors(ev: _Evidence) -> Signal | None:
    modes = ev.modes
    if modes is None:
        return None
    text = (modes["error_type"].fillna("") + " " + modes["template"].fillna("")).str.lower()
    hit = modes[text.str.contains(DATA_ERROR_RE, regex=True)]
    total = int(modes["count"].sum())
    n = int(hit["count"].sum())
    threshold = settings.get("signal_data_error_share")
    if n < _min_count() or n / total <= threshold:
        return None
    share = n / total
    top = hit.iloc[0]
    return _make("data.data_errors", _share_severity(share, threshold),
                 f"{_n(n)} exceptions ({_pct(share)}) are data errors in {len(hit)} failure modes, led by "
                 f"{top['error_type'] or 'an untyped error'} {_quote(top['template'])}",
                 {"exceptions": n, "total": total, "share": share, "modes": [int(m) for m in hit["mode_id"]],
                  "error_types": sorted({str(t) for t in hit["error_type"].dropna()})},
                 {"table": "exceptions", "where": "failure_mode", "values": [int(m) for m in hit["mode_id"]]})


@_signal("data.missing_log", "A log kind (usage, feedback, exceptions) has no data loaded for the pilot.", None,
         "high when usage is missing (no evidence of use), else medium")
def _missing_log(ev: _Evidence) -> Signal | None:
    loaded = {r[0] for r in ev.con.execute("SELECT DISTINCT kind FROM ingest_batches WHERE pilot_id = ?",
                                           [ev.pilot.pilot_id]).fetchall()}
    missing = [k for k in LOG_KINDS if k not in loaded]
    if not missing:
        return None
    return _make("data.missing_log", "high" if "usage" in missing else "medium",
                 f"No {' or '.join(missing)} log has been loaded, so what it would show is unknown",
                 {"missing": missing, "loaded": sorted(loaded)}, {"table": "ingest_batches", "where": "all"})


@_signal("data.no_source_process", "A log kind has neither a feed nor an owned manual source process, so nobody "
         "is sure to keep it coming after the pilot.", None, "high when usage is one of them, else medium")
def _no_source_process(ev: _Evidence) -> Signal | None:
    have = {r[0] for r in ev.con.execute(
        "SELECT kind FROM sources WHERE pilot_id = ? AND (mode = 'feed' OR NULLIF(trim(owner), '') IS NOT NULL)",
        [ev.pilot.pilot_id]).fetchall()}
    missing = [k for k in LOG_KINDS if k not in have]
    if not missing:
        return None
    return _make("data.no_source_process", "high" if "usage" in missing else "medium",
                 f"No feed and no owned manual source process for the {', '.join(missing)} "
                 f"log{'s' if len(missing) > 1 else ''}", {"missing": missing}, {"table": "pilots", "where": "all"})


# --- customer impact ----------------------------------------------------------------------------

@_signal("customer_impact.session_exception_share", "Share of sessions (distinct user and session id in usage) "
         "with at least one exception.", "signal_session_exception_share", "share rule", logs_only=True)
def _session_share(ev: _Evidence) -> Signal | None:
    # (user, session) pairs from the usage rollup (sessions trimmed, blank = NULL) once it is built:
    # 10M raw events take half a second to scan; the pairs do not depend on the rollup's time zone
    built = ev.one("SELECT count(*) FROM usage_rollup_state WHERE pilot_id = ?", [ev.pilot.pilot_id])[0]
    pairs = ("SELECT DISTINCT user_id, session_id AS sid FROM usage_by_session WHERE pilot_id = ? "
             "AND session_id IS NOT NULL") if built else (
             "SELECT DISTINCT user_id, trim(session_id) AS sid FROM usage_events "
             "WHERE pilot_id = ? AND NULLIF(trim(session_id), '') IS NOT NULL")
    sessions, hit = ev.one(f"""
        WITH s AS ({pairs}),
             x AS (SELECT DISTINCT user_id, trim(session_id) AS sid FROM exceptions
                   WHERE pilot_id = ? AND NULLIF(trim(session_id), '') IS NOT NULL)
        SELECT (SELECT count(*) FROM s),
               (SELECT count(*) FROM (SELECT DISTINCT s.user_id, s.sid FROM s JOIN x ON s.sid = x.sid
                                      AND (x.user_id IS NULL OR x.user_id IS NOT DISTINCT FROM s.user_id)))""",
                           [ev.pilot.pilot_id, ev.pilot.pilot_id])
    threshold = settings.get("signal_session_exception_share")
    if sessions < _min_count() or not hit or hit / sessions <= threshold:
        return None
    share = hit / sessions
    return _make("customer_impact.session_exception_share", _share_severity(share, threshold),
                 f"{_n(hit)} of {_n(sessions)} sessions ({_pct(share)}) hit at least one exception",
                 {"sessions": int(sessions), "sessions_with_exception": int(hit), "share": share},
                 {"table": "exceptions", "where": "in_session"})


@_signal("customer_impact.failure_mode_many_users", "A failure mode hit a large share of the pilot's users "
         "(users in usage).", "signal_mode_user_share", "share rule, on the worst mode")
def _mode_users(ev: _Evidence) -> Signal | None:
    modes, users = ev.modes, ev.usage_users
    if modes is None or users < _min_count():
        return None
    threshold = settings.get("signal_mode_user_share")
    with_share = modes.assign(user_share=modes["users"] / users)
    hit = with_share[with_share["user_share"] > threshold].sort_values(["users", "count"], ascending=False)
    if hit.empty:
        return None
    top = hit.iloc[0]
    more = f" ({len(hit) - 1} more modes hit over {_pct(threshold)} of users)" if len(hit) > 1 else ""
    return _make("customer_impact.failure_mode_many_users", _share_severity(float(top["user_share"]), threshold),
                 f"{top['error_type'] or 'Failure'} {_quote(top['template'])} hit {_n(top['users'])} of {_n(users)} "
                 f"users ({_pct(float(top['user_share']))}){more}",
                 {"users": users, "modes": [{"mode_id": int(r.mode_id), "users": int(r.users),
                                             "user_share": float(r.user_share)} for r in hit.itertuples()]},
                 {"table": "exceptions", "where": "failure_mode", "values": [int(m) for m in hit["mode_id"]]})


@_signal("customer_impact.rising_exceptions", "A failure mode is rising (last 7 days >= 1.5x the 7 before, "
         "see analysis.failure_modes).", "signal_rising_share",
         "low below the threshold share of exceptions, then the share rule")
def _rising(ev: _Evidence) -> Signal | None:
    modes = ev.modes
    if modes is None:
        return None
    hit = modes[modes["trend"] == "rising"]
    if hit.empty:
        return None
    share = float(hit["share"].sum())
    threshold = settings.get("signal_rising_share")
    sev = "low" if share <= threshold else _share_severity(share, threshold)
    top = hit.iloc[0]
    names = f"{top['error_type'] or 'Failure'} {_quote(top['template'])}"
    more = f" and {len(hit) - 1} more" if len(hit) > 1 else ""
    return _make("customer_impact.rising_exceptions", sev,
                 f"{names}{more} rising over the last 7 days ({_pct(share)} of all exceptions)",
                 {"modes": [int(m) for m in hit["mode_id"]], "exceptions": int(hit["count"].sum()), "share": share},
                 {"table": "exceptions", "where": "failure_mode", "values": [int(m) for m in hit["mode_id"]]})


@_signal("customer_impact.low_csat", "CSAT (share of 1-5 ratings at 4 or 5) is below the floor.",
         "signal_csat_min", "share rule on the dissatisfied share (1 - CSAT) against 1 - threshold")
def _low_csat(ev: _Evidence) -> Signal | None:
    s = ev.feedback
    floor = settings.get("signal_csat_min")
    if s is None or s.csat is None or s.rated < _min_count() or s.csat >= floor:
        return None
    verdict, words, judged = ev.judged("feedback.csat", floor, "above")
    return _make("customer_impact.low_csat",
                 "low" if verdict == "undecided" else _share_severity(1 - s.csat, 1 - floor),
                 f"CSAT is {_pct(s.csat)} over {_n(s.rated)} ratings (mean {s.mean_rating:.1f} of 5), "
                 f"below {_pct(floor)}{words}",
                 {"csat": s.csat, "rated": s.rated, "mean_rating": s.mean_rating, "rating_counts": s.rating_counts,
                  **judged},
                 {"table": "feedback", "where": "low_rating"})


@_signal("customer_impact.negative_feedback", "Share of written comments with negative sentiment "
         "(VADER compound <= -0.05).", "signal_negative_share", "share rule")
def _negative(ev: _Evidence) -> Signal | None:
    s = ev.feedback
    threshold = settings.get("signal_negative_share")
    if s is None or s.negative_share is None or s.comments < _min_count() or s.negative_share <= threshold:
        return None
    n = round(s.negative_share * s.comments)
    verdict, words, judged = ev.judged("feedback.negative_share", threshold, "below")
    return _make("customer_impact.negative_feedback",
                 "low" if verdict == "undecided" else _share_severity(s.negative_share, threshold),
                 f"{_pct(s.negative_share)} of {_n(s.comments)} comments are negative{words}",
                 {"negative_share": s.negative_share, "comments": s.comments, "negative": n, **judged},
                 {"table": "feedback", "where": "negative"})


@_signal("customer_impact.task_failures", "Share of usage events with an outcome that is not a success.",
         "signal_task_failure_rate", "share rule")
def _task_failures(ev: _Evidence) -> Signal | None:
    ts = usage.task_success(ev.con, ev.pilot)
    threshold = settings.get("signal_task_failure_rate")
    if isinstance(ts, Empty) or ts.attempts < _min_count() or 1 - ts.success_rate <= threshold:
        return None
    rate = 1 - ts.success_rate
    worst = ts.by_feature[ts.by_feature["attempts"] >= _min_count()].sort_values("success_rate").head(1)
    tail = (f"; worst: {worst.iloc[0]['feature']} ({_pct(1 - float(worst.iloc[0]['success_rate']))})"
            if not worst.empty else "")
    verdict, words, judged = ev.judged("usage.task_success", 1 - threshold, "above", flip=True)
    return _make("customer_impact.task_failures", "low" if verdict == "undecided" else _share_severity(rate, threshold),
                 f"{_n(ts.attempts - ts.successes)} of {_n(ts.attempts)} attempts failed ({_pct(rate)}){words}{tail}",
                 {"attempts": ts.attempts, "failures": ts.attempts - ts.successes, "failure_rate": rate, **judged},
                 {"table": "usage_events", "where": "failed_outcome"})


# --- compliance ---------------------------------------------------------------------------------

@_signal("compliance.personal_data_in_logs", "Personal data is kept in the logs: in exception messages, "
         "feedback comments, or user ids that are email addresses or phone numbers.",
         "signal_personal_data_share", "high when any log holds it in signal_personal_data_high_share of rows, "
         "or user ids are personal data; else medium", logs_only=True)
def _pd_logs(ev: _Evidence) -> Signal | None:
    places, figures, shares = [], {}, [0.0]
    sources = (("exceptions", ev.exceptions, "exception messages"),
               ("feedback", ev.feedback.comments if ev.feedback else 0, "feedback comments"))
    best = None
    for table, total, noun in sources:
        rows = {"table": table, "where": "personal_data"}
        n = ev.count(rows) if total else 0
        if n and n / total > settings.get("signal_personal_data_share"):
            places.append(f"{_n(n)} {noun}")
            figures[table] = {"rows": n, "total": total, "share": n / total}
            shares.append(n / total)
            if best is None or n > best[0]:
                best = (n, rows)
    ids = ev.personal_user_ids
    if ids:
        logs = ", ".join(t.replace("_events", "") for t in ids)
        places.append(f"user ids that are emails or phone numbers ({logs})")
        figures["user_ids"] = {t: len(v) for t, v in ids.items()}
        if best is None:  # show the usage of those users (or the first log that has them)
            table = "usage_events" if "usage_events" in ids else next(iter(ids))
            best = (0, {"table": "usage_events", "where": "user_id", "values": ids[table][:100]})
    if not places:
        return None
    high = ids or max(shares) >= settings.get("signal_personal_data_high_share")
    return _make("compliance.personal_data_in_logs", "high" if high else "medium",
                 "Logs keep personal data: " + "; ".join(places) + " (needs a lawful basis and a retention rule)",
                 figures, best[1])


@_signal("compliance.unauthenticated_usage", "Share of usage events with no user id, or an anonymous one "
         "('anonymous', 'guest', 'unknown', '-', '0', ...).", "signal_anonymous_usage_share", "share rule",
         logs_only=True)
def _anonymous(ev: _Evidence) -> Signal | None:
    rows = {"table": "usage_events", "where": "anonymous_user"}
    if ev.rollup_built:  # the events without a named user: all of them less the rollup's named users' events
        total, named = ev.one(f"""
            SELECT (SELECT coalesce(sum(rows_loaded), 0) FROM ingest_batches WHERE pilot_id = $p AND kind = 'usage'),
                   (SELECT coalesce(sum(events), 0) FROM usage_by_session WHERE pilot_id = $p AND NOT {_ANONYMOUS_SQL})""",
                              {"p": ev.pilot.pilot_id})
        total, n = int(total), int(total - named)
    else:
        total = ev.total("usage_events")
        n = ev.count(rows) if total else 0
    threshold = settings.get("signal_anonymous_usage_share")
    if total < _min_count() or not n or n / total <= threshold:
        return None
    return _make("compliance.unauthenticated_usage", _share_severity(n / total, threshold),
                 f"{_n(n)} usage events ({_pct(n / total)}) have no authenticated user id",
                 {"events": n, "total": total, "share": n / total}, rows)


@_signal("compliance.constraint_unowned", "A data or security constraint in the constraints register is open "
         "with no owner or no mitigation.", None, "high for a security constraint, else medium")
def _constraint_unowned(ev: _Evidence) -> Signal | None:
    rows = ev.con.execute(
        """SELECT constraint_id, area, description, NULLIF(trim(owner), '') IS NULL,
                  NULLIF(trim(mitigation), '') IS NULL FROM constraints
           WHERE pilot_id = ? AND status = 'open' AND area IN ('data', 'security')
             AND (NULLIF(trim(owner), '') IS NULL OR NULLIF(trim(mitigation), '') IS NULL)
           ORDER BY constraint_id""", [ev.pilot.pilot_id]).fetchall()
    if not rows:
        return None
    first = rows[0]
    more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
    # say which is missing: "has no owner or no mitigation" reads as wrong to a reviewer who has set the owner
    missing = " and ".join(w for w, gone in (("no owner", first[3]), ("no mitigation", first[4])) if gone)
    return _make("compliance.constraint_unowned", "high" if any(r[1] == "security" for r in rows) else "medium",
                 f"The {first[1]} constraint “{first[2][:80]}” has {missing}{more}",
                 {"constraints": [r[0] for r in rows]}, {"table": "pilots", "where": "all"})


@_signal("compliance.no_security_review", "No security review is recorded (the review's security-review condition "
         "is not met, or there are no conditions yet).", None, "high for a high-risk pilot, else medium")
def _no_security_review(ev: _Evidence) -> Signal | None:
    row = ev.con.execute(
        """SELECT c.status, c.evidence FROM conditions c
           WHERE c.pilot_id = ? AND c.area = 'security_review'
           ORDER BY c.review_id DESC LIMIT 1""", [ev.pilot.pilot_id]).fetchone()
    if row is not None and row[0] in ("met", "waived"):
        return None
    return _make("compliance.no_security_review", "high" if ev.pilot.risk_tier == "high" else "medium",
                 "No security review is recorded for this pilot (who, when, findings)",
                 {"condition_status": row[0] if row else None}, {"table": "pilots", "where": "all"})


# --- operational dependency ---------------------------------------------------------------------

@_signal("operational_dependency.power_users", "Share of usage events made by the top 10% of users "
         "(at least one user).", "signal_top_user_share", "share rule")
def _power_users(ev: _Evidence) -> Signal | None:
    c = usage.concentration(ev.con, ev.pilot)
    threshold = settings.get("signal_top_user_share")
    if isinstance(c, Empty) or c.events < _min_count() or c.top_share <= threshold:
        return None
    top = [r[0] for r in ev.con.execute(
        f"SELECT user_id FROM {ev.usage_by_user} WHERE pilot_id = ? AND user_id IS NOT NULL GROUP BY user_id "
        "ORDER BY sum(events) DESC, user_id LIMIT ?", [ev.pilot.pilot_id, c.top_users]).fetchall()]
    return _make("operational_dependency.power_users", _share_severity(c.top_share, threshold),
                 f"The top {c.top_users} of {c.users} users make {_pct(c.top_share)} of the use; "
                 f"{c.users_for_half} users make half of it",
                 {"events": c.events, "users": c.users, "top_users": c.top_users, "top_share": c.top_share,
                  "users_for_half": c.users_for_half},
                 {"table": "usage_events", "where": "user_id", "values": top})


@_signal("operational_dependency.one_team", "Share of usage events made by the busiest team.",
         "signal_team_share", "share rule")
def _one_team(ev: _Evidence) -> Signal | None:
    c = usage.concentration(ev.con, ev.pilot)
    threshold = settings.get("signal_team_share")
    if isinstance(c, Empty) or c.busiest_team_share is None or c.events < _min_count() \
            or c.busiest_team_share <= threshold:
        return None
    # the finding names the team as shown (masked); the rows select by its name as stored
    return _make("operational_dependency.one_team", _share_severity(c.busiest_team_share, threshold),
                 f"{c.busiest_team} makes {_pct(c.busiest_team_share)} of the use",
                 {"team": c.busiest_team, "share": c.busiest_team_share, "events": c.events},
                 {"table": "usage_events", "where": "team", "values": [usage.busiest_team(ev.con, ev.pilot)]})


@_signal("operational_dependency.external_dependency", "Among timeout and connection errors, the share naming "
         "one host (from URLs, host:port or IP addresses in the message).", "signal_dependency_share", "share rule",
         logs_only=True)
def _dependency(ev: _Evidence) -> Signal | None:
    if not ev.exceptions:
        return None
    df = frame(ev.con, f"""
        WITH n AS (SELECT {HOST_SQL} AS host FROM exceptions WHERE pilot_id = ? AND {_NETWORK_SQL})
        SELECT host, count(*) AS n, sum(count(*)) OVER () AS total FROM n GROUP BY host
        ORDER BY (host IS NULL), n DESC, host""", [ev.pilot.pilot_id])
    if df.empty or pd.isna(df.iloc[0]["host"]):
        return None
    host, n, total = str(df.iloc[0]["host"]), int(df.iloc[0]["n"]), int(df.iloc[0]["total"])
    threshold = settings.get("signal_dependency_share")
    if n < _min_count() or n / total <= threshold:
        return None
    share = n / total
    return _make("operational_dependency.external_dependency", _share_severity(share, threshold),
                 f"{_n(n)} of {_n(total)} timeouts and connection errors ({_pct(share)}) are calls to {host} "
                 f"({_pct(n / ev.exceptions)} of all exceptions)",
                 {"host": host, "failures": n, "network_failures": total, "share": share,
                  "share_of_exceptions": n / ev.exceptions,
                  "hosts": {str(h): int(c) for h, c in zip(df["host"], df["n"], strict=True) if not pd.isna(h)}},
                 {"table": "exceptions", "where": "host", "values": [host]})


@_signal("operational_dependency.no_owner", "The pilot has no named owner (the support path is checked by the "
         "ownership condition and recorded with the hand-off).", None, "always high")
def _no_owner(ev: _Evidence) -> Signal | None:
    # the Hand-off page's operating owner counts too, as for the ownership condition, so that the
    # condition and this signal never disagree about whether there is an owner
    if (ev.pilot.owner or "").strip() or operating_owner(ev.con, ev.pilot.pilot_id):
        return None
    return _make("operational_dependency.no_owner", "high",
                 "Nobody is named as the pilot's owner, so nobody is on the hook when it fails",
                 {"owner": ev.pilot.owner}, {"table": "pilots", "where": "all"})


@_signal("operational_dependency.off_hours_failures", "Share of exceptions outside the pilot's working days and "
         "hours (its time zone).", "signal_off_hours_share", "share rule")
def _off_hours(ev: _Evidence) -> Signal | None:
    rows = {"table": "exceptions", "where": "off_hours"}
    total = ev.exceptions
    if total < _min_count() or _work_days(ev.pilot.work_days) is None:
        return None
    n = ev.count(rows)
    threshold = settings.get("signal_off_hours_share")
    if n / total <= threshold:
        return None
    p = ev.pilot
    return _make("operational_dependency.off_hours_failures", _share_severity(n / total, threshold),
                 f"{_n(n)} exceptions ({_pct(n / total)}) happened outside working hours "
                 f"({p.work_days} {p.work_start:%H:%M}-{p.work_end:%H:%M} {p.time_zone})",
                 {"exceptions": n, "total": total, "share": n / total, "work_days": p.work_days,
                  "work_start": p.work_start, "work_end": p.work_end, "time_zone": p.time_zone}, rows)


# --- entry points -------------------------------------------------------------------------------

def signal_catalog() -> list[SignalSpec]:
    """Every signal: key, class, what triggers it, its threshold setting and severity rule."""
    return [spec for spec, _ in _CHECKS]


def compute_signals(con: Connection, actor: Actor, pilot: Pilot) -> list[Signal]:
    """The risk signals that fire for ``pilot``, most severe first, then in catalogue order."""
    return ordered(log_signals(con, actor, pilot) + review_signals(con, actor, pilot))


def log_signals(con: Connection, actor: Actor, pilot: Pilot) -> list[Signal]:
    """The signals of the checks that read only the pilot's logs (see _LOGS_ONLY)."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    return _run(con, pilot, logs_only=True)


def review_signals(con: Connection, actor: Actor, pilot: Pilot) -> list[Signal]:
    """The signals of every other check (they read the profile, register, sources or review too)."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    return _run(con, pilot, logs_only=False)


def reads_only_logs(key: str) -> bool:
    """Whether the signal ``key`` reads nothing but the pilot's loaded logs (see _LOGS_ONLY)."""
    return key in _LOGS_ONLY


def ordered(found: list[Signal]) -> list[Signal]:
    """Most severe first, then in catalogue order."""
    place = {spec.key: i for i, (spec, _) in enumerate(_CHECKS)}
    return sorted(found, key=lambda s: (-SEVERITIES.index(s.severity), place[s.key]))


def _run(con: Connection, pilot: Pilot, logs_only: bool) -> list[Signal]:
    ev = _Evidence(con, pilot)
    return [s for spec, check in _CHECKS if (spec.key in _LOGS_ONLY) == logs_only and (s := check(ev)) is not None]
