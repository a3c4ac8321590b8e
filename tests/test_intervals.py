"""Intervals on the review's rates: textbook values for each method, coverage by simulation, verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import intervals
from analysis.intervals import Interval

Z = 1.959963984540054  # the normal 97.5% quantile


def _wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("k,n", [(81, 263), (0, 10), (10, 10), (15, 25), (1, 40)])
def test_wilson_matches_the_score_interval_worked_by_hand(k: int, n: int) -> None:
    got = intervals.wilson(k, n, 0.95)
    assert (got.low, got.high) == pytest.approx(_wilson_by_hand(k, n), abs=1e-9)
    assert got.value == k / n and got.method == "Wilson score interval"


def test_wilson_textbook_values() -> None:
    # 0 of 10: the upper end is z² / (n + z²) = 0.2775; 81 of 263: 25.5% to 36.6% (Newcombe 1998, table I)
    assert intervals.wilson(0, 10, 0.95).as_list(4) == [0.0, 0.2775]
    assert intervals.wilson(81, 263, 0.95).as_list(3) == [0.255, 0.366]
    assert intervals.wilson(0, 0) is None


def test_exact_poisson_textbook_values() -> None:
    # Garwood's table: 0 -> [0, 3.689] (the exact "rule of three"), 10 -> [4.795, 18.390], 1 -> [0.0253, 5.572]
    assert intervals.poisson_rate(0, 1, 0.95).as_list(3) == [0.0, 3.689]
    assert intervals.poisson_rate(10, 1, 0.95).as_list(3) == [4.795, 18.39]
    assert intervals.poisson_rate(1, 1, 0.95).as_list(4) == [0.0253, 5.5716]
    per_1k = intervals.poisson_rate(10, 2000, 0.95, per=1000)  # 10 exceptions in 2,000 events
    assert per_1k.value == 5.0 and per_1k.as_list(3) == [2.398, 9.195]
    assert "Garwood" in per_1k.method


def test_nps_uses_the_multinomial_variance() -> None:
    # 50 promoters, 30 passives, 20 detractors: NPS 30, variance (0.5 + 0.2 - 0.3²) / 100 = 0.0061
    got = intervals.nps(50, 30, 20, 0.95)
    half = 100 * Z * math.sqrt(0.0061)
    assert got.value == pytest.approx(30.0)
    assert (got.low, got.high) == pytest.approx((30 - half, 30 + half))
    assert round(got.low, 1) == 14.7 and round(got.high, 1) == 45.3
    assert intervals.nps(10, 0, 0, 0.95).as_list() == [100.0, 100.0]  # all promoters: no spread, capped at 100


def test_mean_rating_uses_student_t() -> None:
    # mean 4.0, sd 1.0 over 25 ratings: t(0.975, 24) = 2.0639, so ± 0.4128
    got = intervals.mean_t(4.0, 1.0, 25, 0.95)
    assert got.as_list(4) == [3.5872, 4.4128]
    assert intervals.mean_t(4.0, 0.0, 1, 0.95) is None


def test_cluster_bootstrap_is_seeded_and_wider_than_counting_events_as_independent() -> None:
    rng = np.random.default_rng(7)
    events = rng.poisson(300, 40)
    exceptions = rng.poisson(events * rng.gamma(0.8, 0.01 / 0.8, 40))  # users differ a lot: clustered
    a = intervals.cluster_ratio(exceptions, events, 0.95, per=1000)
    assert a == intervals.cluster_ratio(exceptions, events, 0.95, per=1000)  # same data, same interval
    assert a.value == pytest.approx(1000 * exceptions.sum() / events.sum())
    naive = intervals.poisson_rate(int(exceptions.sum()), events.sum(), 0.95, per=1000)
    assert a.high - a.low > 1.5 * (naive.high - naive.low)
    assert a.method == "cluster bootstrap by user (2,000 resamples of 40 users, expanded percentile)"
    assert intervals.cluster_ratio(exceptions[:5], events[:5], 0.95) is None  # too few users to show a spread


def test_many_clusters_use_the_linearised_interval_worked_by_hand() -> None:
    k = intervals.BOOTSTRAP_MAX_CLUSTERS + 1
    num, den = np.tile([1.0, 3.0], k)[:k], np.full(k, 10.0)
    got = intervals.cluster_ratio(num, den, 0.95)
    r = num.sum() / den.sum()
    se = math.sqrt(k / (k - 1) * ((num - r * den) ** 2).sum()) / den.sum()
    assert (got.low, got.high) == pytest.approx((r - Z * se, r + Z * se))
    assert got.method.startswith("cluster-robust normal interval by user")


# --- coverage: 95% intervals cover the true value in 93-97% of 1,000 seeded draws ----------------

def _coverage(draw, true: float, n: int = 1000) -> float:
    hits = 0
    for _ in range(n):
        got = draw()
        hits += got.low <= true <= got.high
    return hits / n


def test_wilson_covers_the_true_proportion() -> None:
    rng = np.random.default_rng(1)
    cover = _coverage(lambda: intervals.wilson(int(rng.binomial(120, 0.7)), 120, 0.95), 0.7)
    assert 0.93 <= cover <= 0.97, cover


def test_exact_poisson_covers_the_true_rate() -> None:
    rng = np.random.default_rng(2)
    cover = _coverage(lambda: intervals.poisson_rate(int(rng.poisson(100)), 20_000, 0.95, per=1000), 5.0)
    assert 0.93 <= cover <= 0.97, cover


def test_cluster_bootstrap_covers_the_true_clustered_rate() -> None:
    # 60 users with their own exception rates (gamma around 5 per 1,000) and uneven use
    rng = np.random.default_rng(1)

    def draw() -> Interval:
        events = rng.poisson(rng.gamma(2.0, 100.0, 60))
        exceptions = rng.poisson(events * rng.gamma(8.0, 0.005 / 8, 60))
        return intervals.cluster_ratio(exceptions, events, 0.95, per=1000)
    cover = _coverage(draw, 5.0)
    assert 0.93 <= cover <= 0.97, cover


# --- verdicts ------------------------------------------------------------------------------------

def test_a_criterion_is_met_only_with_the_whole_interval_on_the_right_side() -> None:
    csat = Interval(0.76, 0.59, 0.87, 0.95, "Wilson score interval")
    assert intervals.verdict(csat, 0.7, "above") == "undecided"
    assert intervals.verdict(csat, 0.5, "above") == "met"
    assert intervals.verdict(csat, 0.9, "above") == "not_met"
    rate = Interval(3.0, 1.0, 6.0, 0.95, "exact")
    assert intervals.verdict(rate, 5.0, "below") == "undecided"
    assert intervals.verdict(rate, 7.0, "below") == "met"
    assert intervals.verdict(rate, 0.5, "below") == "not_met"


def test_more_data_says_how_much_would_settle_it_at_the_current_value() -> None:
    # CSAT 76% over 33 ratings, 59% to 87%: the lower end must rise 0.17 -> 0.06 above 70%
    csat = Interval(0.76, 0.59, 0.87, 0.95, "Wilson score interval")
    factor = (0.17 / 0.06) ** 2
    assert intervals.more_data(csat, 0.7, 33, "ratings") == f"about {math.ceil(33 * (factor - 1)):,} more ratings"
    rate = Interval(4.0, 2.0, 6.5, 0.95, "exact")  # 2,000 events a day: needs (2.5 / 1)² = 6.25 × the events
    assert intervals.more_data(rate, 5.0, 10_000, "events", per_day=2000) == \
        "about 27 more days at this volume (52,500 more events)"
    assert "will not settle" in intervals.more_data(Interval(5.0, 4.0, 6.0, 0.95, "x"), 5.0, 100, "events")


# --- from the store: one row per user leaves DuckDB, and the intervals are computed from those rows --

def _clustered_store(db, tmp_path):
    from helpers import ingest_one, write

    rng = np.random.default_rng(11)
    usage, exc = ["ts,user,event,session,outcome"], ["ts,user,session,message"]
    for u in range(30):
        n = int(rng.integers(20, 60))
        bad = rng.random() < 0.3  # a third of the users meet most of the errors
        for i in range(n):
            day = 1 + i % 20
            usage.append(f"2026-03-{day:02d}T10:{i % 60:02d}:00Z,user{u},open,s{u}-{i % 5},{'failed' if bad and i % 3 == 0 else 'ok'}")
            if (bad and i % 4 == 0) or i == 0:
                exc.append(f"2026-03-{day:02d}T10:{i % 60:02d}:30Z,user{u},s{u}-{i % 5},Timeout calling erp host {i}")
    exc.append("2026-03-03T11:00:00Z,,,Timeout calling erp from the batch job")  # names no user of the usage
    ingest_one(db, write(tmp_path / "u.csv", "\n".join(usage) + "\n"), pilot="p")
    ingest_one(db, write(tmp_path / "e.csv", "\n".join(exc) + "\n"), kind="exceptions", pilot="p")


def test_store_intervals_bootstrap_one_row_per_user_and_match_the_summary(db, tmp_path) -> None:
    from helpers import query

    from analysis import confidence
    from analysis.summary import summary
    from readiness import store
    from readiness.catalog import get_pilot

    _clustered_store(db, tmp_path)
    with store.open_store(db) as con:
        pilot = get_pilot(con, "p")
        users, totals = confidence.per_user(con, pilot)
        figs = confidence.rate_intervals(con, pilot, level=0.95)
        fig = summary(con, pilot)
    assert len(users) == 30  # one row per user, not per event
    per_user = dict(query(db, "SELECT user_id, count(*) FROM exceptions WHERE user_id IS NOT NULL GROUP BY 1"))
    events = dict(query(db, "SELECT user_id, count(*) FROM usage_events GROUP BY 1"))
    num = np.array([per_user.get(u, 0) for u in sorted(events)])
    den = np.array([events[u] for u in sorted(events)])
    all_exc = query(db, "SELECT count(*) FROM exceptions")[0][0]
    by_hand = intervals.cluster_ratio(num, den, 0.95, per=1000)
    rate = figs["exceptions.per_1k_events"].interval
    factor = all_exc / num.sum()  # the one exception with no user scales the users' rate to every exception
    assert (rate.low, rate.high) == pytest.approx((by_hand.low * factor, by_hand.high * factor), rel=1e-9)
    assert rate.value == pytest.approx(fig["exceptions"]["per_1k_events"], abs=0.01)
    assert "cluster bootstrap by user" in rate.method
    success = figs["usage.task_success"]
    assert success.interval.value == pytest.approx(fig["usage"]["task_success"], abs=1e-4)
    assert fig["exceptions"]["per_1k_events_interval"] == rate.as_list(2)
    assert fig["usage"]["task_success_interval"] == success.interval.as_list()
    assert fig["intervals"]["methods"]["usage.task_success"] == success.interval.method
    assert success.interval.low < success.interval.value < success.interval.high


# --- comparisons ---------------------------------------------------------------------------------

def test_holm_adjusts_step_down_as_worked_by_hand() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04; running maximum 0.02, 0.03, 0.06, 0.06
    assert intervals.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert intervals.holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1
    assert intervals.holm([]) == []


def test_a_difference_is_judged_by_a_z_test_on_both_spreads() -> None:
    # 0.5 (se 0.04) against 0.6 (se 0.03): se of the difference 0.05, z = 2, p = 0.0455
    assert intervals.difference_p((0.5, 0.04), (0.6, 0.03)) == pytest.approx(0.0455, abs=1e-4)
    assert intervals.difference_p((0.5, 0.1), (0.6, 0.0)) == pytest.approx(0.3173, abs=1e-4)  # z = 1
    assert intervals.difference_p((0.5, 0.0), (0.6, 0.0)) == 1.0  # no spread: nothing to judge by


def test_before_and_after_compares_each_figure_with_holm() -> None:
    from analysis.confidence import Figure, compare

    def fig(value: float, low: float, high: float) -> Figure:
        return Figure("feedback.csat", "CSAT", Interval(value, low, high, 0.95, "Wilson score interval"), 100, "ratings")
    # half-widths 0.098 -> se 0.05 each side: a 0.2 rise is z = 2.83, p = 0.0047; a 0.05 rise is p = 0.48
    big = compare({"feedback.csat": fig(0.5, 0.402, 0.598)}, {"feedback.csat": fig(0.7, 0.602, 0.798)}, ("feedback.csat",))
    small = compare({"feedback.csat": fig(0.5, 0.402, 0.598)}, {"feedback.csat": fig(0.55, 0.452, 0.648)}, ("feedback.csat",))
    assert big[0].p == pytest.approx(0.0047, abs=2e-4) and big[0].differs
    assert small[0].p == pytest.approx(0.48, abs=0.01) and not small[0].differs
    assert big[0].row() == {"Figure": "CSAT", "Before": "50% (40%–60%)", "After": "70% (60%–80%)",
                            "Changed beyond chance": "yes"}
    assert compare({}, {"feedback.csat": fig(0.5, 0.4, 0.6)}, ("feedback.csat",)) == []  # one side only
