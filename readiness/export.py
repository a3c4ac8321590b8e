"""The one CSV writer: every export goes through it, so every export is safe to open in a spreadsheet.

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
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, TextIO

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


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
    from readiness import audit, decisions, risks
    from readiness.access import require
    from readiness.store import transaction

    if what not in REGISTERS:
        raise ValueError(f"Exports are {' or '.join(REGISTERS)}, not {what!r}.")
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
