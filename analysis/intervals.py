"""Confidence intervals for the rates and means a review shows, and verdicts on them against a threshold.

Pure functions over counts (no database): each returns an :class:`Interval` that names its method,
for captions. The level comes from the ``confidence_level`` setting (95% by default).

* a proportion (CSAT, negative share, retention): Wilson score interval (scipy's ``binomtest``);
* a rate of independent counts (exceptions per event when nothing ties them to users): exact
  (Garwood) Poisson interval, from the chi-square quantiles;
* NPS: normal interval with the multinomial variance of promoters minus detractors;
* a mean rating: Student's t;
* a rate or share over events that come in clusters (exceptions per 1,000 events or per session,
  task success over attempts, stickiness): percentile bootstrap over the clusters (users), from
  one (numerator, denominator) pair per cluster, seeded so the same data gives the same interval.
  Over :data:`BOOTSTRAP_MAX_CLUSTERS` clusters the cluster-robust (linearised) normal interval
  stands in: with that many clusters the two agree, and it costs one pass.

A criterion is ``met`` when the whole interval lies on the right side of its threshold,
``not_met`` when it lies wholly on the wrong side, and ``undecided`` when it straddles it; an
undecided one says how much more data would settle it at the current value (the interval narrows
with the square root of the data).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

SEED = 20261206                 # the bootstrap's seed: the same data always gives the same interval
BOOTSTRAP_DRAWS = 2000          # resamples; percentile ends move by under 0.5% of the width between seeds
BOOTSTRAP_MAX_CLUSTERS = 5000   # beyond this many clusters the linearised interval is used (see above)
MIN_CLUSTERS = 10               # fewer clusters than this cannot show their spread: the caller falls back
_CHUNK = 2_000_000              # resampled cluster indices held at once (16 MB)


def _stats():
    """scipy.stats, imported on the first interval computed: importing it takes about a second, which
    a command that computes no figure (an ingest with nothing kept to refresh) does not pay."""
    from scipy import stats

    return stats


VERDICTS = ("met", "not_met", "undecided")


@dataclass(frozen=True)
class Interval:
    """A figure with its interval: ``value`` in [``low``, ``high``] at ``level``, by ``method``."""
    value: float
    low: float
    high: float
    level: float
    method: str

    def as_list(self, digits: int = 4) -> list[float]:
        """[low, high], rounded (the JSON form)."""
        return [round(float(self.low), digits), round(float(self.high), digits)]

    def to_dict(self) -> dict:
        return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in asdict(self).items()}


def level_default() -> float:
    """The confidence level from the settings (0.95 unless set)."""
    from readiness import settings

    return float(settings.get("confidence_level"))


def _z(level: float) -> float:
    return float(_stats().norm.ppf(0.5 + level / 2))


def wilson(successes: int, n: int, level: float | None = None) -> Interval | None:
    """Wilson score interval of ``successes`` / ``n``; None when ``n`` is 0."""
    if not n:
        return None
    level = level or level_default()
    ci = _stats().binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return Interval(successes / n, float(ci.low), float(ci.high), level, "Wilson score interval")


def poisson_rate(count: int, exposure: float, level: float | None = None, per: float = 1.0) -> Interval | None:
    """Exact (Garwood) interval of ``count`` / ``exposure`` × ``per`` for a Poisson count; None without exposure."""
    if not exposure:
        return None
    level = level or level_default()
    alpha = 1 - level
    low = 0.0 if count == 0 else _stats().chi2.ppf(alpha / 2, 2 * count) / 2
    high = _stats().chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
    scale = per / exposure
    return Interval(count * scale, float(low * scale), float(high * scale), level, "exact (Garwood) Poisson interval")


def nps(promoters: int, passives: int, detractors: int, level: float | None = None) -> Interval | None:
    """NPS (-100..100) with a normal interval from the multinomial variance of promoter minus detractor
    shares, (p + d - (p - d)²) / n; None without answers."""
    n = promoters + passives + detractors
    if not n:
        return None
    level = level or level_default()
    p, d = promoters / n, detractors / n
    half = _z(level) * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
    return Interval(100 * (p - d), 100 * max(p - d - half, -1.0), 100 * min(p - d + half, 1.0), level,
                    "normal interval, multinomial variance")


def mean_t(mean: float, sd: float, n: int, level: float | None = None) -> Interval | None:
    """Student's t interval of a mean from its sample standard deviation; None under 2 values."""
    if n is None or n < 2 or mean is None or sd is None:
        return None
    level = level or level_default()
    half = float(_stats().t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, level, "Student's t interval")


def cluster_ratio(num: np.ndarray, den: np.ndarray, level: float | None = None, per: float = 1.0,
                  unit: str = "user", seed: int = SEED, draws: int = BOOTSTRAP_DRAWS) -> Interval | None:
    """Interval of sum(num) / sum(den) × ``per`` where each (num, den) pair is one cluster (a user's
    exceptions and events, say): percentile bootstrap over clusters, or the linearised interval over
    :data:`BOOTSTRAP_MAX_CLUSTERS` clusters. None under :data:`MIN_CLUSTERS` clusters or without a
    denominator."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    k, total = len(num), float(den.sum())
    if k < MIN_CLUSTERS or total <= 0:
        return None
    level = level or level_default()
    value = float(num.sum()) / total
    if k > BOOTSTRAP_MAX_CLUSTERS:
        resid = num - value * den
        se = math.sqrt(k / (k - 1) * float((resid ** 2).sum())) / total
        half = _z(level) * se
        return Interval(value * per, max(value - half, 0.0) * per, (value + half) * per, level,
                        f"cluster-robust normal interval by {unit} ({k:,} {unit}s)")
    ratios = _bootstrap(num, den, draws, seed)
    # Hesterberg's expanded percentile interval: the plain percentile interval is too narrow over a
    # few dozen clusters (resampling understates the variance by (k - 1) / k, and z stands in for t)
    tail = float(_stats().norm.cdf(-math.sqrt(k / (k - 1)) * _stats().t.ppf(0.5 + level / 2, k - 1)))
    low, high = np.quantile(ratios, [tail, 1 - tail])
    return Interval(value * per, float(low) * per, float(high) * per, level,
                    f"cluster bootstrap by {unit} ({draws:,} resamples of {k:,} {unit}s, expanded percentile)")


def _bootstrap(num: np.ndarray, den: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """The ratio of sums in ``draws`` resamples (with replacement) of the clusters, in chunks."""
    rng = np.random.default_rng(seed)
    k = len(num)
    out = np.empty(draws)
    step = max(1, _CHUNK // k)
    for start in range(0, draws, step):
        idx = rng.integers(0, k, size=(min(step, draws - start), k))
        d = den[idx].sum(axis=1)
        out[start:start + len(idx)] = np.where(d > 0, num[idx].sum(axis=1) / np.where(d > 0, d, 1), np.nan)
    return out[~np.isnan(out)]


def scaled(interval: Interval | None, factor: float, value: float | None = None) -> Interval | None:
    """``interval`` with value and ends multiplied by ``factor`` (``value`` when given: the figure as shown)."""
    if interval is None:
        return None
    return Interval(interval.value * factor if value is None else value, interval.low * factor,
                    interval.high * factor, interval.level, interval.method)


# --------------------------------------------------------------------------------------------
# Verdicts


def verdict(interval: Interval, threshold: float, better: str) -> str:
    """``met`` / ``not_met`` / ``undecided`` of a criterion on ``interval``.

    ``better``: "above" (the figure must reach ``threshold``, e.g. CSAT >= 70%) or "below" (it must
    stay under it, e.g. exceptions < 5 per 1,000 events). Met needs the whole interval on the right
    side; not met the whole interval on the wrong side.
    """
    if better == "above":
        return "met" if interval.low >= threshold else "not_met" if interval.high < threshold else "undecided"
    if better == "below":
        return "met" if interval.high < threshold else "not_met" if interval.low >= threshold else "undecided"
    raise ValueError(better)


def more_data_factor(interval: Interval, threshold: float) -> float | None:
    """How many times the current data would settle an undecided criterion, if the figure stays where
    it is: the interval's half-width on the threshold's side shrinks with the square root of the data.
    None when the figure sits on the threshold (no amount of data settles it at this value)."""
    gap = abs(interval.value - threshold)
    if gap == 0:
        return None
    # a count of none (or a share of all): the open end falls with the data itself, not its square root
    if interval.value == 0 and threshold > 0:
        return max(interval.high / threshold, 1.0)
    if interval.value == 1 and threshold < 1:
        return max((1 - interval.low) / (1 - threshold), 1.0)
    half = interval.value - interval.low if threshold < interval.value else interval.high - interval.value
    return max((half / gap) ** 2, 1.0)


def more_data(interval: Interval, threshold: float, have: float, noun: str,
              per_day: float | None = None) -> str:
    """How much more data would settle an undecided criterion, in words: "about 60 more ratings", or
    with ``per_day`` (``noun`` arriving per day), "about 9 more days at this volume"."""
    factor = more_data_factor(interval, threshold)
    if factor is None:
        return f"the figure sits on the threshold: more {noun} alone will not settle it"
    extra = max(1, math.ceil(have * (factor - 1)))
    if per_day:
        days = max(1, math.ceil(extra / per_day))
        return f"about {days:,} more day{'s' * (days != 1)} at this volume ({extra:,} more {noun})"
    return f"about {extra:,} more {noun}"


# --------------------------------------------------------------------------------------------
# Comparisons


def ratio_se(num: np.ndarray, den: np.ndarray) -> float:
    """Cluster-robust (linearised) standard error of sum(num) / sum(den), one pair per cluster."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    k, total = len(num), float(den.sum())
    if k < 2 or total <= 0:
        return math.inf
    r = float(num.sum()) / total
    return math.sqrt(k / (k - 1) * float(((num - r * den) ** 2).sum())) / total


def difference_p(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Two-sided p-value that two estimates, each (value, standard error), differ: a z-test on the
    difference. 1.0 when either has no spread to judge by."""
    se = math.hypot(a[1], b[1])
    if not math.isfinite(se) or se == 0:
        return 1.0
    return float(2 * _stats().norm.sf(abs(a[0] - b[0]) / se))


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``pvalues`` (in their order): controls the chance of any false
    finding among them at the level, without assuming they are independent."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out
