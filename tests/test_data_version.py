"""The data version, the key the app caches a pilot's evidence by.

It must change when what a page shows changes (an ingest, a reviewer's note) and only then: a login
that changed it would empty every cache, so ten reviewers logging in would make the app recompute
every pilot's evidence ten times.
"""

from __future__ import annotations

from pathlib import Path

from helpers import ingest_one, make_pilot, write

from readiness import catalog, store
from readiness.review import annotations
from readiness.security import privacy, users
from readiness.security.access import Actor

OP = Actor("test", "admin", cli=True)


def _versions(db: Path) -> tuple[str, str, str]:
    with store.open_store(db) as con:
        a, b = catalog.get_pilot(con, "a"), catalog.get_pilot(con, "b")
        return catalog.data_version(con), catalog.data_version(con, a.pilot_id), catalog.data_version(con, b.pilot_id)


def test_version_changes_with_data_and_edits_not_with_logins(db: Path, tmp_path: Path) -> None:
    make_pilot(db, "a")
    make_pilot(db, "b")
    ingest_one(db, write(tmp_path / "e.csv", "ts,message,error_type\n2026-03-02T10:00:00Z,Timeout after 5 ms,T\n"),
               kind="exceptions", pilot="b")
    with store.open_store(db) as con:
        users.add_user(con, OP, "rex", "reviewer", "rex password 12")
    before = _versions(db)

    with store.open_store(db) as con:  # a login, a session, a reveal: nothing a page shows changes
        actor = users.login(con, "rex", "rex password 12")
        sid = users.start_session(con, actor, "token")
        users.end_session(con, sid, "logged out", actor)
        privacy.reveal(con, OP, catalog.get_pilot(con, "b"), "messages")
    assert _versions(db) == before

    with store.open_store(db) as con:  # a reviewer's note on b's failure mode: b's pages change, a's do not
        annotations.annotate_mode(con, catalog.get_pilot(con, "b"), 1, status="known", owner="Ops", note=None, actor=OP)
    after_note = _versions(db)
    assert after_note[0] != before[0] and after_note[2] != before[2]
    assert after_note[1] == before[1]

    ingest_one(db, write(tmp_path / "u.csv", "ts,user,event\n2026-03-02T10:00:00Z,u1,open\n"), pilot="a")
    after_ingest = _versions(db)
    assert after_ingest[1] != after_note[1] and after_ingest[0] != after_note[0]
