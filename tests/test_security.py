"""Security checks as tests: roles refused by the library, pilots kept apart on every
page, uploaded names that cannot reach the file system, feeds that cannot leave the feed root.

tests/test_auth.py covers the role matrix against require() and a first set of refused writes
(ingest, batch delete, failure-mode notes, users); tests/test_pages.py that admin pages refuse
others; tests/e2e/test_security_browser.py that every page address without a login shows only the login.
"""

from __future__ import annotations

import io
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import ingest_one, make_pilot, page_file, query, write
from streamlit.testing.v1 import AppTest

from readiness import catalog, pilots, settings, store
from readiness.ingest import batches, sources, uploads
from readiness.ingest import load as ingest
from readiness.review import conditions, decisions, handoff, risks
from readiness.security import users
from readiness.security.access import AccessDenied, Actor
from readiness.store import lake

ADMIN = Actor("cli:test", "admin", cli=True)
PW = "correct horse battery"
ROLES = ("admin", "reviewer", "lead", "viewer")
CSV = b"ts,user,event\n2026-03-02T10:00:00Z,a@corp.example,open\n2026-03-02T10:05:00Z,b,open\n"


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Pilots 'granted' (with usage and conditions) and 'other'; one user per role, granted 'granted' only.

    Shared by the module's tests: each checks that its refused action changed nothing.
    """
    tmp_path = tmp_path_factory.mktemp("team")
    db = tmp_path / "store.duckdb"
    os.environ["READINESS_BCRYPT_ROUNDS"] = "4"
    ingest_one(db, write(tmp_path / "u.csv", CSV.decode()), pilot="granted")
    ingest_one(db, write(tmp_path / "o.csv", CSV.decode().replace("open", "secret-b")), pilot="Pilot Obscura")
    with store.open_store(db) as con:
        for role in ROLES:
            users.add_user(con, ADMIN, f"{role}1", role, PW)
            users.grant(con, ADMIN, f"{role}1", "granted")
        for name in ("granted", "Pilot Obscura"):
            conditions.ensure_conditions(con, ADMIN, catalog.get_pilot(con, name))
    return {"db": db, "actors": {r: Actor(f"{r}1", r) for r in ROLES}}


def _everything(db: Path) -> dict[str, int]:
    """Row counts of every table in the store: equal before and after = nothing written."""
    with store.open_store(db) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_type = 'BASE TABLE'").fetchall()]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


NEXT = date.today() + timedelta(days=30)
# (who, pilot, what they try): each beyond the actor's role (or grant), each a real write function.
WRITES = {
    "viewer records a decision": ("viewer", "granted", lambda con, a, p: decisions.record_decision(
        con, a, p, outcome="operate", rationale="r", owner="o", next_review=NEXT)),
    "lead records a decision": ("lead", "granted", lambda con, a, p: decisions.record_decision(
        con, a, p, outcome="stop", rationale="r", owner="o")),
    "reviewer decides on a pilot not granted": ("reviewer", "Pilot Obscura", lambda con, a, p: decisions.record_decision(
        con, a, p, outcome="operate", rationale="r", owner="o", next_review=NEXT)),
    "viewer adds a risk": ("viewer", "granted", lambda con, a, p: risks.add_risk(
        con, a, p, risk_class="data", title="t", likelihood=2, impact=2, owner="o")),
    "lead accepts a signal": ("lead", "granted", lambda con, a, p: risks.accept_signal(
        con, a, p, "k", risk_class="data", finding="f", likelihood=2, impact=2, owner="o")),
    "viewer marks a condition met": ("viewer", "granted", lambda con, a, p: conditions.set_condition(
        con, a, p, _a_condition(con, p), status="met")),
    "reviewer marks a condition on a pilot not granted": ("reviewer", "Pilot Obscura", lambda con, a, p:
        conditions.set_condition(con, a, p, _a_condition(con, p), status="met")),
    "viewer requests a tier change": ("viewer", "granted", lambda con, a, p: conditions.request_tier_change(
        con, a, p, "low", "because")),
    "lead edits the hand-off": ("lead", "granted", lambda con, a, p: handoff.set_handoff(con, a, p, support_path="x")),
    "viewer adds a constraint": ("viewer", "granted", lambda con, a, p: handoff.add_constraint(
        con, a, p, area="data", description="d")),
    "lead deletes a batch": ("lead", "granted", lambda con, a, p: batches.delete_batch(con, _a_batch(con, p), a)),
    "reviewer deletes a batch of a pilot not granted": ("reviewer", "Pilot Obscura", lambda con, a, p: batches.delete_batch(
        con, _a_batch(con, p), a)),
    "viewer edits the pilot profile": ("viewer", "granted", lambda con, a, p: pilots.update_pilot(
        con, a, p, sponsor="me")),
    "lead creates a pilot": ("lead", "granted", lambda con, a, p: pilots.create_pilot(con, "new", a)),
    "viewer sets a feed": ("viewer", "granted", lambda con, a, p: sources.set_manual(
        con, a, p, "usage", "x", "y", "weekly", "z")),
    "reviewer changes a role": ("reviewer", "granted", lambda con, a, p: users.set_role(con, a, "viewer1", "admin")),
    "lead removes a user": ("lead", "granted", lambda con, a, p: users.remove_user(con, a, "viewer1")),
    "reviewer resets a password": ("reviewer", "granted", lambda con, a, p: users.reset_password(
        con, a, "admin1", "a new long password")),
}


def _a_condition(con, pilot) -> int:
    return con.execute("SELECT min(condition_id) FROM conditions WHERE pilot_id = ?", [pilot.pilot_id]).fetchone()[0]


def _a_batch(con, pilot) -> int:
    return con.execute("SELECT min(batch_id) FROM ingest_batches WHERE pilot_id = ?", [pilot.pilot_id]).fetchone()[0]


@pytest.mark.parametrize("case", list(WRITES))
def test_an_action_beyond_ones_role_is_refused_and_writes_nothing(team: dict, case: str) -> None:
    role, pilot_name, attempt = WRITES[case]
    before = _everything(team["db"])
    with store.open_store(team["db"]) as con:
        pilot = catalog.get_pilot(con, pilot_name)
        with pytest.raises(AccessDenied):
            attempt(con, team["actors"][role], pilot)
    # Nothing written, not even an audit record: refusals are not audited (the user sees the refusal).
    assert _everything(team["db"]) == before


def test_ingest_and_upload_beyond_ones_role_write_nothing(team: dict, tmp_path: Path) -> None:
    before = _everything(team["db"])
    for role, pilot in (("viewer", "granted"), ("lead", "granted"), ("reviewer", "Pilot Obscura")):
        with pytest.raises(AccessDenied):
            uploads.ingest_uploads(team["db"], pilot, "usage", [("u.csv", io.BytesIO(CSV + b"x,y,z\n"))],
                                   actor=team["actors"][role])
    assert _everything(team["db"]) == before
    assert list(settings.upload_dir(team["db"]).iterdir()) == []


@pytest.mark.parametrize("page", ["pilots", "sources", "usage", "failure_modes", "risks", "readiness",
                                  "handoff", "decision", "readout"])
def test_a_viewer_granted_one_pilot_never_sees_the_other(team: dict, page: str) -> None:
    """Even asking for the other pilot by name (as a stale session or a crafted state would)."""
    old = os.environ.get("READINESS_DB")
    os.environ["READINESS_DB"] = str(team["db"])
    try:
        at = AppTest.from_file(page_file(page), default_timeout=120)
        at.session_state["_rr_actor"] = team["actors"]["viewer"]
        at.session_state["_rr_pilot"] = "Pilot Obscura"
        at.run()
    finally:
        if old is None:
            os.environ.pop("READINESS_DB", None)
        else:
            os.environ["READINESS_DB"] = old
    assert not at.exception, [e.value for e in at.exception]
    shown = [str(e.value) for kind in ("title", "caption", "markdown", "metric", "selectbox", "info", "error",
                                       "warning", "subheader") for e in getattr(at, kind)]
    shown += [o for s in at.selectbox for o in s.options]
    shown += [str(v) for df in at.dataframe for v in df.value.to_numpy().ravel()]
    text = " | ".join(shown)
    assert "Obscura" not in text and "secret-b" not in text  # the other pilot's name and its data
    if page != "pilots":
        assert at.session_state["_rr_pilot"] == "granted"


EVIL_NAMES = ["../../escaped.csv", "ABS", "..\\..\\escaped.csv", "C:\\Windows\\escaped.csv", "esc\x00aped.csv",
              "../", "", ".hidden/../../escaped.csv"]


@pytest.mark.parametrize("name", EVIL_NAMES)
def test_uploaded_names_cannot_reach_the_file_system(db: Path, tmp_path: Path, name: str) -> None:
    name = str(tmp_path / "escaped.csv") if name == "ABS" else name
    folder = settings.upload_dir(db)
    make_pilot(db, "p")
    outside_before = sorted(p.name for p in tmp_path.iterdir())
    shown = uploads.preview_upload(db, name, io.BytesIO(CSV), "usage")
    (result,) = uploads.ingest_uploads(db, "p", "usage", [(name, io.BytesIO(CSV))], actor=ADMIN)
    assert result.rows_loaded == 2
    (stored,) = query(db, "SELECT file_name FROM ingest_batches")[0]
    for text in (shown.file, result.file, stored):
        assert "/" not in text and "\\" not in text and "\x00" not in text and text not in ("", ".", "..")
    assert stored.endswith("escaped.csv") or stored == "upload"
    # nothing new beside the store but its own parts folder, whose files are named by the store
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({*outside_before, f"{db.name}.parts"})
    assert all(f.parent.parent == lake.parts_dir(db) and f.suffix == ".parquet"
               for f in lake.parts_dir(db).rglob("*") if f.is_file())
    assert list(folder.iterdir()) == []  # and nothing left in the upload folder


def test_an_upload_name_never_reads_an_existing_file(db: Path, tmp_path: Path) -> None:
    """The name of a real file elsewhere is only a label: the bytes sent are what loads."""
    secret = write(tmp_path / "secret.csv", "ts,user,event\n2026-03-02T10:00:00Z,secret-user,open\n")
    make_pilot(db, "p")
    (result,) = uploads.ingest_uploads(db, "p", "usage", [(str(secret), io.BytesIO(CSV))], actor=ADMIN)
    assert result.rows_loaded == 2
    assert query(db, "SELECT count(*) FROM usage_events WHERE user_id = 'secret-user'") == [(0,)]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "feeds"
    (path / "erp").mkdir(parents=True)
    write(path / "erp" / "u.csv", CSV.decode())
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    write(outside / "secret.csv", CSV.decode().replace("open", "secret"))
    write(outside / "deep" / "secret2.csv", CSV.decode().replace("open", "secret2"))
    (path / "linked").symlink_to(outside, target_is_directory=True)
    (path / "erp" / "link.csv").symlink_to(outside / "secret.csv")
    monkeypatch.setenv("READINESS_FEED_ROOT", str(path))
    return path


@pytest.mark.parametrize("pattern", ["linked", "linked/*.csv", "linked/**/*.csv", "**/*.csv", "erp/link.csv",
                                     "erp/*.csv", "erp/../../outside/*.csv", "../outside", "erp/..",
                                     "ABS_OUTSIDE", "ABS_ROOT_DOTDOT", "/etc/passwd", "erp/./../../outside"])
def test_a_feed_outside_the_root_is_refused(db: Path, root: Path, pattern: str) -> None:
    """Through a linked folder, a linked file (also matched by a glob), '..' segments or an absolute path."""
    outside = root.parent / "outside"
    pattern = {"ABS_OUTSIDE": str(outside / "*.csv"), "ABS_ROOT_DOTDOT": f"{root}/../outside/*.csv"}.get(pattern, pattern)
    make_pilot(db, "p")
    with store.open_store(db) as con, pytest.raises(sources.SourceError):
        sources.set_feed(con, ADMIN, catalog.get_pilot(con, "p"), "usage", pattern)
    assert query(db, "SELECT count(*) FROM sources") == [(0,)]
    assert query(db, "SELECT count(*) FROM usage_events") == [(0,)]


def test_resolve_feed_never_returns_a_path_outside(root: Path) -> None:
    """The one function every feed read goes through: its answers all lie under the root, or it refuses."""
    (root / "erp" / "link.csv").unlink()
    assert sources.resolve_feed("erp/*.csv") == [(root / "erp" / "u.csv").resolve()]
    for pattern in ("linked/deep", "linked/deep/*.csv"):
        with pytest.raises(sources.SourceError, match="outside the feed root"):
            sources.resolve_feed(pattern)
    for pattern in ("**/secret2.csv", "**/*.csv", "*/*/*.csv", "*/*.csv"):  # refused, or only files inside
        try:
            found = sources.resolve_feed(pattern)
        except sources.SourceError as err:
            assert "outside the feed root" in str(err)
        else:
            assert all(p.is_relative_to(root.resolve()) for p in found)


def test_ingest_refuses_a_reader_beyond_its_grant(team: dict, tmp_path: Path) -> None:
    """A viewer granted 'granted' cannot list batches or rejected rows of 'other' by asking for them."""
    with store.open_store(team["db"]) as con:
        other = catalog.get_pilot(con, "Pilot Obscura")
        for call in (lambda a: batches.list_batches(con, a, other), lambda a: batches.list_rejects(con, a, other),
                     lambda a: sources.list_sources(con, a, other), lambda a: decisions.list_decisions(con, a, other)):
            with pytest.raises(AccessDenied):
                call(team["actors"]["viewer"])
    assert ingest.TABLES  # the module is the one the pages load through
