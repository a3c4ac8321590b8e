"""The sidebar's segment picker offers values as shown to the viewer: personal data in a team name is
masked in the picker (and so in the address bar), and picking it still filters by the stored value."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import page_file
from streamlit.testing.v1 import AppTest

from readiness import store
from readiness.security import users
from readiness.security.access import Actor
from tests.helpers import ingest_one, write


def test_a_team_named_with_a_phone_number_is_masked_in_the_picker_and_still_filters(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    ingest_one(db, write(tmp_path / "u.csv", "ts,user,event,team\n"
                                             "2026-03-02T10:00:00Z,ann,open,Call 555-123-4567\n"
                                             "2026-03-02T10:05:00Z,bob,open,Finance\n"
                                             "2026-03-02T10:06:00Z,bob,save,Finance\n"))
    op = Actor("ops", "admin", cli=True)
    with store.open_store(db) as con:
        users.add_user(con, op, "vera", "viewer", "a long enough password")
        users.grant(con, op, "vera", "pilot")
    os.environ["READINESS_DB"] = str(db)
    try:
        at = AppTest.from_file(page_file("usage"), default_timeout=120)
        at.session_state["_rr_actor"] = Actor("vera", "viewer")
        at.session_state["_rr_pilot"] = "pilot"
        at.run()
        picker = next(s for s in at.sidebar.selectbox if s.label == "Segment")
        assert not any("555" in str(o) for o in picker.options)
        masked = next(o for o in picker.options if str(o).startswith("team: [phone"))
        picker.set_value(masked).run()
        events = next(m for m in at.metric if m.label == "Events")
        assert events.value == "1"  # the one event of that team, found by its stored name
    finally:
        os.environ.pop("READINESS_DB", None)
