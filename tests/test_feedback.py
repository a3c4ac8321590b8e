"""Feedback evidence: sentiment, triage, personal data, themes and the evidence views.

Each test builds a real store in tmp_path and ingests a real JSON Lines file with ``ingest.ingest_files``,
then calls ``annotate_feedback`` / ``recompute_themes`` itself (idempotent, so it does not matter whether
ingest already did).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from analysis import feedback as fb  # noqa: E402
from analysis.common import Empty, Filters  # noqa: E402
from readiness import catalog, store  # noqa: E402
from readiness.ingest import load as ingest
from readiness.security.access import Actor
from readiness.store import lake
from tests.helpers import make_pilot  # noqa: F401  (also puts the project on sys.path)

T0 = datetime(2026, 3, 2, 9, 0)  # a Monday


def _load(db: Path, tmp_path: Path, rows: list[dict], pilot: str = "pilot", name: str = "fb.jsonl") -> None:
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    [res] = ingest.ingest_files(db, pilot, "feedback", [path], actor=Actor("t", "admin", cli=True), create=True)
    assert res.error is None and res.rows_loaded == len(rows), res.summary()


def _annotate(db: Path, pilot: str = "pilot") -> tuple[int, int]:
    """Annotate the comments of every batch of the pilot that the store keeps in its local table
    (rows from before ingest annotated them; a batch's files are annotated already) and recompute
    the themes, in one transaction. Returns (comments, themes)."""
    with store.open_store(db) as con:
        p = catalog.get_pilot(con, pilot)
        batches = [r[0] for r in con.execute(
            "SELECT batch_id FROM ingest_batches WHERE pilot_id = ? AND kind = 'feedback' ORDER BY batch_id",
            [p.pilot_id]).fetchall()]
        with store.transaction(con):
            n = sum(fb.annotate_feedback(con, p.pilot_id, b) for b in batches)
            k = fb.recompute_themes(con, p.pilot_id)
    return n, k


def _ts(i: int, days: int = 0) -> str:
    return (T0 + timedelta(days=days, minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")


TRIAGED = [
    ("The export failed with an error twice today", "operational:reliability"),
    ("Search is really slow, takes 30 seconds every time", "operational:speed"),
    ("I can't log in since the update and the password reset does nothing", "operational:access"),
    ("I could see another customer's bank details in the preview", "operational:data"),
    ("Raised a ticket with the helpdesk last week and got no reply", "operational:support"),
    ("Timeout on every export, would be great to have a retry button", "operational:reliability"),
    ("Would be great to have a dark mode", "feature_request"),
    ("Please add a filter for invoices over 1000 pounds", "feature_request"),
    ("Love it, saves me an hour every day", "praise"),
    ("We discussed it at the team meeting on Tuesday", "other"),
]


# Plain wording reviewers meet, each with the class it belongs to: 'Support never answers' is support
# (not 'other'), 'Wrong data in the summary' is data (not reliability).
PLAINLY = [
    ("Support never answers", "operational:support"),
    ("Nobody replies to my emails about it", "operational:support"),
    ("Still waiting for a reply from support after two weeks", "operational:support"),
    ("No idea who to ask when it goes wrong", "operational:support"),
    ("Not sure who to ask when it's wrong", "operational:support"),
    ("Wrong data in the summary", "operational:data"),
    ("The totals don't add up with the ERP report", "operational:data"),
    ("Missing records for last month", "operational:data"),
    ("Crashes often, unreliable", "operational:reliability"),
    ("It's buggy and keeps crashing", "operational:reliability"),
    ("Unusable on Mondays, constant errors", "operational:reliability"),
    ("Laggy when I scroll the queue", "operational:speed"),
    ("I lost my permissions after the update", "operational:access"),
]


@pytest.mark.parametrize(("text", "expected"), PLAINLY)
def test_plainly_worded_complaints_are_triaged_to_their_class(text: str, expected: str) -> None:
    assert fb.triage(text)[0] == expected


@pytest.mark.parametrize("text", ["Crashes often, unreliable", "The export crashed again", "It's buggy and keeps crashing",
                                  "Unusable on Mondays", "Laggy and sluggish all week"])
def test_complaints_in_a_tool_s_words_read_negative(text: str) -> None:
    assert fb.sentiment(text) <= fb.NEGATIVE_SENTIMENT  # VADER alone scores each of these 0.00


@pytest.mark.parametrize("text", ["Support never answers", "Still waiting for a reply from support"])
def test_the_support_desk_is_not_praise(text: str) -> None:
    assert fb.sentiment(text) < 0.05  # VADER reads 'support' as approval (+1.7): alone it scores both +0.40
    assert fb.sentiment("Great support from the helpdesk") > 0.05  # praise still reads as praise


def test_triage_classes_reasons_and_personal_data(db, tmp_path):
    rows = [{"timestamp": _ts(i), "rating": 3, "comment": c} for i, (c, _) in enumerate(TRIAGED)]
    rows.append({"timestamp": _ts(20), "rating": 2, "comment": "Please email me back at jane.doe@example.com"})
    rows.append({"timestamp": _ts(21), "rating": 4})  # no comment: left alone
    _load(db, tmp_path, rows)
    n, k = _annotate(db)
    assert n == 11 and k in (0, 2)  # too few shared words for themes is fine here
    with store.open_store(db) as con:
        got = con.execute("SELECT comment, triage, triage_reason, personal_data, sentiment FROM feedback "
                          "ORDER BY src_row").fetchall()
    assert [(c, t) for c, t, *_ in got[:10]] == TRIAGED
    reasons = {c: r for c, _, r, _, _ in got}
    assert reasons[TRIAGED[0][0]] == "mentions 'failed', 'error'"
    assert "'timeout'" in reasons[TRIAGED[5][0]]
    assert "'would be great'" in reasons[TRIAGED[6][0]]
    assert all(pd is False for _, _, _, pd, _ in got[:10])
    assert got[10][3] is True
    assert got[11][1:] == (None, None, None, None)  # the rating-only row has nothing to annotate
    assert got[8][4] > 0.3 and got[0][4] < 0  # VADER compound: praise positive, failure negative


@pytest.mark.parametrize("text, expected", [
    ("mail jane.doe@example.co.uk please", True),
    ("call me on +44 20 7946 0958", True),
    ("my mobile is 07700 900123", True),
    ("ring (555) 123-4567", True),
    ("card 4111 1111 1111 1111 was charged", True),
    ("card 4111-1111-1111-1111", True),
    ("see INV-2026-000123, ticket INC123456", False),
    ("happened on 2026-03-02 at 10:15, took 45 seconds", False),
    ("account 35415847, amount 12,345.67", False),
    ("", False),
])
def test_personal_data_patterns(text, expected):
    assert fb.has_personal_data(text) is expected
    assert set(fb.PERSONAL_DATA_PATTERNS) == {"email", "phone", "card"}
    if expected:
        assert not fb.has_personal_data(fb.redact(text))


def test_annotate_touches_only_its_batch_and_is_repeatable():
    # as ingest's scratch holds a batch's comments before they are written out
    con = store.scratch(schema=True)
    try:
        first, second = 1, 2
        con.execute("INSERT INTO feedback_local (pilot_id, batch_id, src_row, ts, comment) VALUES "
                    "(1, 1, 1, TIMESTAMPTZ '2026-01-01 10:00:00+00', 'Export failed again'), "
                    "(1, 2, 1, TIMESTAMPTZ '2026-01-01 10:01:00+00', 'Love it'), (1, 2, 2, TIMESTAMPTZ '2026-01-01 10:02:00+00', '  ')")
        assert fb.annotate_feedback(con, 1, first) == 1
        assert fb.annotate_feedback(con, 1, first) == 1  # same values again
        rows = con.execute("SELECT batch_id, triage FROM feedback ORDER BY batch_id, src_row").fetchall()
    finally:
        con.close()
    assert rows == [(first, "operational:reliability"), (second, None), (second, None)]


def test_summary_figures_by_hand(db, tmp_path):
    ratings = [5, 4, 3, 2, 5, 1]
    scores = [10, 9, 9, 7, 3, None]
    comments = ["Great tool, really helpful", None, None, "", None, "Terrible, it crashed and I lost all my work"]
    rows = []
    for i, (r, s, c) in enumerate(zip(ratings, scores, comments)):
        row = {"timestamp": _ts(i, days=i), "rating": r}
        if s is not None:
            row["score"] = s
        if c is not None:
            row["comment"] = c
        rows.append(row)
    _load(db, tmp_path, rows)
    _annotate(db)
    with store.open_store(db) as con:
        p = catalog.get_pilot(con, "pilot")
        s = fb.feedback_summary(con, p)
        assert s.count == 6 and s.rated == 6
        assert s.rating_counts == {1: 1, 2: 1, 3: 1, 4: 1, 5: 2}
        assert s.mean_rating == pytest.approx(20 / 6)
        assert s.csat == pytest.approx(3 / 6)  # 5, 4, 5
        assert (s.scored, s.promoters, s.passives, s.detractors) == (5, 3, 1, 1)
        assert s.nps == pytest.approx(100 * (3 - 1) / 5)  # 40 points
        # two analysed comments are too few for a share: the count is given, and why
        assert s.comments == 2 and s.analysed == 2 and s.negative_share is None
        assert s.missing == {"negative_share": "Only 2 comments: the negative share needs at least 5."}
        # the pilot's first three days only: ratings 5, 4, 3; scores 10, 9, 9 (too few for CSAT and NPS)
        f = fb.feedback_summary(con, p, Filters(start=date(2026, 3, 2), end=date(2026, 3, 4)))
        assert f.count == 3 and f.mean_rating == pytest.approx(4.0) and f.nps is None and f.csat is None
        assert f.missing["nps"] == "Only 3 scores: NPS needs at least 5."
        assert f.missing["csat"] == "Only 3 ratings: CSAT needs at least 5."
        weeks = fb.sentiment_over_time(con, p)
        assert list(weeks["comments"]) == [2] and weeks["negative_share"].iloc[0] == pytest.approx(0.5)
        worst = fb.most_negative(con, p)
        assert list(worst["comment"]) == ["Terrible, it crashed and I lost all my work"]
        assert worst["triage"].iloc[0] == "operational:reliability" and worst["rating"].iloc[0] == 1
        ops = fb.operational_requirements(con, p)
        assert list(ops.columns[:4]) == ["class", "comment", "reason", "ts"] and len(ops) == 1
        table = fb.triage_table(con, p)
        assert list(table["triage"]) == list(fb.TRIAGE_CLASSES)
        counts = dict(zip(table["triage"], table["comments"]))
        assert counts["operational:reliability"] == 1 and counts["praise"] == 1 and sum(counts.values()) == 2


TOPICS = {
    "export": ["The ERP export {} when the batch is large", "ERP export {} again this morning",
               "Export to the ledger {} with big files", "Every ERP export {} on Fridays",
               "Ledger export {} and I rekeyed the batch"],
    "password": ["Password reset email {} to arrive", "My password expires {} every week",
                 "Password rules are {} strict for the team", "Cannot remember which password {} needed",
                 "Password change screen {} confusing"],
    "dashboard": ["Dashboard charts {} colourful and clear", "The dashboard chart {} shows trends nicely",
                  "Dashboard widgets {} make reporting simple", "Love the dashboard chart {} layout",
                  "Dashboard colours {} help spot trends"],
}
FILLERS = {"export": ["stalls", "breaks"], "password": ["takes ages", "too often"], "dashboard": ["really", "now"]}


def _theme_rows() -> list[dict]:
    rows, i = [], 0
    for topic, templates in TOPICS.items():
        for filler in FILLERS[topic]:
            for t in templates:
                rows.append({"timestamp": _ts(i, days=i % 14), "rating": 1 + i % 5, "comment": t.format(filler)})
                i += 1
    return rows


def _themes_snapshot(db: Path) -> tuple[list, list]:
    with store.open_store(db) as con:
        themes = con.execute("SELECT theme_id, label, top_terms, size, mean_sentiment, mean_rating, examples "
                             "FROM feedback_themes ORDER BY theme_id").fetchall()
        ids = con.execute("SELECT f.src_row, r.theme_id FROM feedback f LEFT JOIN feedback_theme_rows r "
                          "USING (pilot_id, batch_id, src_row) ORDER BY f.src_row").fetchall()
    return themes, ids


def test_themes_on_three_topics_are_found_and_deterministic(db, tmp_path):
    rows = _theme_rows()
    assert len(rows) == 30
    _load(db, tmp_path, rows)
    assert _annotate(db) == (30, 3)
    themes, ids = _themes_snapshot(db)
    assert sorted(t[2][0] for t in themes) == ["dashboard", "export", "password"]
    assert [t[3] for t in themes] == [10, 10, 10]
    for theme_id, label, top, size, mean_sentiment, mean_rating, examples in themes:
        assert label.startswith(top[0]) and len(label.split(" / ")) == 3
        assert len(examples) == 3 and all(top[0] in e.lower() for e in examples)
        assert mean_rating == pytest.approx(3.0) and -1 <= mean_sentiment <= 1
        members = [r["comment"] for r, (_, t) in zip(rows, ids) if t == theme_id]
        assert all(top[0] in m.lower() for m in members)  # each comment lands in its own topic
    with store.open_store(db) as con:
        p = catalog.get_pilot(con, "pilot")
        assert fb.recompute_themes(con, p.pilot_id) == 3
        view = fb.themes(con, p)
        assert list(view["size"]) == [10, 10, 10]
        # filtered: recounted within the first week (the first 7 of each 14-day cycle)
        week = fb.themes(con, p, Filters(start=date(2026, 3, 2), end=date(2026, 3, 8)))
        in_week = sum(1 for i in range(30) if i % 14 < 7)
        assert int(week["size"].sum()) == in_week
    assert _themes_snapshot(db) == (themes, ids)  # same comments, same themes


def test_empty_pilot_and_pilot_with_only_ratings(db, tmp_path):
    make_pilot(db, "empty")
    _load(db, tmp_path, [{"timestamp": _ts(i, days=i), "rating": r} for i, r in enumerate([5, 4, 2])],
          pilot="ratings")
    assert _annotate(db, "ratings") == (0, 0)
    views = (fb.sentiment_over_time, fb.themes, fb.triage_table, fb.operational_requirements, fb.most_negative)
    with store.open_store(db) as con:
        empty = catalog.get_pilot(con, "empty")
        assert fb.recompute_themes(con, empty.pilot_id) == 0
        for fn in (fb.feedback_summary, *views):
            out = fn(con, empty)
            assert isinstance(out, Empty) and not out and "No feedback has been loaded" in out.reason

        p = catalog.get_pilot(con, "ratings")
        s = fb.feedback_summary(con, p)
        assert s.count == 3 and s.mean_rating == pytest.approx(11 / 3) and s.csat is None  # 3 ratings: too few
        assert s.nps is None and s.negative_share is None and s.comments == 0
        assert set(s.missing) == {"csat", "nps", "negative_share"}
        for fn in views:
            out = fn(con, p)
            assert isinstance(out, Empty) and "no written comments" in out.reason

        none = fb.feedback_summary(con, p, Filters(start=date(2027, 1, 1)))
        assert isinstance(none, Empty)
        assert none.reason == "None of the pilot's 3 feedback entries falls within 2027-01-01 to … (pilot-local days)."
        team = fb.feedback_summary(con, p, Filters(segment={"team": "Procurement"}))  # feedback has no team
        assert isinstance(team, Empty)
        # it says which segment, that the rows do not carry it, and how to see them again (no word of
        # "the selected dates" when none were picked)
        assert team.reason.startswith("None of the pilot's 3 feedback entries has team = Procurement. A segment "
                                      "matches only the rows that carry its column")
        assert "choose Everyone in the sidebar" in team.reason


def test_comments_not_yet_analysed_and_too_few_for_themes(db, tmp_path):
    _load(db, tmp_path, [{"timestamp": _ts(i), "rating": 4, "comment": "Works well"} for i in range(3)])
    with store.open_store(db) as con:
        p = catalog.get_pilot(con, "pilot")
        with store.transaction(con):  # rows as a store kept them before ingest annotated comments
            con.execute("INSERT INTO feedback_local BY NAME SELECT * REPLACE (NULL::DOUBLE AS sentiment, "
                        "NULL::VARCHAR AS triage) FROM feedback")
            lake.unregister(con, "tbl = ?", ["feedback"])
        out = fb.triage_table(con, p)
        assert isinstance(out, Empty) and "not been analysed" in out.reason
        assert fb.feedback_summary(con, p).negative_share is None
    _annotate(db)
    with store.open_store(db) as con:
        p = catalog.get_pilot(con, "pilot")
        out = fb.themes(con, p)
        assert isinstance(out, Empty) and "at least 10 comments" in out.reason
        neg = fb.most_negative(con, p)
        assert isinstance(neg, Empty)


def test_a_store_from_before_feedback_joined_the_lake_keeps_its_comments_and_themes(tmp_path, monkeypatch):
    # comments as the release before kept them: in the table feedback, each with its theme_id
    src, db = tmp_path / "src.duckdb", tmp_path / "old.duckdb"
    _load(src, tmp_path, _theme_rows())
    with store.open_store(src) as con:
        con.execute(f"COPY (SELECT f.*, r.theme_id FROM feedback f LEFT JOIN feedback_theme_rows r "
                    f"USING (pilot_id, batch_id, src_row)) TO '{tmp_path / 'fb.parquet'}' (FORMAT parquet)")
        con.execute(f"COPY feedback_themes TO '{tmp_path / 'themes.parquet'}' (FORMAT parquet)")
        con.execute(f"COPY ingest_batches TO '{tmp_path / 'batches.parquet'}' (FORMAT parquet)")
        con.execute(f"COPY pilots TO '{tmp_path / 'pilots.parquet'}' (FORMAT parquet)")
    from readiness.store import migrations

    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", [x for x in migrations.MIGRATIONS if x[0] < 17])
        with store.open_store(db) as con:
            for table, name in (("pilots", "pilots"), ("feedback", "fb"), ("feedback_themes", "themes"), ("ingest_batches", "batches")):
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet('{tmp_path / name}.parquet')")
            con.execute("CREATE OR REPLACE SEQUENCE batch_id_seq START 100")
            assert con.execute("SELECT count(theme_id) FROM feedback").fetchone()[0] == 30
    store.forget_migrated(db)
    with store.open_store(db) as con:  # migrated: the rows stay in the local table, their themes kept apart
        assert con.execute("SELECT count(*) FROM feedback_local").fetchone()[0] == 30
        assert con.execute("SELECT count(*) FROM feedback_theme_rows").fetchone()[0] == 30
        view = fb.themes(con, catalog.get_pilot(con, "pilot"), Filters(start=date(2026, 1, 1)))
        assert sorted(view["size"]) == [10, 10, 10]
    _load(db, tmp_path, [{"timestamp": _ts(90), "rating": 2, "comment": "Export keeps failing on big files"}],
          name="more.jsonl")
    with store.open_store(db) as con:  # the new comment is a file; themes recomputed over both
        assert con.execute("SELECT count(*) FROM feedback_local").fetchone()[0] == 30
        assert con.execute("SELECT count(*), count(sentiment) FROM feedback").fetchone() == (31, 31)
        assert con.execute("SELECT sum(size) FROM feedback_themes").fetchone()[0] == 31
