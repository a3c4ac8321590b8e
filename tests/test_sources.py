"""Sources: feeds under the admins' feed root, manual source processes, and `sync`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import HOLDER, make_pilot, query, write

from readiness import store
from readiness.catalog import get_pilot
from readiness.ingest import sources
from readiness.security import users
from readiness.security.access import AccessDenied, Actor

PROJECT_ROOT = Path(__file__).resolve().parents[1]
OP = Actor("test", "admin", cli=True)
HEADER = "ts,user_id,event\n"


def usage_csv(path: Path, day: int, users_: tuple[str, ...] = ("ann", "bob")) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"2026-07-{day:02d}T10:0{i}:00Z,{u},open\n" for i, u in enumerate(users_))
    return write(path, HEADER + rows)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty feed root, set as READINESS_FEED_ROOT."""
    path = tmp_path / "feeds"
    path.mkdir()
    monkeypatch.setenv("READINESS_FEED_ROOT", str(path))
    return path


def set_feed(db: Path, kind: str, pattern: str, pilot: str = "pilot") -> list[Path]:
    with store.open_store(db) as con:
        return sources.set_feed(con, OP, get_pilot(con, pilot), kind, pattern)


def usage_rows(db: Path) -> int:
    return query(db, "SELECT count(*) FROM usage_events")[0][0]


def test_sync_loads_new_files_and_skips_loaded_ones(db: Path, root: Path) -> None:
    # sync re-reads the feed, loads new files, skips duplicates
    make_pilot(db)
    usage_csv(root / "erp" / "usage-02.csv", 2)
    usage_csv(root / "erp" / "usage-01.csv", 1)
    usage_csv(root / "erp" / "other.csv", 3)  # not matched by the glob
    assert [p.name for p in set_feed(db, "usage", "erp/usage-*.csv")] == ["usage-01.csv", "usage-02.csv"]

    first = sources.sync(db, OP, "pilot")
    assert [(r.file, r.duplicate, r.rows_loaded) for r in first] == [("usage-01.csv", False, 2), ("usage-02.csv", False, 2)]
    assert usage_rows(db) == 4

    second = sources.sync(db, OP, "pilot")
    assert [(r.file, r.duplicate, r.rows_loaded, r.error) for r in second] == [
        ("usage-01.csv", True, 0, None), ("usage-02.csv", True, 0, None)]
    assert usage_rows(db) == 4

    usage_csv(root / "erp" / "usage-03.csv", 3)  # dropped later
    third = sources.sync(db, OP, "pilot")
    assert [(r.file, r.duplicate) for r in third] == [("usage-01.csv", True), ("usage-02.csv", True),
                                                       ("usage-03.csv", False)]
    assert usage_rows(db) == 6
    assert query(db, "SELECT file_name FROM ingest_batches ORDER BY batch_id") == [
        ("usage-01.csv",), ("usage-02.csv",), ("usage-03.csv",)]
    with store.open_store(db) as con:
        usage = sources.list_sources(con, OP, get_pilot(con, "pilot"))[0]
    assert usage["last_sync_at"] is not None
    assert usage["last_sync_summary"] == {"pattern": "erp/usage-*.csv", "files": 3, "loaded": 1, "duplicate": 2,
                                          "errors": [], "rows_loaded": 2}
    assert query(db, "SELECT count(*) FROM audit_log WHERE action = 'sources.sync'")[0][0] == 3


def test_a_folder_feed_takes_its_files_in_name_order(db: Path, root: Path) -> None:
    make_pilot(db)
    usage_csv(root / "drop" / "b.csv", 2)
    usage_csv(root / "drop" / "a.csv", 1)
    write(root / "drop" / ".c.csv.partial", "half")  # a hidden file being copied in is skipped
    set_feed(db, "usage", "drop")
    assert [r.file for r in sources.sync(db, OP, "pilot")] == ["a.csv", "b.csv"]


def test_an_unusable_file_is_reported_while_the_others_load(db: Path, root: Path) -> None:
    make_pilot(db)
    usage_csv(root / "u" / "1.csv", 1)
    write(root / "u" / "2.csv", "")
    usage_csv(root / "u" / "3.csv", 3)
    set_feed(db, "usage", "u/*.csv")
    results = sources.sync(db, OP, "pilot")
    assert [bool(r.error) for r in results] == [False, True, False]
    assert "empty" in results[1].error
    assert usage_rows(db) == 4


@pytest.mark.parametrize("pattern", ["../outside/*.csv", "erp/../../outside/*.csv", "ABS"])
def test_a_pattern_outside_the_root_is_refused(db: Path, root: Path, tmp_path: Path, pattern: str) -> None:
    outside = tmp_path / "outside"
    usage_csv(outside / "x.csv", 1)
    pattern = str(outside / "*.csv") if pattern == "ABS" else pattern
    make_pilot(db)
    with pytest.raises(sources.SourceError, match="outside the feed root|climbs out"):
        set_feed(db, "usage", pattern)
    assert query(db, "SELECT count(*) FROM sources") == [(0,)]


def test_an_absolute_path_inside_the_root_is_stored_relative(db: Path, root: Path) -> None:
    make_pilot(db)
    usage_csv(root / "erp" / "u.csv", 1)
    set_feed(db, "usage", str(root / "erp"))
    assert query(db, "SELECT pattern FROM sources") == [("erp",)]


def test_a_symlink_leading_outside_is_refused_and_loads_nothing(db: Path, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    usage_csv(outside / "secret.csv", 1)
    usage_csv(root / "erp" / "a.csv", 2)
    make_pilot(db)
    set_feed(db, "usage", "erp/*.csv")
    (root / "erp" / "b.csv").symlink_to(outside / "secret.csv")  # planted after the feed was set
    with pytest.raises(sources.SourceError, match="leads outside the feed root") as err:
        sources.sync(db, OP, "pilot")
    assert "b.csv" in str(err.value) and "Nothing was loaded" in str(err.value)
    assert usage_rows(db) == 0
    summary = json.loads(query(db, "SELECT last_sync_summary FROM sources")[0][0])
    assert "leads outside" in summary["refused"]
    # a linked folder is refused too
    (root / "linked").symlink_to(outside)
    with pytest.raises(sources.SourceError, match="leads outside the feed root"):
        set_feed(db, "usage", "linked")


def test_no_feed_root_means_no_feeds(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("READINESS_FEED_ROOT", raising=False)
    make_pilot(db)
    with pytest.raises(sources.SourceError, match="No feed root is set"):
        set_feed(db, "usage", "erp/*.csv")


def test_sync_without_feeds_says_how_to_set_one(db: Path, root: Path) -> None:
    make_pilot(db)
    with pytest.raises(sources.SourceError, match="no feeds to sync.*--feed"):
        sources.sync(db, OP, "pilot")


def test_a_viewer_cannot_set_a_source(db: Path, root: Path) -> None:
    make_pilot(db)
    with store.open_store(db) as con:
        users.add_user(con, OP, "vic", "viewer", "a long enough password")
        users.grant(con, OP, "vic", "pilot")
        pilot, vic = get_pilot(con, "pilot"), Actor("vic", "viewer")
        with pytest.raises(AccessDenied):
            sources.set_feed(con, vic, pilot, "usage", "erp")
        with pytest.raises(AccessDenied):
            sources.set_manual(con, vic, pilot, "usage", "Ops", "CSV", "weekly", "Tom")
        assert [r["kind"] for r in sources.list_sources(con, vic, pilot)] == ["usage", "feedback", "exceptions"]
    with pytest.raises(AccessDenied):
        sources.sync(db, Actor("vic", "viewer"), "pilot")


def test_list_sources_marks_kinds_without_a_source(db: Path, root: Path) -> None:
    make_pilot(db)
    set_feed(db, "usage", "erp")
    with store.open_store(db) as con:
        pilot = get_pilot(con, "pilot")
        sources.set_manual(con, OP, pilot, "feedback", "Service desk", "survey export (CSV)", "weekly", "Tom Brennan")
        rows = {r["kind"]: r for r in sources.list_sources(con, OP, pilot)}
        with pytest.raises(sources.SourceError, match="missing: owner"):
            sources.set_manual(con, OP, pilot, "exceptions", "Ops", "CSV", "daily", " ")
        with pytest.raises(sources.SourceError, match="Unknown log kind"):
            sources.set_feed(con, OP, pilot, "metrics", "erp")
    assert (rows["usage"]["mode"], rows["usage"]["pattern"], rows["usage"]["missing"]) == ("feed", "erp", False)
    assert (rows["feedback"]["mode"], rows["feedback"]["owner"], rows["feedback"]["frequency"]) == (
        "manual", "Tom Brennan", "weekly")
    assert rows["exceptions"]["missing"] is True and rows["exceptions"]["mode"] is None
    assert query(db, "SELECT count(*) FROM audit_log WHERE action = 'sources.set'")[0][0] == 2


def test_setting_again_replaces_the_source(db: Path, root: Path) -> None:
    make_pilot(db)
    with store.open_store(db) as con:
        sources.set_manual(con, OP, get_pilot(con, "pilot"), "usage", "Ops", "CSV", "weekly", "Tom")
    set_feed(db, "usage", "erp")
    assert query(db, "SELECT mode, pattern, owner FROM sources") == [("feed", "erp", None)]


# --- the command line -------------------------------------------------------------------------

def cli(*args: str | Path, root: Path | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("READINESS_")}
    if root is not None:
        env["READINESS_FEED_ROOT"] = str(root)
    return subprocess.run([sys.executable, "-m", "readiness", *map(str, args)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60, env=env)


def test_cli_sources_and_sync_exit_codes(db: Path, tmp_path: Path) -> None:
    root = tmp_path / "feeds"
    usage_csv(root / "erp" / "usage-1.csv", 1)
    make_pilot(db, "Billing bot")
    proc = cli("sources", "--pilot", "Billing bot", "--feed", "usage", "erp/usage-*.csv", "--db", db, root=root)
    assert proc.returncode == 0, proc.stderr
    assert "1 file(s)" in proc.stdout

    proc = cli("sync", "--pilot", "Billing bot", "--json", "--db", db, root=root)
    assert proc.returncode == 0, proc.stderr
    [rec] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert (rec["kind"], rec["file"], rec["rows_loaded"], rec["duplicate"]) == ("usage", "usage-1.csv", 2, False)

    write(root / "erp" / "usage-2.csv", "")  # unusable: exit 2, the others still load
    usage_csv(root / "erp" / "usage-3.csv", 3)
    proc = cli("sync", "--pilot", "Billing bot", "--db", db, root=root)
    assert proc.returncode == 2
    assert "usage-1.csv: duplicate of batch" in proc.stdout and "usage-3.csv: batch" in proc.stdout
    assert "usage-2.csv: NOT LOADED" in proc.stderr and "1 of 3 file(s) not loaded" in proc.stderr
    assert usage_rows(db) == 4

    proc = cli("sync", "--pilot", "Billing bot", "--db", db, root=None)
    assert proc.returncode == 2 and "No feed root is set" in proc.stderr and "Traceback" not in proc.stderr

    proc = cli("sources", "--pilot", "Billing bot", "--feed", "usage", "../*.csv", "--db", db, root=root)
    assert proc.returncode == 2 and "climbs out of the feed root" in proc.stderr

    proc = cli("sources", "--pilot", "Billing bot", "--manual", "feedback", "--provider", "Service desk",
               "--what", "survey CSV", "--frequency", "weekly", "--owner", "Tom", "--db", db, root=root)
    assert proc.returncode == 0, proc.stderr
    proc = cli("sources", "--pilot", "Billing bot", "--db", db, root=root)
    assert proc.returncode == 0
    lines = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines()[2:]}
    assert lines == {"usage": "feed", "feedback": "manual", "exceptions": "MISSING"}


def test_cli_sync_busy_store_exits_3(db: Path, tmp_path: Path) -> None:
    root = tmp_path / "feeds"
    usage_csv(root / "u.csv", 1)
    make_pilot(db)
    assert cli("sources", "--pilot", "pilot", "--feed", "usage", ".", "--db", db, root=root).returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        env_timeout = {"READINESS_LOCK_TIMEOUT_S": "0.5"}
        proc = subprocess.run([sys.executable, "-m", "readiness", "sync", "--pilot", "pilot", "--db", str(db)],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "READINESS_FEED_ROOT": str(root), **env_timeout})
        assert proc.returncode == 3, proc.stderr
        assert "busy" in proc.stderr
    finally:
        holder.kill()
        holder.wait()
