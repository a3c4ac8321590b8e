"""The pilot's calendar: local times computed without ICU must equal ICU's, in every zone."""

from __future__ import annotations

import random

import duckdb
import pytest

from analysis.common import local_day_sql, local_ts_sql


class _Pilot:
    def __init__(self, tz: str) -> None:
        self.time_zone = tz


@pytest.mark.parametrize("tz", ["Europe/London", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                "Asia/Kolkata", "Pacific/Chatham", "UTC"])
def test_local_time_matches_icu_including_dst_changes(tz: str) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rnd = random.Random(7)
    instants = [rnd.randint(946_684_800, 1_890_000_000) for _ in range(5000)]
    # the seconds around the 2026 European and US changes, where an off-by-one-hour would show
    instants += [t + d for t in (1_774_746_000, 1_792_890_000, 1_772_953_200, 1_793_512_800) for d in (-1, 0, 1)]
    instants += [631_152_000, 2_000_000_000]  # before 2000 and far ahead: ICU fallback
    con.execute("CREATE TABLE t AS SELECT to_timestamp(x) AS ts FROM (SELECT unnest(?) AS x)", [instants])
    pilot = _Pilot(tz)
    wrong = con.execute(
        f"SELECT count(*) FROM t WHERE {local_ts_sql(pilot)} <> timezone('{tz}', ts) "
        f"OR {local_day_sql(pilot)} <> CAST(timezone('{tz}', ts) AS DATE)").fetchone()[0]
    assert wrong == 0


@pytest.mark.parametrize("tz", ["Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
                                "Pacific/Chatham", "America/Sao_Paulo", "UTC"])
def test_zoneless_times_read_in_the_pilot_zone_match_icu(tz: str) -> None:
    # ingest reads a zone-less time as wall-clock time in the pilot's zone without ICU
    # (timestamps.local_to_utc_sql); every minute-ish from 1995 to 2035, repeated and skipped hours
    # included, must give the instant the session-zone cast gives
    from readiness.ingest.timestamps import local_to_utc_sql

    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{tz}'")
    con.execute("CREATE TABLE t AS SELECT TIMESTAMP '1995-01-01' + to_minutes(i * 7) AS n "
                "FROM range(0, 40 * 366 * 24 * 60 // 7) r(i) UNION ALL SELECT NULL")
    total, wrong = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {local_to_utc_sql('n', tz)} IS DISTINCT FROM CAST(n AS TIMESTAMPTZ)) "
        "FROM t").fetchone()
    assert total > 3_000_000 and wrong == 0
