"""Risk signals: each signal fires on a pilot built to trigger it and stays quiet on
one built not to; the demo pilot shows its planted risks; a viewer without a grant is refused.

One module-scoped store holds three pilots: "risky" (every signal but missing_log fires), "calm"
(none fires) and "bare" (no logs at all: only missing_log fires, and nothing raises).
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from helpers import ingest_one, make_pilot, write

from readiness import catalog, demo, pilots, settings, store
from readiness.review import signals
from readiness.security import users
from readiness.security.access import AccessDenied, Actor
from readiness.web import cache

OP = Actor("t", "admin", cli=True)
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; both pilots' logs fall in its two weeks


def _csv(header: str, rows: list[tuple]) -> str:
    return header + "\n" + "".join(",".join(f'"{v}"' for v in r) + "\n" for r in rows)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _risky_files(tmp: Path) -> dict[str, Path]:
    """20 users, u01 making most of the use, one team, half the attempts failing, 10% anonymous; every
    session hits errors (on Monday 12:xx UTC = 08:xx in New York, before work) from the ERP host,
    with emails in messages, parse errors, and all on one day (rising); unhappy feedback with an email."""
    usage, exc = [], []
    for u in range(1, 21):
        user = f"u{u:02d}"
        for s in range(1, 3):
            events = 40 if u == 1 else 2
            for e in range(events):
                t = MONDAY + timedelta(days=7 + s, hours=14, minutes=e % 60)
                usage.append((_iso(t), user, "run", f"s{s}", "triage", "failure" if e % 2 else "success", "AP"))
        t = MONDAY + timedelta(days=7, hours=12, minutes=u)
        exc.append((_iso(t), f"Timeout after 30000 ms calling https://erp.example.com/api/invoices/{u}",
                    user, "s1", "TimeoutError"))
        exc.append((_iso(t), f"Token expired for user {user}@example.com", user, "s1", "TokenExpiredError"))
        exc.append((_iso(t), f"Could not parse amount '1.2{u},00' in invoice {u}", user, "s2", "ValueError"))
    usage += [(_iso(MONDAY + timedelta(days=8, hours=15, minutes=i)), "anonymous", "run", f"a{i}", "triage",
               "success", "AP") for i in range(20)]
    feedback = [(_iso(MONDAY + timedelta(days=8, hours=i)), 1 + i % 2,
                 "Terrible, it crashed again and lost my work" + (" - mail me at jo@example.com" if i == 0 else ""))
                for i in range(12)]
    return {
        "usage": write(tmp / "risky_usage.csv", _csv("ts,user_id,event,session_id,feature,outcome,team", usage)),
        "exceptions": write(tmp / "risky_exc.csv", _csv("time,message,user_id,session_id,error_type", exc)),
        "feedback": write(tmp / "risky_fb.csv", _csv("ts,rating,comment", feedback)),
    }


def _calm_files(tmp: Path) -> dict[str, Path]:
    """40 users evenly over 4 teams, 10 sessions each, every attempt a success; 30 exceptions in 8
    sessions of 8 users, spread evenly over two weeks in working hours, split over three hosts;
    happy feedback."""
    usage, exc = [], []
    for u in range(1, 41):
        for s in range(10):
            t = MONDAY + timedelta(days=s % 5 + 7 * (s // 5), hours=10, minutes=u)
            usage.append((_iso(t), f"u{u:02d}", "run", f"s{s}", "triage", "success", f"team{u % 4}"))
    hosts = ("https://a.example.com/x", "b.example.com:443", "10.0.0.7")
    for i in range(30):
        t = MONDAY + timedelta(days=i % 5 + 7 * (i % 2), hours=11, minutes=i)
        exc.append((_iso(t), f"Request timed out calling {hosts[i % 3]}", f"u{i % 8 + 1:02d}", "s0", "TimeoutError"))
    feedback = [(_iso(MONDAY + timedelta(days=i % 5, hours=12)), 5, "Great tool, it saves me an hour a day")
                for i in range(12)]
    return {
        "usage": write(tmp / "calm_usage.csv", _csv("ts,user_id,event,session_id,feature,outcome,team", usage)),
        "exceptions": write(tmp / "calm_exc.csv", _csv("time,message,user_id,session_id,error_type", exc)),
        "feedback": write(tmp / "calm_fb.csv", _csv("ts,rating,comment", feedback)),
    }


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("signals")
    path = tmp / "store.duckdb"
    make_pilot(path, "risky", owner="", time_zone="America/New_York", work_start=time(9), work_end=time(17))
    make_pilot(path, "calm", owner="Sam Okoro", time_zone="Europe/Paris")
    make_pilot(path, "bare", owner="Sam Okoro")
    for name, files in (("risky", _risky_files(tmp)), ("calm", _calm_files(tmp))):
        for kind, file in files.items():
            result = ingest_one(path, file, kind, name)
            assert result.error is None and result.rows_rejected == 0, result
    from readiness.ingest import sources
    from readiness.review import conditions, handoff

    with store.open_store(path) as con:
        calm, risky = catalog.get_pilot(con, "calm"), catalog.get_pilot(con, "risky")
        for kind in ("usage", "feedback", "exceptions"):  # the calm pilot's logs each have an owned process
            sources.set_manual(con, OP, calm, kind, provider="Finance IT", what=f"{kind} export", frequency="weekly",
                               owner="Sam Okoro")
        conditions.ensure_conditions(con, OP, calm)  # ... and a recorded security review
        review = next(c for c in conditions.list_conditions(con, OP, calm) if c["area"] == "security_review")
        conditions.set_condition(con, OP, calm, review["condition_id"], status="met",
                                 evidence="Reviewed by InfoSec (A. Lind) on 2026-03-01: no high findings")
        handoff.add_constraint(con, OP, calm, area="security", description="Invoices may hold bank details",
                               owner="InfoSec", mitigation="Masked before logging")
        handoff.add_constraint(con, OP, risky, area="security", description="Invoices may hold bank details")
    return path


@pytest.fixture(scope="module")
def fired(db: Path) -> dict[str, dict[str, signals.Signal]]:
    """pilot name -> signal key -> the signal that fired."""
    with store.open_store(db) as con:
        return {name: {s.key: s for s in signals.compute_signals(con, OP, catalog.get_pilot(con, name))}
                for name in ("risky", "calm", "bare")}


KEYS = [spec.key for spec in signals.signal_catalog()]
TRIGGERED_BY = {"data.missing_log": "bare"}  # the one signal the risky pilot (all logs loaded) cannot show


@pytest.mark.parametrize("key", KEYS)
def test_signal_fires_on_a_pilot_built_to_trigger_it(fired, key):
    sig = fired[TRIGGERED_BY.get(key, "risky")].get(key)
    assert sig is not None, f"{key} did not fire"
    assert sig.risk_class == key.split(".")[0] and sig.severity in signals.SEVERITIES
    assert sig.finding and "\n" not in sig.finding


@pytest.mark.parametrize("key", KEYS)
def test_signal_stays_quiet_on_a_pilot_built_not_to(fired, key):
    assert key not in fired["calm"], fired["calm"][key].finding


def test_pilot_without_logs_only_misses_logs(fired):
    # no usage, feedback or exceptions: no signal needing them fires, and nothing raises
    assert set(fired["bare"]) == {"data.missing_log", "data.no_source_process", "compliance.no_security_review"}
    sig = fired["bare"]["data.missing_log"]
    assert sig.severity == "high" and sig.figures["missing"] == ["usage", "feedback", "exceptions"]


def test_findings_and_figures_on_the_risky_pilot(fired):
    risky = fired["risky"]
    pd_exc = risky["data.personal_data_in_exceptions"]
    assert pd_exc.figures == {"rows": 20, "total": 60, "share": pytest.approx(1 / 3)}
    assert pd_exc.finding.startswith("20 exception messages (33%) contain emails")
    assert pd_exc.severity == "high"
    dep = risky["operational_dependency.external_dependency"]
    assert dep.figures["host"] == "erp.example.com" and dep.figures["failures"] == 20
    assert risky["operational_dependency.power_users"].rows["values"][0] == "u01"
    assert risky["operational_dependency.one_team"].figures["team"] == "AP"
    # 12:xx UTC is 08:xx in New York (EDT): before the pilot's working day although inside 09-17 UTC
    assert risky["operational_dependency.off_hours_failures"].figures["exceptions"] == 60
    assert risky["compliance.unauthenticated_usage"].figures["events"] == 20
    assert risky["data.data_errors"].figures["error_types"] == ["ValueError"]


def test_rows_behind_each_signal_are_the_rows_counted(db, fired):
    with store.open_store(db) as con:
        p = catalog.get_pilot(con, "risky")
        for key, count in (("data.personal_data_in_exceptions", 20), ("data.data_errors", 20),
                           ("operational_dependency.external_dependency", 20),
                           ("compliance.unauthenticated_usage", 20), ("data.personal_data_in_feedback", 1)):
            df = signals.signal_rows(con, OP, p, fired["risky"][key].rows, limit=1000)
            assert len(df) == count, key
        df = signals.signal_rows(con, OP, p, {"table": "exceptions", "where": "personal_data"})
        assert all("@" not in m for m in df["message"])  # personal data stays masked


def test_signals_are_json_and_sorted_by_severity(fired):
    out = list(fired["risky"].values())
    order = [signals.SEVERITIES.index(s.severity) for s in out]
    assert order == sorted(order, reverse=True)
    for s in out:
        d = json.loads(json.dumps(s.to_dict()))
        assert set(d) == {"key", "class", "severity", "finding", "figures", "rows"}


def test_catalog_names_every_class_and_a_known_setting():
    specs = signals.signal_catalog()
    assert {s.risk_class for s in specs} == set(signals.CLASSES)
    assert len({s.key for s in specs}) == len(specs)
    names = {s.name for s in settings.SETTINGS}
    for spec in specs:
        assert spec.setting is None or (spec.setting in names and spec.setting.startswith("signal_"))
        json.dumps(spec.to_dict())


@pytest.mark.parametrize("text, days", [
    ("Mon-Fri", {1, 2, 3, 4, 5}), ("Sun-Thu", {7, 1, 2, 3, 4}), ("mon, wed,Fri", {1, 3, 5}),
    ("Mon-Wed,Sat", {1, 2, 3, 6}), ("weekdays", None), ("", None),
])
def test_work_days(text, days):
    assert signals._work_days(text) == days


def test_viewer_without_grant_is_refused(db):
    viewer = Actor("vi", "viewer")  # user names are 2-32 characters, so not "v"
    with store.open_store(db) as con:
        users.add_user(con, OP, viewer.name, "viewer", "a long password 1")
        risky = catalog.get_pilot(con, "risky")
        with pytest.raises(AccessDenied):
            signals.compute_signals(con, viewer, risky)
        with pytest.raises(AccessDenied):
            signals.signal_rows(con, viewer, risky, {"table": "exceptions", "where": "personal_data"})
        users.grant(con, OP, viewer.name, "risky")
        assert signals.compute_signals(con, viewer, risky)  # a grant is all a viewer needs to read them


@pytest.fixture(scope="module")
def demo_signals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, signals.Signal]:
    tmp = tmp_path_factory.mktemp("demo")
    path = tmp / "demo.duckdb"
    demo.load_demo(path, OP, out_dir=tmp)
    with store.open_store(path) as con:
        p = catalog.get_pilot(con, demo.DEMO_PILOT["name"])
        return {s.key: s for s in signals.compute_signals(con, OP, p)}


def test_demo_pilot_shows_its_planted_risks(demo_signals):
    # personal data in exception messages, a dominant external dependency, power users
    assert demo_signals["data.personal_data_in_exceptions"].figures["rows"] > 1000
    dep = demo_signals["operational_dependency.external_dependency"]
    assert dep.figures["host"] == "erp.northwind-finance.example" and dep.figures["share"] > 0.6
    assert demo_signals["operational_dependency.power_users"].figures["top_share"] > 0.35
    assert "operational_dependency.no_owner" not in demo_signals
    assert "data.missing_log" not in demo_signals


def _edited_review(path: Path, name: str) -> None:
    """Every kind of review and profile edit a reviewer can make, on pilot ``name``."""
    from readiness.ingest import sources
    from readiness.review import conditions, handoff, risks

    with store.open_store(path) as con:
        p = catalog.get_pilot(con, name)
        p = pilots.update_pilot(con, OP, p, owner="Ola Berg", time_zone="Asia/Kolkata", work_start=time(6),
                                work_end=time(22), work_days="Mon-Sun")
        for kind in ("usage", "feedback", "exceptions"):
            sources.set_manual(con, OP, p, kind, provider="IT", what=kind, frequency="daily", owner="Ola Berg")
        conditions.ensure_conditions(con, OP, p)
        for c in conditions.list_conditions(con, OP, p):
            if c["area"] == "security_review":  # the others are computed, or not read by any signal
                conditions.set_condition(con, OP, p, c["condition_id"], status="met", evidence="checked")
        handoff.add_constraint(con, OP, p, area="data", description="Masked", owner="DPO", mitigation="masking")
        risks.add_risk(con, OP, p, risk_class="data", title="Leak", likelihood=5, impact=5, owner="DPO")


def test_logs_only_checks_do_not_move_with_review_edits_and_the_others_do(tmp_path: Path) -> None:
    # The app keeps the logs-only checks' results across review edits (cache.signals): if one of them
    # read the profile, register, sources or review record, a reviewer would see a stale signal.
    path = tmp_path / "store.duckdb"
    make_pilot(path, "risky", owner="", time_zone="America/New_York", work_start=time(9), work_end=time(17))
    for kind, file in _risky_files(tmp_path).items():
        ingest_one(path, file, kind, "risky")

    def both() -> tuple[list[signals.Signal], list[signals.Signal], list[signals.Signal]]:
        with store.open_store(path) as con:
            p = catalog.get_pilot(con, "risky")
            return (signals.log_signals(con, OP, p), signals.review_signals(con, OP, p),
                    signals.compute_signals(con, OP, p))

    logs_before, review_before, _ = both()
    _edited_review(path, "risky")
    logs_after, review_after, whole = both()
    assert logs_before and [s.to_dict() for s in logs_after] == [s.to_dict() for s in logs_before]
    gone = {s.key for s in review_before} - {s.key for s in review_after}
    assert {"operational_dependency.no_owner", "data.no_source_process", "compliance.no_security_review",
            "operational_dependency.off_hours_failures"} <= gone
    # the whole list is the two parts, most severe first, then in catalogue order
    assert [s.key for s in whole] == [s.key for s in signals.ordered(logs_after + review_after)]
    assert {s.key for s in whole} == {s.key for s in logs_after} | {s.key for s in review_after}


def test_an_operating_owner_on_hand_off_answers_the_no_owner_signal_and_blocker(tmp_path: Path) -> None:
    # an operating owner named on Hand-off meets the ownership condition, and with it the high signal
    # "Nobody is named as the pilot's owner" and Decision's "no pilot owner named" go
    from readiness.review import decisions, handoff

    db = tmp_path / "s.duckdb"
    make_pilot(db, "ownerless")
    ingest_one(db, write(tmp_path / "u.csv", "ts,user,event\n2026-03-02T10:00:00Z,a,open\n"), pilot="ownerless")

    def state() -> tuple[bool, bool]:
        with store.open_store(db) as con:
            p = catalog.get_pilot(con, "ownerless")
            keys = {s.key for s in signals.review_signals(con, OP, p)}
            reasons = decisions.suggest(con, p).reasons
        return "operational_dependency.no_owner" in keys, any("no owner named" in r for r in reasons)

    assert state() == (True, True)
    with store.open_store(db) as con:
        handoff.set_handoff(con, OP, catalog.get_pilot(con, "ownerless"), operating_owner="Finance operations")
    assert state() == (False, False)


def test_an_open_constraint_signal_says_what_it_lacks(tmp_path: Path) -> None:
    # "has no owner or no mitigation" reads as wrong to a reviewer who has just set the owner
    from readiness.review import handoff

    db = tmp_path / "c.duckdb"
    make_pilot(db, "constrained", owner="Tom")
    with store.open_store(db) as con:
        p = catalog.get_pilot(con, "constrained")
        handoff.add_constraint(con, OP, p, area="security", description="Must not send logs to external LLM APIs",
                               owner="Security")
        found = {s.key: s for s in signals.review_signals(con, OP, p)}
    s = found["compliance.constraint_unowned"]
    assert s.severity == "high"
    assert s.finding == "The security constraint “Must not send logs to external LLM APIs” has no mitigation"


def test_the_app_reuses_the_logs_part_across_a_review_edit_and_not_across_a_batch(tmp_path: Path, monkeypatch) -> None:


    path = tmp_path / "store.duckdb"
    make_pilot(path, "risky", owner="", time_zone="America/New_York", work_start=time(9), work_end=time(17))
    files = _risky_files(tmp_path)
    for kind, file in files.items():
        ingest_one(path, file, kind, "risky")
    monkeypatch.setenv("READINESS_DB", str(path))
    runs = []
    real = signals.log_signals
    monkeypatch.setattr(signals, "log_signals", lambda *a: runs.append(1) or real(*a))  # counts, still runs it

    def shown() -> dict[str, str]:
        with store.open_store(path) as con:
            p = catalog.get_pilot(con, "risky")
            version = catalog.data_version(con, p.pilot_id)
        return {s["key"]: s["finding"] for s in cache.signals(OP, p, version)}

    first = shown()
    assert "operational_dependency.no_owner" in first and "data.personal_data_in_exceptions" in first
    _edited_review(path, "risky")
    edited = shown()
    assert "operational_dependency.no_owner" not in edited  # the edit shows at once
    assert edited["data.personal_data_in_exceptions"] == first["data.personal_data_in_exceptions"]
    assert len(runs) == 1  # ... and the logs-only checks were not run again
    more = write(tmp_path / "more.csv", "time,message,user_id,session_id,error_type\n" + "".join(
        f"2026-03-09T12:{i:02d}:00Z,Mail bounced for x{i}@example.com,u01,s1,MailError\n" for i in range(5)))
    ingest_one(path, more, "exceptions", "risky")
    after_batch = shown()
    assert len(runs) == 2 and after_batch["data.personal_data_in_exceptions"].startswith("25 exception messages")
