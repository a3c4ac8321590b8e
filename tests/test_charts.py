"""Chart titles state the finding the chart draws; every chart uses the app's one colour-blind-safe palette."""

from __future__ import annotations

from datetime import date

import pandas as pd

from readiness.web import charts


def _colours(fig) -> set[str]:
    out = set()
    for trace in fig.data:
        colour = getattr(getattr(trace, "marker", None), "color", None) or getattr(getattr(trace, "line", None), "color", None)
        if isinstance(colour, str):
            out.add(colour)
    return out


def test_retention_title_weights_cohorts_by_size() -> None:
    df = pd.DataFrame({"cohort": [date(2026, 3, 2), date(2026, 3, 9)], "size": [10, 30],
                       "week_0": [100.0, 100.0], "week_1": [50.0, 100.0], "week_2": [20.0, None]})
    fig, caption = charts.retention(df)
    # (10 × 50% + 30 × 100%) / 40 = 87.5%; week 4 not observable yet, so not claimed
    assert fig.layout.title.text == "88% of new users come back the next week"
    assert list(fig.data[0].y) == ["2026-03-02 (10)", "2026-03-09 (30)"]
    assert "first-ever event" in caption


def test_lifecycle_title_reads_the_last_week_and_dormant_is_drawn_below_the_axis() -> None:
    df = pd.DataFrame({"week": [date(2026, 3, 2), date(2026, 3, 9)], "active": [5, 6], "new": [5, 1],
                       "returning": [0, 4], "resurrecting": [0, 1], "dormant": [0, 1]})
    fig, _ = charts.lifecycle(df)
    assert fig.layout.title.text == ("Week of 2026-03-09: 1 new, 4 returning, 1 back after a break, 1 gone quiet")
    dormant = next(t for t in fig.data if t.name == "dormant")
    assert list(dormant.y) == [0, -1]
    assert _colours(fig) <= set(charts.PALETTE)


def test_lifecycle_headline_reads_the_last_whole_week_and_the_caption_names_a_short_one() -> None:
    # dates ending on a Monday: not "Week of 2026-08-31: ... 44 gone quiet" for one day of that week
    df = pd.DataFrame({"week": [date(2026, 3, 2), date(2026, 3, 9)], "active": [5, 2], "new": [5, 0],
                       "returning": [0, 2], "resurrecting": [0, 0], "dormant": [0, 3], "days": [7, 1]})
    fig, caption = charts.lifecycle(df)
    assert fig.layout.title.text == "Week of 2026-03-02: 5 new, 0 returning, 0 back after a break, 0 gone quiet"
    assert "the week of 2026-03-09 (1 of 7 days)" in caption and "headline reads the last whole week" in caption
    dormant = next(t for t in fig.data if t.name == "dormant")
    assert list(dormant.marker.opacity) == [1.0, 0.35]  # the short week is drawn pale
    # no whole week: the headline says how much of its week it has
    fig, caption = charts.lifecycle(df.iloc[1:])
    assert fig.layout.title.text.startswith("Week of 2026-03-09 (1 of 7 days in view): 0 new")
    assert "headline" not in caption
    # whole weeks only: nothing added
    fig, caption = charts.lifecycle(df.iloc[:1])
    assert "cut short" not in caption and fig.data[0].marker.opacity is None


def test_feature_title_counts_hints_and_colours_follow_them() -> None:
    df = pd.DataFrame({"feature": ["a", "b", "c"], "users": [9, 8, 2], "events": [90, 80, 3],
                       "share_of_users": [0.9, 0.8, 0.2], "repeat_rate": [0.9, 0.7, 0.1],
                       "success_rate": [0.95, 0.5, 0.9], "hint": ["keep", "fix", "drop"], "hint_reason": ["", "", ""]})
    fig, _ = charts.feature_adoption(df)
    assert fig.layout.title.text == "Features: 1 to keep, 1 to fix, 1 to drop"
    assert {t.name: t.marker.color for t in fig.data} == {"keep": charts.GREEN, "fix": charts.ORANGE,
                                                           "drop": charts.VERMILION}


def test_active_users_title_uses_days_with_use_like_the_headline() -> None:
    df = pd.DataFrame({"day": pd.date_range("2026-03-02", periods=3), "dau": [4, 0, 2], "wau": [4, 4, 5],
                       "mau": [4, 4, 5], "stickiness": [1, 0, 0.4]})
    fig, _ = charts.active_users(df)
    assert fig.layout.title.text.startswith("About 3 people use it on a day with any use; 5 in the last 28 days")


def test_exception_rate_compares_last_and_first_week_per_1000_events() -> None:
    df = pd.DataFrame({"day": pd.date_range("2026-03-02", periods=14), "exceptions": [1] * 7 + [4] * 7,
                       "events": [100] * 14, "sessions": [10] * 14, "per_1000_events": [10.0] * 7 + [40.0] * 7})
    fig, caption = charts.exception_rate(df)
    assert fig.layout.title.text == ("40 exceptions per 1,000 events in the last 7 days with usage, against 10 in "
                                     "the first 7")
    assert caption.startswith("Exceptions per pilot-local day divided by that day's usage events")


def test_exception_counts_without_usage_are_not_captioned_as_a_rate() -> None:
    # 2015 exceptions and 2026 usage: the bars are counts, so the caption does not say "divided by usage events"
    df = pd.DataFrame({"day": pd.date_range("2015-10-18", periods=2), "exceptions": [1500, 500],
                       "events": [0, 0], "sessions": [0, 0], "per_1000_events": [None, None]})
    fig, caption = charts.exception_rate(df)
    assert fig.layout.title.text == "2,000 exceptions; no usage events to compare them with"
    assert fig.data[0].y.tolist() == [1500, 500] and "so there is no rate" in caption


def test_the_rate_reads_the_days_with_usage_when_exceptions_start_long_before_it() -> None:
    # Loghub exceptions from 2005 and usage in May 2017: a rate, not "no usage events to compare them
    # with", although the first 7 days of the chart have no usage
    days = list(pd.date_range("2005-06-14", periods=10)) + list(pd.date_range("2017-05-01", periods=3))
    df = pd.DataFrame({"day": days, "exceptions": [100] * 10 + [2, 4, 6], "events": [0] * 10 + [200] * 3,
                       "sessions": [0] * 10 + [20] * 3, "per_1000_events": [None] * 10 + [10.0, 20.0, 30.0]})
    fig, caption = charts.exception_rate(df)
    assert fig.layout.title.text == "20 exceptions per 1,000 events over the 3 days with usage"
    assert caption.endswith("1,000 exceptions fall on days without usage events and are not in the rate.")


def test_risk_matrix_counts_open_risks_in_their_cell() -> None:
    register = [{"risk_id": 1, "title": "A", "likelihood": 5, "impact": 4, "status": "open"},
                {"risk_id": 2, "title": "B", "likelihood": 5, "impact": 4, "status": "open"},
                {"risk_id": 3, "title": "C", "likelihood": 1, "impact": 2, "status": "open"},
                {"risk_id": 4, "title": "D", "likelihood": 5, "impact": 5, "status": "mitigated"}]
    fig, _ = charts.risk_heatmap(register)
    text = fig.data[0].text
    assert text[3][4] == "2" and text[1][0] == "1" and text[4][4] == ""   # [impact-1][likelihood-1]
    assert fig.layout.title.text == "3 open risks, 2 in the high zone"
    assert "#1 A<br>#2 B" in fig.data[0].customdata[3][4]


def test_sparkline_keeps_the_last_28_days() -> None:
    daily = [[date(2026, 3, 1), i] for i in range(40)]
    assert charts.sparkline(daily) == list(range(12, 40))
    assert charts.sparkline(None) == []


def _day_ticks(fig) -> tuple[pd.Timestamp, pd.Timestamp, int]:
    axis = fig.layout.xaxis
    lo, hi = (pd.Timestamp(x) for x in axis.range)
    return lo, hi, axis.dtick


def test_a_one_day_pilot_keeps_its_time_axis_in_days_not_milliseconds() -> None:
    """Plotly zooms a lone date to milliseconds (ticks "23:59:59.9995 ... 00:00:00.0005") unless told the range."""
    one_day = pd.DataFrame({"day": [date(2026, 3, 2)], "dau": [4], "wau": [4], "mau": [4], "stickiness": [1.0]})
    fig, _ = charts.active_users(one_day)
    assert _day_ticks(fig) == (pd.Timestamp("2026-03-01"), pd.Timestamp("2026-03-03"), 86_400_000)

    rate = pd.DataFrame({"day": [date(2026, 3, 2)], "exceptions": [3], "events": [100], "sessions": [10],
                         "per_1000_events": [30.0]})
    fig, _ = charts.exception_rate(rate)
    assert _day_ticks(fig)[2] == 86_400_000
    assert fig.data[0].width == 0.8 * 86_400_000  # the lone bar is a day wide, not the chart's width
    # the first and the last 7 days would be the same day: one figure, not a comparison
    assert fig.layout.title.text == "30 exceptions per 1,000 events over the one day with usage"

    week = pd.DataFrame({"week": [date(2026, 3, 2)], "active": [5], "new": [5], "returning": [0],
                         "resurrecting": [0], "dormant": [0]})
    fig, _ = charts.lifecycle(week)
    assert _day_ticks(fig) == (pd.Timestamp("2026-02-23"), pd.Timestamp("2026-03-09"), 7 * 86_400_000)
    fig, _ = charts.negative_share(pd.DataFrame({"week": [date(2026, 3, 2)], "negative_share": [0.2], "comments": [5]}))
    assert fig.layout.title.text == "Negative comments: 20% in the one week with comments"


def test_a_pilot_of_days_gets_a_tick_per_day_and_a_longer_one_is_left_to_plotly() -> None:
    # 3 days: left to itself plotly ticks them every 6 hours ("00:00 Mar 2, 06:00, 12:00 ...")
    def rate(days: int):
        return charts.exception_rate(pd.DataFrame({
            "day": pd.date_range("2026-03-02", periods=days), "exceptions": [1] * days, "events": [100] * days,
            "sessions": [10] * days, "per_1000_events": [10.0] * days}))[0]

    fig = rate(3)
    assert _day_ticks(fig) == (pd.Timestamp("2026-03-01 12:00"), pd.Timestamp("2026-03-04 12:00"), 86_400_000)
    assert fig.data[0].width is None  # bars keep plotly's own width once there are several
    assert rate(10).layout.title.text == "10 exceptions per 1,000 events over the 10 days with usage"
    fig = rate(20)
    assert fig.layout.xaxis.range is None and fig.layout.xaxis.dtick is None
