"""The SQL that turns one file (read in one pass, or staged) into canonical rows, reasons for rejected
rows and provenance.

Speed matters here (a load should cost little more than DuckDB reading the file), so the insert
computes each value once in an inner projection and filters on the aliases; the CASE that
words a reason runs only over the rows that fail.
"""

from __future__ import annotations

import json

from readiness.ingest import formats, linelogs, timestamps
from readiness.ingest.columns import (
    CLEF_DEFAULT_LEVEL,
    CLEF_KEYS,
    GOOD_BAD,
    NUMERIC,
    RATING_LABELS,
    SCHEMA,
    UNANSWERED,
    Mapping,
    canonical_columns,
    duration_factor,
    is_clef,
    norm,
)
from readiness.ingest.formats import SourceFile
from readiness.store import ident
from readiness.store import literal as lit

# Levels that mark a log line as information, not a problem. An exception log that is an
# application's whole log (Loghub's HDFS: 1,920 INFO lines of 2,000) would otherwise count every
# line as an exception. Lines without a level, or with any other (WARN, ERROR, 'combo'), load.
# Written as words, as the short forms of Serilog, zap, .NET's console logger and logcat, as
# PostgreSQL's LOG, MySQL's Note and loguru's SUCCESS, and as pino's and bunyan's numbers (10-30).
INFORMATIONAL_LEVELS = ("TRACE", "DEBUG", "FINEST", "FINER", "FINE", "CONFIG", "VERBOSE", "INFO",
                        "INFORMATION", "INFORMATIONAL", "NOTICE", "NOTE", "LOG", "SUCCESS",
                        "TRC", "TRCE", "DBG", "DBUG", "INF", "VRB", "T", "D", "I", "V", "10", "20", "30",
                        # Windows' event levels in German, French, Spanish, Italian, Dutch
                        "INFORMATIONEN", "AUSFÜHRLICH", "DÉTAILLÉ", "INFORMACIÓN", "DETALLADO", "INFORMAZIONI",
                        "DETTAGLIATO", "INFORMATIE", "UITGEBREID")


# Levels written as numbers on a scale the column's name tells (compared as in columns.norm):
# syslog's priorities (journald's PRIORITY and GELF's level, 0 emerg ... 7 debug) and Application Insights'
# severityLevel (0 verbose ... 4 critical); loaded as the scale's words.
NUMBERED_LEVELS = {
    ("priority", "syslogpriority", "syslogseverity", "level"):
        ("EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG"),
    ("severitylevel",): ("VERBOSE", "INFORMATION", "WARNING", "ERROR", "CRITICAL"),
}
# ... each only beside columns its tool writes (a ticket's 'Priority' 1-5 is no syslog priority)
NUMBERED_BESIDE = {"priority": ("realtimetimestamp", "syslogidentifier", "systemdunit", "message"),
                   # GELF (Graylog): its 'level' is syslog's; pino's and bunyan's 10-60 are not
                   "level": ("shortmessage", "fullmessage", "version", "source", "host", "facility"),
                   "severitylevel": ("itemtype", "problemid", "operationid", "innermosttype", "outertype")}


# ... and one of these at least: GELF's own message columns (.NET's 0-5 beside 'host' is no syslog)
NUMBERED_NEEDS = {"level": ("shortmessage", "fullmessage")}


# An export with no level column whose messages are whole log lines (Splunk's _raw, CloudWatch's
# @message, a Lambda's '[ERROR]\t<time>\t<request id>\t...'): the level is a level word in capitals
# first or after up to four words holding digits or brackets (times, ids, '[main]'), or logfmt's
# level=...; AWS Lambda's own START, END and REPORT lines are information.
LEVEL_IN_TEXT = (r"^(?:(?:\S*[\d\[\]]\S*\s+){1,4}?\[?(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|"
                 r"SEVERE)\]?(?:[\s:\]]|$)|\[?(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|SEVERE)"
                 r"(?:\]|:\S|\t)|(?:\w+=\S+\s+)*level=\"?([A-Za-z]+))")
LAMBDA_PLATFORM = r"^(START|END|REPORT) RequestId: "


def level_in_message(mapping: Mapping, src: SourceFile) -> bool:
    """An exception export without a level column whose level is read from its messages' text."""
    return (mapping.kind == "exceptions" and mapping.get("level") is None and mapping.get("message") is not None
            and mapping.get("error_type") is None and mapping.get("stack_trace") is None and src.line_format is None)


def informational_sql(column: str = "level") -> str:
    """SQL: the row's level names it an information line (false when blank)."""
    return (f"coalesce(upper(trim({column})) IN ({', '.join(lit(v) for v in INFORMATIONAL_LEVELS)}), false)")


# A crash's own words at the head of a record's continuation: a program that died after an information
# line (Go's panic, Python's uncaught traceback or Django's 'Internal Server Error' on stderr, a JVM's
# uncaught exception) printed it there, untimed; the record is an exception whatever its level says.
# A bare Python traceback is one only under an INFO or NOTICE line: under a DEBUG or TRACE line it is
# logging's exc_info of a handled error (botocore's retries)
CRASH_START = (r"^\s*(panic: |fatal error: |Exception in thread |Unhandled [Ee]xception|Internal Server Error|"
               r"Fatal Python error)")
PYTHON_CRASH = r"^\s*Traceback \(most recent call last\):"
DEBUG_LEVELS = ("TRACE", "DEBUG", "FINEST", "FINER", "FINE", "VERBOSE", "TRC", "TRCE", "DBG", "DBUG", "T", "D", "V",
                "10", "20")


def left_out_level_sql(level: str = "level", trace: str = "stack_trace") -> str:
    """SQL over a loaded exception row: it is an information line, and no crash follows it."""
    debug = f"upper(trim({level})) IN ({', '.join(lit(v) for v in DEBUG_LEVELS)})"
    crash = (f"coalesce(regexp_matches({trace}, {lit(CRASH_START)}) "
             f"OR (regexp_matches({trace}, {lit(PYTHON_CRASH)}) AND NOT {debug}), false)")
    return f"({informational_sql(level)} AND NOT {crash})"


def levels_sql(column: str = "level") -> str:
    """SQL aggregate: the distinct levels, upper-cased, as 'DEBUG, INFO' (add a FILTER to choose rows)."""
    return f"string_agg(DISTINCT upper(trim({column})), ', ' ORDER BY upper(trim({column})))"


def target_column(canonical: str) -> str:
    return "ts" if canonical == "timestamp" else canonical


class LoadPlan:
    def __init__(self, src: SourceFile, mapping: Mapping, stage: str, mode: timestamps.TimeMode,
                 gaps: str | None = None, time_zone: str | None = None, direct: bool = False):
        """``time_zone``: the pilot's, for zone-less times (without it they are left to the
        session zone's cast, which gives the same instants more slowly). ``direct``: ``stage`` is
        the file's reader itself (``read_csv(...)``), read once by :meth:`select_direct`."""
        self.src, self.mapping, self.stage, self.mode, self.gaps = src, mapping, stage, mode, gaps
        self.direct = direct
        # a record log's stage already holds each record's fields (_j): see parse_records
        self.parsed_stage = False
        self.kind = mapping.kind
        self.is_line = src.line_format is not None  # a server's line log: _j is a struct of its fields
        self.is_json = src.format in ("jsonl", "json") and not self.is_line
        self.time_zone = time_zone
        # JSON: each mapped key is read from the object once per row, as a column of the source
        # (_jc1, ...): written out in each expression that uses it, the object was parsed again for
        # each, dozens of times per row
        self._json_cols = list(dict.fromkeys(c for m in mapping.columns for c in m.sources)) if self.is_json else []
        self._local = timestamps.naive_sql(self._time_raw(), mode, "_zl") if time_zone and mapping.get("timestamp") else None

    # --- where rows come from -------------------------------------------------------------
    def source(self) -> str:
        """FROM clause: the staged rows with ``_ord`` (1-based position among records) and, when
        times may be zone-less, ``_zl`` (the time has no zone) and ``_local`` (its wall-clock
        time), each computed once per row."""
        base = self._base_source()
        if self._json_cols:
            reads = ", ".join(f"{self.src.json_value_sql(c)} AS _jc{i}" for i, c in enumerate(self._json_cols, 1))
            base = f"(SELECT *, {reads} FROM {base})"
        if self._traced():  # the root causes _from_trace reads, found once per row
            stack, multi = self._trace_texts()
            # the trace's root cause is asked only of rows without an error type of their own
            untyped = "true" if self.mapping.get("error_type") is None else f"nullif({self.raw_text('error_type')}, '') IS NULL"
            base = (f"(SELECT *, {self._root('_tmulti')} AS _troot_m, CASE WHEN {untyped} THEN "
                    f"{self._root(f'coalesce({stack}, _tmulti)')} END AS _troot_t "
                    f"FROM (SELECT *, {multi} AS _tmulti FROM {base}))")
        if not self._local:
            return base
        zoneless = timestamps.zoneless_sql(self._time_raw(), self.mode)
        return f"(SELECT *, {self._local} AS _local FROM (SELECT *, {zoneless} AS _zl FROM {base}))"

    def _base_source(self) -> str:
        s = self.stage
        if self.direct:  # rows are numbered after the insert, from their position (see select_direct)
            if self.src.format == "jsonl":  # blank lines come too, marked: they hold their line's place
                return (f"(SELECT 0 AS _ord, _j, {formats.parsed_sql(self.src)} AS _parsed, _line, "
                        f"{linelogs.blank_sql('_line')} AS _blank "
                        f"FROM {formats.objects_sql(self.src, s)})")
            return f"(SELECT 0 AS _ord, {self._empty_row()} AS _blank, * FROM {s})"
        if self.src.format == "parquet":
            return f"(SELECT file_row_number + 1 AS _ord, * FROM {s})"
        if self.src.line_format in linelogs.RECORD_FORMATS:  # records carry the line they start on
            if self.parsed_stage:
                return f"(SELECT _ord, _j, _line FROM {s})"
            return f"(SELECT _ord, _j, _line FROM {formats.objects_sql(self.src, s)})"
        if self.src.schema == "otlp":  # records, several to a line: each carries its line
            rows = f"(SELECT rowid + 1 AS _ord, _line, _line_no FROM {s})"
            return f"(SELECT _ord, _j, _line, _line_no FROM {formats.objects_sql(self.src, rows)})"
        if self.src.format == "jsonl":  # blank lines are not rows; _ord is then the line number
            rows = f"(SELECT rowid + 1 AS _ord, _line FROM {s} WHERE NOT {linelogs.blank_sql('_line')})"
            return f"(SELECT _ord, _j, {formats.parsed_sql(self.src)} AS _parsed, _line FROM {formats.objects_sql(self.src, rows)})"
        if self.src.format == "json":
            return f"(SELECT rowid + 1 AS _ord, CASE WHEN json_type(_line) = 'OBJECT' THEN _line END AS _j, _line FROM {s})"
        if self.src.format == "csv":  # empty rows are not records, nor rejects; rows keep their numbers
            return f"(SELECT rowid + 1 AS _ord, * FROM {s} WHERE NOT {self._empty_row()})"
        return f"(SELECT rowid + 1 AS _ord, * FROM {s})"

    def parse_records(self, con, table: str) -> None:
        """A record log (an application log's records, a W3C log's lines): parse each record's
        fields once, into ``table``, which the plan reads from then on. The load reads the rows
        four or five times (counts, the information lines left out, the insert, the rejects), and
        the fields of a record with a stack trace cost tenths of a millisecond to parse."""
        if self.src.line_format not in linelogs.RECORD_FORMATS or self.parsed_stage:
            return
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {self._base_source()}")
        self.stage, self.parsed_stage = table, True

    def _empty_row(self) -> str:
        """SQL: a CSV row whose every field is empty (``,,,,`` as spreadsheets write below a table;
        DuckDB reads an empty field as NULL). The first filled field ends the test."""
        if self.src.format != "csv" or not self.src.columns:
            return "false"
        return f"coalesce({', '.join(ident(self.src.staged(c)) for c in self.src.columns)}) IS NULL"

    def parsed(self) -> str:
        """SQL over :meth:`source`'s rows: the row is one of the file's records (an access log's
        line that matched; the other formats' rows are, or are caught by the checks)."""
        return formats.parsed_sql(self.src) if self.src.line_format in linelogs.FLAGGED_FORMATS else "true"

    def row_number(self) -> str:
        """The record's 1-based row in the file: position, shifted past rows the reader rejected."""
        if self.gaps is None:
            return "_ord"
        # a good row k comes after every reader-rejected row with fewer than k good rows before it
        return f"(_ord + (SELECT count(*) FROM {self.gaps} WHERE g < _ord))"

    def line_number(self) -> str:
        if self.src.schema == "otlp":
            return "_line_no"
        return "_ord" if self.src.format == "jsonl" else "NULL"

    # --- values ---------------------------------------------------------------------------
    def _is_text(self, column: str) -> bool:
        return self.is_json or self.is_line or self.src.types.get(column, "VARCHAR") == "VARCHAR"

    def raw(self, column: str) -> str:
        if self.is_line:
            return f"_j[{lit(column)}]"
        if self.is_json:
            if column in self._json_cols:
                return f"_jc{self._json_cols.index(column) + 1}"
            return self.src.json_value_sql(column)
        return ident(self.src.staged(column))

    def raw_text(self, canonical: str) -> str | None:
        """The canonical column's source value(s) as text; several sources joined by a space."""
        m = self.mapping.get(canonical)
        if m is None:
            return None
        parts = [self.raw(c) if self._is_text(c) else f"CAST({self.raw(c)} AS VARCHAR)" for c in m.sources]
        if len(parts) == 1:
            return parts[0]
        if m.first:  # Kibana's CSV writes '-' in an empty cell
            return "coalesce(" + ", ".join(f"nullif(nullif(trim({p}), ''), '-')" for p in parts) + ")"
        return f"concat_ws(' ', {', '.join(parts)})"

    def _native_time(self) -> bool:
        m = self.mapping.get("timestamp")
        return self.mode.kind == "native" and len(m.sources) == 1 and not self._is_text(m.sources[0])

    def _time_raw(self) -> str:
        """The time column's source value: typed where the file types it, else text."""
        return self.raw(self.mapping.get("timestamp").sources[0]) if self._native_time() else self.raw_text("timestamp")

    def value(self, canonical: str) -> str:
        """The canonical column's typed value (NULL where absent or unreadable)."""
        traced = self.kind == "exceptions" and not self.is_line and canonical in ("message", "error_type", "stack_trace")
        if canonical == "level" and level_in_message(self.mapping, self.src):
            line = f"left({self.raw_text('message')}, 200)"
            found = f"regexp_extract({line}, {lit(LEVEL_IN_TEXT)}, ['after', 'first', 'logfmt'])"
            return (f"CASE WHEN regexp_matches({line}, {lit(LAMBDA_PLATFORM)}) THEN 'INFO' ELSE nullif(upper("
                    f"coalesce(nullif({found}.after, ''), nullif({found}.first, ''), {found}.logfmt)), '') END")
        if self.mapping.get(canonical) is None:
            return self._from_trace(canonical, "NULL") if traced and canonical != "message" else "NULL"
        if canonical == "timestamp":
            local = "_local" if self._local else None
            return timestamps.parse_sql(self._time_raw(), self.mode, local, self.time_zone)
        text = self.raw_text(canonical)
        if canonical in NUMERIC:
            m = self.mapping.get(canonical)
            if len(m.sources) == 1 and not self._is_text(m.sources[0]):
                number = f"try_cast({self.raw(m.sources[0])} AS DOUBLE)"
            elif self.src.format == "csv" and self.src.delimiter != ",":  # '1,5' in a ';' file is a decimal comma
                number = f"coalesce(try_cast({text} AS DOUBLE), try_cast(replace({text}, ',', '.') AS DOUBLE))"
            else:
                number = f"try_cast({text} AS DOUBLE)"
            if canonical == "duration_ms" and len(m.sources) == 1 and (
                    factor := 1000 if m.seconds else duration_factor(m.sources[0])) != 1:
                number = f"({number} * {factor!r})"  # 'Dauer (s)': seconds, stored as milliseconds
            if canonical == "rating":  # 'Very satisfied' ... 'Very dissatisfied' read as 5 ... 1
                labels = GOOD_BAD if m.good_bad else RATING_LABELS
                words = " ".join(f"WHEN {lit(k)} THEN {v}" for k, v in labels.items())
                number = f"coalesce({number}, CASE lower(trim({text})) {words} END)"
            return f"CASE WHEN isfinite({number}) THEN {number} END"  # 'inf', 'NaN', 1e400: not a number
        if traced:
            text = self._from_trace(canonical, text)
        if canonical in SCHEMA[self.kind][0]:
            return text  # required: emptiness is a reject, checked below
        if canonical == "level" and is_clef(self.src.columns) and self.mapping.get("level").sources == CLEF_KEYS["level"]:
            return f"coalesce(nullif({text}, ''), {lit(CLEF_DEFAULT_LEVEL)})"  # CLEF writes no level for Information
        if canonical == "level" and (words := self._numbered_levels()):
            cases = " ".join(f"WHEN '{i}' THEN {lit(w)}" for i, w in enumerate(words))
            return f"nullif(CASE trim({text}) {cases} ELSE {text} END, '')"
        if canonical == "outcome" and self.mapping.get("outcome").http_status:  # as an access log's
            return f"coalesce({linelogs.http_outcome_sql(f'try_cast({text} AS INTEGER)')}, nullif({text}, ''))"
        if canonical == "session_id":  # -1 is Amplitude's "no session"
            return f"CASE WHEN {text} IN ('', '-1') THEN NULL ELSE {text} END"
        if self.kind == "exceptions":  # '-' is no value (Kibana's CSV, access and server logs)
            return f"CASE WHEN {text} IN ('', '-') THEN NULL ELSE {text} END"
        return f"nullif({text}, '')"

    def _numbered_levels(self) -> tuple[str, ...] | None:
        """The words of the numbered scale the level column's name tells, if it tells one."""
        m = self.mapping.get("level")
        name = norm(m.sources[-1].rsplit(".", 1)[-1]) if m and len(m.sources) == 1 else ""
        beside = {norm(c) for c in self.src.columns}
        if name in NUMBERED_BESIDE and sum(n in beside for n in NUMBERED_BESIDE[name]) < 2:
            return None
        if name in NUMBERED_NEEDS and not beside & set(NUMBERED_NEEDS[name]):
            return None
        return next((words for names, words in NUMBERED_LEVELS.items() if name in names), None)

    def _traced(self) -> bool:
        """An exception export whose message, type and trace may come from a stack trace (:meth:`_from_trace`)."""
        return self.kind == "exceptions" and not self.is_line

    def _trace_texts(self) -> tuple[str, str]:
        """SQL: the row's own trace (NULL when none) and its message when that is a whole trace
        (lines after the first, one of them indented, as frames are; else NULL)."""
        message = self.raw_text("message") if self.mapping.get("message") is not None else "NULL"
        stack = f"nullif({self.raw_text('stack_trace')}, '')" if self.mapping.get("stack_trace") is not None else "NULL"
        multi = (f"CASE WHEN contains({message}, chr(10)) AND regexp_matches({message}, '\n[ \t]') "
                 f"THEN {message} END")
        return stack, multi

    @staticmethod
    def _root(trace: str) -> str:
        return linelogs.root_cause_sql(f"string_split(rtrim(replace({trace}, chr(13), '')), chr(10))")

    def _from_trace(self, canonical: str, text: str) -> str:
        """An exception export's message, type and trace where a stack trace says more than its
        columns: a message that is a whole trace (Google Cloud's textPayload) is its root cause's
        message and, where the row has no trace of its own, the trace; a type the row lacks is the
        root cause's (a Python, Java, .NET or Node trace, as in application logs). The root causes
        are columns of :meth:`source`: ``_troot_m`` of the message's trace (``_tmulti``),
        ``_troot_t`` of the row's trace, else the message's."""
        stack, _multi = self._trace_texts()
        named = lit(linelogs.NAMED_LINE)
        if canonical == "message":
            return f"coalesce(nullif(regexp_extract(_troot_m, {named}, 2), ''), {text})"
        if canonical == "stack_trace":
            return f"coalesce({stack}, CASE WHEN _troot_m IS NOT NULL THEN _tmulti END)"
        derived = "nullif(regexp_extract(_troot_t, " + named + ", 1), '')"
        return f"coalesce(nullif({text}, ''), {derived})" if self.mapping.get("error_type") is not None else derived

    def projection(self) -> list[str]:
        """Inner SELECT list: src_row, each canonical value (c_*), the raw text behind checks (r_*)."""
        cols = [f"{self.row_number()} AS src_row"]
        for c in canonical_columns(self.kind):
            cols.append(f"{self.value(c)} AS c_{c}")
        cols.append(f"{self._time_raw()} AS r_timestamp")
        for c in NUMERIC:
            if (m := self.mapping.get(c)) is not None:
                raw = self.raw_text(c)
                if m.good_bad:  # a survey offered and not answered: no rating, no reject
                    raw = f"CASE WHEN lower(trim({raw})) IN ({', '.join(lit(u) for u in UNANSWERED)}) THEN NULL ELSE {raw} END"
                cols.append(f"{raw} AS r_{c}")
        if self.is_json or self.is_line:
            cols.append(f"NOT {formats.parsed_sql(self.src)} AS r_not_object")
        if self.src.nul_bytes:  # only when the file's head had NUL bytes: the check costs a scan of every value
            cols.append("(" + " OR ".join(f"coalesce(contains({self.raw(c)}, chr(0)), false)"
                                          for c in self.src.columns) + ") AS r_nul")
        return cols

    # --- checks ---------------------------------------------------------------------------
    def _missing(self, canonical: str) -> str:
        if self.mapping.get(canonical) is None:
            return "true"
        if canonical in NUMERIC:
            return f"(r_{canonical} IS NULL OR r_{canonical} = '')"
        return f"(c_{canonical} IS NULL OR c_{canonical} = '')"

    def checks(self) -> list[tuple[str, str, str | None]]:
        """(condition on the projection, reason SQL, source column) in the order they are reported."""
        out: list[tuple[str, str, str | None]] = []
        src_of = {m.canonical: "+".join(m.sources) for m in self.mapping.columns}
        if self.is_line:
            out.append(("r_not_object", lit(f"row: not written as the {linelogs.NAMES[self.src.line_format]}'s "
                                            "lines are"), None))
        if self.is_json:
            out.append(("r_not_object", lit("row: not a JSON object (broken JSON line)"), None))
        if self.src.nul_bytes:
            out.append(("r_nul", lit("row: contains NUL bytes (a damaged export)"), None))
        ts_missing = "r_timestamp IS NULL" if self._native_time() else "(r_timestamp IS NULL OR r_timestamp = '')"
        out.append((ts_missing, lit("timestamp: missing value"), src_of["timestamp"]))
        hint = timestamps.hint(self.mode).replace("'", "''")
        unread = f"'timestamp: cannot read ''' || left(CAST(r_timestamp AS VARCHAR), 60) || ''' as a time ({hint})'"
        if self.mode.kind in ("iso", "iso_comma") and not self._native_time():
            # a zone's abbreviation that names several zones, or none known, says so; worded only for
            # the rows that fail (a condition of its own cost 15-20% of a CSV's load)
            zone = timestamps.zone_problem_sql("r_timestamp")
            unread = (f"coalesce('timestamp: cannot read ''' || left(CAST(r_timestamp AS VARCHAR), 60) || ''' as a "
                      f"time: ' || {zone} || '; write times with an offset (+01:00) or in UTC', {unread})")
        out.append(("c_timestamp IS NULL", unread, src_of["timestamp"]))
        # e.g. two-digit years read as 0017; about 0.1 s per 2M rows (paired runs in one process)
        out.append((f"c_timestamp < TIMESTAMPTZ '{timestamps.PLAUSIBLE_FROM}'",
                    f"'timestamp: ''' || left(CAST(r_timestamp AS VARCHAR), 60) || ''' reads as a time before 1900 ({hint})'",
                    src_of["timestamp"]))
        required, one_of, _ = SCHEMA[self.kind]
        for c in required[1:]:
            out.append((self._missing(c), lit(f"{c}: missing value"), src_of.get(c)))
        if one_of:
            out.append(("(" + " AND ".join(self._missing(c) for c in one_of) + ")",
                        lit(f"{' / '.join(one_of)}: all empty (a row needs at least one)"),
                        "+".join(src_of[c] for c in one_of if c in src_of) or None))
        for c, rng in NUMERIC.items():
            if self.mapping.get(c) is None:
                continue
            out.append((f"(NOT {self._missing(c)} AND c_{c} IS NULL)",
                        f"'{c}: ''' || left(r_{c}, 40) || ''' is not a number'", src_of[c]))
            if rng:
                lo, hi = rng
                out.append((f"coalesce(c_{c} NOT BETWEEN {lo} AND {hi}, false)",
                            f"'{c}: ' || c_{c} || ' is outside {lo}-{hi}'", src_of[c]))
        return out

    def bad(self) -> str:
        return "(" + " OR ".join(cond for cond, _, _ in self.checks()) + ")"

    def reason(self) -> tuple[str, str]:
        checks = self.checks()
        reason = "CASE " + " ".join(f"WHEN {c} THEN {r}" for c, r, _ in checks) + " END"
        column = "CASE " + " ".join(f"WHEN {c} THEN {lit(col) if col else 'NULL'}" for c, _, col in checks) + " END"
        return reason, column

    # --- extras ---------------------------------------------------------------------------
    def attributes(self) -> str:
        """JSON of the source columns that feed no canonical column (NULL when none)."""
        if self.is_json:
            used = sorted({s for m in self.mapping.columns for s in m.sources})
            patch = json.dumps({k: None for k in used})
            return f"nullif(CAST(json_merge_patch(_j, {lit(patch)}) AS VARCHAR), '{{}}')"
        if not self.mapping.unmapped:
            return "NULL"
        return "json_object(" + ", ".join(f"{lit(c)}, {self.raw(c)}" for c in self.mapping.unmapped) + ")"

    def raw_row(self) -> str:
        """A rejected row's raw text: the JSON line, or the row's columns as a JSON object."""
        if self.is_json or self.is_line:
            return "CAST(_line AS VARCHAR)"
        return "CAST(json_object(" + ", ".join(f"{lit(c)}, {self.raw(c)}" for c in self.src.columns) + ") AS VARCHAR)"

    # --- statements -----------------------------------------------------------------------
    def select_good(self, pilot_id: int, batch_id: int) -> str:
        """SELECT of the rows that load, in the target table's column order."""
        cols = canonical_columns(self.kind)
        return (f"SELECT {int(pilot_id)} AS pilot_id, {int(batch_id)} AS batch_id, src_row, "
                + ", ".join(f"c_{c} AS {target_column(c)}" for c in cols)
                + f", attributes FROM (SELECT {', '.join(self.projection())}, {self.attributes()} AS attributes "
                f"FROM {self.source()}) WHERE NOT {self.bad()}")

    def select_direct(self, pilot_id: int, batch_id: int) -> str:
        """SELECT of every record the reader accepts, in the file's order, for a load in one pass
        (no staged copy): ``pilot_id``, ``batch_id``, ``zoneless`` (the time carried no zone), then
        the target table's columns after ``src_row``. The load numbers the rows by their position.

        Rows that fail a check come out too, under batch id -``batch_id``, with their reject as JSON
        in ``attributes`` (reason, column, raw text); the load copies them to ``ingest_rejects``. So
        do a JSON Lines file's blank lines, with no reject: they are not rows but keep the line
        numbers right."""
        reason, column = self.reason()
        reject = f"json_object('reason', {reason}, 'column', {column}, 'raw', {self.raw_row()})"
        values = [f"c_{c} AS {target_column(c)}" for c in canonical_columns(self.kind)]
        return (f"SELECT {int(pilot_id)} AS pilot_id, CASE WHEN _bad THEN {-int(batch_id)} ELSE {int(batch_id)} END "
                f"AS batch_id, {'_zl' if self._local else timestamps.zoneless_sql('r_timestamp', self.mode)} AS zoneless, "
                f"{', '.join(values)}, CASE WHEN _blank THEN NULL WHEN _bad THEN {reject} ELSE attributes END AS attributes "
                f"FROM (SELECT *, (_blank OR {self.bad()}) AS _bad FROM (SELECT *, {', '.join(self.projection())}, "
                f"{self.attributes()} AS attributes FROM {self.source()}))")

    def select_rejects(self, pilot_id: int, batch_id: int) -> str:
        """SELECT of ingest_rejects rows for the rows that fail a check."""
        reason, column = self.reason()
        return (f"SELECT {int(batch_id)}, {int(pilot_id)}, src_row, line_no, {column}, {reason}, raw "
                f"FROM (SELECT {', '.join(self.projection())}, {self.line_number()} AS line_no, "
                f"{self.raw_row()} AS raw FROM {self.source()}) WHERE {self.bad()}")

    def select_preview(self, rows: int) -> str:
        reason, _ = self.reason()
        cols = canonical_columns(self.kind)
        return ("SELECT src_row AS row, " + ", ".join(f"c_{c} AS {ident(c)}" for c in cols)
                + f", {reason} AS problem FROM (SELECT {', '.join(self.projection())} FROM {self.source()}) "
                f"ORDER BY src_row LIMIT {int(rows)}")

    def count_rows(self) -> str:
        """SELECT (records, records whose time has no zone) over the staged file."""
        if self.mode.zoned is not None:
            return f"SELECT count(*), 0 FROM {self.source()}"
        zoneless = "_zl" if self._local else timestamps.zoneless_sql(self.raw_text("timestamp"), self.mode)
        return f"SELECT count(*), count(*) FILTER (WHERE {zoneless}) FROM {self.source()}"

    def count_zoneless(self) -> str:
        """Rows that load and whose time carried no zone (read in the pilot's zone)."""
        return (f"SELECT count(*) FROM (SELECT {', '.join(self.projection())} FROM {self.source()}) "
                f"WHERE NOT {self.bad()} AND {timestamps.zoneless_sql('r_timestamp', self.mode)}")
