"""The one CSV writer and the one Markdown escaper: what we write is safe to open, whoever typed its text.

Markdown (:func:`markdown_text`): every piece of user-typed or file-read text that reaches Markdown
(every page of the app, the playbook file) goes through it and reads as typed, as plain text.

CSV:

A cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return, also after leading spaces) is prefixed with ``'`` (OWASP's advice), so
``=HYPERLINK(...)`` in a comment shows as text. Numbers stay numbers: a negative number is not
a formula. Times are written as ISO 8601 in UTC. Files are UTF-8 with a BOM so that Excel reads
accents right.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, TextIO

from readiness.errors import InvalidChoice
from readiness.review import decisions, risks
from readiness.security import audit
from readiness.security.access import require
from readiness.store import transaction

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")

# Markdown as Streamlit 1.67 reads it (GitHub-flavoured, with remark-math and remark-directive) has
# two layers. Syntax respects escapes: a backslash before each inline marker, HTML's three as
# entities, a block marker at a line's start escaped. Text-level rewrites run on the parsed text,
# after escapes are resolved (bare "http(s)://" and "www." addresses and e-mail addresses become
# links, ":material_x:" an icon, ":smile:" an emoji): a word joiner (U+2060, invisible, no line
# break) splits each of them, and also every ":name" so that no ":red[...]" directive can start.
_JOIN = "\u2060"
_SPLIT = re.compile(r"(?i)(?<=https:)(?=//)|(?<=http:)(?=//)|(?<=www)(?=\.)|(?<=[:@])(?=[\w+-])")
_INLINE = {**{c: "\\" + c for c in "\\`*_[]|~$"}, "&": "&amp;", "<": "&lt;", ">": "&gt;"}
_BLOCK_START = re.compile(r"^([ \t]*(?:[#+=-]|\d{1,9}[.)]))", re.M)  # a heading, list, rule or underline


def markdown_text(text: Any, *, breaks: bool = False) -> str:
    """``text`` as inert Markdown: it renders as typed, with no link, image, emphasis, HTML, icon,
    directive or formula from it. Line ends become spaces, or hard line breaks with ``breaks``.
    None or "" is "—"."""
    if text is None or text == "":
        return "—"
    lines = re.sub(r"\r\n?", "\n", str(text))
    if not breaks:
        lines = lines.replace("\n", " ")
    escaped = "".join(_INLINE.get(c, c) for c in _SPLIT.sub(_JOIN, lines))
    escaped = _BLOCK_START.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], escaped)
    return escaped.replace("\n", "  \n")


def safe_cell(value: Any) -> Any:
    """The value as a CSV cell that no spreadsheet will evaluate."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "" if isinstance(value, float) and math.isnan(value) else value
    if isinstance(value, datetime):
        value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value.tzinfo else value.isoformat()
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        value = json.dumps(value, default=str, ensure_ascii=False)
    text = str(value)
    if text.lstrip(" ").startswith(_TRIGGERS) or text.startswith(_TRIGGERS):
        return "'" + text
    return text


def write_csv(f: TextIO, rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> int:
    """Write ``rows`` (dicts) as CSV with a header; returns the number of rows."""
    w = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    w.writerow([safe_cell(c) for c in columns])
    n = 0
    for row in rows:
        w.writerow([safe_cell(row.get(c)) for c in columns])
        n += 1
    return n


def csv_bytes(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> bytes:
    """The CSV as UTF-8 bytes with a BOM (for downloads)."""
    buf = io.StringIO()
    write_csv(buf, rows, columns)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


REGISTERS = ("decisions", "risks")


def audited_csv(con, actor, what: str, chosen: list, destination: str | None = None) -> tuple[bytes, int]:
    """The decisions or risk-register CSV of the ``chosen`` pilots, as downloaded or written by the CLI.

    Checks the export right on every pilot first, then reads and audits in one transaction
    (who, what, which pilots, how many rows, and where it went). Returns (CSV bytes, rows).
    """
    if what not in REGISTERS:
        raise InvalidChoice(f"Exports are {' or '.join(REGISTERS)}, not {what!r}.")
    with transaction(con):
        for p in chosen:
            require(con, actor, "export", p.pilot_id)
        if what == "decisions":
            rows, columns = decisions.decision_summaries(con, actor, chosen), decisions.SUMMARY_COLUMNS
        else:
            rows, columns = [r for p in chosen for r in risks.list_risks(con, actor, p)], risks.EXPORT_COLUMNS
        audit.record(con, actor, "export", f"export:{what}",
                     {"pilots": [p.name for p in chosen], "rows": len(rows), "file": destination or "download"})
    return csv_bytes(rows, columns), len(rows)
