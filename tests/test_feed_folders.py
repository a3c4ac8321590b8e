"""A feed cannot read another team's folder.

One READINESS_FEED_ROOT serves every team. A reviewer who sets their pilot's feed to
``secret-team/*.csv`` must not get that team's file into their pilot at the next ``sync``. Each
pilot's feeds live under a folder an admin assigns (admin only, audited); a pattern or a file
outside it (after '..' and links) is refused when the feed is set and again at every sync; until
an admin assigns one, only admins set and sync the pilot's feeds.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PROJECT_ROOT, make_pilot, query, write

from readiness import store
from readiness.catalog import get_pilot
from readiness.ingest import sources
from readiness.security import users
from readiness.security.access import AccessDenied, Actor

ADMIN = Actor("cli:test", "admin", cli=True)
RITA = Actor("rita", "reviewer")
PW = "a long enough password"


def usage_csv(path: Path, who: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write(path, f"ts,user_id,event\n2026-07-01T10:00:00Z,{who},open\n2026-07-01T10:01:00Z,{who},save\n")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A feed root with two teams' folders: ours and a secret one."""
    path = tmp_path / "feeds"
    usage_csv(path / "our-team" / "usage-1.csv", "ann")
    usage_csv(path / "secret-team" / "payroll.csv", "ceo")
    monkeypatch.setenv("READINESS_FEED_ROOT", str(path))
    return path


@pytest.fixture
def pilot_db(db: Path, root: Path) -> Path:
    """Pilot 'ours' with reviewer rita granted on it, and no feed folder yet."""
    make_pilot(db, "ours")
    with store.open_store(db) as con:
        users.add_user(con, ADMIN, "rita", "reviewer", PW)
        users.grant(con, ADMIN, "rita", "ours")
    return db


def _set_feed(db: Path, actor: Actor, pattern: str) -> list[Path]:
    with store.open_store(db) as con:
        return sources.set_feed(con, actor, get_pilot(con, "ours"), "usage", pattern)


def _assign(db: Path, folder: str | None, actor: Actor = ADMIN) -> str | None:
    with store.open_store(db) as con:
        return sources.set_feed_folder(con, actor, get_pilot(con, "ours"), folder)


def _loaded(db: Path) -> set[str]:
    return {r[0] for r in query(db, "SELECT DISTINCT user_id FROM usage_events")}


def test_without_a_feed_folder_only_an_admin_sets_or_syncs_feeds(pilot_db: Path) -> None:
    # the attack: a reviewer points their pilot at another team's folder
    with pytest.raises(AccessDenied, match="ours has no feed folder yet, so only an admin may set its feeds"):
        _set_feed(pilot_db, RITA, "secret-team/*.csv")
    assert query(pilot_db, "SELECT count(*) FROM sources") == [(0,)]
    _set_feed(pilot_db, ADMIN, "our-team/*.csv")  # an admin still may
    with pytest.raises(AccessDenied, match="only an admin may sync its feeds.*--feed-folder"):
        sources.sync(pilot_db, RITA, "ours")
    assert _loaded(pilot_db) == set()


def test_a_feed_outside_the_pilots_folder_is_refused(pilot_db: Path, root: Path) -> None:
    assert _assign(pilot_db, "our-team") == "our-team"
    for pattern in ("secret-team/*.csv", "secret-team", "*/payroll.csv", "**/*.csv", ".",
                    str(root / "secret-team" / "payroll.csv")):
        with pytest.raises(sources.SourceError, match="outside this pilot's feed folder our-team/"):
            _set_feed(pilot_db, RITA, pattern)
    with pytest.raises(sources.SourceError, match="climbs out"):
        _set_feed(pilot_db, RITA, "our-team/../secret-team/*.csv")
    assert query(pilot_db, "SELECT count(*) FROM sources") == [(0,)]
    with pytest.raises(sources.SourceError, match="outside this pilot's feed folder"):  # admins too
        _set_feed(pilot_db, ADMIN, "secret-team/*.csv")
    # inside the folder: set by the reviewer, synced by the reviewer
    assert [p.name for p in _set_feed(pilot_db, RITA, "our-team/usage-*.csv")] == ["usage-1.csv"]
    assert [r.rows_loaded for r in sources.sync(pilot_db, RITA, "ours")] == [2]
    assert _loaded(pilot_db) == {"ann"}


def test_links_out_of_the_folder_are_refused_even_inside_the_root(pilot_db: Path, root: Path) -> None:
    _assign(pilot_db, "our-team")
    (root / "our-team" / "shared").symlink_to(root / "secret-team")  # a linked folder
    with pytest.raises(sources.SourceError, match="leads outside this pilot's feed folder our-team/"):
        _set_feed(pilot_db, RITA, "our-team/shared/*.csv")
    with pytest.raises(sources.SourceError, match="leads outside this pilot's feed folder"):
        _set_feed(pilot_db, RITA, "our-team/shared")
    (root / "our-team" / "shared").unlink()
    _set_feed(pilot_db, RITA, "our-team/*.csv")
    (root / "our-team" / "usage-2.csv").symlink_to(root / "secret-team" / "payroll.csv")  # planted later
    with pytest.raises(sources.SourceError, match="usage-2.csv leads outside this pilot's feed folder") as err:
        sources.sync(pilot_db, RITA, "ours")
    assert "Nothing was loaded" in str(err.value) and _loaded(pilot_db) == set()
    refused = json.loads(query(pilot_db, "SELECT last_sync_summary FROM sources")[0][0])["refused"]
    assert "feed folder" in refused


def test_a_feed_set_before_the_folder_is_refused_at_the_next_sync(pilot_db: Path) -> None:
    _set_feed(pilot_db, ADMIN, "secret-team/*.csv")  # e.g. set before the pilot had a folder
    _assign(pilot_db, "our-team")
    with pytest.raises(sources.SourceError, match="'secret-team/\\*.csv' is outside this pilot's feed folder"):
        sources.sync(pilot_db, RITA, "ours")
    with pytest.raises(sources.SourceError, match="outside this pilot's feed folder"):
        sources.sync(pilot_db, ADMIN, "ours")
    assert _loaded(pilot_db) == set()


def test_only_an_admin_assigns_a_feed_folder_and_it_is_audited(pilot_db: Path, root: Path, tmp_path: Path) -> None:
    with pytest.raises(AccessDenied, match="Only an admin assigns a pilot's feed folder"):
        _assign(pilot_db, "secret-team", RITA)
    with pytest.raises(sources.SourceError, match="climbs out"):
        _assign(pilot_db, "../elsewhere")
    with pytest.raises(sources.SourceError, match="not a folder"):
        _assign(pilot_db, "our-team/usage-1.csv")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "exit").symlink_to(outside)
    with pytest.raises(sources.SourceError, match="leads outside the feed root"):
        _assign(pilot_db, "exit")
    assert query(pilot_db, "SELECT count(*) FROM feed_folders") == [(0,)]
    assert _assign(pilot_db, str(root / "our-team")) == "our-team"  # stored relative to the root
    assert _assign(pilot_db, "secret-team") == "secret-team"
    with store.open_store(pilot_db) as con:
        p = get_pilot(con, "ours")
        assert sources.feed_folder(con, RITA, p) == "secret-team"
        assert {r["feed_folder"] for r in sources.list_sources(con, RITA, p)} == {"secret-team"}
    assert _assign(pilot_db, None) is None
    trail = [json.loads(d) for (d,) in query(pilot_db, "SELECT details FROM audit_log "
                                                       "WHERE action = 'sources.feed_folder' ORDER BY seq")]
    assert [(t["before"], t["after"]) for t in trail] == [(None, "our-team"), ("our-team", "secret-team"),
                                                          ("secret-team", None)]
    with pytest.raises(AccessDenied):  # taken away: only admins again
        _set_feed(pilot_db, RITA, "our-team/*.csv")


def cli(db: Path, root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("READINESS_")}
    env["READINESS_FEED_ROOT"] = str(root)
    return subprocess.run([sys.executable, "-m", "readiness", *args, "--db", str(db)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60, env=env)


def test_cli_assigns_the_folder_and_keeps_feeds_in_it(pilot_db: Path, root: Path) -> None:
    proc = cli(pilot_db, root, "sources", "--pilot", "ours", "--feed-folder", "our-team")
    assert proc.returncode == 0 and "must now lie under our-team/" in proc.stdout, proc.stderr
    proc = cli(pilot_db, root, "sources", "--pilot", "ours", "--feed", "usage", "secret-team/*.csv")
    assert proc.returncode == 2 and "outside this pilot's feed folder our-team/" in proc.stderr
    proc = cli(pilot_db, root, "sources", "--pilot", "ours", "--feed-folder", "../x")
    assert proc.returncode == 2 and "climbs out" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli(pilot_db, root, "sources", "--pilot", "ours")
    assert proc.returncode == 0 and "Feed folder: our-team/" in proc.stdout
