"""Logs that servers write a line at a time: web access logs (Common and Combined Log Format, and
W3C extended logs such as IIS writes), and application logs whose records are a header line and
continuation lines (stack traces), in Loghub's layout convention, syslog among them.

A recognised line becomes a struct of text fields in SQL (in DuckDB), read like a JSON Lines row:
its fields map by name, a line that does not match is rejected with its line number. Fields of an
access log, as usage:

* ``time``; ``user``: the authenticated user, else the client address (personal data: masked
  like other personal data where shown);
* ``event``: method and path, with ids in the path and the query left out, so ``/invoice/8812``
  and ``/invoice/9921`` are one event (``GET /invoice/{id}``);
* ``outcome``: ``success`` (1xx-3xx), ``client error`` (4xx), ``failure`` (5xx);
* ``duration_ms`` where the line ends with the request time: seconds with a decimal point
  (nginx ``$request_time``) or whole microseconds (Apache ``%D``); W3C's ``time-taken``;
* requests for static files (images, scripts, styles and fonts, judged on the event) are
  counted and left out of usage like information lines of an exception log.
"""

from __future__ import annotations

import re

from readiness import store
from readiness.store import Connection

# [virtual host] client ident user [time] "request" status bytes ["referer" "agent"] [request time]
ACCESS_LOG = (r'^(?:(\S+) )??(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-)'
              r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?(?: ([0-9.]+))?\s*$')
_GROUPS = ("vhost", "client", "ident", "auth", "time", "request", "status", "bytes", "referer", "agent", "rt")
_ACCESS_RE = re.compile(ACCESS_LOG)
STATIC = r"\.(css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|bmp|woff2?|ttf|otf|eot)$"
# an id in a path: digits, a UUID, a long hex string; replaced by {id}
_ID_SEGMENT = r"/(\d+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|[0-9a-fA-F]{16,})(/|$)"
_ID_GUARD = r"[0-9]|[a-fA-F]{8}"
# Kept in attributes: the fields that feed none of these, and none said by another (the method is in
# the event, an authenticated user is the user): each kept field widens every row stored
ACCESS_COLUMNS = ("time", "user", "event", "outcome", "duration_ms", "status", "path", "client", "vhost", "bytes",
                  "referer", "agent")
NAMES = {"access_log": "web access log (Common / Combined Log Format)", "w3c": "web access log (W3C extended, IIS)",
         "app_log": "application log"}
USAGE_FORMATS = ("access_log", "w3c")  # a request is a use
RECORD_FORMATS = ("app_log", "w3c")    # a row is built from more than its own line (records_sql)


def is_access_log(lines: list[str]) -> bool:
    """Most of the first non-blank lines are written as a web access log's."""
    lines = [ln for ln in lines if ln.strip()][:50]
    return bool(lines) and sum(bool(_ACCESS_RE.match(ln)) for ln in lines) >= 0.8 * len(lines)


def columns(line_format: str, layout: str | None) -> tuple[str, ...]:
    """The fields a line log's lines (or records) are read into."""
    return ACCESS_COLUMNS if line_format in USAGE_FORMATS else app_log_columns(layout)


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def is_static_sql(event: str) -> str:
    """SQL: a request's event (method and path) asks for a static file (an image, script, style or
    font): judged on the loaded row, whose path is masked only where a whole segment is an id."""
    return f"(contains({event}, '.') AND coalesce(regexp_matches({event}, {_lit('(?i)' + STATIC)}), false))"


def _usage_object(u: dict[str, str], duration_ms: str) -> str:
    """SQL: a request's usage fields as a struct of text, from SQL expressions ``u`` of its parts
    (text, NULL when missing): time, request, method, path, bare (the path without its query),
    status, auth, client, vhost, bytes, referer, agent, rt; ``duration_ms`` is written over
    ``u.rt``. The parts are written out where used: DuckDB computes a repeated expression once."""
    status = "try_cast(u.status AS INTEGER)"
    # one pass of the expression masks '/12/34' too: with every '/' doubled, the match of a segment
    # leaves the next segment a '/' of its own; halved again after
    masked = f"replace(regexp_replace(replace(u.bare, '/', '//'), {_lit(_ID_SEGMENT)}, '/{{id}}\\2', 'g'), '//', '/')"
    # only a path that could hold an id is masked (a digit, or a run of hex letters)
    masked = f"CASE WHEN regexp_matches(u.bare, {_lit(_ID_GUARD)}) THEN {masked} ELSE u.bare END"
    fields = {
        "time": "u.time",
        "user": "coalesce(u.auth, u.client)",
        "event": f"CASE WHEN u.bare IS NULL THEN u.request ELSE concat_ws(' ', u.method, {masked}) END",
        "outcome": (f"CASE WHEN {status} >= 500 THEN 'failure' WHEN {status} >= 400 THEN 'client error' "
                    f"WHEN {status} IS NOT NULL THEN 'success' END"),
        "duration_ms": duration_ms,
        "status": "u.status", "path": "u.path", "client": "u.client", "vhost": "u.vhost", "bytes": "u.bytes",
        "referer": "u.referer",
        "agent": "u.agent",
    }
    text = "{" + ", ".join(f"{_lit(k)}: CAST({v} AS VARCHAR)" for k, v in fields.items()) + "}"
    return re.sub(r"\bu\.(\w+)", lambda m: f"({u[m.group(1)]})", text)


def access_log_rows_sql(rows: str) -> str:
    """FROM-able: ``rows`` (with their ``_line``) and ``_j``, the line's fields as a struct of text
    (NULL when the line is not written as an access log's), computed in layers so that each part
    of a line is computed once (DuckDB does not share a repeated expression inside a CASE, and
    lambdas cost more than the work).

    The regular expression only says whether the line is an access log's (a match without
    captures is a fast automaton); the fields are cut out at the quotes and spaces, and taken from
    the expression's captures only on the rare line with an escaped quote."""
    pattern = _lit(ACCESS_LOG)
    names = "[" + ", ".join(_lit(g) for g in _GROUPS) + "]"
    # head, request, status and bytes [, referer, ' ', agent, request time]; [virtual host,] client, ident, user
    cut = {"vhost": "CASE WHEN len(_w) = 4 THEN _w[1] ELSE '' END", "client": "_w[-3]", "ident": "_w[-2]",
           "auth": "_w[-1]", "time": "split_part(split_part(_q[1], ' [', 2), ']', 1)", "request": "_q[2]",
           "status": "_sb[1]", "bytes": "_sb[2]", "referer": "coalesce(_q[4], '')", "agent": "coalesce(_q[6], '')",
           "rt": "coalesce(trim(_q[7]), _sb[3], '')"}
    groups = ", ".join(f"CASE WHEN _bs THEN regexp_extract(_line, {pattern}, {names})[{_lit(g)}] "
                       f"ELSE {cut[g]} END AS _a_{g}" for g in _GROUPS)
    parts = {"time": "_a_time", "request": "nullif(_a_request, '')",
             "method": "CASE WHEN len(_r) >= 2 THEN _r[1] END", "path": "CASE WHEN len(_r) >= 2 THEN _r[2] END",
             "bare": "CASE WHEN len(_r) >= 2 THEN split_part(_r[2], '?', 1) END", "status": "nullif(_a_status, '-')",
             "auth": "nullif(nullif(_a_auth, '-'), '')", "client": "_a_client", "vhost": "nullif(_a_vhost, '')",
             "bytes": "nullif(_a_bytes, '-')", "referer": "nullif(nullif(_a_referer, '-'), '')",
             "agent": "nullif(nullif(_a_agent, '-'), '')", "rt": "_a_rt"}
    # seconds with a decimal point (nginx $request_time), else whole microseconds (Apache %D)
    duration = ("CASE WHEN u.rt = '' THEN NULL WHEN contains(u.rt, '.') THEN try_cast(u.rt AS DOUBLE) * 1000 "
                "ELSE try_cast(u.rt AS DOUBLE) / 1000 END")
    obj = _usage_object({k: f"_u_{k}" for k in parts}, duration)
    helpers = ["_ok", "_bs", "_q", "_w", "_sb", "_r", *(f"_a_{g}" for g in _GROUPS), *(f"_u_{k}" for k in parts)]
    return f"""(SELECT * EXCLUDE ({', '.join(helpers)}), CASE WHEN _ok THEN {obj} END AS _j FROM
              (SELECT *, {', '.join(f"{v} AS _u_{k}" for k, v in parts.items())} FROM
               (SELECT *, string_split(_a_request, ' ') AS _r FROM
                (SELECT *, {groups} FROM
                 (SELECT *, string_split(trim(_q[3]), ' ') AS _sb FROM
                  (SELECT *, regexp_full_match(_line, {pattern}) AS _ok, contains(_line, '\\') AS _bs,
                          string_split(_line, '"') AS _q,
                          string_split(trim(split_part(_line, ' [', 1)), ' ') AS _w FROM {rows}))))))"""


# --- W3C extended logs (IIS and others): '#Fields:' names the fields of the lines below it --------

W3C_DIRECTIVE = r"^\s*#(Fields|Software|Version|Date|Remark|Start-Date|End-Date):"
# a field: a quoted string ('""' a quote inside) or a run of non-blank characters
_W3C_TOKEN = r'"(?:[^"]|"")*"|\S+'


def is_w3c_log(lines: list[str]) -> bool:
    """The file starts with W3C directives ('#Software:', '#Fields:' ...) and names its fields."""
    lines = [ln for ln in lines if ln.strip()]
    return (bool(lines) and bool(re.match(W3C_DIRECTIVE, lines[0]))
            and any(re.match(r"^\s*#Fields:", ln) for ln in lines))


def w3c_records_sql(reader: str) -> str:
    """SELECT of one row per data line: ``_ord`` (its line number), ``_line``, ``_fields`` (the
    names of the last '#Fields:' above it, lower-cased) and ``_date`` (the last '#Date:')."""
    def last(directive: str, value: str) -> str:
        return (f"last_value(CASE WHEN regexp_matches(_line, '^\\s*#{directive}:') THEN {value} END IGNORE NULLS) "
                f"OVER (ORDER BY n ROWS UNBOUNDED PRECEDING)")
    after = "trim(regexp_replace(_line, '^\\s*#[A-Za-z-]+:', ''))"
    fields = last("Fields", f"string_split_regex(lower({after}), '\\s+')")
    return f"""(SELECT n AS _ord, _line, _fields, _date
                FROM (SELECT n, _line, {fields} AS _fields,
                             {last('Date', after)} AS _date
                      FROM (SELECT row_number() OVER () AS n, _line FROM {reader}))
                WHERE coalesce(trim(_line), '') <> '' AND NOT starts_with(ltrim(_line), '#'))"""


def w3c_object_sql() -> str:
    """SQL over a data line (``_line``, ``_fields``, ``_date``): the request's usage fields as for an
    access log, NULL when the line has not as many fields as its '#Fields:' names. Times are UTC (the
    W3C format's rule); a line without a date takes the '#Date:' directive's; 'time-taken' is in
    milliseconds (IIS), or seconds when written with a decimal point (CloudFront)."""
    tokens = (f"list_transform(regexp_extract_all(_line, {_lit(_W3C_TOKEN)}), lambda x: CASE WHEN x = '-' THEN NULL "
              f"WHEN starts_with(x, '\"') THEN replace(x[2:-2], '\"\"', '\"') ELSE x END)")

    def field(*names: str) -> str:
        return "coalesce(" + ", ".join(f"a.t[list_position(a.f, {_lit(n)})]" for n in names) + ", NULL)"

    uri = f"coalesce({field('cs-uri-stem')}, split_part({field('cs-uri')}, '?', 1))"
    query = f"coalesce({field('cs-uri-query')}, nullif(split_part({field('cs-uri')}, '?', 2), ''))"
    parts = {
        "time": (f"CASE WHEN {field('time')} IS NOT NULL THEN coalesce({field('date')}, split_part(_date, ' ', 1)) "
                 f"|| 'T' || {field('time')} || 'Z' END"),
        "request": f"concat_ws(' ', {field('cs-method')}, {uri})",
        "method": field("cs-method"), "bare": uri,
        "path": f"CASE WHEN {query} IS NULL THEN {uri} ELSE {uri} || '?' || {query} END",
        "status": field("sc-status"), "auth": field("cs-username"), "client": field("c-ip"),
        "vhost": field("cs-host", "cs(host)", "s-sitename"), "bytes": field("sc-bytes"),
        "referer": field("cs(referer)", "cs(referrer)"),
        "agent": f"replace({field('cs(user-agent)')}, '+', ' ')", "rt": field("time-taken"),
    }
    duration = ("CASE WHEN contains(u.rt, '.') THEN try_cast(u.rt AS DOUBLE) * 1000 "
                "ELSE try_cast(u.rt AS DOUBLE) END")
    return (f"list_transform([{{'t': {tokens}, 'f': _fields}}], lambda a: CASE WHEN len(a.t) = len(a.f) "
            f"THEN {_usage_object(parts, duration)} END)[1]")


# --- application logs: a header line (time, level, logger, message), then continuation lines ----

# Layouts in the Loghub convention ('<Field>' a field, anything else written as it is, spaces
# any run of spaces), most specific first. A field named Level must hold a log level.
LAYOUTS: tuple[tuple[str, str], ...] = (
    # Spring Boot 2 and 3 (3.4 writes the application's name in brackets before the thread's)
    ("Spring Boot", r"<Time> <Level> <Pid> --- (\[<Application>\] )?\[<Process>\] <Component> : <Content>"),
    # syslog as sent or stored with its priority: '<34>1 2026-10-11T22:14:15.003Z host app 1234 ID47 [sd] msg'
    # (RFC 5424; '-' a missing field, the message may be absent) and '<34>Oct 11 22:14:15 host app[123]: msg'
    # Python: Flask's '[%(asctime)s] %(levelname)s in %(module)s: %(message)s', gunicorn's
    # '[time] [pid] [LEVEL] msg', Celery's '[time: LEVEL/process] msg'
    ("Flask", r"\[<Time>\] <Level> in <Component>: <Content>"),
    ("gunicorn", r"\[<Time>\] \[<Pid>\] \[<Level>\] <Content>"),
    ("Celery", r"\[<Time>: <Level>/<Process>\] <Content>"),
    # Ruby's Logger (Rails): 'E, [2026-12-06T10:00:01.456789 #1234] ERROR -- progname: msg'
    ("Ruby Logger", r"[A-Z], \[<Time> #<Pid>\] <Level> -- <Component>: <Content>"),
    # PostgreSQL's default '%m [%p] ': '2026-12-06 10:00:01.456 UTC [1240] ERROR:  msg'; its
    # STATEMENT, DETAIL, HINT and CONTEXT lines belong to the record above them
    ("PostgreSQL", r"<Time> \[<Pid>\] <Level>: <Content>"),
    # MySQL 8: '2026-12-06T10:00:01.456789Z 8 [ERROR] [MY-010584] [Repl] msg'
    ("MySQL", r"<Timestamp> <Thread> \[<Level>\] \[<Code>\] \[<Subsystem>\] <Content>"),
    ("syslog (RFC 5424)", r"\s*<<Pri>>1 <Time> <Host> <Component> <Pid> <Msgid> <Sd>(?: <Content>)?"),
    ("syslog (RFC 3164)", r"\s*<<Pri>><Month> <Day> <Time> <Host> <Component>(\[<Pid>\])?: <Content>"),
    # rsyslog's and journald's stored form with an RFC 3339 time: '2026-10-11T22:14:15.003+02:00 host app[123]: msg'
    # (the program's name has no spaces: PostgreSQL's '2026-12-06 10:00:01.456 UTC [1240] ERROR:' is not this)
    ("syslog (RFC 3339 time)", r"(<<Pri>>)?<Timestamp> <Host> <Component:[^\s\[\]:]+>(\[<Pid>\])?: <Content>"),
    ("OpenStack", r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<Address>\] <Content>"),
    ("Hadoop / log4j", r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>"),
    ("Zookeeper / log4j", r"<Date> <Time> - <Level> \[<Node>:<Component>@<Line>\] - <Content>"),
    ("HDFS", r"<Date> <Time> <Pid> <Level> <Component>: <Content>"),
    ("Python logging", r"<Date> <Time> - <Component> - <Level> - <Content>"),
    ("logback", r"<Date> <Time> \[<Process>\] <Level> <Component> - <Content>"),
    # log4j's '%d %-5p [%t] %c - %m%n'
    ("log4j", r"<Date> <Time> <Level> \[<Process>\] <Component> - <Content>"),
    # Tomcat's, log4j's without its ' - ' (JULI OneLineFormatter): '06-Dec-2026 10:00:01.456 SEVERE [thread] logger.method msg'
    ("Tomcat", r"<Date> <Time> <Level> \[<Process>\] <Component> <Content>"),
    # NLog's default '${longdate}|${level:uppercase=true}|${logger}|${message}'
    ("NLog", r"<Date> <Time>\|<Level>\|<Component>\|<Content>"),
    ("Windows CBS", r"<Date> <Time>, <Level> <Component> <Content>"),
    # Apache 2.4 '[time] [module:level] [pid N:tid M] [client ip:port] msg' and 2.2 '[time] [level] [client ip] msg'
    ("Apache error log", r"\[<Time>\] \[(<Module>:)?<Level>\]( \[pid <Pid>(:tid <Tid>)?\])?"
                         r"( \[(client|remote) <Client>\])? <Content>"),
    # nginx: '2026/12/06 10:00:00 [error] 1234#5678: *9 open() "/x" failed ...'
    ("nginx error log", r"<Date> <Time> \[<Level>\] <Pid>#<Tid>: (\*<Connection> )?<Content>"),
    ("level and logger", r"<Date> <Time> <Level> <Component>: <Content>"),
    ("level first", r"<Level> <Date> <Time> <Component>: <Content>"),
    ("time, level, message", r"<Date> <Time> <Level> <Content>"),
    ("Linux syslog", r"<Month> <Day> <Time> <Host> <Component>(\[<Pid>\])?: <Content>"),
    # Node's winston and others: '2026-03-02T09:00:00.000Z error: message'
    ("ISO time and level", r"<Timestamp> <Level>:? <Content>"),
    # Serilog's file sink '2026-12-06 10:00:00.123 +01:00 [ERR] msg', Python's '%(asctime)s [%(levelname)s] %(message)s'
    ("time, [level] and logger", r"<Time> \[<Level>\] <Logger>: <Content>"),
    ("time and [level]", r"<Time> \[<Level>\] <Content>"),
    # Serilog's console '[10:00:00 ERR] msg'; logback's default '10:00:00.123 [main] ERROR c.x.Y - msg'
    ("[time level]", r"\[<Time> <Level>\] <Content>"),
    ("logback, time of day", r"<Time> \[<Process>\] <Level> <Component> - <Content>"),
)
LEVEL_WORDS = ("TRACE", "DEBUG", "FINE", "FINER", "FINEST", "CONFIG", "VERBOSE", "INFO", "INFORMATION", "NOTICE",
               "WARN", "WARNING", "ERROR", "ERR", "SEVERE", "FATAL", "CRITICAL", "CRIT", "ALERT", "EMERG", "EMERGENCY",
               "VRB", "TRC", "DBG", "INF", "WRN", "EROR", "FTL", "LOG", "PANIC", "NOTE", "SYSTEM")
# Serilog's and zap's three- and four-letter levels, read as the words they stand for; PostgreSQL's
# LOG and MySQL's System and Note messages are information
LEVEL_ABBREVIATIONS = {"VRB": "VERBOSE", "TRC": "TRACE", "DBG": "DEBUG", "INF": "INFO", "WRN": "WARNING",
                       "ERR": "ERROR", "EROR": "ERROR", "FTL": "FATAL", "LOG": "INFO", "SYSTEM": "INFO",
                       "NOTE": "NOTICE"}
# Fields whose values have a shape of their own (any other field is the shortest run that fits)
FIELD_PATTERNS = {
    "pri": r"\d{1,3}",
    # a date and a time hold a digit: '--- End of inner exception stack trace ---'
    # is no header whose level is 'trace'
    "date": r"\S*\d\S*",
    "time": r"[^\[\]]*?\d[^\[\]]*?",  # within its brackets: '[time] [pid] [level]' is no time
    "timestamp": r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
    "host": r"\S+",
    "module": r"[\w.-]+",
    "code": r"MY-\d+",
    "thread": r"\d+",
    "logger": r"[\w.$-]+",
    "application": r"[^\]]*",
    "client": r"[^\]]+",
    "tid": r"\d+",
    "connection": r"\d+",
    # RFC 5424 structured data: '-' or one or more '[id name="value" ...]', values with escaped '"', '\\', ']'
    "sd": r'-|(?:\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\])+',
}
# syslog severities 0-7 (the priority's remainder by 8) as level words
SYSLOG_LEVELS = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")
# What may stand before an exception's name: Java's cause, .NET's inner exception, Node's cause
_CAUSE = r"^\s*(?:Caused by: |---> |\[cause\]: |Exception in thread \"[^\"]*\" |Unhandled exception\. )?"
# A line naming an exception by a name that says so: 'ValueError: bad', 'java.io.IOException: disk',
# 'Caused by: X: y', ' ---> System.ArgumentNullException: ...', 'Error: x' (Node)
EXCEPTION_LINE = (_CAUSE + r"((?:[A-Za-z_$][\w$+]*\.)*[\w$+]*"
                  r"(?:Error|Exception|Exit|Interrupt|Warning|Fault|Failure|Timeout))(?::\s*(.*))?$")
# Any exception line's name and message; in a Python traceback the line after the frames names the
# exception whatever its name ('KeyboardInterrupt', 'StopIteration', 'requests.exceptions.Timeout')
NAMED_LINE = _CAUSE + r"([A-Za-z_$][\w$+]*(?:\.[A-Za-z_$][\w$+]*)*)(?::\s*(.*))?$"
PYTHON_TRACEBACK = "Traceback (most recent call last):"


def layout_regex(layout: str) -> tuple[str, list[str]]:
    """A layout as a regular expression (RE2 and Python alike) and its field names in order. The
    built-in layouts' text between fields is a regular expression, as in Loghub; a layout a user
    gives (not in LAYOUTS) is text as written ('|' is a bar, '\\[' or '[' a bracket)."""
    fields: list[str] = []
    out = ""
    builtin = layout in dict(LAYOUTS).values()
    for k, part in enumerate(re.split(r"(<[^<>]+>)", layout)):
        if k % 2:
            # a built-in layout may give a field's pattern after its name: '<Component:\S+>'
            name, _, own = part[1:-1].partition(":") if builtin else (part[1:-1], "", "")
            fields.append(name.lower())
            # a level is one of the level words: a stack trace's 'ValueError: could not ...' is no header
            out += (f"((?i:{'|'.join(LEVEL_WORDS)}))" if fields[-1] == "level"
                    else f"({own or FIELD_PATTERNS.get(fields[-1], '.*?')})")
        elif builtin:
            out += re.sub(r"\((?!\?)", "(?:", re.sub(" +", r"\\s+", part))
        else:
            out += r"\s+".join(re.escape(w) for w in part.replace("\\", "").split(" ")) if part.strip() else (
                r"\s+" if part else "")
    return "^" + out + "$", fields


def _layout_fits(layout: str, lines: list[str], con: Connection) -> list[bool]:
    """Which of ``lines`` the layout reads (a Level field must hold a level); none unless the first does.

    Whether a line fits is decided by RE2 (DuckDB's regular expressions, on ``con``): its time grows
    with a line's length, where Python's backtracking on a line a layout does not fit grows as a power
    of it (a CSV header of ten spaced questions took 14 s against the syslog layout). Python's
    expression then reads the fields of the lines that fit."""
    pattern, fields = layout_regex(layout)
    rx, level = re.compile(pattern), fields.index("level") if "level" in fields else None
    fits = con.execute(f"SELECT list_transform(?::VARCHAR[], lambda x: regexp_matches(x, {_lit(pattern)}))",
                       [lines]).fetchone()[0]
    out = []
    for i, line in enumerate(lines):
        m = rx.match(line) if fits[i] else None
        out.append(bool(m) and (level is None or (m.group(level + 1) or "").strip().upper() in LEVEL_WORDS))
    return out if out and out[0] else [False] * len(lines)


# A line of a stack trace: indented (frames), an exception's name ('java.io.IOException: x',
# 'Caused by: ...', ' ---> ...'), Python's words between chained tracebacks, Java's '... 3 more',
# a closing brace (Node prints an error's properties in braces)
TRACE_LINE = (r"^(\s|Traceback \(most recent call last\):|During handling of the above exception|The above exception "
              r"was the direct cause|\.\.\. \d+ (more|common frames omitted)|[}\])]+,?\s*$|" + EXCEPTION_LINE[1:] + ")")


def recognise_app_log(lines: list[str], layout: str | None = None) -> str | None:
    """The layout (Loghub convention) most of the first lines are written in, or None. Lines a
    layout does not read may be a record's continuation (a stack trace), but the first must fit.
    Three lines must fit, or, in a file of one or two records, every line that does not must be
    one of a stack trace."""
    lines = [ln for ln in lines if ln.strip()][:50]
    if not lines:
        return None
    con = store.scratch()
    try:
        if layout:
            return layout if _layout_fits(layout, lines, con)[0] else None
        traces = con.execute(f"SELECT list_transform(?::VARCHAR[], lambda x: regexp_matches(x, {_lit(TRACE_LINE)}))",
                             [lines]).fetchone()[0]
        best, hits = None, 0
        for _name, candidate in LAYOUTS:
            fits = _layout_fits(candidate, lines, con)
            n = sum(fits)
            if n > hits and (n >= min(3, len(lines)) or all(f or t for f, t in zip(fits, traces))):
                best, hits = candidate, n
    finally:
        con.close()
    return best


def layout_name(layout: str) -> str:
    return next((name for name, candidate in LAYOUTS if candidate == layout), f"layout {layout!r}")


def app_log_columns(layout: str) -> tuple[str, ...]:
    _, fields = layout_regex(layout)
    return (*fields, *_derived(fields), "message", "error_type", "stack_trace")


def _derived(fields: list[str]) -> dict[str, str]:
    """Fields computed from the header's: a syslog priority's severity is the level."""
    if "pri" in fields and "level" not in fields:
        levels = "[" + ", ".join(_lit(v) for v in SYSLOG_LEVELS) + "]"
        return {"level": f"{levels}[try_cast(h['pri'] AS INTEGER) % 8 + 1]"}
    return {}


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


def root_cause_sql(lines: str) -> str:
    """SQL: of the lines (a list) of a stack trace, the line naming its root cause (NULL when none):
    the last 'Caused by:' (Java), else the innermost ' ---> ' (.NET, on a line of its own or after
    its outer exception), else the last '[cause]:' (Node), else the first exception (a Python chain
    starts with it; a lone trace has one)."""
    named = f"regexp_matches(c.l, {_lit(EXCEPTION_LINE)})"
    # a Python exception line: not indented, after an indented frame or code line, in a traceback
    python = (f"(c.tb AND c.i > 1 AND regexp_matches(c.prev, '^\\s') AND NOT regexp_matches(c.l, '^\\s') "
              f"AND regexp_matches(c.l, {_lit(NAMED_LINE)}))")
    ctx = (f"list_transform({lines}, lambda l, i: {{'l': l, 'i': i, 'prev': {lines}[i - 1], "
           f"'tb': list_contains({lines}, {_lit(PYTHON_TRACEBACK)})}})")
    found = f"list_transform(list_filter({ctx}, lambda c: {named} OR {python}), lambda c: c.l)"

    def last(prefix: str) -> str:
        starts = _lit(r"^\s*" + prefix)
        return f"list_filter({found}, lambda l: regexp_matches(l, {starts}))[-1]"
    root = f"coalesce({last('Caused by: ')}, {last('---> ')}, {last(re.escape('[cause]: '))}, {found}[1])"
    # .NET Framework writes the inner exception on its outer's line: 'X: outer ---> Y: inner'
    return f"regexp_replace({root}, '^.*\\S\\s+--->\\s+', '')"


def app_log_object_sql(layout: str) -> str:
    """SQL over a record (``_line``, ``_more``): a struct of the header's fields, and from the
    continuation lines the exception: ``error_type`` and ``message`` of its root cause
    (:func:`root_cause_sql`), ``stack_trace`` all of them."""
    pattern, fields = layout_regex(layout)
    names = "[" + ", ".join(_lit(f) for f in fields) + "]"
    exc = _lit(NAMED_LINE)
    root = root_cause_sql("coalesce(_more, [])")
    # '-' is syslog's (and many layouts') word for a field with no value
    def value(f: str) -> str:
        text = f"nullif(nullif(trim(h[{_lit(f)}]), ''), '-')"
        if f != "level":
            return text
        short = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in LEVEL_ABBREVIATIONS.items())
        return f"CASE upper({text}) {short} ELSE {text} END"

    head = ", ".join([*(f"{_lit(f)}: {value(f)}" for f in fields),
                      *(f"{_lit(f)}: {sql}" for f, sql in _derived(fields).items())])
    return (f"list_transform([{{'h': regexp_extract(_line, {_lit(pattern)}, {names}), 'root': {root}}}], "
            f"lambda r: CASE WHEN regexp_matches(_line, {_lit(pattern)}) THEN "
            f"list_transform([r.h], lambda h: {{{head}, "
            f"'message': coalesce(nullif(regexp_extract(r.root, {exc}, 2), ''), nullif(trim(h['content']), ''), "
            f"regexp_extract(r.root, {exc}, 1)), "
            f"'error_type': nullif(regexp_extract(r.root, {exc}, 1), ''), "
            f"'stack_trace': nullif(array_to_string(coalesce(_more, []), chr(10)), '')}})[1] END)[1]")
