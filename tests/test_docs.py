"""The docs match the code: generated references are current, nothing is missing, links resolve."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from readiness.cli import build_parser
from readiness.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_MAX_BYTES = 12_500
PAGES = [README, *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE = re.compile(r"^(```|~~~).*?^\1[^\n]*$|`[^`\n]*`", re.MULTILINE | re.DOTALL)


def load_reference():
    spec = importlib.util.spec_from_file_location("docs_reference", DOCS / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference = load_reference()


@pytest.mark.parametrize("name", sorted(reference.OUTPUTS))
def test_generated_reference_is_current(name):
    written = (DOCS / name).read_text(encoding="utf-8")
    assert written == reference.OUTPUTS[name](), f"docs/{name} is out of date: run python docs/reference.py"


def docs_text() -> str:
    return "\n".join(page.read_text(encoding="utf-8") for page in PAGES)


def test_every_setting_is_documented():
    text = docs_text()
    missing = [f"READINESS_{s.name.upper()}" for s in SETTINGS if f"READINESS_{s.name.upper()}" not in text]
    assert not missing, f"settings missing from the docs: {missing} (run python docs/reference.py)"


def test_every_command_is_documented():
    cli_md = (DOCS / "cli.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (\S+)$", cli_md, re.MULTILINE))
    commands = [name for name, _, _ in reference.subcommands(build_parser())]
    assert len(commands) >= 10
    missing = [name for name in commands if name not in headings]
    assert not missing, f"commands missing from docs/cli.md: {missing} (run python docs/reference.py)"


def relative_links(page: Path) -> list[str]:
    """Link and image targets in a Markdown page outside code, other than web and mail addresses."""
    text = CODE.sub("", page.read_text(encoding="utf-8"))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.IGNORECASE)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files(page):
    broken = []
    for target in relative_links(page):
        if "#" in target or not target:
            broken.append(f"{target!r}: link to a file, not an anchor (headings change)")
        elif not (page.parent / target).is_file():
            broken.append(f"{target!r}: no such file")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_readme_is_a_front_door():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size:,} bytes (at most {README_MAX_BYTES:,}): move detail into docs/")


def test_link_finder_sees_links_and_skips_code(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("See [ops](docs/operating.md), ![shot](a.png \"t\") and <https://x.org>.\n"
                    "`[not](inline.md)`\n```\n[not](fenced.md)\n```\n[web](https://example.org)\n")
    assert relative_links(page) == ["docs/operating.md", "a.png"]


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci.startswith("python3 -m venv") and "pytest" in ci
    assert ci in README.read_text(encoding="utf-8").splitlines(), (
        "README.md's test command differs from the last line of .ci/run: keep the two in step")
