"""Decision criteria judged on intervals: each threshold the suggestion uses is met, not met or undecided.

A criterion reads one headline figure of ``analysis.summary.summary`` (live, or frozen with a
decision) with its ``<name>_interval`` and compares the interval with the threshold from the
settings, so that the suggestion, the conditions and the signals agree. Operate needs the whole
interval on the right side; an interval across the threshold is *undecided*: not enough evidence
yet, with how much more data would settle it at the current value ("about 60 more ratings",
"about 9 more days at this volume"). Figures frozen before intervals were kept are judged on
their point value, and say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from analysis import intervals
from analysis.intervals import Interval
from readiness import settings


@dataclass(frozen=True)
class Spec:
    name: str                                  # section.figure in the summary, e.g. "feedback.csat"
    label: str                                 # as a reason reads it
    threshold: Callable[[], float]             # from the settings
    better: str                                # "above" (at least) or "below" (under)
    base: tuple[str, str]                      # the summary figure the data count is (section, name)
    noun: str                                  # what more of would settle it
    daily: bool                                # the base grows with days of use (else: answers)
    show: Callable[[float], str]               # the value in words
    unit_after: bool = False                   # "99.6 exceptions per 1,000 events", not "CSAT 58%"


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _per_1k(x: float) -> str:
    return f"{x:,.1f}"


SPECS: tuple[Spec, ...] = (
    Spec("exceptions.per_1k_events", "exceptions per 1,000 events", lambda: settings.get("max_exceptions_per_1k"),
         "below", ("usage", "events"), "events", True, _per_1k, unit_after=True),
    Spec("feedback.csat", "CSAT", lambda: settings.get("signal_csat_min"), "above", ("feedback", "rated"),
         "ratings", False, _pct),
    Spec("usage.task_success", "task success", lambda: 1 - settings.get("signal_task_failure_rate"), "above",
         ("usage", "attempts"), "attempts", True, lambda x: f"{x:.1%}"),
    Spec("feedback.negative_share", "negative comments", lambda: settings.get("signal_negative_share"), "below",
         ("feedback", "analysed"), "comments", False, _pct),
)
_BY_NAME = {s.name: s for s in SPECS}


@dataclass(frozen=True)
class Criterion:
    name: str
    label: str
    value: float
    interval: list[float] | None       # [low, high]; None for evidence frozen without one
    threshold: float
    better: str                        # "above" or "below"
    verdict: str                       # met | not_met | undecided
    method: str | None = None
    more_data: str | None = None       # for an undecided one: how much more data would settle it
    level: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def shown(self) -> str:
        """'CSAT 58% (95% interval 55%–60%)': the value with its interval, as a reason names it."""
        show = _BY_NAME[self.name].show
        rng = (f" ({self.level or intervals.level_default():.0%} interval {show(self.interval[0])}–"
               f"{show(self.interval[1])})" if self.interval else "")
        unit_after = _BY_NAME[self.name].unit_after
        return f"{show(self.value)} {self.label}{rng}" if unit_after else f"{self.label} {show(self.value)}{rng}"

    def reason(self) -> str:
        """The criterion as a reason of the suggestion."""
        limit = _BY_NAME[self.name].show(self.threshold)
        if self.verdict == "undecided":
            return (f"not enough evidence yet: {self.shown()} could lie either side of {limit}; "
                    f"{self.more_data} would settle it")
        if self.verdict == "not_met":
            return f"{self.shown()}, {'below the floor of' if self.better == 'above' else 'over the limit of'} {limit}"
        return f"{self.shown()}, {'at least' if self.better == 'above' else 'under'} {limit}"


def _get(figures: dict[str, Any], dotted: str) -> Any:
    section, name = dotted.split(".", 1)
    return (figures.get(section) or {}).get(name)


def judge(spec: Spec, figures: dict[str, Any]) -> Criterion | None:
    """One criterion on the (live or frozen) summary ``figures``; None when the figure is not given."""
    value = _get(figures, spec.name)
    if value is None:
        return None
    threshold = float(spec.threshold())
    ends = _get(figures, spec.name + "_interval")
    if not ends:  # frozen before intervals: the point value decides, as it did
        ok = value >= threshold if spec.better == "above" else value <= threshold
        return Criterion(spec.name, spec.label, value, None, threshold, spec.better, "met" if ok else "not_met")
    methods = (figures.get("intervals") or {}).get("methods", {})
    level = (figures.get("intervals") or {}).get("level", intervals.level_default())
    iv = Interval(float(value), float(ends[0]), float(ends[1]), level, methods.get(spec.name, ""))
    have = _get(figures, ".".join(spec.base)) or 0
    days = (figures.get("usage") or {}).get("active_days")
    return _on(spec, iv, threshold, have, have / days if spec.daily and days else None)


def _on(spec: Spec, iv: Interval, threshold: float, have: float, per_day: float | None) -> Criterion:
    verdict = intervals.verdict(iv, threshold, spec.better)
    more = intervals.more_data(iv, threshold, have, spec.noun, per_day) if verdict == "undecided" else None
    return Criterion(spec.name, spec.label, iv.value, [iv.low, iv.high], threshold, spec.better, verdict, iv.method,
                     more, iv.level)


def on_figure(fig) -> Criterion | None:
    """The criterion on an ``analysis.confidence.Figure`` (a page's filtered figure), or None when no
    threshold applies to it."""
    spec = _BY_NAME.get(fig.name)
    if spec is None:
        return None
    return _on(spec, fig.interval, float(spec.threshold()), fig.base, fig.per_day)


def evaluate(figures: dict[str, Any]) -> list[Criterion]:
    """Every criterion whose figure the summary gives, in :data:`SPECS` order."""
    return [c for c in (judge(s, figures) for s in SPECS) if c is not None]


def criterion(figures: dict[str, Any], name: str) -> Criterion | None:
    """The criterion on figure ``name`` (e.g. "feedback.csat"), or None when the figure is not given."""
    return judge(_BY_NAME[name], figures)


def to_collect(undecided: list[Criterion]) -> str:
    """What an extended pilot should collect, from the undecided criteria."""
    return "; ".join(f"{c.label}: {c.more_data}" for c in undecided)


def figure_note(fig) -> str:
    """What a page says under a figure (an ``analysis.confidence.Figure``): its range, and against a
    threshold, whether it holds — or "not enough evidence yet" with how much more data would settle it."""
    text = f"{fig.interval.level:.0%} interval {fig.range_text()}"
    c = on_figure(fig)
    if c is None:
        return text
    limit = f"{'the floor of' if c.better == 'above' else 'the limit of'} {fig.shown(c.threshold)}"
    if c.verdict == "undecided":
        return f"{text} · not enough evidence yet against {limit}: {c.more_data} would settle it"
    if c.verdict == "not_met":
        return f"{text} · {'below' if c.better == 'above' else 'over'} {limit}"
    return f"{text} · clear of {limit}"


VERDICT_WORDS = {"met": "met", "not_met": "not met", "undecided": "not enough evidence yet"}


def shown_rows(crit: list[Criterion]) -> list[dict[str, str]]:
    """The criteria as a page's table: criterion, value, interval, threshold, verdict, more data."""
    out = []
    for c in crit:
        show = _BY_NAME[c.name].show
        out.append({"Criterion": c.label[0].upper() + c.label[1:], "Value": show(c.value),
                    "Interval": f"{show(c.interval[0])}–{show(c.interval[1])}" if c.interval else "—",
                    "Threshold": f"{'at least' if c.better == 'above' else 'under'} {show(c.threshold)}",
                    "Verdict": VERDICT_WORDS[c.verdict], "More data to settle it": c.more_data or ""})
    return out
