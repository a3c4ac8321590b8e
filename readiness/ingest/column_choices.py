"""The column mapping as choices: one row per canonical field with the file's columns to pick
from, the time layouts to pick from, whether a previewed file may load, and the mapping of an
earlier batch of the same shape, offered again.

A choice is written as ``--map`` writes it (:meth:`ColumnMapping.spec`): a column, ``Date+Time``
(joined), ``userId|anonymousId`` (the first non-blank), or ``""`` for no column; the choices
of a file are :class:`readiness.ingest.load.IngestOptions` overrides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from readiness.catalog import Pilot
from readiness.ingest.columns import SCHEMA, Mapping, canonical_columns
from readiness.security.access import Actor, require
from readiness.store import Connection

NO_COLUMN = ""
# How a proposal was made, in the reviewer's words (ColumnMapping.by)
HOW = {"name": "by name", "content": "by content", "map": "your choice"}
# The layout a time format is shown with: a day over 12, a minute and a second that differ
EXAMPLE_TIME = datetime(2026, 3, 14, 9, 5, 30)
DETECTED, OTHER = "detected", "other"


@dataclass(frozen=True)
class FieldChoice:
    """One row of the mapping table: a canonical field and the column that feeds it."""
    field: str
    need: str              # "required", "one of rating, score, comment required", "optional"
    chosen: str            # the choice as --map writes it; NO_COLUMN for none
    how: str               # "by name", "by content", "your choice", "as in <file>", "no column found"
    reason: str
    options: tuple[str, ...]  # NO_COLUMN first, then a joined choice, then the file's columns

    @property
    def required(self) -> bool:
        return self.need != "optional"


def field_choices(mapping: Mapping, columns: list[str], offered_from: str | None = None,
                  changed: set[str] | frozenset[str] = frozenset()) -> list[FieldChoice]:
    """The mapping table of a previewed file: every canonical field of its kind, required first,
    with the column now mapped to it and how that was chosen. ``offered_from``: the file whose
    batch's mapping was taken; its choices read "as in <file>" unless ``changed`` here since."""
    required, one_of, _ = SCHEMA[mapping.kind]
    rows = []
    for name in canonical_columns(mapping.kind):
        need = ("required" if name in required else
                f"one of {', '.join(one_of)} required" if name in one_of else "optional")
        m = mapping.get(name)
        chosen = m.spec() if m else NO_COLUMN
        options = (NO_COLUMN,) + ((chosen,) if chosen and chosen not in columns else ()) + tuple(columns)
        if m is None and offered_from and name not in changed:
            how, reason = f"none, as in {offered_from}", ""
        elif m is None:
            how, reason = "no column found", ""
        elif m.by == "map" and offered_from and name not in changed:
            how, reason = f"as in {offered_from}", ""
        elif m.by == "map":
            how, reason = HOW["map"], ""
        else:
            how, reason = HOW.get(m.by, m.by), m.reason.removeprefix("by content: ")
        rows.append(FieldChoice(name, need, chosen, how, reason, options))
    return rows


def option_label(spec: str, columns: list[str], required: bool) -> str:
    """How a choice reads in its dropdown: the column's name; a joined or fallback choice spelt out."""
    if spec == NO_COLUMN:
        return "— choose a column —" if required else "— none —"
    if spec in columns:
        return spec
    if "|" in spec:
        return ", else ".join(spec.split("|")) + " (the first not blank)"
    return " + ".join(spec.split("+")) + " (joined)"


def choices_as_overrides(choices: dict[str, str], kind: str) -> dict[str, str]:
    """The choices made for a file as ``--map`` overrides, fields of another kind left out."""
    wanted = canonical_columns(kind)
    return {k: v for k, v in choices.items() if k in wanted}


def load_blockers(preview: Any) -> list[str]:
    """Why a previewed file (readiness.ingest.load.Preview) cannot load as it is, in the order to fix
    them; [] when it can: every required field has a column and at least one previewed row loads."""
    missing = preview.mapping.missing_required()
    if missing:
        return [f"no column chosen for {', '.join(missing)}"]
    if preview.rows_checked == 0:
        return ["no rows found"]
    if preview.every_row_rejected:
        return [f"every one of the first {preview.rows_checked:,} rows would be rejected"]
    return []


# --- time layouts -----------------------------------------------------------------------------

# The layouts offered by name, most often met first; any other is typed (OTHER).
TIME_LAYOUTS = (
    "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%Y/%m/%d %H:%M:%S", "%d-%b-%Y %H:%M:%S", "%d %b %Y %H:%M:%S",
    "%b %d %H:%M:%S", "%d/%b/%Y:%H:%M:%S %z", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y",
)


def layout_label(choice: str, detected: str | None = None) -> str:
    """A time layout as its dropdown shows it: the codes and the example time written that way."""
    if choice == DETECTED:
        return f"As recognised: {detected}" if detected else "As recognised from the file"
    if choice == OTHER:
        return "Other: type the format"
    shown = EXAMPLE_TIME.strftime(choice.replace("%z", "+0100"))
    return f"{shown}   ({choice})"


def has_year(time_format: str | None) -> bool:
    return bool(time_format) and any(code in time_format for code in ("%Y", "%y", "%G", "%s"))


def read_with(time_format: str, raw: list[str]) -> list[tuple[str, str]]:
    """Each raw time as the format reads it ('2026-03-14 09:05'), or why not: the live example
    under a typed format (a few values; the preview then reads the file's rows in DuckDB)."""
    out = []
    yearless = not has_year(time_format)
    for value in raw:
        text = str(value).strip()
        try:  # a leap year, so that a yearless 29 Feb reads
            when = datetime.strptime(f"2000 {text}", f"%Y {time_format}") if yearless else datetime.strptime(text, time_format)
            out.append((text, when.strftime("%m-%d %H:%M:%S (no year: give it under Year)" if yearless else "%Y-%m-%d %H:%M:%S")))
        except ValueError as err:
            out.append((text, f"not read: {err}"))
    return out


def time_choice(time_format: str | None) -> str:
    """The dropdown choice that stands for a time format (None: as recognised)."""
    if not time_format:
        return DETECTED
    return time_format if time_format in TIME_LAYOUTS else OTHER


def detected_layout(preview: Any) -> str | None:
    """The time reading the preview chose, shortened for the dropdown."""
    return (preview.time_mode or "").split(";")[0].removesuffix(", recognised from the file") or None


def raw_times(preview: Any) -> list[str]:
    """Up to three of the file's times as written: those the preview read, else the first rows'
    values of the time column (before every required field has a column, nothing is read)."""
    if preview.time_examples:
        return [str(raw) for raw, _ in preview.time_examples[:3]]
    m = preview.mapping.get("timestamp")
    if m is None:
        return []
    values = [" ".join(str(r.get(c) or "") for c in m.sources).strip() for r in preview.rows if all(c in r for c in m.sources)]
    return [v for v in values if v][:3]


def example_times(preview: Any, time_zone: str) -> list[tuple[str, str]]:
    """Up to three (raw text, read as) pairs of the previewed file's times, in ``time_zone``."""
    zone = ZoneInfo(time_zone)
    return [(str(raw), when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") if isinstance(when, datetime)
             else "not read as a time") for raw, when in preview.time_examples[:3]]


# --- an earlier batch of the same shape -------------------------------------------------------

@dataclass(frozen=True)
class PastMapping:
    """The mapping an earlier batch of a pilot was loaded with."""
    batch_id: int
    file_name: str
    mapping: dict[str, str]      # canonical -> --map spec
    time_format: str | None
    year: int | None
    time_zone: str | None        # the zone chosen for times without one; None: the pilot's


def same_shape(columns: list[str], stored: list[str]) -> bool:
    """Same columns, in any order: a file of the same shape (names compared as written)."""
    return sorted(columns) == sorted(stored)


def mapping_of_same_shape(con: Connection, actor: Actor, pilot: Pilot, kind: str,
                          columns: list[str]) -> PastMapping | None:
    """The latest batch of ``pilot`` and ``kind`` whose file had the same columns as ``columns``,
    with the mapping it was loaded with; None when there is none."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    rows = con.execute(
        "SELECT batch_id, file_name, CAST(options AS VARCHAR) FROM ingest_batches WHERE pilot_id = ? AND kind = ? "
        "AND json_extract(options, '$.columns') IS NOT NULL ORDER BY batch_id DESC LIMIT 200",
        [pilot.pilot_id, kind]).fetchall()
    for batch_id, file_name, options in rows:
        stored = json.loads(options)
        if same_shape(columns, stored.get("columns") or []):
            mapping = {k: v for k, v in (stored.get("mapping") or {}).items() if k in canonical_columns(kind)}
            for name in canonical_columns(kind):
                mapping.setdefault(name, NO_COLUMN)  # left out then: left out again
            return PastMapping(batch_id, file_name, mapping, stored.get("time_format"), stored.get("year"),
                               stored.get("time_zone"))
    return None


def batch_mapping(con: Connection, actor: Actor, pilot: Pilot, batch_id: int) -> dict[str, str]:
    """The mapping batch ``batch_id`` of ``pilot`` was loaded with (canonical -> --map spec); {} if none."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    row = con.execute("SELECT CAST(options AS VARCHAR) FROM ingest_batches WHERE pilot_id = ? AND batch_id = ?",
                      [pilot.pilot_id, batch_id]).fetchone()
    return (json.loads(row[0]) or {}).get("mapping") or {} if row and row[0] else {}
