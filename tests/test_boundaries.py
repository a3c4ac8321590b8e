"""Data boundaries in code: uploads under generated names, removed after ingest; DuckDB file access
limited to the allowed folders; user text bound as SQL parameters, never spliced in."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import PROJECT_ROOT, make_pilot, query

from readiness import catalog, pilots, settings, store
from readiness.ingest import uploads
from readiness.security.access import Actor

OP = Actor("test", "admin", cli=True)
CSV = b"ts,user,event\n2026-03-02T10:00:00Z,a,open\n2026-03-02T10:05:00Z,b,open\n"


def test_upload_is_saved_privately_under_a_generated_name(db: Path) -> None:
    path = uploads.save(io.BytesIO(CSV), db)
    try:
        assert path.parent == settings.upload_dir(db) and path.name.startswith("upload-")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert path.read_bytes() == CSV
    finally:
        path.unlink()


def test_an_upload_left_by_a_killed_app_is_removed_by_the_next_save(db: Path) -> None:
    # the app removes its copy after ingest; a SIGKILL in between would leave it for ever
    import subprocess
    import sys

    folder = settings.upload_dir(db)
    code = ("import io, os, sys; sys.path.insert(0, '.'); from readiness.ingest import uploads; "
            f"p = uploads.save(io.BytesIO(b'x'), {str(db)!r}); print(p, flush=True); os._exit(0)")
    left = Path(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               cwd=Path(__file__).resolve().parents[1]).stdout.strip())
    assert left.parent == folder and left.exists()  # the process is gone, its copy is not
    mine = uploads.save(io.BytesIO(CSV), db)
    try:
        assert not left.exists() and mine.exists()
    finally:
        mine.unlink()


def test_uploads_are_ingested_under_their_shown_name_and_removed(db: Path, tmp_path: Path) -> None:
    make_pilot(db, "p")
    evil = "../../" + str(tmp_path / "escaped.csv")
    (ok,) = uploads.ingest_uploads(db, "p", "usage", [(evil, io.BytesIO(CSV))], actor=OP)
    assert ok.rows_loaded == 2
    assert query(db, "SELECT file_name FROM ingest_batches") == [("escaped.csv",)]
    assert not (tmp_path / "escaped.csv").exists()
    (bad,) = uploads.ingest_uploads(db, "p", "usage", [("junk.csv", io.BytesIO(b"\x00\x01\x02" * 100))], actor=OP)
    assert bad.error
    assert list(settings.upload_dir(db).iterdir()) == []  # nothing left behind, loaded or not


def test_upload_over_the_limit_is_refused_and_removed(db: Path, monkeypatch) -> None:
    monkeypatch.setenv("READINESS_MAX_UPLOAD_MB", "1")
    make_pilot(db, "p")
    big = io.BytesIO(b"x" * (1024 * 1024 + 1))
    try:
        uploads.ingest_uploads(db, "p", "usage", [("big.csv", big)], actor=OP)
    except uploads.ingest.UnusableFile as err:
        assert "1 MB upload limit" in str(err)
    else:
        raise AssertionError("an upload over the limit was accepted")
    assert list(settings.upload_dir(db).iterdir()) == []


def _workbook_bytes() -> bytes:
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["timestamp", "user_id", "event"])
    for i in range(3):
        book.active.append([datetime(2026, 3, 2, 10, i), f"u{i}", "open"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_restricted_process_reads_only_allowed_folders(tmp_path: Path) -> None:
    """As the app runs: uploads load; a file elsewhere and a COPY elsewhere are refused by DuckDB."""
    data, outside = tmp_path / "data", tmp_path / "outside"
    data.mkdir()
    outside.mkdir()
    (outside / "other.csv").write_bytes(CSV + b"2026-03-02T10:09:00Z,c,open\n")  # not a duplicate
    code = textwrap.dedent(f"""
        import io
        from readiness import settings, store
        from readiness.ingest import load as ingest
        from readiness.ingest import uploads
        from readiness.security.access import Actor
        op = Actor("t", "admin", cli=True)
        db = {str(data / "store.duckdb")!r}
        store.restrict_file_access([{str(data)!r}, settings.upload_dir(db)])
        (r,) = uploads.ingest_uploads(db, "p", "usage", [("u.csv", io.BytesIO({CSV!r}))], actor=op, create=True)
        print("upload", r.rows_loaded)
        # a preview's copies (decompressed, unwrapped) are made where the app's DuckDB may read them
        import gzip, json
        pv = uploads.preview_upload(db, "u.csv.gz", io.BytesIO(gzip.compress({CSV!r})), "usage")
        print("preview gz", pv.rows_checked)
        docker = "".join(json.dumps({{"log": f"ERROR:app:failed {{i}}\\n", "stream": "stderr",
                                      "time": f"2026-03-02T10:0{{i}}:00Z"}}) + chr(10) for i in range(3))
        pv = uploads.preview_upload(db, "app.log", io.BytesIO(docker.encode()), "exceptions")
        print("preview container", pv.rows_checked)
        # a workbook is read by DuckDB's excel extension, loaded before the restriction
        pv = uploads.preview_upload(db, "u.xlsx", io.BytesIO({_workbook_bytes()!r}), "usage")
        print("preview workbook", pv.rows_checked)
        (r,) = ingest.ingest_files(db, "p", "usage", [{str(outside / "other.csv")!r}], actor=op)
        print("outside", r.rows_loaded, (r.error or "")[:300].replace(chr(10), " "))
        with store.open_store(db) as con:
            try:
                con.execute("COPY (SELECT 1) TO '{outside / "leak.csv"}'")
                print("copy allowed")
            except Exception as err:
                print("copy refused", type(err).__name__)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         env={**os.environ, "READINESS_UPLOAD_DIR": ""})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "upload 2"
    assert lines[1:4] == ["preview gz 2", "preview container 3", "preview workbook 3"]
    assert lines[4].startswith("outside 0") and "Permission" in lines[4]
    assert lines[5] == "copy refused PermissionException"
    assert not (outside / "leak.csv").exists()


def test_user_text_is_bound_never_spliced(db: Path) -> None:
    name = "x'); DROP TABLE pilots; --"
    make_pilot(db, name, capability="'; DELETE FROM audit_log; --")
    with store.open_store(db) as con:
        assert catalog.get_pilot(con, name).name == name
        assert [p["name"] for p in pilots.list_pilots(con, OP)] == [name]
    assert query(db, "SELECT count(*) FROM audit_log") == [(1,)]


def test_restricted_sessions_opening_the_store_at_once_never_fail(tmp_path: Path) -> None:
    """As the app runs: many sessions (threads) open the restricted store at the same moment. Of two first
    connections to a fresh DuckDB instance only one sets its allowed folders: the page never shows
    'Cannot change allowed_directories'."""
    make_pilot(tmp_path / "data" / "store.duckdb", "p")
    code = textwrap.dedent(f"""
        import threading
        from readiness import store
        db = {str(tmp_path / "data" / "store.duckdb")!r}
        store.restrict_file_access([{str(tmp_path / "data")!r}])
        errors, start = [], threading.Barrier(8)
        def work():
            start.wait()
            for _ in range(40):
                try:
                    with store.open_store(db) as con:
                        con.execute("SELECT count(*) FROM pilots").fetchone()
                except Exception as err:
                    errors.append(str(err)[:120])
        threads = [threading.Thread(target=work) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print(len(errors), errors[:1])
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("0 []"), out.stdout
