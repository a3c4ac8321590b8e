"""Usage evidence (analysis/usage.py) on a hand-made pilot: 5 users, 3 Berlin weeks, 17 events.

Times in the CSV are UTC; the pilot lives in Europe/Berlin (UTC+1 in March 2026, before DST).
Berlin weeks: W1 = Mon 2026-03-02 .. Sun 03-08, W2 = 03-09 .. 03-15, W3 = 03-16 .. 03-22.

    #  UTC time              Berlin day  wk user feature outcome    session team
    1  2026-03-02 09:00      03-02       W1 u1   search  success    s1      A
    2  2026-03-02 09:10      03-02       W1 u1   search  ok         s1      A
    3  2026-03-02 10:00      03-02       W1 u2   export  failure    s2      B
    4  2026-03-03 23:30      03-04 (!)   W1 u3   search  success    s3      A   next Berlin day
    5  2026-03-04 08:00      03-04       W1 u3   share   OK         s3      A
    6  2026-03-05 10:00      03-05       W1 u1   report  success    s9      A
    7  2026-03-05 11:00      03-05       W1 u2   report  true       s2b     B
    8  2026-03-08 23:30      03-09 (!)   W2 u2   export  success    s4      B   UTC Sunday, Berlin Monday
    9  2026-03-10 09:00      03-10       W2 u1   search  success    s5      A
   10  2026-03-10 12:00      03-10       W2 u4   export  error      s2      B   u4 reuses id "s2"
   11  2026-03-11 10:00      03-11       W2 u1   report  1          s5      A
   12  2026-03-17 09:00      03-17       W3 u1   search  Success    s7      A
   13  2026-03-17 10:00      03-17       W3 u4   export  success    s8      B
   14  2026-03-18 10:00      03-18       W3 u5   share   (blank)    s10     A
   15  2026-03-18 11:00      03-18       W3 u5   report  completed  s10     A
   16  2026-03-19 10:00      03-19       W3 u3   search  completed  s11     A
   17  2026-03-19 11:00      03-19       W3 u1   search  succeeded  s12     A

Active users per Berlin week: W1 {u1,u2,u3}, W2 {u1,u2,u4}, W3 {u1,u3,u4,u5}.
First-ever weeks: u1,u2,u3 W1; u4 W2; u5 W3.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from helpers import PROJECT_ROOT  # noqa: F401  (puts the project on sys.path)

from analysis import usage  # noqa: E402
from analysis.common import Empty, Filters  # noqa: E402
from readiness import catalog, pilots, store  # noqa: E402
from readiness.ingest import load as ingest
from readiness.security.access import Actor

TZ = "Europe/Berlin"

ROWS = [
    ("2026-03-02T09:00:00Z", "u1", "search", "success", "s1", "A"),
    ("2026-03-02T09:10:00Z", "u1", "search", "ok", "s1", "A"),
    ("2026-03-02T10:00:00Z", "u2", "export", "failure", "s2", "B"),
    ("2026-03-03T23:30:00Z", "u3", "search", "success", "s3", "A"),
    ("2026-03-04T08:00:00Z", "u3", "share", "OK", "s3", "A"),
    ("2026-03-05T10:00:00Z", "u1", "report", "success", "s9", "A"),
    ("2026-03-05T11:00:00Z", "u2", "report", "true", "s2b", "B"),
    ("2026-03-08T23:30:00Z", "u2", "export", "success", "s4", "B"),
    ("2026-03-10T09:00:00Z", "u1", "search", "success", "s5", "A"),
    ("2026-03-10T12:00:00Z", "u4", "export", "error", "s2", "B"),
    ("2026-03-11T10:00:00Z", "u1", "report", "1", "s5", "A"),
    ("2026-03-17T09:00:00Z", "u1", "search", "Success", "s7", "A"),
    ("2026-03-17T10:00:00Z", "u4", "export", "success", "s8", "B"),
    ("2026-03-18T10:00:00Z", "u5", "share", "", "s10", "A"),
    ("2026-03-18T11:00:00Z", "u5", "report", "completed", "s10", "A"),
    ("2026-03-19T10:00:00Z", "u3", "search", "completed", "s11", "A"),
    ("2026-03-19T11:00:00Z", "u1", "search", "succeeded", "s12", "A"),
]

W1, W2, W3 = date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)
ALL_FUNCTIONS = ("totals", "dau_mean", "active_users", "retention", "lifecycle", "feature_adoption",
                 "task_success", "concentration", "trend")


def _load(db: Path, tmp_path: Path, name: str, text: str) -> None:
    with store.open_store(db) as con, store.transaction(con):
        pilots.create_pilot(con, name, Actor("t", "admin", cli=True), time_zone=TZ)
    path = tmp_path / f"{name}.csv"
    path.write_text(text, encoding="utf-8")
    [result] = ingest.ingest_files(db, name, "usage", [path], actor=Actor("t", "admin", cli=True))
    assert result.error is None and result.rows_rejected == 0, result


def _full_csv() -> str:
    lines = ["timestamp,user_id,event,feature,outcome,session_id,team"]
    lines += [f"{ts},{u},use,{f},{o},{s},{t}" for ts, u, f, o, s, t in ROWS]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for the module (the evidence functions only read): pilots full, bare, trend, empty."""
    tmp_path = tmp_path_factory.mktemp("usage")
    path = tmp_path / "store.duckdb"
    _load(path, tmp_path, "full", _full_csv())
    _load(path, tmp_path, "bare", "timestamp,user_id,event\n"
          "2026-03-02T09:00:00Z,u1,open\n2026-03-10T09:00:00Z,u1,open\n2026-03-10T10:00:00Z,u2,open\n")
    _load(path, tmp_path, "trend", "timestamp,user_id,event\n"
          "2026-01-22T12:00:00Z,u9,open\n"    # Berlin 01-22: before both windows
          "2026-01-23T12:00:00Z,u1,open\n"    # Berlin 01-23: first day of the prior window
          "2026-02-19T22:30:00Z,u2,open\n"    # Berlin 02-19 23:30: last day of the prior window
          "2026-02-19T23:30:00Z,u2,open\n"    # Berlin 02-20 00:30: first day of the recent window
          "2026-03-10T09:00:00Z,u1,open\n"
          "2026-03-19T10:00:00Z,u1,open\n")   # Berlin 03-19: last day with data
    with store.open_store(path) as con, store.transaction(con):
        pilots.create_pilot(con, "empty", Actor("t", "admin", cli=True), time_zone=TZ)
    return path


@pytest.fixture
def con(db: Path):
    with store.open_store(db) as c:
        yield c


def _pilot(con, name: str = "full"):
    return catalog.get_pilot(con, name)


# ---------------------------------------------------------------- totals and active users

def test_totals_use_berlin_days_and_user_session_pairs(con):
    t = usage.totals(con, _pilot(con))
    assert (t.events, t.users) == (17, 5)
    # 13 (user, session) pairs; the bare id "s2" of u2 and u4 is two sessions.
    assert t.sessions == 13 and t.sessions_reason is None
    # Berlin days 03-02, 03-04, 03-05, 03-09, 03-10, 03-11, 03-17, 03-18, 03-19 (not 03-03 or 03-08).
    assert t.active_days == 9
    assert (t.first_day, t.last_day) == (date(2026, 3, 2), date(2026, 3, 19))
    assert t.dau_mean == pytest.approx(14 / 9)
    assert usage.dau_mean(con, _pilot(con)) == pytest.approx(14 / 9)


def test_active_users_daily_series(con):
    df = usage.active_users(con, _pilot(con)).set_index("day")
    assert list(df.columns) == ["dau", "wau", "mau", "stickiness"]
    assert len(df) == 18  # every day 03-02 .. 03-19, quiet days included
    # The 23:30 UTC events count on the next Berlin day.
    assert df.loc[date(2026, 3, 3), "dau"] == 0
    assert df.loc[date(2026, 3, 4), "dau"] == 1
    assert df.loc[date(2026, 3, 8), "dau"] == 0
    assert df.loc[date(2026, 3, 9), "dau"] == 1
    # WAU: 7 days ending that day.
    assert df.loc[date(2026, 3, 3), "wau"] == 2   # u1, u2 on 03-02
    assert df.loc[date(2026, 3, 10), "wau"] == 4  # 03-04..03-10: u3, u1, u2, u4
    assert df.loc[date(2026, 3, 11), "wau"] == 3  # 03-05..03-11: u1, u2, u4 (u3's 03-04 dropped out)
    assert df.loc[date(2026, 3, 16), "wau"] == 2  # 03-10..03-16: u1, u4
    # MAU: 28 days ending that day.
    assert df.loc[date(2026, 3, 17), "mau"] == 4  # u5 not seen yet
    assert df.loc[date(2026, 3, 19), "mau"] == 5
    assert df.loc[date(2026, 3, 19), "stickiness"] == pytest.approx(2 / 5)
    assert df.loc[date(2026, 3, 12), "stickiness"] == 0


def test_active_users_matches_plain_sql(con):
    """Cross-check every day's DAU/WAU/MAU with a naive correlated query."""
    p = _pilot(con)
    df = usage.active_users(con, p)
    expected = con.execute(
        """
        WITH d AS (SELECT DISTINCT user_id, CAST(ts AT TIME ZONE 'Europe/Berlin' AS DATE) AS day
                   FROM usage_events WHERE pilot_id = ?),
        cal AS (SELECT CAST(x AS DATE) AS day FROM range(DATE '2026-03-02', DATE '2026-03-20', INTERVAL 1 DAY) t(x))
        SELECT cal.day,
          (SELECT count(DISTINCT user_id) FROM d WHERE d.day = cal.day),
          (SELECT count(DISTINCT user_id) FROM d WHERE d.day BETWEEN cal.day - 6 AND cal.day),
          (SELECT count(DISTINCT user_id) FROM d WHERE d.day BETWEEN cal.day - 27 AND cal.day)
        FROM cal ORDER BY 1
        """, [p.pilot_id]).fetchall()
    got = [(r.day, r.dau, r.wau, r.mau) for r in df.itertuples()]
    assert got == [(d, int(a), int(b), int(c)) for d, a, b, c in expected]


# ---------------------------------------------------------------- retention and lifecycle

def test_retention_matrix(con):
    df = usage.retention(con, _pilot(con))
    assert list(df.columns) == ["cohort", "size", "week_0", "week_1", "week_2"]
    assert list(df["cohort"]) == [W1, W2, W3]
    assert list(df["size"]) == [3, 1, 1]
    w1, w2, w3 = (df.iloc[i] for i in range(3))
    assert [w1.week_0, w1.week_1, w1.week_2] == pytest.approx([100, 200 / 3, 200 / 3])  # u1,u2 then u1,u3
    assert [w2.week_0, w2.week_1] == [100, 100] and math.isnan(w2.week_2)  # W4 not observed
    assert w3.week_0 == 100 and math.isnan(w3.week_1)


def test_lifecycle_counts(con):
    df = usage.lifecycle(con, _pilot(con))
    got = {r.week: (r.active, r.new, r.returning, r.resurrecting, r.dormant) for r in df.itertuples()}
    assert got == {
        W1: (3, 3, 0, 0, 0),
        W2: (3, 1, 2, 0, 1),  # u4 new; u1, u2 (its Berlin-Monday event) returning; u3 dormant
        W3: (4, 1, 2, 1, 1),  # u5 new; u1, u4 returning; u3 resurrecting; u2 dormant
    }


def test_lifecycle_says_how_many_days_of_each_week_are_in_view(con):
    # the data ends on Thursday 03-19 (Berlin): W3 has 4 of its 7 days, where more users look gone quiet
    p = _pilot(con)
    assert usage.lifecycle(con, p)["days"].tolist() == [7, 7, 4]
    # dates from Wednesday 03-04 to Tuesday 03-17 cut both ends; days outside them do not count
    lc = usage.lifecycle(con, p, Filters(start=date(2026, 3, 4), end=date(2026, 3, 17)))
    assert lc["days"].tolist() == [5, 7, 2]
    # a segment does not shorten a week: the dates and the pilot's data do (team B's last event is 03-17)
    assert usage.lifecycle(con, p, Filters(segment={"team": "B"}))["days"].tolist() == [7, 7, 4]


# ---------------------------------------------------------------- features and success

def test_feature_adoption_and_hints(con):
    df = usage.feature_adoption(con, _pilot(con)).set_index("feature")
    assert list(df.index) == ["report", "export", "search", "share"]  # most users first, then name
    assert df.loc["search", ["users", "events", "repeat_users"]].tolist() == [2, 7, 2]
    assert df.loc["report", ["users", "events", "repeat_users"]].tolist() == [3, 4, 1]
    assert df.loc["share", "share_of_users"] == pytest.approx(2 / 5)
    assert df.loc["report", "repeat_rate"] == pytest.approx(1 / 3)
    assert df.loc["export", "success_rate"] == pytest.approx(0.5)
    assert df.loc["share", "success_rate"] == 1.0  # the blank outcome is not an attempt
    assert df["hint"].to_dict() == {"search": "keep", "export": "fix", "report": "watch", "share": "drop"}
    assert "50%" in df.loc["export", "hint_reason"]


def test_task_success(con):
    ts = usage.task_success(con, _pilot(con))
    assert (ts.attempts, ts.successes) == (16, 14)
    assert ts.success_rate == pytest.approx(14 / 16)
    by_f = ts.by_feature.set_index("feature")
    assert by_f.loc["search", ["attempts", "successes"]].tolist() == [7, 7]  # ok/Success/completed/succeeded
    assert by_f.loc["export", ["attempts", "successes"]].tolist() == [4, 2]  # failure, error
    assert by_f.loc["report", "success_rate"] == 1.0                        # success/true/1/completed
    by_w = ts.by_week.set_index("week")
    assert by_w.loc[W1, ["attempts", "successes"]].tolist() == [7, 6]
    assert by_w.loc[W2, ["attempts", "successes"]].tolist() == [4, 3]
    assert by_w.loc[W3, ["attempts", "successes"]].tolist() == [5, 5]


def test_concentration(con):
    c = usage.concentration(con, _pilot(con))
    assert (c.events, c.users, c.top_users) == (17, 5, 1)  # 10% of 5 users -> at least 1
    assert c.top_share == pytest.approx(7 / 17)            # u1 made 7 events
    assert c.users_for_half == 2                            # 7 < 8.5 <= 7 + 3
    assert c.busiest_team == "A" and c.busiest_team_share == pytest.approx(12 / 17)
    assert c.team_reason is None


def test_trend_windows_follow_berlin_days(con):
    t = usage.trend(con, _pilot(con, "trend"))
    assert t.last_day == date(2026, 3, 19)
    assert (t.recent_start, t.prior_start) == (date(2026, 2, 20), date(2026, 1, 23))
    assert (t.events_recent, t.events_prior) == (3, 2)
    assert t.events_change_pct == pytest.approx(50.0)
    assert (t.users_recent, t.users_prior) == (2, 2) and t.users_change_pct == 0
    assert t.prior_complete
    short = usage.trend(con, _pilot(con))  # 3 weeks of data: nothing in the prior window
    assert (short.events_recent, short.events_prior, short.events_change_pct) == (17, 0, None)
    assert not short.prior_complete


# ---------------------------------------------------------------- filters

def test_date_filter_uses_berlin_days(con):
    p, f = _pilot(con), Filters(start=W2, end=date(2026, 3, 15))
    t = usage.totals(con, p, f)
    assert (t.events, t.users, t.active_days) == (4, 3, 3)  # events 8-11, incl. the 23:30 UTC Sunday one
    assert t.first_day == W2
    lc = usage.lifecycle(con, p, f)
    # W1 lies outside the range but still decides who is returning: u1 and u2, not "resurrecting".
    assert [tuple(r) for r in lc[["active", "new", "returning", "resurrecting", "dormant"]].itertuples(index=False)] \
        == [(3, 1, 2, 0, 1)]
    ret = usage.retention(con, p, f)
    assert list(ret["cohort"]) == [W2] and list(ret["size"]) == [1]  # only u4 was first seen in range
    au = usage.active_users(con, p, f)
    assert list(au["day"]) == [date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)]
    assert list(au["wau"]) == [1, 3, 3]  # windows see only the filtered days


def test_team_filter(con):
    p, f = _pilot(con), Filters(segment={"team": "A"})
    t = usage.totals(con, p, f)
    assert (t.events, t.users, t.sessions) == (12, 3, 8)
    c = usage.concentration(con, p, f)
    assert c.top_share == pytest.approx(7 / 12) and c.users_for_half == 1
    assert c.busiest_team == "A" and c.busiest_team_share == 1.0
    lc = usage.lifecycle(con, p, f).set_index("week")
    assert lc.loc[W2, ["active", "returning", "dormant"]].tolist() == [1, 1, 1]     # u1 back, u3 gone
    assert lc.loc[W3, ["new", "returning", "resurrecting"]].tolist() == [1, 1, 1]   # u5, u1, u3
    ret = usage.retention(con, p, f)
    assert list(ret["cohort"]) == [W1, W3] and list(ret["size"]) == [2, 1]
    assert ret.iloc[0][["week_0", "week_1", "week_2"]].tolist() == [100, 50, 100]
    fa = usage.feature_adoption(con, p, f).set_index("feature")
    assert "export" not in fa.index and fa.loc["report", "share_of_users"] == pytest.approx(2 / 3)


def test_filter_matching_nothing_is_empty(con):
    for f in (Filters(start=date(2027, 1, 1)), Filters(segment={"team": "Nobody"})):
        r = usage.totals(con, _pilot(con), f)
        assert isinstance(r, Empty) and "match the filters" in r.reason


# ---------------------------------------------------------------- missing data

@pytest.mark.parametrize("name", ALL_FUNCTIONS)
def test_empty_pilot_is_empty_with_reason(con, name):
    r = getattr(usage, name)(con, _pilot(con, "empty"))
    assert isinstance(r, Empty) and not r
    assert r.reason == "No usage events have been loaded for this pilot."


def test_usage_without_optional_columns(con):
    p = _pilot(con, "bare")
    t = usage.totals(con, p)
    assert (t.events, t.users, t.sessions) == (3, 2, None)
    assert t.sessions_reason == "No usage events have session ids, so sessions cannot be counted."
    ts = usage.task_success(con, p)
    assert isinstance(ts, Empty) and "outcomes" in ts.reason
    fa = usage.feature_adoption(con, p)
    assert isinstance(fa, Empty) and "features" in fa.reason
    c = usage.concentration(con, p)
    assert c.busiest_team is None and c.busiest_team_share is None and "teams" in c.team_reason
    assert c.top_share == pytest.approx(2 / 3)
    assert list(usage.retention(con, p)["size"]) == [1, 1]
    assert usage.lifecycle(con, p)["active"].tolist() == [1, 2]
    assert isinstance(usage.active_users(con, p), pd.DataFrame)
    assert usage.trend(con, p).events_recent == 3


def test_outcomes_missing_only_in_filtered_rows_says_so(con):
    # The only "share" event on 03-18 has a blank outcome, though other events have outcomes.
    f = Filters(start=date(2026, 3, 18), end=date(2026, 3, 18), segment={"feature": "share"})
    r = usage.task_success(con, _pilot(con), f)
    assert isinstance(r, Empty)
    assert r.reason.startswith("No usage events matching the filters (") and "have outcomes" in r.reason
    assert usage.totals(con, _pilot(con), f).events == 1


def test_lifecycle_keeps_quiet_weeks(con):
    # Trend pilot, Berlin weeks: 01-19 {u9,u1}, 02-16 {u2}, 03-09 {u1}, 03-16 {u1}; the rest quiet.
    df = usage.lifecycle(con, _pilot(con, "trend")).set_index("week")
    assert len(df) == 9  # 01-19 .. 03-16
    assert df.loc[date(2026, 1, 26), ["active", "dormant"]].tolist() == [0, 2]  # both gone the week after
    assert df.loc[date(2026, 2, 9)].tolist() == [0, 0, 0, 0, 0, 7]  # quiet, and a whole week in view
    assert df.loc[date(2026, 2, 23), "dormant"] == 1
    assert df.loc[date(2026, 3, 9), ["active", "resurrecting"]].tolist() == [1, 1]
    assert df.loc[date(2026, 3, 16), ["active", "returning"]].tolist() == [1, 1]


def test_retention_without_new_users_in_range_is_empty(con):
    r = usage.retention(con, _pilot(con, "trend"), Filters(start=date(2026, 3, 1)))  # only u1, first seen in January
    assert isinstance(r, Empty) and "first seen" in r.reason
