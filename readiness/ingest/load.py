"""Ingest usage, feedback and exception logs into the store: preview, atomic load, rejects, batches.

One file is one batch and one transaction: it lands whole or not at all. The heavy work runs in
DuckDB (read_csv / read_json / read_parquet, INSERT ... SELECT); Python only plans the SQL. It
runs in a scratch database of the ingest's own, not in the store: the store is held only for
short steps, the last of which lands the batch (:func:`_ingest`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from readiness import catalog, pilots, settings, store
from readiness.catalog import Pilot
from readiness.ingest import formats, linelogs, profiles, timestamps
from readiness.ingest.columns import Mapping, MappingError, canonical_columns, norm, propose_mapping
from readiness.ingest.formats import SourceFile, UnusableFile
from readiness.ingest.loadplan import (
    LoadPlan,
    ident,
    left_out_level_sql,
    level_in_message,
    levels_sql,
    lit,
    target_column,
)
from readiness.security import audit
from readiness.security.access import Actor, require
from readiness.store import Connection, DatabaseError, after_commit, lake, organisation, pid_alive, transaction

TABLES = {"usage": "usage_events", "feedback": "feedback", "exceptions": "exceptions"}
SAMPLE_ROWS = 1000
REJECTS_SHOWN = 20  # rows a preview lists as rejected, with their reasons


@dataclass
class IngestOptions:
    overrides: dict[str, str] = field(default_factory=dict)
    time_format: str | None = None
    year: int | None = None
    dedupe_rows: bool = False
    all_levels: bool = False  # exceptions: load information lines (INFO, DEBUG, ...) too
    log_format: str | None = None  # an application log's line layout, '<Date> <Time> <Level> ...: <Content>'
    time_zone: str | None = None   # the zone of times written without one; None: the pilot's

    def level_filter(self, kind: str, mapping: Mapping, src: SourceFile | None = None) -> bool:
        """Whether information lines are left out: an exception log with a level column (or whose
        messages are log lines that write one), unless asked."""
        return kind == "exceptions" and not self.all_levels and (
            mapping.get("level") is not None or (src is not None and level_in_message(mapping, src)))

    def left_out(self, kind: str, mapping: Mapping, src: SourceFile) -> LeftOut | None:
        """Rows counted but not loaded, unless every line is asked for: an exception log's
        information lines; a web access log's requests for static files (images, scripts, styles)."""
        if self.level_filter(kind, mapping, src):
            return LeftOut(left_out_level_sql(), levels_sql(), "information lines")
        if kind == "feedback" and not self.all_levels and (partial := _partial_responses(src, mapping)):
            return LeftOut(partial, "min('partial')", "partial responses (not submitted)")
        if kind == "feedback" and not self.all_levels and _chat_export(src):
            return LeftOut(f"coalesce({CHAT_EVENTS}, false)", "min('channel events')",
                           "a channel's events and bots' posts (joins, topic changes, integrations: nobody's feedback)")
        if kind == "usage" and src.line_format in linelogs.USAGE_FORMATS and not self.all_levels:
            return LeftOut(linelogs.is_static_sql("event"),
                           "min('requests for static files')", "requests for static files (images, scripts, styles, fonts)")
        if kind == "usage" and not self.all_levels and segment_calls(mapping):
            return LeftOut(f"event IN ({', '.join(lit(c) for c in SEGMENT_NOT_USES)})",
                           "min('identify, group and alias calls')", "identify, group and alias calls (who, not what)")
        return None


# Segment's calls that say who a user is, not what they did
SEGMENT_NOT_USES = ("identify", "group", "alias")


def segment_calls(mapping: Mapping) -> bool:
    """A Segment export whose event is its track call's event, else its page call's name, else the
    call's type (columns.propose_mapping maps it so)."""
    event = mapping.get("event")
    return bool(event and event.first and tuple(norm(c) for c in event.sources) == ("event", "name", "type"))


# A survey export's column saying a response was not submitted, and the values that say so:
# Typeform's 'Response Type' (completed / partial), Qualtrics' 'Finished' (True / False)
PARTIAL_MARKS = {"responsetype": ("partial",), "finished": ("false", "0")}
# ... each only in its tool's export: Qualtrics' 'Finished' beside its 'Progress' and 'ResponseId'
_PARTIAL_BESIDE = {"finished": ("progress", "responseid")}


def _partial_responses(src: SourceFile, mapping: Mapping) -> str | None:
    """SQL over a loaded feedback row: the response was not submitted (its survey export says so
    in a column kept in ``attributes``); None when the file has no such column."""
    used = {c for m in mapping.columns for c in m.sources}
    names = {norm(c) for c in src.columns}
    tests = [f"lower(trim(attributes->>{lit(c)})) IN ({', '.join(lit(v) for v in PARTIAL_MARKS[norm(c)])})"
             for c in src.columns if norm(c) in PARTIAL_MARKS and c not in used
             and all(n in names for n in _PARTIAL_BESIDE.get(norm(c), ()))]
    return f"coalesce({' OR '.join(tests)}, false)" if tests else None


# A chat export (Slack's channel export: 'ts', 'type', 'text', 'user', 'client_msg_id'): only people's
# messages are feedback: plain ones, thread replies shown in the channel, shared files, /me lines. A
# channel's events (joins, topic changes, huddles, deletions) and bots' posts (integrations; a
# workflow's form too, which cannot be told apart) are left out
CHAT_EVENTS = ("(nullif(trim(attributes->>'subtype'), '') NOT IN ('thread_broadcast', 'file_share', 'me_message') "
               "OR nullif(trim(attributes->>'bot_id'), '') IS NOT NULL)")


def _chat_export(src: SourceFile) -> bool:
    names = {norm(c) for c in src.columns}
    return {"ts", "type", "subtype"} <= names and bool(names & {"clientmsgid", "botid"})


@dataclass(frozen=True)
class LeftOut:
    where: str   # SQL over a loaded row (its target columns and attributes): true when left out
    label: str   # SQL aggregate naming what was left out (the levels, e.g. 'DEBUG, INFO')
    words: str   # what they are, in a reviewer's words


@dataclass
class IngestResult:
    file: str
    kind: str
    batch_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_skipped: int = 0                # information lines left out of an exception log (by level)
    skipped_levels: str | None = None    # which levels those were, e.g. 'DEBUG, INFO'
    duplicate: bool = False
    duplicate_of: int | None = None
    error: str | None = None
    format: str | None = None
    time_note: str | None = None
    zoneless_rows: int = 0
    mapping: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # columns chosen by their content, or not by their name

    def as_json(self) -> dict[str, Any]:
        """The CLI's --json record for this file."""
        keys = ("file", "batch_id", "rows_read", "rows_loaded", "rows_rejected", "rows_duplicate", "rows_skipped",
                "duplicate")
        out = {k: getattr(self, k) for k in keys}
        if self.error:
            out["error"] = self.error
        if self.mapping:
            out["mapping"] = self.mapping
        if self.notes:
            out["notes"] = self.notes
        return out

    def summary(self) -> str:
        """One human line (two when times were read in the pilot's zone)."""
        if self.error:
            return f"{self.file}: NOT LOADED. {self.error}"
        if self.duplicate:
            return (f"{self.file}: duplicate of batch {self.duplicate_of}; not loaded again. To load it with other "
                    f"options, delete batch {self.duplicate_of} first.")
        text = (f"{self.file}: batch {self.batch_id}, {self.format}: {self.rows_read:,} read, "
                f"{self.rows_loaded:,} loaded, {self.rows_rejected:,} rejected, {self.rows_duplicate:,} duplicate")
        if self.rows_skipped and self.kind == "usage":
            text += f", {self.rows_skipped:,} {self.skipped_levels or 'requests for static files'} left out: they are not uses"
        elif self.rows_skipped and self.kind == "feedback" and self.skipped_levels == "channel events":
            text += (f", {self.rows_skipped:,} channel events and bots' posts (joins, topic changes, integrations) "
                     "left out: they are nobody's feedback")
        elif self.rows_skipped and self.kind == "feedback":
            text += f", {self.rows_skipped:,} partial responses left out: they were not submitted"
        elif self.rows_skipped:
            text += (f", {self.rows_skipped:,} information lines ({self.skipped_levels}) left out: they are not "
                     "exceptions")
        if self.zoneless_rows:
            text += f"\n  note: {self.zoneless_rows:,} rows had no time zone; {self.time_note}"
        text += "".join(f"\n  note: {n}" for n in self.notes)
        return text


@dataclass
class Preview:
    file: str
    kind: str
    format: str
    columns: list[str]
    mapping: Mapping
    time_mode: str | None
    rows: list[dict[str, Any]]
    parsed: list[dict[str, Any]]
    problems: list[str]
    rows_checked: int = 0     # of the first rows read, how many were checked as they would load
    rows_rejected: int = 0    # ... and how many of those would be rejected
    rows_informational: int = 0  # ... and how many would be left out as information lines (exceptions)
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)  # the first rows that would be rejected, and why
    time_examples: list[tuple[Any, Any]] = field(default_factory=list)  # (time as written, as read) of the first rows
    line_records: list[dict[str, Any]] = field(default_factory=list)    # a line log's first records: raw and read

    @property
    def every_row_rejected(self) -> bool:
        """Every row checked would be rejected: loading the file can only fail."""
        return bool(self.rows_checked) and self.rows_rejected == self.rows_checked

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mapping"] = [asdict(c) for c in self.mapping.columns]
        d["kept_in_attributes"] = self.mapping.unmapped
        return d


def _stage(con: Connection, src: SourceFile, stage: str, limit: int | None = None) -> str | None:
    """Copy the file into temp table ``stage``; return the name of its reader-rejects table (CSV)."""
    lim = f" LIMIT {int(limit)}" if limit else ""
    rejects = f"{stage}_rej" if src.format == "csv" else None
    reader = formats.reader_sql(src, rejects=rejects, head=bool(limit))
    try:
        con.execute(f"CREATE TEMP TABLE {stage} AS SELECT * FROM {reader}{lim}")
    except DatabaseError as err:
        if rejects:
            con.execute(f"DROP TABLE IF EXISTS {rejects}")
        if src.format == "csv" and formats.NEWLINES_NOTE not in src.notes and _has_cr(src.data_path):
            formats.rewrite(src, newlines=True)  # a CR or CRLF after the head the sniffer saw: retry once
            return _stage(con, src, stage, limit)
        raise UnusableFile(f"{src.path.name}: could not be read as {src.describe()}: "
                           f"{formats.duckdb_reason(err, src)}. Nothing was loaded.") from None
    return rejects


def _has_cr(path: Path) -> bool:
    with path.open("rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            if b"\r" in chunk:
                return True
    return False


def _time_mode(con: Connection, src: SourceFile, mapping: Mapping, stage: str,
               opts: IngestOptions) -> timestamps.TimeMode:
    """How to read the time column: from its type and a sample of ``stage``; a day/month order the
    sample leaves open is settled on the whole file (:func:`_settle_day_month`)."""
    return _settle_day_month(con, src, mapping, _sampled_mode(con, src, mapping, stage, opts))


def _sampled_mode(con: Connection, src: SourceFile, mapping: Mapping, stage: str,
                  opts: IngestOptions) -> timestamps.TimeMode:
    """Choose how to read the time column, from its type and a sample (first rows + a random sample)."""
    if opts.time_format or opts.year:
        return timestamps.detect_mode([], "VARCHAR", opts.time_format, opts.year)
    m = mapping.get("timestamp")
    probe = LoadPlan(src, mapping, stage, timestamps.TimeMode("iso"))
    native = len(m.sources) == 1 and not probe.is_json
    src_type = src.types.get(m.sources[0], "VARCHAR") if native else "VARCHAR"
    upper = src_type.upper()
    if src_type != "VARCHAR" and not upper.startswith(("TIMESTAMP", "DATE")):
        big = con.execute(f"SELECT max(abs(CAST({probe.raw(m.sources[0])} AS DOUBLE))) FROM {stage}").fetchone()[0] or 0
        return timestamps.TimeMode(timestamps.epoch_unit(big), zoned=True)
    if src_type != "VARCHAR":
        return timestamps.detect_mode([], src_type)
    text = probe.raw_text("timestamp")
    first = f"SELECT {text} AS v FROM {probe.source()} WHERE {text} IS NOT NULL AND {probe.parsed()} LIMIT {SAMPLE_ROWS}"
    if src.format == "parquet":  # columnar: its time column alone is read
        spread = (f"SELECT {text} AS v FROM {probe.source()} WHERE {text} IS NOT NULL "
                  f"USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE (7)")
        return timestamps.detect_mode([r[0] for r in con.execute(f"({first}) UNION ALL ({spread})").fetchall()], "VARCHAR",
                                      modified=src.modified)
    # the random rows are drawn from the staged rows before any value is read from them: reading
    # a JSON line's time for every line costs 2.8 s of a 2M-line file's ingest
    drawn = f"{stage}_drawn"
    con.execute(f"CREATE TEMP TABLE {drawn} AS SELECT * FROM {stage} USING SAMPLE reservoir({2 * SAMPLE_ROWS} ROWS) REPEATABLE (7)")
    try:
        spread_from = LoadPlan(src, mapping, drawn, timestamps.TimeMode("iso")).source()
        spread = f"SELECT {text} AS v FROM {spread_from} WHERE {text} IS NOT NULL AND {probe.parsed()} LIMIT {SAMPLE_ROWS}"
        samples = [r[0] for r in con.execute(f"({first}) UNION ALL ({spread})").fetchall()]
    finally:
        con.execute(f"DROP TABLE {drawn}")
    return timestamps.detect_mode(samples, "VARCHAR", modified=src.modified)


def _settle_day_month(con: Connection, src: SourceFile, mapping: Mapping,
                      mode: timestamps.TimeMode) -> timestamps.TimeMode:
    """A sample whose days are all 12 or less cannot say day-first from month-first; the whole
    column can (a day over 12 anywhere settles it). Read the whole file's time column once and
    keep the layout that reads more values; when both read the same, it stays a question."""
    if not mode.ambiguous:
        return mode
    reader = formats.reader_sql(src, lenient=True)
    direct = src.format == "csv" or (src.format == "jsonl" and src.line_format not in linelogs.RECORD_FORMATS
                                           and src.schema is None)
    plan = LoadPlan(src, mapping, reader, timestamps.TimeMode("iso"), direct=direct)
    text = plan.raw_text("timestamp")
    counts = con.execute("SELECT " + ", ".join(f"count(try_strptime(trim({text}), {lit(f)}))" for f in mode.ambiguous)
                         + f" FROM {plan.source()}").fetchone()
    best = max(range(len(counts)), key=lambda i: counts[i])
    if sorted(counts)[-1] == sorted(counts)[-2]:
        return mode
    return timestamps.TimeMode("format", mode.ambiguous[best], zoned=False, detected=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


class _Hashes:
    """The SHA-256 of each file a command loads (what tells a re-sent file), computed one file after
    another by a background thread from the command's start. Started before the store is first
    opened, the hashing of the first file overlaps the single-threaded start (the store's opening,
    recognising the file) instead of taking a core from the load's two threads."""

    def __init__(self, paths: list[Path]):
        self._paths = [Path(p) for p in paths]
        self._done = [threading.Event() for _ in self._paths]
        self._digests: list[str | OSError | None] = [None] * len(self._paths)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        limit = settings.get("max_upload_mb") * 1024 * 1024
        for i, path in enumerate(self._paths):
            try:
                if path.stat().st_size <= limit:  # a file over the limit is refused unread
                    self._digests[i] = _sha256(path)
            except OSError as err:  # reported by the load, which reads the file too
                self._digests[i] = err
            finally:
                self._done[i].set()

    def of(self, i: int) -> Callable[[], str]:
        """A function that waits for file ``i``'s digest and returns it."""
        def digest() -> str:
            self._done[i].wait()
            got = self._digests[i]
            if isinstance(got, OSError):
                raise UnusableFile(f"{self._paths[i].name}: cannot be read ({got.strerror}).")
            return got
        return digest


def _set_zone(con: Connection, tz: str) -> None:
    con.execute(f"SET TimeZone = {lit(tz)}")


def plan_file(path: Path, kind: str, opts: IngestOptions, work: Path) -> tuple[SourceFile, Mapping]:
    """Recognise a file and map its columns; raise UnusableFile with the fix when it cannot load."""
    fmt = opts.time_format or ""
    if fmt and not opts.year and not any(d in fmt for d in ("%Y", "%y", "%G", "%s")):
        raise UnusableFile(f"{path.name}: --time-format {fmt!r} has no year; add --year YYYY (or %Y to the format).")
    src = formats.detect(path, work, opts.log_format)
    if kind == "exceptions" and (why := issue_list(src.columns)):
        raise UnusableFile(f"{path.name}: {why}")
    content = profiles.profile_columns(src)
    if kind == "usage" and "event" not in opts.overrides and (why := usage_report(src.columns, content)):
        raise UnusableFile(f"{path.name}: {why} (Or name the event column, --map event=COLUMN, to load it as it is.)")
    try:
        mapping = propose_mapping(kind, src.columns, opts.overrides, content, src.questions)
    except MappingError as err:
        raise UnusableFile(f"{path.name}: {err}") from None
    if mapping.problems:
        raise UnusableFile(f"{path.name}: {' '.join(mapping.problems)}")
    return src, mapping


# A usage report's count of events (or views) per row: Pendo's Data Explorer, GA4's reports
_EVENT_COUNTS = ("numberofevents", "eventcount", "eventscount", "totalevents", "numevents")


def usage_report(columns: list[str], content: dict) -> str | None:
    """Why a usage file is a report of counts per row (Pendo's Data Explorer: 'Number of Events' per
    visitor, day and page) rather than its events, or None. Loaded, each row would count as one use."""
    for col in columns:
        prof = content.get(col)
        if (norm(col) in _EVENT_COUNTS and prof and prof.whole_numbers_within(0, 10**12)
                and prof.share(prof.over_five) >= 0.2):
            return (f"is a report of counts, {col!r} events per row, not one row per event: loaded, each row "
                    f"would count as one use (and its users' activity as one event). Export the raw events "
                    f"instead (Pendo: a Data Sync or the events API; Google Analytics: the BigQuery export).")
    return None


_COUNTS = ("count", "timesseen", "events", "occurrences", "totaloccurrences", "totalevents", "eventcount")
# when an issue was first and last seen: Sentry and Bugsnag, Google's Error Reporting, Rollbar
_FIRST_SEEN = ("firstseen", "firstseentime", "firstoccurrencetimestamp")
_LAST_SEEN = ("lastseen", "lastseentime", "lastoccurrencetimestamp")


def issue_list(columns: list[str]) -> str | None:
    """Why a file is an error tracker's list of issues (one row per issue, with its count and when
    it was first and last seen: Sentry, Rollbar, Bugsnag, Crashlytics) rather than its errors, or
    None. Loaded as exceptions, each issue would count once, whatever its count."""
    names = {norm(c): c for c in columns}
    count, first, last = (next((names[n] for n in group if n in names), None)
                          for group in (_COUNTS, _FIRST_SEEN, _LAST_SEEN))
    if count and first and last:
        return (f"is a list of issues, one row per issue with its count ({count!r}) and when it was first and "
                f"last seen ({first!r}, {last!r}), not one row per error: loaded, each issue would count once. "
                f"Export the issues' events instead (Sentry: Discover, a query of events).")
    return None


# A time column named as written in UTC: 'Submit Date (UTC)', 'timestamp [UTC]', 'created_at_utc'
_NAMED_UTC = re.compile(r"(?:^|[^a-z])(?:utc|gmt)(?:[^a-z]|$)", re.IGNORECASE)


def _export_zone(src: SourceFile, mapping: Mapping, opts: IngestOptions) -> str | None:
    """The zone an export says its mapped time column is written in (a survey export's import ids,
    or the column's name: 'Submit Date (UTC)'), said in the file's notes; None when it says none or
    a zone was chosen for the file."""
    column = mapping.as_dict().get("timestamp") or ""
    if opts.time_zone or not column:
        return None
    if zone := src.zones.get(column):
        src.notes.append(f"times read in {zone}, {src.zones_said}")
        return zone
    if _NAMED_UTC.search(column):
        offset = re.search(r"(?:utc|gmt)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?", column, re.IGNORECASE)
        if offset and (offset.group(3) or "00") != "00":
            return None  # 'UTC+05:30': no zone of whole hours names it; the pilot's zone, as before
        zone = f"Etc/GMT{'-' if offset.group(1) == '+' else '+'}{int(offset.group(2))}" if offset else "UTC"
        zone = "UTC" if zone in ("Etc/GMT-0", "Etc/GMT+0") else zone  # Etc/GMT-2 is two hours ahead of UTC
        src.notes.append(f"times read in {zone}, as the column's name {column!r} says")
        return zone
    return None


def mapping_notes(mapping: Mapping) -> list[str]:
    """What a reader of the load's summary should know about the mapping: columns chosen by their
    values rather than their name, and columns named like one thing that hold another."""
    by_content = [f"{c.canonical} from {c.spec()!r}: {c.reason}" for c in mapping.columns if c.by == "content"]
    return by_content + mapping.notes


def preview(path: str | Path, kind: str, opts: IngestOptions | None = None, time_zone: str = "UTC",
            rows: int | None = None, work_root: Path | None = None) -> Preview:
    """Describe what loading ``path`` as ``kind`` would do, loading nothing.

    Returns the detected format, columns, proposed mapping with reasons, the first rows as found
    and as they would load, and the problems found in the first rows of the file.
    Raises UnusableFile when the file cannot be read at all. ``work_root``: the folder its work
    folder (decompressed and rewritten copies, samples) is made in; the app gives its upload folder,
    the one folder besides the store's where its DuckDB may read and write.
    """
    opts = opts or IngestOptions()
    rows = rows or settings.get("preview_rows")
    path = Path(path)
    work = (tempfile.TemporaryDirectory(prefix=owned_prefix("preview", work_root), dir=work_root) if work_root
            else tempfile.TemporaryDirectory(prefix="readiness-preview-"))
    with work as tmp:
        src = formats.detect(path, Path(tmp), opts.log_format)
        problems: list[str] = []
        content = profiles.profile_columns(src)
        if kind == "exceptions" and (why := issue_list(src.columns)):
            problems.append(f"This file {why}")
        if kind == "usage" and "event" not in opts.overrides and (why := usage_report(src.columns, content)):
            problems.append(f"This file {why}")
        try:
            mapping = propose_mapping(kind, src.columns, opts.overrides, content, src.questions)
        except MappingError as err:
            mapping = propose_mapping(kind, src.columns, profiles=content, questions=src.questions)
            problems.append(str(err))
        time_zone = _export_zone(src, mapping, opts) or time_zone
        problems += mapping.problems + mapping.notes
        con = store.scratch()
        try:
            _set_zone(con, time_zone)
            stage = "_preview"
            rej = _stage(con, src, stage, limit=SAMPLE_ROWS)
            shown = "*" if src.format in ("jsonl", "json") else ", ".join(
                f"{ident(src.staged(c))} AS {ident(c)}" for c in src.columns)
            cur = con.execute(f"SELECT {shown} FROM {stage} LIMIT {int(rows)}")
            names = [d[0] for d in cur.description]
            first = [dict(zip(names, r)) for r in cur.fetchall()]
            parsed: list[dict[str, Any]] = []
            rejected_rows: list[dict[str, Any]] = []
            time_examples: list[tuple[Any, Any]] = []
            line_records = _line_records(con, src, stage, 3) if src.line_format else []
            mode_text = None
            checked = rejected = informational = 0
            if not mapping.missing_required():
                mode = _time_mode(con, src, mapping, stage, opts)
                mode_text = mode.describe(time_zone)
                plan = LoadPlan(src, mapping, stage, mode, time_zone=time_zone)
                cur = con.execute(plan.select_preview(rows))
                names = [d[0] for d in cur.description]
                parsed = [dict(zip(names, r)) for r in cur.fetchall()]
                total = con.execute(plan.count_rows()).fetchone()[0]
                bad = con.execute(f"SELECT count(*), min(reason) FROM ({plan.select_rejects(0, 0)}) t(b, p, r, l, c, reason, raw)").fetchone()
                rejected_rows = _dicts(con.execute(
                    f"SELECT r AS row, l AS line, c AS column, reason, raw FROM ({plan.select_rejects(0, 0)}) "
                    f"t(b, p, r, l, c, reason, raw) ORDER BY r LIMIT {int(REJECTS_SHOWN)}"))
                time_examples = con.execute(
                    f"SELECT CAST(r_timestamp AS VARCHAR), c_timestamp FROM (SELECT {', '.join(plan.projection())} "
                    f"FROM {plan.source()} WHERE {plan.parsed()}) WHERE r_timestamp IS NOT NULL "
                    f"ORDER BY src_row LIMIT 3").fetchall()
                checked, rejected = total, bad[0]
                if bad[0]:
                    problems.append(f"{bad[0]:,} of the first {total:,} rows would be rejected, e.g. {bad[1]}.")
                if rule := opts.left_out(kind, mapping, src):
                    informational, levels, _first, _last = con.execute(_informational(plan.select_good(0, 0), rule)).fetchone()
                    if informational:
                        problems.append(
                            f"{informational:,} of the first {total:,} rows are {rule.words}"
                            f"{f' ({levels})' if kind == 'exceptions' else ''}: they are "
                            f"not {'exceptions' if kind == 'exceptions' else 'uses'} and will be left out (counted, not "
                            "loaded). To load every line, tick “Load every line, whatever its level” (or give "
                            "--all-levels).")
                zoneless = con.execute(plan.count_zoneless()).fetchone()[0]
                if zoneless:
                    problems.append(f"{zoneless:,} of the first {total:,} times have no zone: they will be read as "
                                    f"{time_zone}.")
            if rej:
                n = con.execute(f"SELECT count(DISTINCT line) FROM {rej}").fetchone()[0]
                if n:
                    problems.append(f"{n} of the first rows cannot be split into the header's columns and would be rejected.")
        except DatabaseError as err:
            raise UnusableFile(f"{path.name}: could not be read as {src.describe()}: "
                               f"{formats.duckdb_reason(err, src)}.") from None
        finally:
            con.close()
        return Preview(path.name, kind, src.describe(), src.columns, mapping, mode_text, first, parsed, problems,
                       checked, rejected, informational, rejected_rows, time_examples, line_records)


def _dicts(cur: Connection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _line_records(con: Connection, src: SourceFile, stage: str, n: int) -> list[dict[str, Any]]:
    """A line log's first ``n`` records that were read, each beside its raw text: {"line": the line
    it starts on, "raw": its line(s), "read": the fields read from it (blank ones left out)}."""
    if src.line_format == "app_log":  # a record: its header line and continuation lines
        raw = "_line || coalesce(chr(10) || array_to_string(_more, chr(10)), '')"
        rows = formats.objects_sql(src, f"(SELECT _ord, _line, _more FROM {stage})")
    else:
        raw = "_line"
        rows = formats.objects_sql(src, f"(SELECT *, rowid + 1 AS _ord FROM {stage})")
    found = con.execute(f"SELECT _ord, {raw}, _j FROM {rows} WHERE {formats.parsed_sql(src)} ORDER BY _ord "
                        f"LIMIT {int(n)}")
    return [{"line": line, "raw": text, "read": {k: v for k, v in (fields or {}).items() if v not in (None, "")}}
            for line, text, fields in found.fetchall()]


def _reader_rejects(con, src: SourceFile, rej: str | None) -> list[tuple[int, int | None, str | None, str, str]]:
    """Rows the CSV reader could not split: (row, line, column, reason, raw).

    DuckDB numbers a rejected record by records seen (blank lines included, header = 1); rows here
    skip blank lines, so the blank lines before each reject are counted from the file's bytes.
    """
    if rej is None:
        return []
    rows = con.execute(
        f"SELECT line, min(line_byte_position), min(column_name), min(error_type), min(error_message), "
        f"min(csv_line) FROM {rej} GROUP BY line ORDER BY line"
    ).fetchall()
    where = _locate(src.data_path, [r[1] for r in rows]) if src.encoding != "utf-16" else [(None, 0)] * len(rows)
    out = []
    for (line, _pos, column, etype, message, raw), (phys, blanks) in zip(rows, where, strict=True):
        reason = {"MISSING COLUMNS": "row: too few columns", "TOO MANY COLUMNS": "row: too many columns",
                  "UNQUOTED VALUE": "row: a quote is not closed properly",
                  "LINE SIZE OVER MAXIMUM": "row: longer than the 32 MB line limit",
                  "INVALID ENCODING": "row: invalid characters for the file's encoding"}.get(
            etype, f"row: {etype.lower()}")
        column = None if column is None else src.columns[int(column[1:]) - 1] if column[1:].isdigit() else column
        out.append((line - 1 - blanks, phys, column, f"{reason} ({message})", (raw or "").lstrip("\r\n")))
    return out


def _locate(path: Path, positions: list[int | None]) -> list[tuple[int | None, int]]:
    """For each byte position DuckDB gave for a rejected record: (1-based physical line, blank lines before).

    The position may point at the end of the previous line (CRLF files), so it is moved forward
    past line breaks to the record's first byte. Reads the file once, in chunks.
    """
    data_len = path.stat().st_size
    out: list[tuple[int | None, int]] = []
    with path.open("rb") as f:
        for pos in positions:
            if pos is None:
                out.append((None, 0))
                continue
            start = max(0, pos - 1)
            f.seek(start)
            while start < data_len and f.read(1) in (b"\r", b"\n"):
                start += 1
            f.seek(0)
            newlines = blanks = 0
            remaining, tail = start, b""
            while remaining > 0:
                chunk = f.read(min(4 * 1024 * 1024, remaining))
                if not chunk:
                    break
                text = tail + chunk
                newlines += chunk.count(b"\n")
                blanks += text.count(b"\n\n") + text.count(b"\n\r\n") - tail.count(b"\n\n") - tail.count(b"\n\r\n")
                tail = text[-2:]
                remaining -= len(chunk)
            out.append((newlines + 1, blanks))
    return out


def ingest_file(con: Connection, pilot: Pilot, kind: str, path: str | Path, *, actor: Actor,
                opts: IngestOptions | None = None, display_name: str | None = None) -> IngestResult:
    """Load one file as one batch, atomically. Returns counts; raises UnusableFile (nothing loaded).

    ``con`` is used for the short steps on the store (see :func:`_ingest`); the file's rows are
    read, checked and numbered apart from it."""
    return _ingest(lambda: contextlib.nullcontext(con), store.file_of(con), pilot, kind, path, actor=actor,
                   opts=opts or IngestOptions(), display_name=display_name)


@dataclass
class _Batch:
    """One file on its way to becoming a batch: what the steps before landing found and made."""
    db: Path
    pilot: Pilot              # as the file's times are read (its zone may be the file's own)
    pilot_row: tuple          # the pilot as stored (the rollup's days are in its zone)
    kind: str
    name: str
    size: int
    src: SourceFile
    mapping: Mapping
    work: Path
    started: datetime
    sha256: Callable[[], str]  # waits for the file's digest
    earlier: list[Path] = field(default_factory=list)   # --dedupe-rows: files of the pilot's earlier rows
    parts: dict[str, tuple[Path, int]] = field(default_factory=dict)  # lake table -> (its file, rows)
    modes: list[tuple] = field(default_factory=list)  # exceptions: the pilot's failure modes as staged
    new_modes: tuple[list, list] = ([], [])  # exceptions: the modes the batch adds, and templates it widens
    themes: Any = None                # feedback: the pilot's themes with the batch (analysis.feedback.Themes)
    span: tuple = (None, None)        # first and last time
    zone: str | None = None           # the zone the rollup's days were computed in


def _ingest(opened, db: Path, pilot: Pilot, kind: str, path: str | Path, *, actor: Actor, opts: IngestOptions,
            display_name: str | None, sha256: Callable[[], str] | None = None) -> IngestResult:
    """Load one file as one batch without keeping the store from anyone while its rows are read.

    ``opened()`` gives the store for a unit of work. Short steps on the store: the access check;
    then the duplicate check by size, the batch's number and (--dedupe-rows) where the earlier
    rows are. In between and after, with the store let go: the file is recognised and hashed,
    then loaded by the usual code into a scratch database with the store's schema (checks,
    numbering, rejects, the usage rollup), and the batch's rows written as Parquet files: a usage
    batch's events and rollup into the store's parts folder, where they stay; other kinds' rows
    into the work folder. Last, :func:`_land` lands the batch in one short transaction.
    A batch is visible whole or not at all: its files count only once that transaction lists them.
    """
    path = Path(path)
    name = display_name or path.name
    with opened() as con:
        require(con, actor, "ingest", pilot.pilot_id)
        pilot_row = con.execute("SELECT * FROM pilots WHERE pilot_id = ?", [pilot.pilot_id]).fetchone()
        modes = _pilot_modes(con, pilot.pilot_id) if kind == "exceptions" else []
    if opts.time_zone:  # times without a zone are read in the zone chosen for this file
        pilot = dataclasses.replace(pilot, time_zone=opts.time_zone)
    size = path.stat().st_size if path.exists() else 0
    limit = settings.get("max_upload_mb") * 1024 * 1024
    if size > limit:
        raise UnusableFile(f"{name}: {size / 1e6:.0f} MB is over the {limit // (1024 * 1024)} MB limit "
                           f"(READINESS_MAX_UPLOAD_MB).")
    with _work_dir(settings.upload_dir(db)) as tmp:
        src, mapping = plan_file(path, kind, opts, Path(tmp))
        if zone := _export_zone(src, mapping, opts):
            opts = dataclasses.replace(opts, time_zone=zone)
            pilot = dataclasses.replace(pilot, time_zone=zone)
        batch = _Batch(db, pilot, pilot_row, kind, name, size, src, mapping, Path(tmp), datetime.now(UTC),
                       sha256 or _Hashes([path]).of(0), modes=modes)  # hashing overlaps the load
        result = IngestResult(name, kind, format=src.describe(), mapping=mapping.as_dict(), notes=mapping_notes(mapping))
        with opened() as con:
            lake.remove_orphans(con, pid_alive)  # what ingests killed before landing left
            lake.sweep(con)
            same_size = con.execute(
                "SELECT count(*) FROM ingest_batches WHERE pilot_id = ? AND kind = ? AND file_size = ?",
                [pilot.pilot_id, kind, size]).fetchone()[0]
            if same_size:  # only a file of the same size can be a duplicate
                dup = _find_duplicate(con, pilot, kind, batch.sha256())
                if dup is not None:
                    return IngestResult(name, kind, duplicate=True, duplicate_of=dup, format=src.describe())
            with transaction(con):  # the number is the batch's from now on; a batch that never lands leaves a gap
                result.batch_id = store.next_id(con, "batch_id_seq")
            if opts.dedupe_rows or kind == "feedback":  # a feedback batch's themes are the pilot's
                batch.earlier = _earlier_rows(con, batch)
        landed = False
        try:
            result = _stage_batch(batch, result, opts)
            _land(opened, batch, result, actor, opts)
            landed = True
        except _Duplicate as d:  # loaded by another process meanwhile
            return IngestResult(name, kind, duplicate=True, duplicate_of=d.batch_id, format=src.describe())
        except DatabaseError as err:  # rolled back; say what DuckDB could not do with this file
            raise UnusableFile(f"{name}: could not be loaded ({formats.duckdb_reason(err, src, name)}). Nothing was "
                               "loaded.") from None
        finally:
            if not landed:  # a batch that did not land leaves no file behind
                for part, _rows in batch.parts.values():
                    part.unlink(missing_ok=True)
        return result


def _earlier_rows(con: Connection, batch: _Batch) -> list[Path]:
    """Where --dedupe-rows, and a feedback batch's themes, find the pilot's earlier rows of the
    batch's kind, read later with the store let go: the listed files as they are, and the rows of
    local tables copied to a file in the work folder (rows loaded before the lake held them; on
    the organisation deployment every earlier row, its lake's included)."""
    table, pid = TABLES[batch.kind], int(batch.pilot.pilot_id)
    found = lake.files(con, table, pid) if table in lake.LAKE_TABLES else []
    source = table if organisation(con) else lake.local(table)
    if con.execute(f"SELECT count(*) FROM {source} WHERE pilot_id = ?", [pid]).fetchone()[0]:
        copy = batch.work / "earlier.parquet"
        con.execute(f"COPY (SELECT * FROM {source} WHERE pilot_id = {pid}) TO {lit(str(copy))} "
                    f"{lake.PARQUET}")
        found.append(copy)
    return found


def _scratch(batch: _Batch) -> Connection:
    """An in-memory database with the store's schema and the batch's pilot, where its rows are read."""
    con = store.scratch(schema=True, spill=batch.work / "spill")  # spills stay in the work folder
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"INSERT INTO pilots VALUES ({', '.join('?' * len(batch.pilot_row))})", list(batch.pilot_row))
        if batch.earlier:
            con.execute("CREATE TEMP VIEW _earlier AS SELECT * FROM read_parquet("
                        f"[{', '.join(lit(str(p)) for p in batch.earlier)}], union_by_name = true)")
        _set_zone(con, batch.pilot.time_zone)
    except BaseException:
        con.close()
        raise
    return con


def _stage_batch(batch: _Batch, result: IngestResult, opts: IngestOptions) -> IngestResult:
    """Read, check and number the file's rows in a scratch database, with the usage rollup of a
    usage batch, and write them as the batch's Parquet files; fills ``batch`` and the counts."""
    pilot, kind, src, mapping, name = batch.pilot, batch.kind, batch.src, batch.mapping, batch.name
    stage = f"_src_{uuid.uuid4().hex[:12]}"
    con = _scratch(batch)
    earlier = "_earlier" if batch.earlier else None
    try:
        if _one_pass(con, src, opts):
            try:
                mode = _sampled_time_mode(con, src, mapping, stage, opts)
                result.time_note = mode.describe(pilot.time_zone)
                batch.span = _load_direct(con, pilot, kind, src, mapping, mode, stage, result, opts)
                return _staged(con, batch, result)
            except DatabaseError:  # read it again the careful way, in a new scratch, which retries a
                # late CR line ending and words what DuckDB could not read
                batch_id = result.batch_id
                result = IngestResult(name, kind, format=src.describe(), mapping=mapping.as_dict(),
                                      notes=mapping_notes(mapping), batch_id=batch_id)
                con.close()
                con = _scratch(batch)
        plan, reader_rejects, staged_rows = _prepare(con, src, mapping, stage, opts, pilot, result)
        batch.span = _load(con, pilot, kind, plan, reader_rejects, staged_rows, opts, result, earlier)
        return _staged(con, batch, result)
    except DatabaseError as err:  # nothing landed; say what DuckDB could not do with this file
        raise UnusableFile(f"{name}: could not be loaded ({formats.duckdb_reason(err, src, name)}). Nothing was loaded; "
                           f"try `python -m readiness preview` on it to see the mapping and first rows.") from None
    finally:
        con.close()


def _staged(con: Connection, batch: _Batch, result: IngestResult) -> IngestResult:
    """Write the scratch's batch out as files in the parts folder (they stay there once the batch
    lands): its rows with their per-row evidence (a usage batch's rollup, comments' sentiment and
    triage, exceptions' failure modes), and its rejects."""
    result.notes += _reject_notes(con, result)
    pid, bid = batch.pilot.pilot_id, result.batch_id
    if batch.kind == "usage":
        derive_evidence(con, pid, "usage", bid)
        batch.zone = con.execute("SELECT time_zone FROM pilots").fetchone()[0]
    elif batch.kind == "feedback":
        from analysis.feedback import annotate_feedback, compute_themes  # loads pandas: imported when used

        annotate_feedback(con, pid, bid)
        batch.themes = compute_themes(con, pid, _comments("_earlier", "feedback") if batch.earlier else "feedback")
    else:
        batch.new_modes = _modes_in_scratch(con, pid, bid, batch.modes)
    # a batch file's rows carry their src_row: no reader depends on the order within a file, and
    # DuckDB writes unordered Parquet a quarter faster (10M events: 1.9 s against 2.8 s)
    con.execute("SET preserve_insertion_order = false")
    for table in lake.LAKE_TABLES:
        rows = con.execute(f"SELECT count(*) FROM {lake.local(table)}").fetchone()[0]
        if rows:
            part = lake.new_part(batch.db, table)
            batch.parts[table] = (part, rows)  # listed before it is written: removed if the batch fails
            con.execute(f"COPY {lake.local(table)} TO {lit(str(part))} {lake.PARQUET}")
    return result


def _modes_in_scratch(con: Connection, pilot_id: int, batch_id: int, modes: list[tuple]) -> tuple[list, list]:
    """Assign the failure modes of the batch's exceptions in a scratch that holds them, against the
    pilot's ``modes`` as the store had them (rows of failure_modes). Returns the modes the batch
    adds (rows of failure_modes) and the (mode, template) of the ones it widens."""
    from analysis.failure_modes import assign_failure_modes  # loads pandas: imported when used

    con.execute("DELETE FROM failure_modes")
    if modes:
        con.executemany(f"INSERT INTO failure_modes ({_MODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", modes)
    assign_failure_modes(con, pilot_id, batch_id)
    before = {m[1]: m[4] for m in modes}  # mode id -> template
    now = _pilot_modes(con, pilot_id)
    new = [m for m in now if m[1] not in before]
    widened = [(m[1], m[4]) for m in now if m[1] in before and m[4] != before[m[1]]]
    return new, widened


_MODE_COLUMNS = "pilot_id, mode_id, fingerprint, error_type, template, frames, created_at"


def _pilot_modes(con: Connection, pilot_id: int) -> list[tuple]:
    """The pilot's failure modes (rows of failure_modes), as an exceptions batch is assigned against them."""
    return con.execute(f"SELECT {_MODE_COLUMNS} FROM failure_modes WHERE pilot_id = ? ORDER BY mode_id",
                       [pilot_id]).fetchall()


def _land_modes(con: Connection, batch: _Batch, bid: int) -> None:
    """Add the failure modes an exceptions batch adds, and the templates it widens, in its
    transaction. When the pilot's modes changed since the batch was staged (another exceptions
    batch of the pilot landed meanwhile), the batch is assigned again here against the modes as
    they are, and its file written anew: a mode id means one mode, whichever batch made it."""
    if "exceptions" not in batch.parts:  # every line was left out or rejected: nothing to group
        return
    pid = batch.pilot.pilot_id
    now = _pilot_modes(con, pid)
    if [(m[1], m[2], m[4]) for m in now] != [(m[1], m[2], m[4]) for m in batch.modes]:
        _reassign(con, batch, bid, now)
    new, widened = batch.new_modes
    if new:
        con.executemany(f"INSERT INTO failure_modes ({_MODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", new)
    if widened:
        con.executemany("UPDATE failure_modes SET template = ? WHERE pilot_id = ? AND mode_id = ?",
                        [[template, pid, mode] for mode, template in widened])


def _land_themes(con: Connection, batch: _Batch, bid: int) -> None:
    """Store the pilot's themes computed with a feedback batch's comments before it landed, or,
    when the pilot's feedback batches changed since (one landed or was deleted meanwhile),
    compute them again here from the pilot's comments and the batch's file. (The organisation's
    transaction reads the lake as its turn began: not the batch's own rows, committed in it.)"""
    from analysis.feedback import compute_themes, store_themes  # loads pandas: imported when used

    pid = batch.pilot.pilot_id
    before = [r[0] for r in con.execute("SELECT batch_id FROM ingest_batches WHERE pilot_id = ? AND kind = 'feedback' "
                                        "AND rows_loaded > 0", [pid]).fetchall()]
    themes = batch.themes
    if themes is None or sorted([*before, bid]) != themes.batches:
        own = batch.parts.get("feedback")  # none when every row was a duplicate
        themes = compute_themes(con, pid, _comments(f"(SELECT * FROM feedback WHERE batch_id <> {int(bid)})",
                                                    f"read_parquet({lit(str(own[0]))})") if own else "feedback")
    store_themes(con, pid, themes)


def _comments(*sources: str) -> str:
    """A subquery of the comments in ``sources`` (tables or table expressions with feedback's
    columns), with the columns the pilot's themes are computed from."""
    cols = "pilot_id, batch_id, src_row, comment, sentiment, rating"
    return "(" + " UNION ALL ".join(f"SELECT {cols} FROM {src}" for src in sources) + ")"


def _reassign(con: Connection, batch: _Batch, bid: int, modes: list[tuple]) -> None:
    """Assign the failure modes of an exceptions batch's file again, against ``modes``, into a new
    file that takes its place (what was written into the lake ahead is dropped: the batch's files
    are appended in its turn)."""
    part, rows = batch.parts["exceptions"]
    fresh = lake.new_part(batch.db, "exceptions")
    scratch = store.scratch(schema=True, spill=batch.work / "spill")
    try:
        scratch.execute(f"INSERT INTO {lake.local('exceptions')} BY NAME SELECT * FROM read_parquet(?)", [str(part)])
        batch.new_modes = _modes_in_scratch(scratch, batch.pilot.pilot_id, bid, modes)
        scratch.execute("SET preserve_insertion_order = false")
        scratch.execute(f"COPY {lake.local('exceptions')} TO {lit(str(fresh))} {lake.PARQUET}")
    except BaseException:
        fresh.unlink(missing_ok=True)
        raise
    finally:
        scratch.close()
    batch.parts["exceptions"] = (fresh, rows)
    part.unlink(missing_ok=True)
    lake.drop_ahead(con)


def _land(opened, batch: _Batch, result: IngestResult, actor: Actor, opts: IngestOptions) -> None:
    """The short step: in one transaction, check the file was not loaded meanwhile (raises
    _Duplicate, rolled back), list the batch's files (on the organisation deployment their rows
    were written into the lake ahead of it, :func:`lake.ahead`) with what they change in the
    pilot's evidence (failure modes, themes, the usage rollup), the batch record and its audit entry."""
    pilot, kind, src, mapping = batch.pilot, batch.kind, batch.src, batch.mapping
    pid, bid = pilot.pilot_id, result.batch_id
    sha = batch.sha256()
    with opened() as con, lake.ahead(con, batch.parts), transaction(con):
        require(con, actor, "ingest", pid)
        dup = _find_duplicate(con, pilot, kind, sha)  # loaded by another process meanwhile
        if dup is not None:
            raise _Duplicate(dup)
        if kind == "usage":
            _list_usage_files(con, batch, bid)
        else:
            if kind == "exceptions":
                _land_modes(con, batch, bid)
            for table, (part, rows) in batch.parts.items():
                lake.register(con, table, bid, pid, part, rows)
            lake.recreate_views(con)
            if kind == "feedback":
                _land_themes(con, batch, bid)
        con.execute(
            "INSERT INTO ingest_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?)",
            [bid, pid, kind, batch.name, batch.size, sha, src.describe(),
             json.dumps({"mapping": result.mapping, "time": result.time_note, "columns": src.columns,
                         "time_format": opts.time_format, "year": opts.year, "time_zone": opts.time_zone,
                         "dedupe_rows": opts.dedupe_rows, "kept_in_attributes": mapping.unmapped,
                         "all_levels": opts.all_levels, "skipped_levels": result.skipped_levels}),
             actor.name, batch.started, result.rows_read, result.rows_loaded, result.rows_rejected,
             result.rows_duplicate, result.zoneless_rows, *batch.span, result.rows_skipped])
        audit.record(con, actor, "ingest", f"batch:{bid}", {
            "pilot": pilot.name, "kind": kind, "file": batch.name, "sha256": sha,
            "rows_read": result.rows_read, "rows_loaded": result.rows_loaded,
            "rows_rejected": result.rows_rejected, "rows_duplicate": result.rows_duplicate,
            "rows_skipped": result.rows_skipped})


def _list_usage_files(con: Connection, batch: _Batch, bid: int) -> None:
    """List a usage batch's files. Its rollup joins the pilot's when it was computed in the zone
    the pilot's rollup is built in; else the pilot's rollup is rebuilt here (rare: the zone was
    changed while the file loaded)."""
    from analysis.usage_rollup import (  # loads pandas: imported when used, so the command line starts without it
        ROLLUP_TABLES,
        rebuild_usage_rollup,
        staged_rollup_fits,
    )

    pid = batch.pilot.pilot_id
    fits = staged_rollup_fits(con, pid, batch.zone)
    for table, (part, rows) in batch.parts.items():
        if table not in ROLLUP_TABLES or fits:  # the events and the rejects, the rollup if it fits
            lake.register(con, table, bid, pid, part, rows)
    lake.recreate_views(con)
    if not fits:  # from the batch's file: the organisation's transaction reads the lake as its turn began
        events, _rows = batch.parts["usage_events"]
        rebuild_usage_rollup(con, pid, f"(SELECT * FROM usage_events WHERE batch_id <> {int(bid)} "
                                       f"UNION ALL BY NAME SELECT * FROM read_parquet({lit(str(events))}))")
        unused = [part for table, (part, _rows) in batch.parts.items() if table in ROLLUP_TABLES]
        after_commit(con, lambda: [p.unlink(missing_ok=True) for p in unused])


def _work_dir(folder: Path) -> tempfile.TemporaryDirectory:
    """A private work folder for one ingest (decompressed copies), named after this host and process.

    Folders left by ingests whose process was killed (SIGKILL, the OOM killer) are removed first:
    a killed ingest's transaction never commits, but its work folder, up to
    ``max_decompressed_mb``, would stay behind. Only folders of this host whose process is gone.
    """
    return tempfile.TemporaryDirectory(prefix=owned_prefix("ingest", folder), dir=folder)


def owned_prefix(kind: str, folder: Path) -> str:
    """``kind-host-pid-``: a name prefix for this process's files in ``folder``. What processes of
    this host that are gone left there under ``kind`` is removed first."""
    host = socket.gethostname().replace("-", "_")
    for old in folder.glob(f"{kind}-{host}-*-*"):
        pid = old.name.removeprefix(f"{kind}-{host}-").split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
    return f"{kind}-{host}-{os.getpid()}-"


def derive_evidence(con: Connection, pilot_id: int, kind: str, batch_id: int | None) -> None:
    """What a batch changes in the pilot's evidence beyond its own rows: a usage batch's rollup
    (computed in the ingest's scratch); the pilot's feedback themes (when its feedback changes, in
    the batch's transaction). ``batch_id`` None means a batch was deleted: only the per-pilot
    results are recomputed (and the deleted batch's usage aggregates dropped). An exception's
    failure mode and a comment's sentiment and triage are its own, computed before it is written
    out (:func:`_staged`)."""
    if kind == "usage":
        from analysis.usage_rollup import (
            update_usage_rollup,  # loads pandas: imported when used, so the command line starts without it
        )

        update_usage_rollup(con, pilot_id, batch_id)
    elif kind == "feedback":
        from analysis.feedback import recompute_themes  # loads pandas: imported when used

        recompute_themes(con, pilot_id)


def shown_error(err: UnusableFile, path: str | Path, name: str) -> str:
    """The message of ``err`` about the file at ``path`` as its user knows it (``name``), without the
    leading name: an upload's generated name never shows."""
    return str(err).replace(Path(path).name, name).removeprefix(f"{name}: ")


class _Duplicate(Exception):
    def __init__(self, batch_id: int):
        self.batch_id = batch_id


def _find_duplicate(con, pilot: Pilot, kind: str, sha: str) -> int | None:
    row = con.execute("SELECT batch_id FROM ingest_batches WHERE pilot_id = ? AND kind = ? AND sha256 = ?",
                      [pilot.pilot_id, kind, sha]).fetchone()
    return row[0] if row else None


def _prepare(con, src: SourceFile, mapping: Mapping, stage: str, opts: IngestOptions, pilot: Pilot,
             result: IngestResult) -> tuple[LoadPlan, list, int]:
    """Copy the file into a temp table (Parquet: read in place, its rows carry their number), collect
    the reader's rejects and choose how to read times."""
    if src.format == "parquet":
        _stage(con, src, stage, limit=1)  # a damaged file is refused here, with the usual words
        con.execute(f"DROP TABLE {stage}")
        stage = formats.parquet_reader_sql(src)
        rej = None
    else:
        rej = _stage(con, src, stage)
    reader_rejects = _reader_rejects(con, src, rej)
    gaps = None
    if reader_rejects:
        gaps = f"{stage}_gaps"
        con.execute(f"CREATE TEMP TABLE {gaps} (g BIGINT)")
        con.executemany(f"INSERT INTO {gaps} VALUES (?)",
                        [[row - i] for i, (row, *_rest) in enumerate(reader_rejects, start=1)])
    mode = _time_mode(con, src, mapping, stage, opts)
    result.time_note = mode.describe(pilot.time_zone)
    plan = LoadPlan(src, mapping, stage, mode, gaps, pilot.time_zone)
    plan.parse_records(con, f"{stage}_parsed")
    rows, zoneless = con.execute(plan.count_rows()).fetchone()
    result.zoneless_rows = zoneless  # of all rows; recounted below if some rows do not load
    return plan, reader_rejects, rows


def _load(con, pilot: Pilot, kind: str, plan: LoadPlan, reader_rejects: list, staged_rows: int,
          opts: IngestOptions, result: IngestResult, earlier: str | None = None):
    """Insert the staged good rows and the rejects for ``result.batch_id``; fill counts. Returns (first, last) time.
    --dedupe-rows compares with the pilot's rows in ``earlier`` (a table or view), else in the table itself."""
    table = TABLES[kind]
    select = plan.select_good(pilot.pilot_id, result.batch_id)
    span = None
    if rule := opts.left_out(kind, plan.mapping, plan.src):  # counted, not loaded
        result.rows_skipped, result.skipped_levels, *span = con.execute(_informational(select, rule)).fetchone()
        select = f"SELECT * FROM ({select}) WHERE NOT {rule.where}"
    cols = _target_columns(kind)
    if opts.dedupe_rows:  # skip rows identical to rows of earlier batches (cumulative exports)
        same = " AND ".join(f"t.{c} IS NOT DISTINCT FROM n.{c}" for c in cols if c not in ("pilot_id", "batch_id", "src_row", "attributes"))
        same += " AND CAST(t.attributes AS VARCHAR) IS NOT DISTINCT FROM CAST(n.attributes AS VARCHAR)"
        select = (f"SELECT * FROM ({select}) n WHERE NOT EXISTS "
                  f"(SELECT 1 FROM {earlier or table} t WHERE t.pilot_id = {pilot.pilot_id} AND {same})")
    result.rows_loaded = con.execute(f"INSERT INTO {lake.local(table)} ({', '.join(cols)}) {select}").fetchone()[0]
    invalid = 0
    if opts.dedupe_rows or result.rows_loaded < staged_rows:
        invalid = con.execute(f"INSERT INTO {lake.local('ingest_rejects')} "
                              f"{plan.select_rejects(pilot.pilot_id, result.batch_id)}").fetchone()[0]
    _insert_reader_rejects(con, pilot, reader_rejects, result)
    result.rows_rejected = invalid + len(reader_rejects)
    result.rows_read = staged_rows + len(reader_rejects)
    result.rows_duplicate = staged_rows - invalid - result.rows_loaded - result.rows_skipped
    _check_loaded(con, plan, result)
    if plan.mode.zoned is False:
        result.zoneless_rows = result.rows_loaded
    elif plan.mode.zoned is None and result.rows_loaded < staged_rows:
        result.zoneless_rows = con.execute(plan.count_zoneless()).fetchone()[0]
    loaded = con.execute(f"SELECT min(ts), max(ts) FROM {table} WHERE batch_id = ?", [result.batch_id]).fetchone()
    return tuple(span) if span and span[0] is not None else loaded


def _reject_notes(con, result: IngestResult) -> list[str]:
    """Why rows were rejected, by source column, most first (at most three): the check that fired
    and the column to look at, e.g. "12 rows rejected in 'Stars': rating: 7.0 is outside 1-5"."""
    if not result.rows_rejected:
        return []
    rows = con.execute(
        "SELECT column_name, count(*) AS n, min(reason) FROM ingest_rejects WHERE batch_id = ? "
        "GROUP BY column_name ORDER BY n DESC, column_name LIMIT 3", [result.batch_id]).fetchall()
    return [f"{n:,} row{'s' * (n != 1)} rejected" + (f" in {col!r}" if col else "") + f", e.g. {why}"
            for col, n, why in rows]


def _informational(select: str, rule: LeftOut) -> str:
    """SELECT (rows left out, what they were, first time, last time) of ``select``'s rows: the
    times span every row, those left out included (the period the log covers)."""
    return (f"SELECT count(*) FILTER (WHERE {rule.where}), {rule.label} FILTER (WHERE {rule.where}), min(ts), max(ts) "
            f"FROM ({select})")


def _target_columns(kind: str) -> list[str]:
    return ["pilot_id", "batch_id", "src_row", *(target_column(c) for c in canonical_columns(kind)), "attributes"]


def _insert_reader_rejects(con, pilot: Pilot, reader_rejects: list, result: IngestResult) -> None:
    if reader_rejects:
        con.executemany(f"INSERT INTO {lake.local('ingest_rejects')} VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [[result.batch_id, pilot.pilot_id, row, line if line != row + 1 else None, col, why, raw]
                         for row, line, col, why, raw in reader_rejects])


def _check_loaded(con, plan: LoadPlan, result: IngestResult) -> None:
    """Raise UnusableFile (the transaction rolls back) when the file had no rows or none loaded."""
    if result.rows_read == 0:
        raise UnusableFile(f"{result.file}: has a header but no rows; nothing to load.")
    if result.rows_loaded == 0 and result.rows_duplicate == 0 and result.rows_skipped == 0:
        examples = con.execute(
            "SELECT reason, count(*) AS n FROM ingest_rejects WHERE batch_id = ? GROUP BY reason "
            "ORDER BY n DESC LIMIT 3", [result.batch_id]).fetchall()
        why = "; ".join(f"{n:,} x {r}" for r, n in examples) or "no rows found"
        raise UnusableFile(f"{result.file}: every row was rejected ({why}). Nothing was loaded. "
                           f"Columns found: {', '.join(plan.src.columns)}; mapping used: "
                           + ", ".join(f"{k}={v}" for k, v in result.mapping.items()) + ".")


# --- one pass: a CSV or JSON Lines file read straight into its table, without a staged copy ---

def _one_pass(con, src: SourceFile, opts: IngestOptions) -> bool:
    """Whether ``src`` loads in one pass (:func:`_load_direct`): a CSV or JSON Lines file in an
    encoding whose line breaks are single bytes (the time sample cuts at them), without
    --dedupe-rows (which compares whole rows with earlier batches as they load), and rows kept in
    the order they are read."""
    return (src.format in ("csv", "jsonl") and src.line_format not in linelogs.RECORD_FORMATS and not src.schema and src.encoding != "utf-16"
            and not opts.dedupe_rows
            and con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0] is True)


def _sampled_time_mode(con, src: SourceFile, mapping: Mapping, stage: str, opts: IngestOptions) -> timestamps.TimeMode:
    """How to read the time column, judged on the file's head and lines spread over it."""
    sample = f"{stage}_sample"
    path = formats.spread_sample(src)
    reader = (formats.csv_reader_sql(src, path=path, lenient=True) if src.format == "csv"
              else formats.json_lines_reader_sql(src, path=path))
    con.execute(f"CREATE TEMP TABLE {sample} AS SELECT * FROM {reader}")
    return _time_mode(con, src, mapping, sample, opts)


def _load_direct(con, pilot: Pilot, kind: str, src: SourceFile, mapping: Mapping, mode: timestamps.TimeMode,
                 stage: str, result: IngestResult, opts: IngestOptions):
    """Read every record of the file in one pass into a temp table, in the file's order, then copy
    the ones that pass the checks, numbered, into the pilot's table, and the others to the rejects.
    Returns (first, last) time; fills ``result``'s counts.

    Row numbers: DuckDB keeps insertion order, so a record's position is its row id in the temp
    table less the table's first; the rows the reader could not split shift the positions after
    them (as in the staged path). Rows that fail a check carry the batch's negated id and their
    reject as JSON (:meth:`LoadPlan.select_direct`). Rows are numbered in the copy, not inserted
    straight into the pilot's table and numbered with an UPDATE: DuckDB writes an updated column
    again at commit and at the next checkpoint, so the copy costs less overall (5M rows, 6 paired
    rounds: 0.2 s less to load, 0.7 s less with the store's close; medians of the paired
    differences). The temp table holds the file's rows until the commit (about 340 MB
    per 5M rows; DuckDB spills it next to the store under a tighter memory limit).
    """
    table, bid = TABLES[kind], result.batch_id
    rej = f"{stage}_rej" if src.format == "csv" else None
    reader = formats.csv_reader_sql(src, rejects=rej) if rej else formats.json_lines_reader_sql(src)
    plan = LoadPlan(src, mapping, reader, mode, time_zone=pilot.time_zone, direct=True)
    rows = f"{stage}_rows"
    rule = opts.left_out(kind, mapping, src)
    select = plan.select_direct(pilot.pilot_id, bid)
    info = "false"
    if rule:  # judged once, as the rows are read: the counts, the rollup and the files below all ask
        select, info = f"SELECT *, {rule.where} AS _left_out FROM ({select})", "_left_out"
    con.execute(f"CREATE TABLE {rows} AS {select}")
    reader_rejects = _reader_rejects(con, src, rej)
    loads = f"batch_id = $1 AND NOT {info}"  # rows left out pass the checks but are counted, not loaded
    skipped_levels = f"{rule.label} FILTER (WHERE batch_id = $1 AND {info})" if rule else "NULL"
    base, good, zoneless, first_ts, last_ts, blank, total, skipped, levels = con.execute(
        f"SELECT min(rowid), count(*) FILTER (WHERE {loads}), count(*) FILTER (WHERE {loads} AND zoneless), "
        f"min(ts) FILTER (WHERE batch_id = $1), max(ts) FILTER (WHERE batch_id = $1), "  # the period the log covers
        f"count(*) FILTER (WHERE batch_id = -$1 AND attributes IS NULL), count(*), "
        f"count(*) FILTER (WHERE batch_id = $1 AND {info}), {skipped_levels} FROM {rows}", [bid]).fetchone()
    position = f"({rows}.rowid - {int(base or 0)} + 1)"
    number = position
    if reader_rejects:
        gaps = f"{stage}_gaps"  # a record at position k follows every reader reject with fewer than k records before it
        con.execute(f"CREATE TEMP TABLE {gaps} AS SELECT unnest(?::BIGINT[]) AS g",
                    [[row - i for i, (row, *_rest) in enumerate(reader_rejects, start=1)]])
        number = f"{position} + (SELECT count(*) FROM {gaps} WHERE g < {position})"
    cols = _target_columns(kind)
    if good and table in lake.USAGE_TABLES:
        # in the ingest's scratch, a usage batch is read where it is until it is written out
        # as Parquet: a view in place of the empty local table, rather than a second copy of the rows
        # each column typed as the table has it (a column the file lacks is an untyped NULL here)
        types = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                                 "AND NOT internal", [lake.local(table)]).fetchall())
        shown = ", ".join(f"CAST({number if c == 'src_row' else c} AS {types[c]}) AS {c}" for c in cols)
        con.execute(f"DROP TABLE {lake.local(table)}")
        keep = "" if good == total else f" WHERE {loads.replace('$1', str(int(bid)))}"  # every row loads: no filter to run
        con.execute(f"CREATE VIEW {lake.local(table)} AS SELECT {shown} FROM {rows}{keep}")
    elif good:
        shown = ", ".join(number if c == "src_row" else c for c in cols)
        con.execute(f"INSERT INTO {lake.local(table)} ({', '.join(cols)}) SELECT {shown} FROM {rows} WHERE {loads}", [bid])
    failed = total - good - blank - skipped
    if failed:
        line = number if src.format == "jsonl" else "NULL"  # a JSON Lines row is its line
        con.execute(f"INSERT INTO {lake.local('ingest_rejects')} SELECT $1, pilot_id, {number}, {line}, attributes->>'column', "
                    f"attributes->>'reason', attributes->>'raw' FROM {rows} WHERE batch_id = -$1 "
                    f"AND attributes IS NOT NULL", [bid])
    _insert_reader_rejects(con, pilot, reader_rejects, result)
    result.rows_loaded, result.rows_skipped, result.skipped_levels = good, skipped, levels
    result.rows_rejected = failed + len(reader_rejects)
    result.rows_read = good + skipped + failed + len(reader_rejects)
    _check_loaded(con, plan, result)
    result.zoneless_rows = good if mode.zoned is False else zoneless if mode.zoned is None else 0
    return first_ts, last_ts


def ingest_files(db: str | Path | None, pilot_name: str, kind: str, paths: list[str | Path], *, actor: Actor,
                 opts: IngestOptions | None = None, create: bool = False,
                 display_names: list[str] | None = None) -> list[IngestResult]:
    """Load each file as its own atomic batch into pilot ``pilot_name``; unusable files are reported, not raised.

    The store is opened for short steps only (:func:`_ingest`): pages keep answering while a file loads.
    Raises PilotNotFound (unless ``create``), AccessDenied, StoreBusy when the store stays locked.
    """
    if kind not in TABLES:
        raise MappingError(f"Unknown kind {kind!r}: use one of {', '.join(TABLES)}.")
    db = settings.db_path(db).resolve()
    results: list[IngestResult] = []
    hashes = _Hashes([Path(p) for p in paths])
    with store.open_store(db) as con:
        try:
            pilot = pilots.pilot_for(con, actor, pilot_name)
        except catalog.PilotNotFound:
            if not create:
                raise
            with store.transaction(con):
                pilot = pilots.create_pilot(con, pilot_name, actor)
    for i, path in enumerate(paths):
        name = display_names[i] if display_names else Path(path).name
        try:
            results.append(_ingest(lambda: store.open_store(db), db, pilot, kind, path, actor=actor,
                                   opts=opts or IngestOptions(), display_name=name, sha256=hashes.of(i)))
        except UnusableFile as err:
            results.append(IngestResult(name, kind, error=shown_error(err, path, name)))
    return results
