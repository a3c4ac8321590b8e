"""The import contract (.importlinter): imports run one way down the layers, no package holds an
import cycle, Streamlit stays in the app shell and the database driver in the store."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                           "sys.exit(lint_imports_command())", "--no-cache"],
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)


def test_the_import_contract_holds() -> None:
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 kept, 0 broken" in proc.stdout


def _copy(tmp_path: Path) -> Path:
    for part in ("readiness", "analysis"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


@pytest.mark.parametrize(("module", "bad_import", "broken"), [
    ("readiness/store/transactions.py", "from readiness.review import decisions", "Imports run one way"),
    ("analysis/usage.py", "from readiness.ingest import load", "Imports run one way"),
    ("readiness/review/reviews.py", "from readiness.review import decisions", "No import cycles"),
    ("readiness/review/risks.py", "import streamlit", "Streamlit only in the app shell"),
    ("readiness/review/risks.py", "import duckdb", "Only the store talks to the database driver"),
])
def test_a_bad_import_breaks_the_contract(tmp_path: Path, module: str, bad_import: str, broken: str) -> None:
    root = _copy(tmp_path)
    with (root / module).open("a") as f:
        f.write(f"\n{bad_import}  # noqa\n")
    proc = _lint(root)
    assert proc.returncode != 0
    report = proc.stdout.split("Broken contracts", 1)[-1]
    assert broken in report, proc.stdout
