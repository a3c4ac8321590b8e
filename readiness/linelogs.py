"""Logs that servers write a line at a time: web access logs (Common and Combined Log Format).

A recognised line becomes a struct of text fields in SQL (one regular expression per line, in
DuckDB), read like a JSON Lines row: its fields map by name, a line that does not match is
rejected with its line number. Fields of an access log, as usage:

* ``time``; ``user``: the authenticated user, else the client address (personal data: masked
  like other personal data where shown);
* ``event``: method and path, with ids in the path and the query left out, so ``/invoice/8812``
  and ``/invoice/9921`` are one event (``GET /invoice/{id}``);
* ``outcome``: ``success`` (1xx-3xx), ``client error`` (4xx), ``failure`` (5xx);
* ``duration_ms`` where the line ends with the request time: seconds with a decimal point
  (nginx ``$request_time``) or whole microseconds (Apache ``%D``);
* ``static``: images, scripts, styles and fonts, counted and left out of usage like information
  lines of an exception log.
"""

from __future__ import annotations

import re

import duckdb

# [virtual host] client ident user [time] "request" status bytes ["referer" "agent"] [request time]
ACCESS_LOG = (r'^(?:(\S+) )??(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-)'
              r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?(?: ([0-9.]+))?\s*$')
_GROUPS = ("vhost", "client", "ident", "auth", "time", "request", "status", "bytes", "referer", "agent", "rt")
_ACCESS_RE = re.compile(ACCESS_LOG)
STATIC = r"\.(css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|bmp|woff2?|ttf|otf|eot)$"
# an id in a path: digits, a UUID, a long hex string; replaced by {id}
_ID_SEGMENT = r"/(\d+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|[0-9a-fA-F]{16,})(/|$)"
ACCESS_COLUMNS = ("time", "user", "event", "outcome", "duration_ms", "status", "method", "path", "client",
                  "auth_user", "vhost", "bytes", "referer", "agent", "static")
NAMES = {"access_log": "web access log (Common / Combined Log Format)", "app_log": "application log"}


def is_access_log(lines: list[str]) -> bool:
    """Most of the first non-blank lines are written as a web access log's."""
    lines = [ln for ln in lines if ln.strip()][:50]
    return bool(lines) and sum(bool(_ACCESS_RE.match(ln)) for ln in lines) >= 0.8 * len(lines)


def columns(line_format: str, layout: str | None) -> tuple[str, ...]:
    """The fields a line log's lines (or records) are read into."""
    return ACCESS_COLUMNS if line_format == "access_log" else app_log_columns(layout)


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def access_log_sql(line: str) -> str:
    """SQL: the line as a struct of its fields (all text), NULL when it does not match the format.

    One regular expression per line; lambdas bind its groups (``a``) and the request's parts
    (``b``) once, so that no expression is evaluated twice per line."""
    names = "[" + ", ".join(_lit(g) for g in _GROUPS) + "]"
    status = "try_cast(a.status AS INTEGER)"
    masked = f"regexp_replace(b.bare, {_lit(_ID_SEGMENT)}, '/{{id}}\\2', 'g')"
    masked = f"regexp_replace({masked}, {_lit(_ID_SEGMENT)}, '/{{id}}\\2', 'g')"  # again for '/12/34'
    fields = {
        "time": "a.time",
        "user": "CASE WHEN a.auth NOT IN ('-', '') THEN a.auth ELSE a.client END",
        "event": f"CASE WHEN b.path IS NULL THEN nullif(a.request, '') ELSE b.method || ' ' || {masked} END",
        "outcome": (f"CASE WHEN {status} >= 500 THEN 'failure' WHEN {status} >= 400 THEN 'client error' "
                    f"WHEN {status} IS NOT NULL THEN 'success' END"),
        "duration_ms": ("CASE WHEN a.rt = '' THEN NULL WHEN contains(a.rt, '.') THEN try_cast(a.rt AS DOUBLE) * 1000 "
                        "ELSE try_cast(a.rt AS DOUBLE) / 1000 END"),
        "status": "a.status", "method": "b.method", "path": "b.path", "client": "a.client",
        "auth_user": "nullif(nullif(a.auth, '-'), '')", "vhost": "nullif(a.vhost, '')",
        "bytes": "nullif(a.bytes, '-')", "referer": "nullif(nullif(a.referer, '-'), '')",
        "agent": "nullif(nullif(a.agent, '-'), '')",
        "static": f"coalesce(regexp_matches(lower(b.bare), {_lit(STATIC)}), false)",
    }
    obj = "{" + ", ".join(f"{_lit(k)}: CAST({v} AS VARCHAR)" for k, v in fields.items()) + "}"
    parts = ("list_transform([string_split(a.request, ' ')], lambda r: CASE WHEN len(r) >= 2 THEN "
             "{'method': r[1], 'path': r[2], 'bare': split_part(r[2], '?', 1)} ELSE "
             "{'method': NULL, 'path': NULL, 'bare': NULL} END)")
    # a line that does not match gives empty groups
    return (f"list_transform([regexp_extract({line}, {_lit(ACCESS_LOG)}, {names})], "
            f"lambda a: CASE WHEN a.time <> '' THEN list_transform({parts}, lambda b: {obj})[1] END)[1]")


# --- application logs: a header line (time, level, logger, message), then continuation lines ----

# Layouts in the Loghub convention ('<Field>' a field, anything else written as it is, spaces
# any run of spaces), most specific first. A field named Level must hold a log level.
LAYOUTS: tuple[tuple[str, str], ...] = (
    ("OpenStack", r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<Address>\] <Content>"),
    ("Hadoop / log4j", r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>"),
    ("Zookeeper / log4j", r"<Date> <Time> - <Level> \[<Node>:<Component>@<Line>\] - <Content>"),
    ("HDFS", r"<Date> <Time> <Pid> <Level> <Component>: <Content>"),
    ("Python logging", r"<Date> <Time> - <Component> - <Level> - <Content>"),
    ("logback", r"<Date> <Time> \[<Process>\] <Level> <Component> - <Content>"),
    ("Spring Boot", r"<Time> <Level> <Pid> --- \[<Process>\] <Component> : <Content>"),
    ("Windows CBS", r"<Date> <Time>, <Level> <Component> <Content>"),
    ("Apache error log", r"\[<Time>\] \[<Level>\] <Content>"),
    ("level and logger", r"<Date> <Time> <Level> <Component>: <Content>"),
    ("level first", r"<Level> <Date> <Time> <Component>: <Content>"),
    ("time, level, message", r"<Date> <Time> <Level> <Content>"),
    ("Linux syslog", r"<Month> <Day> <Time> <Host> <Component>(\[<Pid>\])?: <Content>"),
)
LEVEL_WORDS = ("TRACE", "DEBUG", "FINE", "FINER", "FINEST", "CONFIG", "VERBOSE", "INFO", "INFORMATION", "NOTICE",
               "WARN", "WARNING", "ERROR", "ERR", "SEVERE", "FATAL", "CRITICAL", "CRIT", "ALERT", "EMERG", "EMERGENCY")
# A line naming an exception: 'ValueError: bad', 'java.io.IOException: disk', 'Caused by: X: y'.
EXCEPTION_LINE = (r"^(?:Caused by: |Exception in thread \"[^\"]*\" )?([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*"
                  r"(?:Error|Exception|Exit|Interrupt|Warning|Fault|Failure|Timeout))(?::\s*(.*))?$")


def layout_regex(layout: str) -> tuple[str, list[str]]:
    """A layout as a regular expression (RE2 and Python alike) and its field names in order. The
    built-in layouts' text between fields is a regular expression, as in Loghub; a layout a user
    gives (not in LAYOUTS) is text as written ('|' is a bar, '\\[' or '[' a bracket)."""
    fields: list[str] = []
    out = ""
    builtin = layout in dict(LAYOUTS).values()
    for k, part in enumerate(re.split(r"(<[^<>]+>)", layout)):
        if k % 2:
            fields.append(part[1:-1].lower())
            # a level is one of the level words: a stack trace's 'ValueError: could not ...' is no header
            out += f"((?i:{'|'.join(LEVEL_WORDS)}))" if fields[-1] == "level" else "(.*?)"
        elif builtin:
            out += re.sub(r"\((?!\?)", "(?:", re.sub(" +", r"\\s+", part))
        else:
            out += r"\s+".join(re.escape(w) for w in part.replace("\\", "").split(" ")) if part.strip() else (
                r"\s+" if part else "")
    return "^" + out + "$", fields


def _layout_fits(layout: str, lines: list[str], con: duckdb.DuckDBPyConnection) -> int:
    """How many of ``lines`` the layout reads (a Level field must hold a level); 0 unless the first does.

    Whether a line fits is decided by RE2 (DuckDB's regular expressions, on ``con``): its time grows
    with a line's length, where Python's backtracking on a line a layout does not fit grows as a power
    of it (a CSV header of ten spaced questions took 14 s against the syslog layout). Python's
    expression then reads the fields of the lines that fit."""
    pattern, fields = layout_regex(layout)
    rx, level = re.compile(pattern), fields.index("level") if "level" in fields else None
    fits = con.execute(f"SELECT list_transform(?::VARCHAR[], lambda x: regexp_matches(x, {_lit(pattern)}))",
                       [lines]).fetchone()[0]
    n = 0
    for i, line in enumerate(lines):
        m = rx.match(line) if fits[i] else None
        ok = bool(m) and (level is None or (m.group(level + 1) or "").strip().upper() in LEVEL_WORDS)
        if not ok and i == 0:
            return 0
        n += ok
    return n


def recognise_app_log(lines: list[str], layout: str | None = None) -> str | None:
    """The layout (Loghub convention) most of the first lines are written in, or None. Lines a
    layout does not read may be a record's continuation (a stack trace), but the first must fit."""
    lines = [ln for ln in lines if ln.strip()][:50]
    if not lines:
        return None
    with duckdb.connect() as con:
        if layout:
            return layout if _layout_fits(layout, lines, con) else None
        best, hits = None, 0
        for _name, candidate in LAYOUTS:
            n = _layout_fits(candidate, lines, con)
            if n > hits:
                best, hits = candidate, n
    # the first line fits (checked in _layout_fits); the others may mostly be stack traces
    return best if hits >= min(3, len(lines)) else None


def layout_name(layout: str) -> str:
    return next((name for name, candidate in LAYOUTS if candidate == layout), f"layout {layout!r}")


def app_log_columns(layout: str) -> tuple[str, ...]:
    _, fields = layout_regex(layout)
    return (*fields, "message", "error_type", "stack_trace")


def app_log_records_sql(layout: str, reader: str) -> str:
    """SELECT of one row per record: ``_ord`` (the line its header is on), ``_line`` (the header
    line), ``_more`` (the continuation lines, in order). Lines before the first header are a
    record of their own, without a header. Sorting is by line number; nothing leaves DuckDB."""
    pattern, _ = layout_regex(layout)
    return f"""(SELECT min(n) AS _ord, arg_min(_line, n) AS _line,
                       list(_line ORDER BY n) FILTER (WHERE NOT head) AS _more
                FROM (SELECT n, _line, head, sum(head::INTEGER) OVER (ORDER BY n ROWS UNBOUNDED PRECEDING) AS rec
                      FROM (SELECT row_number() OVER () AS n, _line,
                                   coalesce(regexp_matches(_line, {_lit(pattern)}), false) AS head FROM {reader}))
                WHERE coalesce(trim(_line), '') <> ''
                GROUP BY rec)"""


def app_log_object_sql(layout: str) -> str:
    """SQL over a record (``_line``, ``_more``): a struct of the header's fields, and from the
    continuation lines the exception: ``error_type`` and ``message`` of its root cause (the last
    'Caused by:' in Java, the first exception of a Python chain), ``stack_trace`` all of them."""
    pattern, fields = layout_regex(layout)
    names = "[" + ", ".join(_lit(f) for f in fields) + "]"
    exc = _lit(EXCEPTION_LINE)
    found = f"list_filter(coalesce(_more, []), lambda l: regexp_matches(l, {exc}))"
    # Java names the root cause last ('Caused by:'); Python's chain starts with it
    root = (f"CASE WHEN len(list_filter({found}, lambda l: starts_with(l, 'Caused by: '))) > 0 "
            f"THEN list_filter({found}, lambda l: starts_with(l, 'Caused by: '))[-1] ELSE {found}[1] END")
    head = ", ".join(f"{_lit(f)}: nullif(trim(h[{_lit(f)}]), '')" for f in fields)
    return (f"list_transform([{{'h': regexp_extract(_line, {_lit(pattern)}, {names}), 'root': {root}}}], "
            f"lambda r: CASE WHEN regexp_matches(_line, {_lit(pattern)}) THEN "
            f"list_transform([r.h], lambda h: {{{head}, "
            f"'message': coalesce(nullif(regexp_extract(r.root, {exc}, 2), ''), nullif(trim(h['content']), ''), "
            f"regexp_extract(r.root, {exc}, 1)), "
            f"'error_type': nullif(regexp_extract(r.root, {exc}, 1), ''), "
            f"'stack_trace': nullif(array_to_string(coalesce(_more, []), chr(10)), '')}})[1] END)[1]")
