"""The headline rates and means of a pilot's evidence with their intervals (see analysis.intervals).

:func:`rate_intervals` returns, per figure of ``summary --json`` (``"feedback.csat"``,
``"exceptions.per_1k_events"``, ...), a :class:`Figure`: the interval, the base it is over and how
fast that base grows, so that an undecided criterion can say how much more data would settle it.

Events and exceptions come in users: one user's bad week is many events, not many independent
ones. Rates over events (exceptions per 1,000 events and per session, task success, stickiness)
are therefore bootstrapped over users, from one row per user aggregated in DuckDB (events,
attempts, successes, sessions, active days, exceptions); no event leaves the database. Exceptions
that name no user of the usage scale the users' rate up to the whole count; when fewer than half
name one, or there are too few users to show their spread, the exact Poisson interval over events
stands in and its method says so. Ratings, scores and comments are one per answer: Wilson, the
multinomial NPS interval and Student's t apply as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from analysis import feedback, intervals, usage
from analysis.common import NO_FILTERS, Empty, Filters, frame, table_columns, where
from analysis.intervals import Interval
from readiness.catalog import Pilot
from readiness.store import Connection

# How each figure is shown (a format for str.format)
SHOWN = {"feedback.csat": "{:.0%}", "feedback.negative_share": "{:.0%}", "feedback.nps": "{:+.0f}",
         "feedback.mean_rating": "{:.2f}", "usage.task_success": "{:.1%}", "usage.stickiness": "{:.0%}",
         "usage.retention_week_1": "{:.0%}", "exceptions.per_1k_events": "{:,.1f}", "exceptions.per_session": "{:.2f}"}
STICKY_DAYS = 28          # stickiness: mean daily users over the last 28 days / users active in them (DAU / MAU)
MIN_ATTRIBUTED = 0.5      # at least half the exceptions must name a user of the usage to bootstrap by user


@dataclass(frozen=True)
class Figure:
    """One figure with its interval; ``base`` ``noun`` (e.g. 120 ratings) is the data it is over, and
    ``per_day`` how many of them arrive per active day (None for answers, which come when asked)."""
    name: str
    label: str
    interval: Interval
    base: float
    noun: str
    per_day: float | None = None

    def shown(self, x: float | None = None) -> str:
        """The value (or ``x``) as the pages show it: 58%, +12, 3.56, 99.6."""
        return SHOWN.get(self.name, "{:,.2f}").format(self.interval.value if x is None else x)

    def range_text(self) -> str:
        """'55%–60%': the interval as a range beside the figure."""
        low, high = self.shown(self.interval.low), self.shown(self.interval.high)
        return f"{low} to {high}" if self.interval.low < 0 else f"{low}–{high}"

    def more_data(self, threshold: float) -> str:
        """How much more data would settle a criterion on this figure at ``threshold`` (in words)."""
        return intervals.more_data(self.interval, threshold, self.base, self.noun, self.per_day)


def rate_intervals(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS,
                   level: float | None = None) -> dict[str, Figure]:
    """Every headline rate and mean of the pilot under ``filters`` that can be given, with its interval."""
    level = level or intervals.level_default()
    out: dict[str, Figure] = {}
    for fig in (*_feedback_figures(con, pilot, filters, level), *_usage_figures(con, pilot, filters, level)):
        if fig is not None:
            out[fig.name] = fig
    return out


def _figure(name: str, label: str, interval: Interval | None, base: float, noun: str,
            per_day: float | None = None) -> Figure | None:
    return None if interval is None else Figure(name, label, interval, base, noun, per_day)


def _feedback_figures(con, pilot: Pilot, filters: Filters, level: float) -> list[Figure | None]:
    s = feedback.feedback_summary(con, pilot, filters)
    if isinstance(s, Empty):
        return []
    out = []
    if s.csat is not None:
        out.append(_figure("feedback.csat", "CSAT", intervals.wilson(round(s.csat * s.rated), s.rated, level),
                           s.rated, "ratings"))
    if s.negative_share is not None:
        out.append(_figure("feedback.negative_share", "Negative comments",
                           intervals.wilson(round(s.negative_share * s.analysed), s.analysed, level),
                           s.analysed, "comments"))
    if s.nps is not None:
        out.append(_figure("feedback.nps", "NPS", intervals.nps(s.promoters, s.passives, s.detractors, level),
                           s.scored, "scores"))
    if s.mean_rating is not None and s.rated >= 2:
        clause, params = where(pilot, filters, table_columns(con, "feedback"))
        sd = con.execute(f"SELECT stddev_samp(rating) FROM feedback WHERE {clause} AND rating IS NOT NULL",
                         params).fetchone()[0]
        out.append(_figure("feedback.mean_rating", "Mean rating",
                           intervals.mean_t(s.mean_rating, sd, s.rated, level), s.rated, "ratings"))
    return out


def per_user(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS):
    """One row per user of the usage under ``filters`` (the clusters): events, attempts, successes,
    sessions, recent_days (active days among the last :data:`STICKY_DAYS`), window (days in that
    window), exceptions (theirs, under the same filters); and the totals (active_days, exceptions,
    with no user of the usage included) as a dict. None when there is no usage."""
    view, params = usage._view(con, pilot, filters, "session")
    exc_clause, exc_params = where(pilot, filters, table_columns(con, "exceptions"))
    exc_clause += " AND failure_mode IS NOT NULL"  # the exceptions failure_modes counts
    df = frame(con, f"""
        WITH v AS (SELECT * FROM {view}),
        span AS (SELECT max(day) AS last, least({STICKY_DAYS}, max(day) - min(day) + 1) AS window,
                        count(DISTINCT day) AS days FROM v),
        u AS (SELECT user_id, sum(events) AS events, sum(outcomes) AS attempts, sum(successes) AS successes,
                     count(DISTINCT session_id) AS sessions,
                     count(DISTINCT day) FILTER (WHERE day > span.last - {STICKY_DAYS}) AS recent_days
              FROM v, span GROUP BY user_id),
        x AS (SELECT user_id, count(*) AS exceptions FROM exceptions WHERE {exc_clause} GROUP BY user_id)
        SELECT u.*, coalesce(x.exceptions, 0) AS exceptions, span.window, span.days,
               (SELECT count(*) FROM exceptions WHERE {exc_clause}) AS all_exceptions
        FROM u LEFT JOIN x USING (user_id), span
        ORDER BY user_id""", [*params, *exc_params, *exc_params])  # in a fixed order: the seeded resamples pick by position
    if df.empty:
        return None
    totals = {"active_days": int(df["days"].iloc[0]), "exceptions": int(df["all_exceptions"].iloc[0]),
              "window": int(df["window"].iloc[0])}
    return df.drop(columns=["days", "all_exceptions"]), totals


def _exception_rate(users, totals: dict, den: str, per: float, level: float) -> Interval | None:
    """Exceptions per ``den`` (× ``per``) bootstrapped by user, scaled to every exception; the exact
    Poisson interval when too few exceptions name a user of the usage or there are too few users."""
    den_total = float(users[den].sum())
    if not den_total:
        return None
    count = totals["exceptions"]
    value = count / den_total * per
    attributed = int(users["exceptions"].sum())
    if count and attributed >= MIN_ATTRIBUTED * count:
        boot = intervals.cluster_ratio(users["exceptions"].to_numpy(), users[den].to_numpy(), level, per)
        if boot is not None:
            return intervals.scaled(boot, count / attributed, value)
    exact = intervals.poisson_rate(count, den_total, level, per)
    if not count:
        return exact  # no exception at all: nothing clusters, and the exact upper end says how few is plausible
    why = "too few users to bootstrap by user" if len(users) < intervals.MIN_CLUSTERS else \
        "most exceptions name no user of the usage"
    return Interval(value, exact.low, exact.high, level, f"{exact.method} ({why}, so events count as independent)")


def exception_rate(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS,
                   level: float | None = None) -> Figure | None:
    """Exceptions per 1,000 events under ``filters`` with its interval (as in :func:`rate_intervals`)."""
    got = per_user(con, pilot, filters)
    if got is None:
        return None
    users, totals = got
    events = float(users["events"].sum())
    return _figure("exceptions.per_1k_events", "Exceptions per 1,000 events",
                   _exception_rate(users, totals, "events", 1000.0, level or intervals.level_default()), events,
                   "events", events / max(totals["active_days"], 1))


def _usage_figures(con, pilot: Pilot, filters: Filters, level: float) -> list[Figure | None]:
    got = per_user(con, pilot, filters)
    if got is None:
        return []
    users, totals = got
    events = float(users["events"].sum())
    days = max(totals["active_days"], 1)
    out = [_figure("exceptions.per_1k_events", "Exceptions per 1,000 events",
                   _exception_rate(users, totals, "events", 1000.0, level), events, "events", events / days)]
    sessions = float(users["sessions"].sum())
    if sessions:
        out.append(_figure("exceptions.per_session", "Exceptions per session",
                           _exception_rate(users, totals, "sessions", 1.0, level), sessions, "sessions",
                           sessions / days))
    attempts = float(users["attempts"].sum())
    if attempts:
        out.append(_figure("usage.task_success", "Task success", _clustered(users, "successes", "attempts", level),
                           attempts, "attempts", attempts / days))
    recent = users[users["recent_days"] > 0]
    window = np.full(len(recent), totals["window"], dtype=float)
    out.append(_figure("usage.stickiness", "Stickiness (DAU / MAU)",
                       _clustered(recent.assign(window=window), "recent_days", "window", level),
                       float(recent["recent_days"].sum()), "user-days", float(recent["recent_days"].sum()) / days))
    out.append(_retention(con, pilot, filters, level))
    return out


def _clustered(users, num: str, den: str, level: float) -> Interval | None:
    """A share over events bootstrapped by user; Wilson over the events themselves with too few users."""
    boot = intervals.cluster_ratio(users[num].to_numpy(), users[den].to_numpy(), level)
    if boot is not None:
        return boot
    n, k = int(users[den].sum()), int(users[num].sum())
    plain = intervals.wilson(k, n, level)
    return None if plain is None else Interval(plain.value, plain.low, plain.high, level,
                                               f"{plain.method} (too few users to bootstrap by user)")


def _retention(con, pilot: Pilot, filters: Filters, level: float) -> Figure | None:
    """Week-1 retention pooled over the cohorts whose week 1 can be seen: users are independent, Wilson."""
    r = usage.retention(con, pilot, filters)
    if isinstance(r, Empty) or "week_1" not in r:
        return None
    seen = r[r["week_1"].notna()]
    size = int(seen["size"].sum())
    back = int(round((seen["week_1"] / 100 * seen["size"]).sum()))
    return _figure("usage.retention_week_1", "Week-1 retention", intervals.wilson(back, size, level), size, "users")


def methods_note(figs: dict[str, Figure], names: tuple[str, ...] | None = None) -> str:
    """The caption naming the level and method of each range shown, e.g. "Ranges are 95% intervals:
    CSAT and negative comments by Wilson score interval; NPS by normal interval, multinomial variance"."""
    by_method: dict[str, list[str]] = {}
    level = None
    for name, fig in figs.items():
        if names is None or name in names:
            label = fig.label if fig.label[:2].isupper() or not by_method else fig.label[0].lower() + fig.label[1:]
            by_method.setdefault(fig.interval.method, []).append(label)
            level = fig.interval.level
    if not by_method:
        return ""
    parts = [f"{', '.join(labels[:-1]) + ' and ' if len(labels) > 1 else ''}{labels[-1]} by {method}"
             for method, labels in by_method.items()]
    return f"Ranges are {level:.0%} intervals: " + "; ".join(parts) + "."


@dataclass(frozen=True)
class Change:
    """One figure before and after a date, and whether it moved beyond chance."""
    name: str
    label: str
    before: Figure
    after: Figure
    p: float            # two-sided, unadjusted
    p_holm: float       # adjusted over the figures compared together
    level: float

    @property
    def differs(self) -> bool:
        return self.p_holm < 1 - self.level

    def row(self) -> dict[str, str]:
        """As a page's table shows it."""
        b, a = self.before, self.after
        return {"Figure": self.label, "Before": f"{b.shown()} ({b.range_text()})",
                "After": f"{a.shown()} ({a.range_text()})",
                "Changed beyond chance": "yes" if self.differs else "no"}

    def citation(self) -> str:
        """The change as a decision's rationale cites it, in plain words."""
        b, a = self.before, self.after
        return (f"{self.label} {b.shown()} ({b.range_text()}) before, {a.shown()} ({a.range_text()}) after: "
                + ("changed beyond chance" if self.differs else "no change beyond chance"))


def _se(iv: Interval) -> float:
    """A standard error read from an interval's width (exact for the normal-based ones)."""
    return (iv.high - iv.low) / (2 * intervals._z(iv.level))


def compare(before: dict[str, Figure], after: dict[str, Figure], names: tuple[str, ...]) -> list[Change]:
    """The figures ``names`` present on both sides of a date, each with a z-test on its change (standard
    errors read from each side's interval), p-values adjusted together by Holm's method."""
    both = [n for n in names if n in before and n in after]
    ps = [intervals.difference_p((before[n].interval.value, _se(before[n].interval)),
                                 (after[n].interval.value, _se(after[n].interval))) for n in both]
    return [Change(n, before[n].label, before[n], after[n], p, q, before[n].interval.level)
            for n, p, q in zip(both, ps, intervals.holm(ps))]


def cited_rationale(rationale: str, split: date, changes: list[Change]) -> str:
    """A decision's rationale with the comparison before and after ``split`` cited under it."""
    cited = "; ".join(c.citation() for c in changes)
    return f"{rationale.rstrip()}\n\nBefore and after {split:%Y-%m-%d}: {cited}."
