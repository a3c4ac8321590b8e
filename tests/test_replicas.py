"""Secrets several app replicas share (READINESS_SECRETS_FILE), and what a page says when the store
cannot be opened. The replicas themselves, behind HAProxy: tests/e2e/test_replicas_browser.py."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit import config as st_config

from readiness import backup, cli, keys, store
from readiness.security import audit, users
from readiness.security.access import Actor
from readiness.store import chain
from readiness.web import login

OP = Actor("cli:test", "admin", cli=True)
ROOT = Path(__file__).resolve().parents[1]


def _secrets_file(path: Path, **values: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(f'{name} = "{value}"\n' for name, value in values.items()))
    return path


def _strong(tag: str) -> str:
    return f"{tag}-{keys.generate(24)}"


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {name: _strong(name) for name in keys.SHARED_SECRETS}
    monkeypatch.setenv("READINESS_SECRETS_FILE", str(_secrets_file(tmp_path / "secrets.toml", **values)))
    return values


def _write_audited(db: Path) -> None:
    with store.open_store(db) as con:
        users.add_user(con, OP, "rex", "reviewer", "a long enough password")


def test_a_secrets_file_gives_the_keys_and_none_is_made_beside_the_store(db: Path, shared: dict) -> None:
    _write_audited(db)
    with store.open_store(db) as con:
        assert chain.load_key(con) == shared["audit_key"].encode()
        assert audit.verify(con).ok
    assert keys.configured("cookie_key") == shared["cookie_key"]
    assert login.cookie_key() == shared["cookie_key"]
    assert keys.shared_secrets() == shared
    assert not Path(f"{db}.audit-key").exists() and not Path(f"{db}.cookie-key").exists()


def test_without_a_secrets_file_one_server_makes_its_keys_beside_the_store(db: Path, monkeypatch) -> None:
    monkeypatch.delenv("READINESS_SECRETS_FILE", raising=False)
    monkeypatch.setenv("READINESS_DB", str(db))
    _write_audited(db)
    assert keys.shared_secrets() == {}
    key_file = Path(f"{db}.audit-key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_text().strip()) == 64
    assert login.cookie_key() == Path(f"{db}.cookie-key").read_text().strip()


@pytest.mark.parametrize(("value", "says"), [
    ("", "is empty"),
    ("   ", "is empty"),
    ("changeme", "too short"),
    ("a" * 40, "too easy to guess"),
    ("abcabcabc" * 5, "too easy to guess"),
])
def test_a_weak_or_empty_secret_is_refused_with_what_to_do(tmp_path, monkeypatch, value: str, says: str) -> None:
    values = {name: _strong(name) for name in keys.SHARED_SECRETS} | {"cookie_key": value}
    path = _secrets_file(tmp_path / "secrets.toml", **values)
    monkeypatch.setenv("READINESS_SECRETS_FILE", str(path))
    with pytest.raises(keys.SecretError) as refused:
        keys.configured("cookie_key")
    assert says in str(refused.value) and "cookie_key" in str(refused.value) and str(path) in str(refused.value)
    assert "python -m readiness secrets" in str(refused.value)
    with pytest.raises(keys.SecretError):  # a replica does not start on it
        keys.shared_secrets()


def test_a_weak_cookie_key_setting_is_refused_too(monkeypatch) -> None:
    monkeypatch.delenv("READINESS_SECRETS_FILE", raising=False)
    monkeypatch.setenv("READINESS_COOKIE_KEY", "secret")
    with pytest.raises(keys.SecretError, match="READINESS_COOKIE_KEY .* too short"):
        login.cookie_key()
    monkeypatch.setenv("READINESS_COOKIE_KEY", "")
    with pytest.raises(keys.SecretError, match="is empty"):
        login.cookie_key()


def test_a_secrets_file_that_cannot_be_used_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("READINESS_SECRETS_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(keys.SecretError, match="cannot be read"):
        keys.shared_secrets()
    loose = tmp_path / "loose.toml"
    loose.write_text("".join(f'{n} = "{_strong(n)}"\n' for n in keys.SHARED_SECRETS))
    loose.chmod(0o644)
    monkeypatch.setenv("READINESS_SECRETS_FILE", str(loose))
    with pytest.raises(keys.SecretError, match="chmod 600"):
        keys.shared_secrets()
    partial = _secrets_file(tmp_path / "partial.toml", cookie_key=_strong("c"))
    monkeypatch.setenv("READINESS_SECRETS_FILE", str(partial))
    with pytest.raises(keys.SecretError, match="lacks cookie_secret, audit_key"):
        keys.shared_secrets()
    typo = _secrets_file(tmp_path / "typo.toml", **{n: _strong(n) for n in keys.SHARED_SECRETS}, cookie_kye="x")
    monkeypatch.setenv("READINESS_SECRETS_FILE", str(typo))
    with pytest.raises(keys.SecretError, match="names cookie_kye"):
        keys.shared_secrets()


def test_serve_refuses_to_start_a_replica_on_a_weak_secret(tmp_path, monkeypatch, capsys) -> None:
    values = {name: _strong(name) for name in keys.SHARED_SECRETS} | {"cookie_secret": "short"}
    monkeypatch.setenv("READINESS_SECRETS_FILE", str(_secrets_file(tmp_path / "s.toml", **values)))
    assert cli.main(["serve", "--port", "1"]) == cli.EXIT_USAGE
    assert "cookie_secret" in capsys.readouterr().err


def test_the_secrets_command_takes_over_the_store_s_keys_and_the_log_verifies(db, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("READINESS_SECRETS_FILE", raising=False)
    _write_audited(db)  # a quick-start store: keys beside it
    out = tmp_path / "secrets.toml"
    assert cli.main(["secrets", "--out", str(out), "--db", str(db)]) == cli.EXIT_OK
    assert "audit_key taken over" in capsys.readouterr().out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert cli.main(["secrets", "--out", str(out), "--db", str(db)]) == cli.EXIT_USAGE  # never overwritten
    monkeypatch.setenv("READINESS_SECRETS_FILE", str(out))
    shared = keys.shared_secrets()
    assert shared["audit_key"] == Path(f"{db}.audit-key").read_text().strip()
    Path(f"{db}.audit-key").unlink()  # the secrets file holds it now
    with store.open_store(db) as con:
        users.add_user(con, OP, "leo", "lead", "a long enough password")
        assert audit.verify(con).ok


def test_a_configured_audit_key_that_did_not_sign_the_log_is_refused(db, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("READINESS_SECRETS_FILE", raising=False)
    _write_audited(db)
    path = _secrets_file(tmp_path / "s.toml", **{n: _strong(n) for n in keys.SHARED_SECRETS})
    monkeypatch.setenv("READINESS_SECRETS_FILE", str(path))
    with store.open_store(db) as con:
        with pytest.raises(keys.SecretError, match="differs from the key file"):
            audit.verify(con)
        with pytest.raises(keys.SecretError):
            users.add_user(con, OP, "leo", "lead", "a long enough password")
        assert con.execute("SELECT count(*) FROM users WHERE username = 'leo'").fetchone()[0] == 0


def test_a_backup_carries_the_configured_audit_key_and_restores_only_with_it(db, tmp_path, shared, monkeypatch):
    _write_audited(db)
    manifest = backup.backup(db, tmp_path / "b", OP)
    assert (tmp_path / "b" / "audit-key").read_text().strip() == shared["audit_key"]
    assert manifest["audit_head"]["seq"] >= 2
    restored = backup.restore(tmp_path / "other.duckdb", tmp_path / "b", OP)
    assert restored.verification.ok, restored.verification.message
    other = {n: _strong(n) for n in keys.SHARED_SECRETS}
    monkeypatch.setenv("READINESS_SECRETS_FILE", str(_secrets_file(tmp_path / "other.toml", **other)))
    with pytest.raises(backup.BackupError, match="another audit key"):
        backup.restore(tmp_path / "third.duckdb", tmp_path / "b", OP)
    assert not (tmp_path / "third.duckdb").exists()


def test_a_replica_without_the_shared_cookie_secret_serves_no_pages(shared, monkeypatch) -> None:
    before = st_config.get_option("server.cookieSecret")
    try:
        st_config.set_option("server.cookieSecret", "a random one of its own " + keys.generate(8))
        with pytest.raises(keys.SecretError, match="python -m readiness serve"):
            login.check_shared_secrets()
        st_config.set_option("server.cookieSecret", shared["cookie_secret"])
        login.check_shared_secrets()
    finally:
        st_config.set_option("server.cookieSecret", before)


# ---------------------------------------------------------------------------------------------
# What a page says when the store cannot be opened: what to do; the file and the cause go to the log


# app.py restricts DuckDB's file access for the rest of its process: it runs in a process of its own.
_APP_RUN = """
import json, logging, sys
from streamlit.testing.v1 import AppTest
logging.basicConfig(stream=sys.stderr, level=logging.ERROR, force=True)
at = AppTest.from_file(sys.argv[1], default_timeout=60).run()
print(json.dumps({"errors": [e.value for e in at.error], "buttons": [b.label for b in at.button],
                  "exceptions": len(at.exception)}))
"""


def _app_page(env: dict[str, str]) -> tuple[dict, str]:
    """What app.py shows on its first run (errors, buttons, exception count), and what it logged."""
    run = subprocess.run([sys.executable, "-c", _APP_RUN, str(ROOT / "app.py")], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={**os.environ, **env})
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1]), run.stderr


def test_a_damaged_store_shows_what_to_do_and_logs_where(tmp_path, monkeypatch) -> None:
    db = tmp_path / "store.duckdb"
    db.write_bytes(b"not a DuckDB file " * 400)
    monkeypatch.delenv("READINESS_SECRETS_FILE", raising=False)
    page, logged = _app_page({"READINESS_DB": str(db)})
    shown = " ".join(page["errors"])
    assert "tell whoever runs Readiness Review" in shown and page["buttons"] == ["Try again"]
    assert page["exceptions"] == 0
    for secret in (str(db), db.name, str(tmp_path)):
        assert secret not in shown
    assert str(db) in logged and "not a valid DuckDB database file" in logged


def test_a_bad_secrets_file_shows_that_the_server_is_not_set_up(tmp_path) -> None:
    page, logged = _app_page({"READINESS_DB": str(tmp_path / "store.duckdb"),
                              "READINESS_SECRETS_FILE": str(tmp_path / "nowhere" / "secrets.toml")})
    shown = " ".join(page["errors"])
    assert "not set up correctly" in shown and "nowhere" not in shown and "secrets.toml" not in shown
    assert "nowhere/secrets.toml" in logged


def test_page_text_leaves_out_the_server_s_folders_and_process_ids(tmp_path, monkeypatch) -> None:
    db = tmp_path / "data" / "store.duckdb"
    monkeypatch.setenv("READINESS_DB", str(db))
    err = store.StoreBusy(f"The store {db} is busy: python3.11 (PID 4242) has it open; see {db.parent}/uploads/x.csv")
    text = login.page_text(err)
    assert str(tmp_path) not in text and "4242" not in text and "PID" not in text
    assert text.startswith("The store is busy: python3.11") and "the upload folder/x.csv" in text
    assert "the store the store" not in text.lower()


def test_page_text_names_the_audit_files_without_their_place(tmp_path, monkeypatch) -> None:
    db = tmp_path / "store.duckdb"
    monkeypatch.setenv("READINESS_DB", str(db))
    text = login.page_text(f"The audit key {db}.audit-key is missing; the head {db}.audit-head says 7.")
    assert text == "The audit key (its file on the server) is missing; the head (its file on the server) says 7."
