"""Personal data reaching viewers: one detector, one rule.

The detector (readiness.security.privacy): phone numbers by libphonenumber (555-123-4567 and 555.123.4567
too), card numbers by the Luhn check on 13-19 digit runs with spaces, dashes or dots, emails by one
regular expression. The rule: every text field shown without the reveal right is masked, not only messages,
comments and user ids (error types, components, categories, teams, features, user groups, theme
examples, a decision's rationale); segment values are offered as shown; the per-row flags set at
ingest use the same detector as the mask, so a flagged row is a masked row.
"""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from helpers import ingest_one, query, write

from analysis import common, failure_modes, feedback, usage
from analysis.common import Filters
from readiness import store
from readiness.catalog import get_pilot
from readiness.review import decisions, export, signals
from readiness.security import privacy, users
from readiness.security.access import Actor

OP = Actor("cli:test", "admin", cli=True)
PW = "a long enough password"

PHONE_DASH, PHONE_DOT, PHONE_UK = "555-123-4567", "555.123.4567", "+44 20 7946 0958"
CARD_DOTS = "4111.1111.1111.1111"
EMAIL = "ann.lee@corp.example"


# --- the detector ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    (f"call me on {PHONE_DASH} today", "call me on [phone] today"),
    (f"call me on {PHONE_DOT}.", "call me on [phone]."),
    ("ring (555) 123-4567", "ring [phone]"),
    ("US office +1 415-555-2671", "US office [phone]"),
    (f"London {PHONE_UK}", "London [phone]"),
    ("mobile 07700 900123", "mobile [phone]"),
    (f"card {CARD_DOTS} declined", "card [card] declined"),
    ("card 4111-1111-1111-1111", "card [card]"),
    ("card 4111 1111 1111 1111", "card [card]"),
    ("amex 3782 822463 10005 ok", "amex [card] ok"),
    (f"from {EMAIL}", "from [email]"),
    ("Phone: 020 7946 0123, or 0207 946 0123", "Phone: [phone], or [phone]"),
    ("+44 (0)20 7946 0958 or 1-800-555-0199", "[phone] or [phone]"),
    ("tel:555-123-4567", "tel:[phone]"),
    ("paid with 4111 1111 1111 1111 2026-03-02", "paid with [card] 2026-03-02"),
    # not personal data: ids, times, amounts, versions, addresses, numbers failing the Luhn check
    ("see INV-2026-000123, ticket INC123456", None),
    ("happened on 2026-03-02 at 10:15, took 45 seconds", None),
    ("since 2026-03-02 10:15:07.123456", None),
    ("account 35415847, amount 12,345.67 or 1,234,567.89", None),
    ("Block blk_-6952295868487656571 missing", None),
    ("host 192.168.100.200:8080 v10.2.3.4567", None),
    ("epoch 1709371380 and 1709371380123", None),
    ("order 4111 1111 1111 1112 (no Luhn)", None),
    ("order 2026-000123 shipped", None),
    # log lines (Loghub) with numbers next to numbers: sizes, counts, years, addresses, ports
    ("Got assigned task 1201 113099", None),
    ("Running task 0.0 in stage 26.0 (TID 1200) 113100", None),
    ("size 67108864 1004 from /10.251.42.84 9", None),
    ("at Fri Jun 17 07:07:00 2005 100823 from 82-68-222-194.dsl", None),
    ("proxy MSRA-SA-41.fareast.corp.microsoft.com:7109 110302", None),
    ("Progress of TaskAttempt attempt_1445144423722_0020_m_000001_0 is : 0.1066108 2251", None),
    ("BIOS-e820: 0000000000000000 - 000000000009f800 (usable)", None),
    ("", None),
])
def test_the_detector_masks_phones_cards_and_emails_only(text: str, expected: str | None) -> None:
    assert privacy.mask(text) == (text if expected is None else expected)
    assert privacy.has_personal_data(text) is (expected is not None)
    assert not privacy.has_personal_data(privacy.mask(text))
    # ingest asks DuckDB which messages could hold any: never one the detector would flag
    if expected is not None:
        con = duckdb.connect()
        assert con.execute("SELECT regexp_matches(?, ?)", [text, privacy.CANDIDATE_SQL_RE]).fetchone()[0]


def test_a_value_with_personal_data_becomes_a_stable_distinct_pseudonym() -> None:
    a, b = privacy.mask_id(f"Desk {PHONE_DASH}"), privacy.mask_id(f"Desk {PHONE_DOT.replace('4567', '9999')}")
    assert a.startswith("[phone ") and a == privacy.mask_id(f"Desk {PHONE_DASH}") and a != b
    assert privacy.mask_id("Finance") == "Finance" and privacy.mask_id(None) is None


# --- a pilot whose logs carry personal data in every field ------------------------------------------

def _csv(header: str, rows: list[tuple]) -> str:
    return header + "\n" + "".join(",".join(f'"{v}"' for v in r) + "\n" for r in rows)


TEAM, FEATURE, GROUP = f"Desk {PHONE_DASH}", f"export for {EMAIL}", f"VIP {PHONE_DOT}"
ERROR_TYPE, COMPONENT, CATEGORY = f"LookupError({EMAIL})", f"gateway {PHONE_UK}", f"callback {PHONE_DOT}"


@pytest.fixture(scope="module")
def pd_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("privacy")
    db = tmp / "store.duckdb"
    usage_rows = [(f"2026-03-0{2 + i % 5}T10:{i:02d}:00Z", f"u{i % 4}", "open", f"s{i}",
                   FEATURE if i % 2 else "search", "ok", TEAM if i < 30 else "Finance", GROUP)
                  for i in range(40)]
    ingest_one(db, write(tmp / "u.csv", _csv("ts,user_id,event,session_id,feature,outcome,team,user_group",
                                             usage_rows)), pilot="p")
    exc_rows = [(f"2026-03-0{2 + i % 5}T11:{i:02d}:00Z", f"Callback to {PHONE_DOT} failed" if i % 2
                 else f"Card {CARD_DOTS} declined", f"u{i % 4}", ERROR_TYPE, COMPONENT) for i in range(12)]
    ingest_one(db, write(tmp / "e.csv", _csv("time,message,user_id,error_type,component", exc_rows)),
               kind="exceptions", pilot="p")
    fb_rows = [(f"2026-03-0{2 + i % 5}T12:{i:02d}:00Z", 1 + i % 2,
                f"The export failed again and lost my invoice batch, call me on {PHONE_DASH}" if i % 3 == 0
                else "The export failed again and lost my invoice batch", CATEGORY) for i in range(12)]
    ingest_one(db, write(tmp / "f.csv", _csv("ts,rating,comment,category", fb_rows)), kind="feedback", pilot="p")
    with store.open_store(db) as con:
        for name, role in (("rita", "reviewer"), ("lena", "lead")):
            users.add_user(con, OP, name, role, PW)
            users.grant(con, OP, name, "p")
    return db


def _raw(text: str) -> list[str]:
    """The personal data a shown text must not hold."""
    return [v for v in (PHONE_DASH, PHONE_DOT, PHONE_UK, CARD_DOTS, EMAIL) if v in text]


def test_ingest_flags_the_rows_the_mask_masks(pd_db: Path) -> None:
    # both flags come from privacy's detector, the one that masks: a comment with 555-123-4567 is
    # flagged, and a flagged message is masked where shown
    assert query(pd_db, "SELECT count(*) FILTER (WHERE personal_data), count(*) FROM exceptions") == [(12, 12)]
    assert query(pd_db, "SELECT count(*) FILTER (WHERE personal_data) FROM feedback") == [(4,)]
    assert query(pd_db, "SELECT count(*) FROM feedback WHERE NOT personal_data AND comment LIKE '%555%'") == [(0,)]


def test_failure_modes_mask_the_type_examples_and_drill_down(pd_db: Path) -> None:
    with store.open_store(pd_db) as con:
        p = get_pilot(con, "p")
        modes = failure_modes.failure_modes(con, p)
        rows = failure_modes.mode_rows(con, p, int(modes["mode_id"][0]))
    shown = modes.to_csv() + rows.to_csv()
    assert _raw(shown) == []
    assert set(modes["error_type"]) == {"LookupError([email])"}
    assert any("[phone]" in x for ex in modes["examples"] for x in ex)


def test_signal_rows_mask_every_text_column(pd_db: Path) -> None:
    with store.open_store(pd_db) as con:
        p = get_pilot(con, "p")
        exc = signals.signal_rows(con, OP, p, {"table": "exceptions", "where": "personal_data"})
        fb = signals.signal_rows(con, OP, p, {"table": "feedback", "where": "personal_data"})
        team = signals.signal_rows(con, OP, p, {"table": "usage_events", "where": "team", "values": [TEAM]})
    assert len(exc) == 12 and len(fb) == 4 and len(team) == 30
    for df in (exc, fb, team):
        assert _raw(df.to_csv()) == []
    assert set(exc["component"]) == {"gateway [phone]"} and set(fb["category"]) == {"callback [phone]"}
    assert set(team["team"]) == {privacy.mask_id(TEAM)}  # a pseudonym: its rows still read as one team
    assert not any("VIP" in a and "555" in a for a in team["attributes"])  # user_group kept in attributes


def test_signals_mask_findings_and_figures_but_select_rows_by_the_stored_value(pd_db: Path) -> None:
    with store.open_store(pd_db) as con:
        p = get_pilot(con, "p")
        fired = {s.key: s for s in signals.compute_signals(con, OP, p)}
        one_team = fired["operational_dependency.one_team"]
        behind = signals.signal_rows(con, OP, p, one_team.rows)
    assert _raw(one_team.finding + str(one_team.figures)) == []
    assert one_team.finding.startswith(privacy.mask_id(TEAM))
    assert len(behind) == 30  # the rows are the team's, found by its name as stored
    for s in fired.values():
        assert _raw(s.finding + str(s.figures)) == [], s.key


def test_usage_evidence_masks_team_and_feature_names(pd_db: Path) -> None:
    with store.open_store(pd_db) as con:
        p = get_pilot(con, "p")
        adoption = usage.feature_adoption(con, p)
        success = usage.task_success(con, p)
        conc = usage.concentration(con, p)
    assert privacy.mask_id(FEATURE) in set(adoption["feature"]) and "search" in set(adoption["feature"])
    assert _raw(adoption.to_csv() + success.by_feature.to_csv()) == []
    assert conc.busiest_team == privacy.mask_id(TEAM)


def test_feedback_evidence_masks_comments_and_theme_examples(pd_db: Path) -> None:
    with store.open_store(pd_db) as con:
        p = get_pilot(con, "p")
        shown = [feedback.triage_table(con, p), feedback.operational_requirements(con, p),
                 feedback.most_negative(con, p), feedback.themes(con, p)]
        revealed = feedback.most_negative(con, p, reveal_as=Actor("rita", "reviewer"))
    text = "".join(x.to_csv() for x in shown if isinstance(x, type(revealed)))
    assert "[phone]" in text and _raw(text) == []
    assert PHONE_DASH in revealed.to_csv()  # the audited reveal still shows it


def test_segment_values_are_offered_and_described_as_shown(pd_db: Path) -> None:
    with store.open_store(pd_db) as con:
        p = get_pilot(con, "p")
        choices = common.segment_choices(con, p.pilot_id)
        team_label = privacy.mask_id(TEAM)
        assert set(choices["team"]) == {"Finance", team_label}
        assert set(choices["feature"]) == {privacy.mask_id(FEATURE), "search"}
        assert list(choices["user_group"]) == [privacy.mask_id(GROUP)]
        assert _raw(str({k: list(v) for k, v in choices.items()})) == []
        # a shown value (from the picker or a link) resolves to the stored one, which filters
        stored = common.resolve_segment(choices, "team", team_label)
        assert stored == TEAM and common.resolve_segment(choices, "team", "Finance") == "Finance"
        assert common.resolve_segment(choices, "team", "[phone 000000]") is None
        assert usage.totals(con, p, Filters(segment={"team": stored})).events == 30
        # a filter that matches nothing names the segment as shown
        empty = feedback.feedback_summary(con, p, Filters(start=date(2030, 1, 1), segment={"team": stored}))
        late = usage.totals(con, p, Filters(start=date(2030, 1, 1), segment={"team": stored}))
    assert team_label in empty.reason and _raw(empty.reason + late.reason) == []


# --- decisions -------------------------------------------------------------------------------------

def test_decisions_are_shown_masked_unless_the_actor_may_reveal(pd_db: Path) -> None:
    rationale = f"Harden: the desk ({PHONE_DOT}) gets the callbacks; card {CARD_DOTS} was in a log"
    with store.open_store(pd_db) as con:
        p = get_pilot(con, "p")
        decisions.record_decision(con, OP, p, outcome="harden", rationale=rationale, owner=f"Tom {EMAIL}",
                                  next_review=date.today() + timedelta(days=30))
        lead, reviewer = Actor("lena", "lead"), Actor("rita", "reviewer")
        (as_lead,) = decisions.shown_decisions(con, lead, p)
        (as_reviewer,) = decisions.shown_decisions(con, reviewer, p)
        data, _n = export.audited_csv(con, lead, "decisions", [p])
        revealed, _n = export.audited_csv(con, reviewer, "decisions", [p])
    assert as_lead["rationale"] == "Harden: the desk ([phone]) gets the callbacks; card [card] was in a log"
    assert as_lead["owner"] == "Tom [email]"
    assert _raw(str(as_lead)) == []  # the frozen conditions and evidence too
    assert as_reviewer["rationale"] == rationale  # a reviewer with a grant may reveal: shown as written
    (row,) = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert row["rationale"] == as_lead["rationale"] and _raw(data.decode("utf-8-sig")) == []
    assert PHONE_DOT in revealed.decode("utf-8-sig")
