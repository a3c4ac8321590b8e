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

import json
import re
from datetime import UTC, datetime

from readiness import store
from readiness.store import Connection

# [virtual host] client ident user [time] "request" status bytes ["referer" "agent"] [more fields]:
# the fields servers add at the end (nginx's "$http_x_forwarded_for" and timings, Apache's %D,
# Traefik's router and duration) are the line's tail, any text whose quotes are closed (it takes
# the line's trailing spaces too: a second way to take them would make Python's matcher try every
# split of a long run of spaces)
ACCESS_LOG = (r'^(?:(\S+) )??(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-)'
              r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?(\s(?:[^"]|"(?:[^"\\]|\\.)*")*)?$')
_GROUPS = ("vhost", "client", "ident", "auth", "time", "request", "status", "bytes", "referer", "agent", "tail")
# The request's duration in the tail, first found of: a timing field by its name ('rt=0.012',
# 'request_time=0.2', 'duration=35'); a number with its unit ('3ms', '0.5s'), alone or as a timing
# field's value; the first number written with a decimal point among the numbers that lead the
# tail (after any quoted fields: ingress-nginx's '$request_length $request_time', nginx's
# '$request_time $upstream_response_time'); else a leading whole number, unless two lead (Apache's
# %I %O, bytes in and out). Without a unit: by name, seconds with a decimal point, else
# milliseconds; unnamed, seconds with a decimal point, else microseconds (Apache's %D; a whole
# number of seconds, Apache's %T, reads as microseconds: give such a log's times another way)
_DURATION_NAMES = "rt|request_time|req_time|request_duration|response_time|duration|time_taken|took|elapsed|latency"
_TAIL_NAMED = rf'(?:^|\s)(?:{_DURATION_NAMES})[=:]"?(\d+(?:\.\d+)?)(?:[\s"]|$)'
_TAIL_UNIT = rf'(?:^|\s)(?:(?:{_DURATION_NAMES})[=:])?"?(\d+(?:\.\d+)?)(ms|us|µs|s)"?(?:\s|$)'
_TAIL_DECIMAL = r'^(?:"[^"]*"\s+)*(?:\d+\s+)*(\d+\.\d+)(?:\s|$)'
_TAIL_FIRST = r'^(?:"[^"]*"\s+)*(\d+)(?:\s|$)'
_TAIL_TWO_WHOLE = r'^(?:"[^"]*"\s+)*\d+\s+\d+(?:\s|$)'
# ACCESS_LOG's parts on a line cut at its quotes (none escaped, an even number): the text before the
# request, and the status and size after it, then the end of the line or a space and more
_HEAD = r'(?:\S+ )?\S+ \S+ \S+ \[[^\]]+\] '
_STATUS_LAST = r' (?:\d{3}|-) (?:\d+|-)(?:\s.*)?'
_STATUS_MORE = r' (?:\d{3}|-) (?:\d+|-)\s.*'

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
         "aws_elb": "load balancer access log (AWS Application / Classic Load Balancer)",
         "heroku_router": "Heroku router log", "app_log": "application log"}
USAGE_FORMATS = ("access_log", "w3c", "aws_elb", "heroku_router")  # a request is a use
FLAGGED_FORMATS = ("access_log", "aws_elb", "heroku_router")  # their rows say in _parsed whether the line was the format's
RECORD_FORMATS = ("app_log", "w3c")    # a row is built from more than its own line (records_sql)


def _mostly(pattern: re.Pattern, lines: list[str]) -> bool:
    """At least 80% of the first 50 non-blank lines match ``pattern``."""
    lines = [ln for ln in lines if ln.strip()][:50]
    return bool(lines) and sum(bool(pattern.match(ln)) for ln in lines) >= 0.8 * len(lines)


def is_access_log(lines: list[str]) -> bool:
    """Most of the first non-blank lines are written as a web access log's."""
    return _mostly(_ACCESS_RE, lines)


def blank_sql(line: str) -> str:
    """SQL: the line is missing or holds only spaces (trim's: ' ' and Unicode's, not tabs). Only a
    line that starts with a space or a character beyond ASCII is trimmed: trimming a line's end
    walks all of its characters (most of a line's cost to read)."""
    return (f"CASE WHEN {line} IS NULL THEN true WHEN ascii({line}) = 32 OR ascii({line}) > 127 "
            f"THEN trim({line}) = '' ELSE {line} = '' END")


def columns(line_format: str, layout: str | None) -> tuple[str, ...]:
    """The fields a line log's lines (or records) are read into."""
    return ACCESS_COLUMNS if line_format in USAGE_FORMATS else app_log_columns(layout)


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def http_outcome_sql(status: str) -> str:
    """SQL: an HTTP status code's outcome (``status`` an INTEGER expression): 5xx failure, 4xx client
    error, any other code success; NULL for no code."""
    return (f"CASE WHEN {status} >= 500 THEN 'failure' WHEN {status} >= 400 THEN 'client error' "
            f"WHEN {status} IS NOT NULL THEN 'success' END")


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
        # a connection that sent no request ('"-" 408') made no use: no event, so the row is rejected
        "event": (f"CASE WHEN u.bare IS NULL THEN nullif(nullif(u.request, '-'), '') "
                  f"ELSE concat_ws(' ', u.method, {masked}) END"),
        "outcome": http_outcome_sql(status),
        "duration_ms": duration_ms,
        "status": "u.status", "path": "u.path", "client": "u.client", "vhost": "u.vhost", "bytes": "u.bytes",
        "referer": "u.referer",
        "agent": "u.agent",
    }
    text = "{" + ", ".join(f"{_lit(k)}: CAST({v} AS VARCHAR)" for k, v in fields.items()) + "}"
    return re.sub(r"\bu\.(\w+)", lambda m: f"({u[m.group(1)]})", text)


def access_log_rows_sql(rows: str) -> str:
    """FROM-able: ``rows`` (with their ``_line``), ``_j``, the line's fields as a struct of text,
    and ``_parsed``, whether the line is written as an access log's (``_j`` of a line that is not
    is what its cuts gave: a struct made NULL by a CASE costs a copy of each of its fields, a
    quarter of the work). Computed in layers so that each part of a line is computed once (DuckDB
    does not share a repeated expression inside a CASE, and lambdas cost more than the work).

    Whether the line is an access log's is asked of its short parts cut at the quotes (the head
    and the status), the whole line only when a quote is escaped or unpaired; the fields are cut
    out at the quotes and spaces, and taken from the expression's captures only on the rare line
    with an escaped quote."""
    pattern = _lit(ACCESS_LOG)
    names = "[" + ", ".join(_lit(g) for g in _GROUPS) + "]"
    # head, request, status and bytes [, referer, ' ', agent, (' ', more,) request time]; [virtual host,]
    # client, ident, user
    cut = {"vhost": "CASE WHEN len(_w) = 4 THEN _w[1] ELSE '' END", "client": "_w[-3]", "ident": "_w[-2]",
           "auth": "_w[-1]", "time": "split_part(split_part(_q[1], ' [', 2), ']', 1)", "request": "_q[2]",
           "status": "_sb[1]", "bytes": "_sb[2]", "referer": "coalesce(_q[4], '')", "agent": "coalesce(_q[6], '')",
           "tail": ("CASE WHEN len(_q) = 7 THEN _q[7] WHEN len(_q) > 7 THEN array_to_string(_q[7:], '\"') "
                    "WHEN len(_q) = 3 AND len(_sb) > 2 THEN array_to_string(_sb[3:], ' ') ELSE '' END")}
    # _x: the captures (each text, '' when missing), only on a line the cuts could read otherwise
    # than the pattern does (else NULL): an escaped quote, a referer without an agent, more than
    # the status and size before the referer, a tab among them
    fast = ("NOT _bs AND ((len(_q) = 3 AND NOT contains(_q[3], chr(9))) "
            "OR (len(_q) >= 7 AND _q[5] = ' ' AND len(_sb) = 2))")
    groups = ", ".join(f"coalesce(_x[{_lit(g)}], {cut[g]}) AS _a_{g}" for g in _GROUPS)
    parts = {"time": "_a_time", "request": "nullif(_a_request, '')",
             "method": "CASE WHEN len(_r) >= 2 THEN _r[1] END", "path": "CASE WHEN len(_r) >= 2 THEN _r[2] END",
             "bare": "CASE WHEN len(_r) >= 2 THEN split_part(_r[2], '?', 1) END", "status": "nullif(_a_status, '-')",
             "auth": "nullif(nullif(_a_auth, '-'), '')", "client": "_a_client", "vhost": "nullif(_a_vhost, '')",
             "bytes": "nullif(_a_bytes, '-')", "referer": "nullif(nullif(_a_referer, '-'), '')",
             "agent": "nullif(nullif(_a_agent, '-'), '')", "rt": "trim(_a_tail, ' ' || chr(9) || chr(13))"}
    unit, named = _lit(_TAIL_UNIT), _lit(_TAIL_NAMED)
    by_name = f"regexp_extract(u.rt, {named}, 1)"
    unnamed = (f"coalesce(nullif(regexp_extract(u.rt, {_lit(_TAIL_DECIMAL)}, 1), ''), CASE WHEN NOT "
               f"regexp_matches(u.rt, {_lit(_TAIL_TWO_WHOLE)}) THEN regexp_extract(u.rt, {_lit(_TAIL_FIRST)}, 1) END)")
    duration = (f"CASE WHEN u.rt = '' THEN NULL "
                f"WHEN {by_name} <> '' THEN try_cast({by_name} AS DOUBLE) "
                f"* CASE WHEN contains({by_name}, '.') THEN 1000 ELSE 1 END "
                f"WHEN regexp_matches(u.rt, {unit}) THEN try_cast(regexp_extract(u.rt, {unit}, 1) AS DOUBLE) "
                f"* CASE regexp_extract(u.rt, {unit}, 2) WHEN 'ms' THEN 1 WHEN 's' THEN 1000 ELSE 0.001 END "
                f"WHEN contains({unnamed}, '.') THEN try_cast({unnamed} AS DOUBLE) * 1000 "
                f"ELSE try_cast(nullif({unnamed}, '') AS DOUBLE) / 1000 END")
    obj = _usage_object({k: f"_u_{k}" for k in parts}, duration)
    helpers = ["_ok", "_bs", "_q", "_w", "_sb", "_x", "_r", *(f"_a_{g}" for g in _GROUPS), *(f"_u_{k}" for k in parts)]
    return f"""(SELECT * EXCLUDE ({', '.join(helpers)}), {obj} AS _j, coalesce(_ok, false) AS _parsed FROM
              (SELECT *, {', '.join(f"{v} AS _u_{k}" for k, v in parts.items())} FROM
               (SELECT *, string_split(_a_request, ' ') AS _r FROM
                (SELECT *, {groups} FROM
                 (SELECT *, CASE WHEN NOT ({fast}) THEN regexp_extract(_line, {pattern}, {names}) END AS _x FROM
                 (SELECT *, string_split(trim(_q[3]), ' ') AS _sb FROM
                  (SELECT *, CASE WHEN _bs OR len(_q) % 2 = 0 THEN regexp_full_match(_line, {pattern})
                                  WHEN len(_q) = 1 THEN false
                                  ELSE regexp_full_match(_q[1], {_lit(_HEAD)}) AND
                                       CASE WHEN len(_q) = 3 THEN regexp_full_match(_q[3], {_lit(_STATUS_LAST)})
                                            ELSE regexp_full_match(_q[3], {_lit(_STATUS_MORE)}) END END AS _ok,
                          string_split(trim(split_part(_q[1], ' [', 1)), ' ') AS _w FROM
                   (SELECT *, contains(_line, '\\') AS _bs, string_split(_line, '"') AS _q FROM {rows}))))))))"""


# --- AWS load balancer access logs: an Application Load Balancer's line starts with the request's
# type (http, https, h2, grpcs, ws, wss), a Classic one's with the time; then the balancer, client
# and target (address:port), three processing times in seconds (-1: not reached), the balancer's and
# the target's status, bytes received and sent, the request line and the agent in quotes, and more.
ELB_LOG = (r'^(?:(http|https|h2|grpcs|ws|wss) )?(\d{4}-\d\d-\d\dT[\d:.]+Z) (\S+) (\S+) (\S+) (-?[\d.]+) '
           r'(-?[\d.]+) (-?[\d.]+) (\d{3}|-) (\d{3}|-) (\d+|-) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"')
_ELB_GROUPS = ("type", "time", "elb", "client", "target", "request_s", "target_s", "response_s", "status",
               "target_status", "received", "sent", "request", "agent")
_ELB_RE = re.compile(ELB_LOG)


def is_elb_log(lines: list[str]) -> bool:
    """Most of the first non-blank lines are written as an AWS load balancer's access log's."""
    return _mostly(_ELB_RE, lines)


def elb_rows_sql(rows: str) -> str:
    """FROM-able: ``rows`` (with their ``_line``), ``_j`` (the request's fields, as an access log's)
    and ``_parsed`` (the line is written as a load balancer's). The request line names the whole
    URL (``GET https://host:443/path?q HTTP/1.1``): the path is what follows the host, the host is
    the virtual host. The duration is the three processing times' sum, unknown when the request
    never reached a target (its time is -1); the client is its address without the port."""
    names = "[" + ", ".join(_lit(g) for g in _ELB_GROUPS) + "]"
    url = "CASE WHEN len(_r) >= 2 THEN _r[2] END"
    path = f"coalesce(nullif(regexp_replace({url}, '^[A-Za-z][A-Za-z0-9+.-]*://[^/]*', ''), ''), '/')"
    parts = {
        # a request the balancer could not read is written '- - - ': no request
        "time": "_x.time", "request": "CASE WHEN _r[1] <> '-' THEN nullif(_x.request, '') END",
        "method": "CASE WHEN len(_r) >= 2 AND _r[1] <> '-' THEN _r[1] END",
        "path": f"CASE WHEN len(_r) >= 2 AND _r[1] <> '-' THEN {path} END",
        "bare": f"CASE WHEN len(_r) >= 2 AND _r[1] <> '-' THEN split_part({path}, '?', 1) END",
        "status": "nullif(_x.status, '-')", "auth": "NULL", "client": "regexp_replace(_x.client, ':\\d+$', '')",
        "vhost": f"nullif(regexp_extract({url}, '://([^/:]+)', 1), '')", "bytes": "nullif(_x.sent, '-')",
        "referer": "NULL", "agent": "nullif(nullif(_x.agent, '-'), '')", "rt": "NULL",
    }
    times = [f"try_cast(_x.{t} AS DOUBLE)" for t in ("request_s", "target_s", "response_s")]
    duration = f"CASE WHEN least({', '.join(times)}) >= 0 THEN ({' + '.join(times)}) * 1000 END"
    obj = _usage_object(parts, duration)
    return f"""(SELECT * EXCLUDE (_x, _r), {obj} AS _j, coalesce(_x.time <> '', false) AS _parsed FROM
              (SELECT *, string_split(_x.request, ' ') AS _r FROM
               (SELECT *, regexp_extract(_line, {_lit(ELB_LOG)}, {names}) AS _x FROM {rows})))"""


# --- Heroku's router: one line per request, as `heroku logs` prints it ('2026-12-06T10:00:00.123456+00:00
# heroku[router]: at=info method=GET path="/x" host=a.herokuapp.com request_id=... fwd="1.2.3.4"
# dyno=web.1 connect=1ms service=18ms status=200 bytes=13 protocol=https') or a syslog drain sends it
# ('<158>1 <time> host heroku router - at=info ...'); a failed request adds its error code
# ('at=error code=H12 desc="Request timeout"'; a connection's end first: 'sock=client at=warning code=H27').
# The fields are logfmt's: read by name.
HEROKU_ROUTER = (r'^(?:<\d+>1 )?(\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)) '
                 r'(?:heroku\[router\]:|\S+ heroku router -) ((?:sock=\S+ )?at=\w+ .*)$')
_HEROKU_RE = re.compile(HEROKU_ROUTER)
_START, _MS = r"(?:^|\s)", r"=(\d+(?:\.\d+)?)ms"  # a field's start; a time in milliseconds


def is_heroku_router(lines: list[str]) -> bool:
    """Most of the first non-blank lines are Heroku's router's."""
    return _mostly(_HEROKU_RE, lines)


def heroku_rows_sql(rows: str) -> str:
    """FROM-able: ``rows`` (with their ``_line``), ``_j`` (the request's fields, as an access
    log's) and ``_parsed`` (the line is the router's). The client is the first address of ``fwd``
    (the one the request came from); the duration is the router's connect and service times."""
    def field(name: str, quoted: bool = False) -> str:
        value = r'"((?:[^"\\]|\\.)*)"' if quoted else r'([^\s"]+)'
        return f"nullif(regexp_extract(_x.tail, {_lit(_START + name + '=' + value)}, 1), '')"
    path = f"coalesce({field('path', True)}, {field('path')})"
    parts = {
        "time": "_x.time", "request": f"concat_ws(' ', {field('method')}, {path})", "method": field("method"),
        "path": path, "bare": f"split_part({path}, '?', 1)", "status": field("status"), "auth": "NULL",
        "client": f"nullif(trim(split_part(coalesce({field('fwd', True)}, {field('fwd')}), ',', 1)), '')",
        "vhost": field("host"), "bytes": field("bytes"), "referer": "NULL", "agent": "NULL", "rt": "NULL",
    }
    times = [f"try_cast(regexp_extract(_x.tail, {_lit(_START + t + _MS)}, 1) AS DOUBLE)" for t in ("connect", "service")]
    duration = f"{times[0]} + {times[1]}"
    obj = _usage_object(parts, duration)
    return f"""(SELECT * EXCLUDE (_x), {obj} AS _j, coalesce(_x.time <> '', false) AS _parsed FROM
              (SELECT *, regexp_extract(_line, {_lit(HEROKU_ROUTER)}, ['time', 'tail']) AS _x FROM {rows}))"""


# --- container logs: Docker's json-file driver ({"log": "...\\n", "stream": "stderr", "time": "..."})
# and the CRI format of containerd, CRI-O and the kubelet's files ('<time> stderr F <line>') wrap each
# line a program wrote with its time and stream; a line longer than the runtime's buffer comes in
# parts (Docker: a 'log' without its line break; CRI: the tag P), joined here.
CRI_LINE = r"^(\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)) (stdout|stderr) ([PF])(?: (.*))?$"
_CRI_RE = re.compile(CRI_LINE)
_DOCKER_KEYS = {"log", "stream", "time"}


def container_format(lines: list[str]) -> str | None:
    """'docker' or 'cri' when the first non-blank lines are a container runtime's log, else None."""
    lines = [ln for ln in lines if ln.strip()][:50]
    if not lines:
        return None
    if _mostly(_CRI_RE, lines):
        return "cri"
    if not (lines[0].lstrip().startswith("{") and '"log"' in lines[0]):
        return None
    try:
        first = json.loads(lines[0])
    except (ValueError, RecursionError):
        return None
    keys = set(first) if isinstance(first, dict) else set()
    return "docker" if _DOCKER_KEYS <= keys <= _DOCKER_KEYS | {"attrs"} else None


def container_lines_sql(kind: str, reader: str) -> str:
    """SELECT of the program's lines in a container log read by ``reader`` (one ``_line`` per
    physical line): ``_n`` (their order), ``_time`` (the runtime's time of the line's first part)
    and ``_text``, a line's parts joined. A line that is not the runtime's is kept as it is."""
    if kind == "docker":
        obj = "CASE WHEN json_valid(_line) THEN _line END"
        parts = (f"SELECT n, {obj}->>'time' AS t, coalesce({obj}->>'log', _line) AS p, "
                 f"coalesce(NOT ends_with({obj}->>'log', chr(10)), false) AS partial FROM lines")
    else:
        cut = f"regexp_extract(_line, {_lit(CRI_LINE)}, ['t', 's', 'tag', 'p'])"
        parts = ("SELECT n, nullif(m.t, '') AS t, CASE WHEN m.t = '' THEN _line ELSE m.p END AS p, "
                 f"m.tag = 'P' AS partial FROM (SELECT n, _line, {cut} AS m FROM lines)")
    return f"""(WITH lines AS (SELECT row_number() OVER () AS n, _line FROM {reader} WHERE NOT {blank_sql('_line')}),
               parts AS ({parts}),
               starts AS (SELECT *, NOT coalesce(lag(partial) OVER (ORDER BY n), false) AS starts FROM parts),
               grouped AS (SELECT *, sum(starts::INTEGER) OVER (ORDER BY n ROWS UNBOUNDED PRECEDING) AS g FROM starts)
               SELECT g AS _n, first(t ORDER BY n) AS _time, rtrim(string_agg(p, '' ORDER BY n), chr(10) || chr(13)) AS _text
               FROM grouped GROUP BY g)"""


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
                WHERE NOT {blank_sql('_line')} AND NOT starts_with(ltrim(_line), '#'))"""


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
# logfmt's message, then the fields after it (kept as written); go-kit's fields before msg
_LOGFMT_MSG = r"msg=<Content:\"(?:[^\"\\]|\\.)*\"|\S+>( <Fields:.*>)?"
_LOGFMT_BEFORE = r"<Before:(?: [\w.-]+=(?:\"(?:[^\"\\]|\\.)*\"|[^\s\"]+))*?> "

LAYOUTS: tuple[tuple[str, str], ...] = (
    # Spring Boot 2 and 3 (3.4 writes the application's name in brackets before the thread's)
    ("Spring Boot", r"<Time> <Level> <Pid> --- (\[<Application>\] )?\[<Process>\] <Component> : <Content>"),
    # Kubernetes' klog: 'E1206 10:00:00.123456   12345 sync.go:42] msg', the level's first letter and
    # the month and day before the time
    ("Kubernetes klog", r"<Level:[IWEF]><Date:\d{4}> <Time:\d{2}:\d{2}:\d{2}\.\d{6}> <Pid:\d+> "
                        r"<Component:[^\s\]]+:\d+>\] <Content>"),
    # java.util.logging's SimpleFormatter: 'Dec 06, 2026 9:05:03 AM com.x.Sync run', then 'SEVERE: msg'
    ("java.util.logging", r"<Time:[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M> <Component:\S+>"
                          r"( <Method:\S+>)?\n<Level>: <Content>"),
    # .NET's console logger: 'fail: App.Sync[0]', the message on the next line, indented; a time
    # before the level only when TimestampFormat is set
    (".NET console", r"(\[?<Time:\d[\d:./ T,+-]*\d>\]? )?<Level:trce|dbug|info|warn|fail|crit>: "
                     r"<Component:[^\s\[\]]+>\[<EventId:\d+>\]\n\s+<Content>"),
    # Android's logcat (threadtime): '03-17 16:13:38.811  1702  2395 D WindowManager: msg'
    ("Android logcat", r"<Date:\d{2}-\d{2}> <Time:\d{2}:\d{2}:\d{2}\.\d{3}> <Pid:\d+> <Tid:\d+> <Level:[VDIWEFA]> "
                       r"<Component>: <Content>"),
    # Blue Gene/L's RAS log: '- 1117838570 2005.06.03 R02-M1-N0 2005-06-03-15.42.50.675872 R02-M1-N0 RAS KERNEL INFO msg'
    ("Blue Gene/L RAS", r"<Label:\S+> <Timestamp:\d{9,10}> <Date:\d{4}\.\d{2}\.\d{2}> <Node:\S+> "
                        r"<Time:\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}\.\d+> <NodeRepeat:\S+> <Type:\S+> <Component:\S+> "
                        r"<Level> <Content>"),
    # Thunderbird's (syslog behind an alert tag, an epoch and a date): '- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2915]: msg'
    ("Thunderbird syslog", r"<Label:\S+> <Timestamp:\d{9,10}> <Date:\d{4}\.\d{2}\.\d{2}> <User:\S+> <Month:[A-Z][a-z]{2}> "
                           r"<Day:\d{1,2}> <Clock:\d{2}:\d{2}:\d{2}> <Location:\S+> <Component>(\[<Pid:\d+>\])?: <Content>"),
    # HPC cluster event logs: '134681 node-246 unix.hw state_change.unavailable 1077804742 1 msg'
    ("HPC events", r"<LogId:\d+> <Node:\S+> <Component:\S+> <State:\S+> <Timestamp:\d{9,10}> <Flag:-?\d> <Content>"),
    # '20171223-22:15:29:606|Step_LSC|30002312|msg'
    ("time|component|pid", r"<Time:\d{8}-\d{1,2}:\d{1,2}:\d{1,2}:\d{1,3}>\|<Component>\|<Pid:\d+>\|<Content>"),
    # Proxifier's: '[10.30 16:49:06] chrome.exe - proxy.example.org:5070 open through proxy ...'
    ("Proxifier", r"\[<Time:\d{2}\.\d{2} \d{2}:\d{2}:\d{2}>\] <Program> - <Content>"),
    # logrus's text (not a terminal) and Go's slog: 'time="2026-12-06T10:00:00Z" level=error msg="..." key=value'
    # (the message is msg's value; the fields after it are kept as they are)
    ("logfmt (logrus, slog)", r"time=<Time:\"[^\"]*\"|\S+> level=<Level>( source=<Component:\S+>)? " + _LOGFMT_MSG),
    # go-kit's logfmt (Prometheus, Alertmanager, Loki, Thanos): 'level=error ts=2026-12-06T10:00:02.502Z
    # caller=notifier.go:530 component=notifier msg="Error sending alert" err="..."', or the time
    # first ('ts=... caller=... level=error ...'); other fields may come before msg (kept as written)
    ("logfmt (go-kit)", r"level=<Level> ts=<Time:\S+>( caller=<Component:\S+>)?" + _LOGFMT_BEFORE + _LOGFMT_MSG),
    ("logfmt (go-kit, time first)", r"ts=<Time:\S+> caller=<Component:\S+> level=<Level>" + _LOGFMT_BEFORE + _LOGFMT_MSG),
    # zap's console encoder: time, level, [logger,] caller and message, tab-separated
    ("zap console", r"<Timestamp>\t<Level>\t(<Logger:[^\t]+>\t)?<Component:[^\s]+\.go:\d+>\t<Content>"),
    # loguru's default: '2026-12-06 10:00:00.123 | ERROR    | app.sync:run:12 - msg'
    ("loguru", r"<Date> <Time> \| <Level> \| <Component> - <Content>"),
    # Django's 'verbose' example: '{levelname} {asctime} {module} {process:d} {thread:d} {message}'
    ("Django verbose", r"<Level> <Date> <Time> <Component:\w+> <Pid:\d+> <Thread:\d+> <Content>"),
    # syslog as sent or stored with its priority: '<34>1 2026-10-11T22:14:15.003Z host app 1234 ID47 [sd] msg'
    # (RFC 5424; '-' a missing field, the message may be absent) and '<34>Oct 11 22:14:15 host app[123]: msg'
    # Python: Flask's '[%(asctime)s] %(levelname)s in %(module)s: %(message)s', gunicorn's
    # '[time] [pid] [LEVEL] msg', Celery's '[time: LEVEL/process] msg'
    ("Flask", r"\[<Time>\] <Level> in <Component>: <Content>"),
    ("gunicorn", r"\[<Time>\] \[<Pid>\] \[<Level>\] <Content>"),
    ("Celery", r"\[<Time>: <Level>/<Process>\] <Content>"),
    # Ruby's Logger (Rails): 'E, [2026-12-06T10:00:01.456789 #1234] ERROR -- progname: msg'
    # (Rails' tagged logging writes the request's tags before the message: kept apart)
    ("Ruby Logger", r"[A-Z], \[<Time> #<Pid>\] <Level> -- <Component>: (<Tags:(?:\[[^\]]*\] )+>)?<Content>"),
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
    # PHP's error_log: '[01-Mar-2024 10:42:03 Europe/Berlin] PHP Fatal error:  Uncaught TypeError: ...',
    # then 'Stack trace:' and '#0 ...' lines; the zone (date.timezone) kept apart
    ("PHP error log", r"\[<Time:\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2}>( <Zone:[A-Za-z][\w/+-]*>)?\] "
                      r"PHP <Level:[A-Z][a-z]+(?: [a-z]+)?>:\s+<Content>"),
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
    # Go's slog through the standard logger (slog.Info and the rest with no handler set):
    # '2026/12/06 10:00:00 ERROR sync failed err="..."', the level in capitals (INFO+2 for others)
    ("Go slog default", r"<Date:\d{4}/\d{2}/\d{2}> <Time:\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?> (<Component:[^\s:]+\.go:\d+>: )?"
                        r"<Level:DEBUG|INFO|WARN|ERROR>(?:[+-]\d+)? <Content>"),
    # Go's standard log: '2026/12/06 10:00:00 sync.go:42: msg' (date and time flags, the file when
    # asked); a level only where the message starts with one
    ("Go log", r"<Date:\d{4}/\d{2}/\d{2}> <Time:\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?> (<Component:[^\s:]+\.go:\d+>: )?"
               r"(\[?<Level>(\]|:) )?<Content>"),
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
    # Python's logging.basicConfig(): '%(levelname)s:%(name)s:%(message)s', no time
    ("Python logging default", r"<Level>:<Component:[\w.]+>:<Content>"),
)
# Lines before a log's first record that a layout may leave unread (an application's banner)
BANNER_LINES = 12
# Where a two-line layout's second line starts ('\\n' as written in it)
NEXT_LINE = r"\n"
# Layouts whose lines may carry no time: a record is then dated by the file's last change
TIMELESS = (".NET console", "Python logging default")
LEVEL_WORDS = ("TRACE", "DEBUG", "FINE", "FINER", "FINEST", "CONFIG", "VERBOSE", "INFO", "INFORMATION", "NOTICE",
               "WARN", "WARNING", "ERROR", "ERR", "SEVERE", "FATAL", "CRITICAL", "CRIT", "ALERT", "EMERG", "EMERGENCY",
               "VRB", "TRC", "DBG", "INF", "WRN", "EROR", "FTL", "LOG", "PANIC", "DPANIC", "NOTE", "SYSTEM", "FAILURE",
               # PHP's error log
               "FATAL ERROR", "PARSE ERROR", "DEPRECATED", "STRICT STANDARDS", "CATCHABLE FATAL ERROR",
               "RECOVERABLE FATAL ERROR")
# Serilog's and zap's three- and four-letter levels, read as the words they stand for; PostgreSQL's
# LOG and MySQL's System and Note messages are information
LEVEL_ABBREVIATIONS = {"VRB": "VERBOSE", "TRC": "TRACE", "DBG": "DEBUG", "INF": "INFO", "WRN": "WARNING",
                       "ERR": "ERROR", "EROR": "ERROR", "FTL": "FATAL", "LOG": "INFO", "SYSTEM": "INFO",
                       "NOTE": "NOTICE",
                       # .NET's console logger's four letters; klog's and logcat's first letters
                       "TRCE": "TRACE", "DBUG": "DEBUG", "FAIL": "ERROR", "CRIT": "CRITICAL",
                       "V": "VERBOSE", "D": "DEBUG", "I": "INFO", "W": "WARNING", "E": "ERROR", "F": "FATAL",
                       "A": "FATAL"}
# Fields whose values have a shape of their own (any other field is the shortest run that fits)
FIELD_PATTERNS = {
    "pri": r"\d{1,3}",
    # a date and a time hold a digit: '--- End of inner exception stack trace ---'
    # is no header whose level is 'trace'
    "date": r"\S*\d\S*",
    "time": r"[^\[\]]*?\d[^\[\]]*?",  # within its brackets: '[time] [pid] [level]' is no time
    "timestamp": r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
    "host": r"\S+",
    # syslog's 'Jun 14': a month's three letters and a day (a tab-separated row is no syslog line)
    "month": r"[A-Z][a-z]{2}",
    "day": r"\d{1,2}",
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
_CAUSE = r"^\s*(?:Caused by: |caused by: |---> |\[cause\]: |Exception in thread \"[^\"]*\" |Unhandled exception\. )?"
# AWS Lambda's Python runtime writes an unhandled error as "[ERROR] KeyError: 'vat'" above its traceback
_LAMBDA_ERROR = r"^\[ERROR\]\s+"
# .NET writes an exception's HRESULT after its name: 'SqlException (0x80131904): Timeout expired.'
_HRESULT = r"(?: \(0x[0-9A-Fa-f]{1,8}\))?"
# A line naming an exception by a name that says so: 'ValueError: bad', 'java.io.IOException: disk',
# 'Caused by: X: y', ' ---> System.ArgumentNullException: ...', 'Error: x' (Node), Go's 'panic: x'
EXCEPTION_LINE = (_CAUSE + r"((?:[A-Za-z_$][\w$+]*(?:\.|::))*[\w$+]*"
                  r"(?:Error|Exception|Exit|Interrupt|Warning|Fault|Failure|Timeout)|panic)" + _HRESULT + r"(?::\s*(.*))?$")
# Any exception line's name and message; in a Python traceback the line after the frames names the
# exception whatever its name ('KeyboardInterrupt', 'StopIteration', 'requests.exceptions.Timeout')
NAMED_LINE = _CAUSE + r"([A-Za-z_$][\w$+]*(?:(?:\.|::)[A-Za-z_$][\w$+]*)*)" + _HRESULT + r"(?::\s*(.*))?$"
# Rails writes an exception as 'ActiveRecord::RecordNotFound (Couldn't find Invoice with 'id'=4):',
# after the request's tags ('[8f1b2c]'); read as 'Name: message'
RAILS_LINE = r"^(?:\[[^\]]*\] )*((?:[A-Z]\w*::)+[A-Z]\w*|[A-Z]\w*(?:Error|Exception)) \((.*)\):\s*$"
PYTHON_TRACEBACK = "Traceback (most recent call last):"
# A message naming the exception nothing caught: PHP's 'Uncaught App\\SyncError: msg in /x.php:12'
UNCAUGHT = r"^Uncaught ((?:\\?[A-Za-z_][\w]*)+)(?: \(0x[0-9A-Fa-f]+\))?:\s*(.*)$"
# Ruby's Logger writes an exception as 'message (ClassName)', its backtrace on the lines below
RUBY_RAISED = r"^(.*\S) \(((?:[A-Z]\w*::)+[A-Z]\w*|[A-Z]\w*(?:Error|Exception|Timeout|Interrupt))\)$"


def layout_regex(layout: str, builtin: bool | None = None) -> tuple[str, list[str]]:
    """A layout as a regular expression (RE2 and Python alike) and its field names in order. The
    built-in layouts' text between fields is a regular expression, as in Loghub; a layout a user
    gives (not in LAYOUTS) is text as written ('|' is a bar, '\\[' or '[' a bracket). A layout of
    two lines ('\\n' in it) reads a record's header line and the line after it."""
    fields: list[str] = []
    out = ""
    builtin = is_builtin(layout) if builtin is None else builtin
    for k, part in enumerate(re.split(r"(<[^<>]+>)", layout)):
        if k % 2:
            # a built-in layout may give a field's pattern after its name: '<Component:\S+>'
            name, _, own = part[1:-1].partition(":") if builtin else (part[1:-1], "", "")
            fields.append(name.lower())
            # a level is one of the level words (or the layout's own, 'I' or 'fail'): a stack
            # trace's 'ValueError: could not ...' is no header
            out += (f"({own})" if own else f"((?i:{'|'.join(LEVEL_WORDS)}))" if fields[-1] == "level"
                    else f"({FIELD_PATTERNS.get(fields[-1], '.*?')})")
        elif builtin:
            out += re.sub(r"\((?!\?)", "(?:", re.sub(" +", r"\\s+", part))
        else:
            out += r"\s+".join(re.escape(w) for w in part.replace("\\", "").split(" ")) if part.strip() else (
                r"\s+" if part else "")
    return "^" + out + "$", fields


def head_regex(layout: str) -> str:
    """The regular expression of a record's first line (of a two-line layout, its first line's)."""
    if NEXT_LINE not in layout:
        return layout_regex(layout)[0]
    return layout_regex(layout.split(NEXT_LINE)[0], builtin=is_builtin(layout))[0]


def _level_word(value: str | None) -> bool:
    """A level field's text names a level (an optional level left out counts as one)."""
    return value is None or value.strip().upper() in LEVEL_WORDS or value.strip().upper() in LEVEL_ABBREVIATIONS


def _layout_fits(layout: str, lines: list[str], con: Connection, lead: int = 0) -> list[bool]:
    """Which of ``lines`` the layout reads (see :func:`_layouts_fit`)."""
    return _layouts_fit([layout], lines, con, lead)[0]


def _layouts_fit(layouts: list[str], lines: list[str], con: Connection, lead: int = 0) -> list[list[bool]]:
    """For each layout, which of ``lines`` it reads (a Level field must hold a level); none unless one
    of the first ``lead`` + 1 does (the lines before it: a banner).
    A two-line layout reads a line with the line after it; the second of the two does not fit.

    Whether a line fits is decided by RE2 (DuckDB's regular expressions, on ``con``), every layout in
    one statement: its time grows with a line's length, where Python's backtracking on a line a
    layout does not fit grows as a power of it (a CSV header of ten spaced questions took 14 s against
    the syslog layout). Python's expression then reads the fields of the lines that fit."""
    pairs = [f"{line}\n{lines[i + 1] if i + 1 < len(lines) else ''}" for i, line in enumerate(lines)]
    compiled = [(layout, *layout_regex(layout)) for layout in layouts]
    tests = ", ".join(f"list_transform(${2 if NEXT_LINE in layout else 1}::VARCHAR[], "
                      f"lambda x: regexp_matches(x, {_lit(pattern)}))" for layout, pattern, _ in compiled)
    two_line = any(NEXT_LINE in layout for layout in layouts)
    matched = con.execute(f"SELECT {tests}", [lines, pairs] if two_line else [lines]).fetchone()
    out = []
    for (layout, pattern, fields), fits in zip(compiled, matched):
        rx, level = re.compile(pattern), fields.index("level") if "level" in fields else None
        read = pairs if NEXT_LINE in layout else lines
        one = []
        for i, line in enumerate(read):
            m = rx.match(line) if fits[i] else None
            one.append(bool(m) and (level is None or _level_word(m.group(level + 1))))
        out.append(one if any(one[:lead + 1]) else [False] * len(read))
    return out


def timeless(layout: str, line: str) -> bool:
    """The layout may write no time, and ``line`` (a record's first line) has none."""
    if layout_name(layout) not in TIMELESS:
        return False
    m = re.match(head_regex(layout), line)
    fields = layout_regex(layout)[1]
    return bool(m) and ("time" not in fields or not (m.group(fields.index("time") + 1) or "").strip())


# A line of a stack trace: indented (frames), an exception's name ('java.io.IOException: x',
# 'Caused by: ...', ' ---> ...'), Python's words between chained tracebacks, Java's '... 3 more',
# a closing brace (Node prints an error's properties in braces), a Ruby frame alone on its line
# ('app/x.rb:42:in `total'', 'from <internal:kernel>:187:in 'Kernel#loop''; an uncaught exception's
# first line, 'x.rb:12:in `run': msg (NameError)', starts a record)
TRACE_LINE = (r"^(\s|Traceback \(most recent call last\):|During handling of the above exception|The above exception "
              r"was the direct cause|\.\.\. \d+ (more|common frames omitted)|[}\])]+,?\s*$|"
              r"(from )?(\S+\.(rb|erb|rake|haml|slim)|<internal:[^>]+>):\d+:in [`'][^`']*'\s*$|" + EXCEPTION_LINE[1:] + ")")


def recognise_app_log(lines: list[str], layout: str | None = None) -> str | None:
    """The layout (Loghub convention) most of the first lines are written in, or None. Lines a
    layout does not read may be a record's continuation (a stack trace), but the first must fit,
    or one of the first BANNER_LINES + 1 after lines with no delimiter (',', ';', tab) in them (a
    banner before it, as Spring Boot prints, is rejected with its line numbers). Three lines must fit, or, in a file of one or two records, the first
    and every line that does not must be one of a stack trace."""
    lines = [ln for ln in lines if ln.strip()][:50]
    if not lines:
        return None
    con = store.scratch()
    try:
        if layout:
            return layout if _layout_fits(layout, lines, con)[0] else None
        traces = con.execute(f"SELECT list_transform(?::VARCHAR[], lambda x: regexp_matches(x, {_lit(TRACE_LINE)}))",
                             [lines]).fetchone()[0]
        # a banner's lines hold no delimiter: a CSV's header line does, and its rows may fit a loose layout
        lead = next((i for i, line in enumerate(lines[:BANNER_LINES]) if re.search(r"[,;\t]", line)),
                    min(BANNER_LINES, len(lines)))
        best, hits = None, 0
        candidates = [candidate for _name, candidate in LAYOUTS]
        for candidate, fits in zip(candidates, _layouts_fit(candidates, lines, con, lead=lead)):
            n = sum(fits)
            if n > hits and (n >= min(3, len(lines)) or (fits[0] and all(f or t for f, t in zip(fits, traces)))):
                best, hits = candidate, n
    finally:
        con.close()
    return best


CONTAINER_TIME = "<Timestamp> "  # a container runtime's time, written before a program's timeless record


def is_builtin(layout: str) -> bool:
    """One of LAYOUTS, or one after a container runtime's time (its text between fields is a regular
    expression)."""
    layouts = dict(LAYOUTS).values()
    return layout in layouts or (layout.startswith(CONTAINER_TIME) and layout[len(CONTAINER_TIME):] in layouts)


def layout_name(layout: str) -> str:
    if layout.startswith(CONTAINER_TIME) and is_builtin(layout) and layout not in dict(LAYOUTS).values():
        return layout_name(layout[len(CONTAINER_TIME):]) + ", after the container's time"
    return next((name for name, candidate in LAYOUTS if candidate == layout), f"layout {layout!r}")


def app_log_columns(layout: str) -> tuple[str, ...]:
    _, fields = layout_regex(layout)
    return (*fields, *_derived(layout, fields), "message", "error_type", "stack_trace")


def _derived(layout: str, fields: list[str], dated: datetime | None = None) -> dict[str, str]:
    """Fields computed from the header's: a syslog priority's severity is the level; a layout that
    may write no time is dated by the file's last change (``dated``) where it writes none."""
    out = {}
    if "pri" in fields and "level" not in fields:
        levels = "[" + ", ".join(_lit(v) for v in SYSLOG_LEVELS) + "]"
        out["level"] = f"{levels}[try_cast(h['pri'] AS INTEGER) % 8 + 1]"
    if layout_name(layout) in TIMELESS and "time" not in fields:
        out["time"] = _lit(dated.astimezone(UTC).isoformat()) if dated else "NULL"
    return out


def app_log_records_sql(layout: str, reader: str) -> str:
    """SELECT of one row per record: ``_ord`` (the line its header is on), ``_line`` (the header
    line), ``_more`` (the continuation lines, in order). Lines before the first header are a
    record of their own, without a header. Sorting is by line number; nothing leaves DuckDB."""
    pattern = head_regex(layout)
    return f"""(SELECT min(n) AS _ord, arg_min(_line, n) AS _line,
                       list(_line ORDER BY n) FILTER (WHERE NOT head) AS _more
                FROM (SELECT n, _line, head, sum(head::INTEGER) OVER (ORDER BY n ROWS UNBOUNDED PRECEDING) AS rec
                      FROM (SELECT row_number() OVER () AS n, _line,
                                   coalesce(regexp_matches(_line, {_lit(pattern)}), false) AS head FROM {reader}))
                WHERE NOT {blank_sql('_line')}
                GROUP BY rec)"""


def root_cause_sql(lines: str) -> str:
    """SQL: of the lines (a list) of a stack trace, the line naming its root cause (NULL when none):
    the last 'Caused by:' (Java), else the innermost ' ---> ' (.NET, on a line of its own or after
    its outer exception), else the last '[cause]:' (Node) or 'caused by:' (pino's serializer), else
    the first exception (a Python chain
    starts with it; a lone trace has one; Rails writes one)."""
    named = f"regexp_matches(regexp_replace(c.l, {_lit(_LAMBDA_ERROR)}, ''), {_lit(EXCEPTION_LINE)})"
    # a Python exception line: not indented, after an indented frame or code line, in a traceback
    python = (f"(tb AND c.i > 1 AND regexp_matches(c.prev, '^\\s') AND NOT regexp_matches(c.l, '^\\s') "
              f"AND regexp_matches(c.l, {_lit(NAMED_LINE)}))")
    ctx = "list_transform(ls, lambda l, i: {'l': l, 'i': i, 'prev': ls[i - 1]})"
    rails = f"regexp_matches(c.l, {_lit(RAILS_LINE)})"
    found = (f"list_transform(list_filter({ctx}, lambda c: {named} OR {python} OR {rails}), lambda c: "
             f"CASE WHEN {rails} THEN regexp_replace(c.l, {_lit(RAILS_LINE)}, '\\1: \\2') "
             f"ELSE regexp_replace(c.l, {_lit(_LAMBDA_ERROR)}, '') END)")

    def last(prefix: str) -> str:
        starts = _lit(r"^\s*" + prefix)
        return f"list_filter(f, lambda l: regexp_matches(l, {starts}))[-1]"
    # Each value is computed once and bound to a lambda's parameter: ls the lines, tb whether they
    # hold a Python traceback, f the exception lines. Written out where each is used, the SQL grew
    # fivefold (DuckDB took tenths of a second to plan a query over a log's records) and a trace
    # was searched for the traceback once per line.
    root = (f"list_transform([{found}], lambda f: coalesce({last('Caused by: ')}, {last('---> ')}, "
            f"{last(re.escape('[cause]: '))}, {last('caused by: ')}, f[1]))[1]")
    root = (f"list_transform([{lines}], lambda ls: list_transform([list_contains(ls, {_lit(PYTHON_TRACEBACK)})], "
            f"lambda tb: {root})[1])[1]")
    # .NET Framework writes the inner exception on its outer's line: 'X: outer ---> Y: inner'
    return f"regexp_replace({root}, '^.*\\S\\s+--->\\s+', '')"


def app_log_object_sql(layout: str, dated: datetime | None = None) -> str:
    """SQL over a record (``_line``, ``_more``): a struct of the header's fields, and from the
    continuation lines the exception: ``error_type`` and ``message`` of its root cause
    (:func:`root_cause_sql`), ``stack_trace`` all of them. A two-line layout's header is the
    record's first two lines. ``dated``: when the file last changed, the time of a record of a
    layout that may write none (TIMELESS)."""
    pattern, fields = layout_regex(layout)
    names = "[" + ", ".join(_lit(f) for f in fields) + "]"
    exc = _lit(NAMED_LINE)
    head, more = "_line", "coalesce(_more, [])"
    if NEXT_LINE in layout:
        head, more = "concat(_line, chr(10), coalesce(_more[1], ''))", "coalesce(_more[2:], [])"
    root = root_cause_sql(more)
    when = _lit(dated.astimezone(UTC).isoformat()) if dated else "NULL"

    # Each field is cleaned in steps, each bound to a lambda's parameter, so that no step's SQL is
    # written out again in the next: h the header's parts, t their trimmed text ('-' is syslog's and
    # many layouts' word for a field with no value), v their values (one quoted string, logfmt's
    # msg="...", is its text).
    trimmed = ", ".join(f"{_lit(f)}: nullif(nullif(trim(h[{_lit(f)}]), ''), '-')" for f in fields)
    unquoted = ", ".join(
        f"{_lit(f)}: CASE WHEN regexp_full_match(t[{_lit(f)}], '\"(?:[^\"\\\\]|\\\\.)*\"') THEN "
        f"replace(replace(t[{_lit(f)}][2:-2], '\\\"', '\"'), '\\\\', '\\') ELSE t[{_lit(f)}] END" for f in fields)

    def value(f: str) -> str:
        text = f"v[{_lit(f)}]"
        if f == "time" and layout_name(layout) in TIMELESS:
            return f"coalesce({text}, {when})"
        if f != "level":
            return text
        short = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in LEVEL_ABBREVIATIONS.items())
        return f"CASE upper({text}) {short} ELSE {text} END"

    content = "nullif(v['content'], '')" if "content" in fields else "NULL"  # a quoted message is its text
    header = ", ".join([*(f"{_lit(f)}: {value(f)}" for f in fields),
                        *(f"{_lit(f)}: {sql}" for f, sql in _derived(layout, fields, dated).items())])

    # no exception line after the header, but its message names one: PHP's 'Uncaught TypeError: ...',
    # Ruby's 'msg (NoMethodError)' (the class's name in brackets at the end)
    def named(pattern: str, group: int) -> str:
        return (f"nullif(regexp_extract(CASE WHEN r.root IS NULL AND regexp_matches({content}, {_lit(pattern)}) "
                f"THEN {content} END, {_lit(pattern)}, {group}), '')")

    return (f"list_transform([{{'h': regexp_extract({head}, {_lit(pattern)}, {names}), 'root': {root}}}], "
            f"lambda r: CASE WHEN regexp_matches({head}, {_lit(pattern)}) THEN "
            f"list_transform([r.h], lambda h: list_transform([{{{trimmed}}}], lambda t: "
            f"list_transform([{{{unquoted}}}], lambda v: {{{header}, "
            f"'message': coalesce(nullif(regexp_extract(r.root, {exc}, 2), ''), "
            f"{named(UNCAUGHT, 2)}, {named(RUBY_RAISED, 1)}, {content}, regexp_extract(r.root, {exc}, 1)), "
            f"'error_type': coalesce(nullif(regexp_extract(r.root, {exc}, 1), ''), "
            f"{named(UNCAUGHT, 1)}, {named(RUBY_RAISED, 2)}), "
            f"'stack_trace': nullif(array_to_string({more}, chr(10)), '')}})[1])[1])[1] END)[1]")
