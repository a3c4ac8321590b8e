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

# [virtual host] client ident user [time] "request" status bytes ["referer" "agent"] [request time]
ACCESS_LOG = (r'^(?:(\S+) )??(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-)'
              r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?(?: ([0-9.]+))?\s*$')
_GROUPS = ("vhost", "client", "ident", "auth", "time", "request", "status", "bytes", "referer", "agent", "rt")
_ACCESS_RE = re.compile(ACCESS_LOG)
STATIC = r"\.(css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|bmp|woff2?|ttf|otf|eot)$"
# an id in a path: digits, a UUID, a long hex string; replaced by {id}
_ID_SEGMENT = r"/(\d+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|[0-9a-fA-F]{16,})(/|$)"
COLUMNS = {"access_log": ("time", "user", "event", "outcome", "duration_ms", "status", "method", "path", "client",
                          "auth_user", "vhost", "bytes", "referer", "agent", "static")}
NAMES = {"access_log": "web access log (Common / Combined Log Format)"}


def recognise(lines: list[str]) -> str | None:
    """The line format most of the first non-blank lines are written in, or None."""
    lines = [ln for ln in lines if ln.strip()][:50]
    if len(lines) >= 1 and sum(bool(_ACCESS_RE.match(ln)) for ln in lines) >= max(1, 0.8 * len(lines)):
        return "access_log"
    return None


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def object_sql(line_format: str, line: str) -> str:
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
