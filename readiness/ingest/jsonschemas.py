"""JSON logs in the shapes of common tools, flattened to one JSON object per log record in DuckDB.

* **OpenTelemetry logs and traces (OTLP JSON)**: ``resourceLogs`` -> ``scopeLogs`` -> ``logRecords``
  (and a trace's exceptions: ``resourceSpans`` -> ``scopeSpans`` -> ``spans`` -> ``events`` named
  ``exception``, each read as an ERROR record whose body is its span's name), one
  document per file or one per line (the collector's file exporter). Each log record becomes an
  object of ``timestamp`` (from ``timeUnixNano``, else ``observedTimeUnixNano``),
  ``severity_text`` (from ``severityNumber`` when the text is missing), ``message`` (the body),
  ``trace_id``, ``span_id``, ``scope``, and every resource and record attribute under its own
  dotted key (``service.name``, ``exception.type``, ``exception.message``,
  ``exception.stacktrace``, ``user.id`` ...): they map by name like any JSON key.
* **Sentry events** (an event export or the API's event JSON, as JSON Lines, an array or one
  object): the event's own keys (``level``, ``logger``, ``user``, ``tags`` ...) and ``timestamp``,
  ``error_type``, ``message`` and ``stack_trace`` from ``exception.values`` (or an ``entries``
  item of type ``exception``). The last value is the root cause; the trace lists every value in
  order, each with its frames, in-app frames as a Python traceback writes them and the others
  marked ``[not in app]`` (so that failure modes group on the in-app frames).

* **Matomo visits** (``Live.getLastVisitsDetails`` as JSON): each visit's ``actionDetails``, one
  row per action: ``timestamp`` (the action's epoch seconds), ``user_id`` (the visit's ``userId``,
  else its ``visitorId``), ``session_id`` (``idVisit``), ``event`` (an event's action, else the page's
  title, else its URL, else the action's type) and ``feature`` (an event's category), with the
  action's other keys.

The flattened rows have the columns ``_line`` (the object as text, or the raw text of a line
that is not JSON) and ``_line_no`` (its line in the file, NULL for a document over many lines).
"""

from __future__ import annotations

import re

NAMES = {"otlp": "OpenTelemetry logs or traces (OTLP JSON)", "sentry": "Sentry events (JSON)",
         "matomo": "Matomo visits (JSON), one row per action"}
# OTLP severity numbers 1-24 in bands of four
_SEVERITY = "['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL']"
# the first characters of an OTLP JSON document, pretty-printed or not
OTLP_START = re.compile(r'^\s*\{\s*"resource(?:Logs|Spans)"\s*:')


def is_object_sql(text: str) -> str:
    """SQL: ``text`` is a JSON object (false, not an error, when it is not JSON: AND does not stop early)."""
    return f"coalesce(CASE WHEN json_valid({text}) THEN json_type({text}) = 'OBJECT' END, false)"


def is_sentry_sql(obj: str) -> str:
    """SQL: the JSON object ``obj`` is a Sentry event holding an exception."""
    return (f"(json_exists({obj}, '$.exception.values') OR "
            f"coalesce(list_contains(json_extract_string({obj}, '$.entries[*].type'), 'exception'), false))")


def _any_value(v: str) -> str:
    """SQL: an OTLP AnyValue as text."""
    return (f"coalesce({v}->>'stringValue', {v}->>'intValue', {v}->>'doubleValue', {v}->>'boolValue', "
            f"{v}->>'bytesValue', CAST({v}->'arrayValue' AS VARCHAR), CAST({v}->'kvlistValue' AS VARCHAR))")


def _attributes(list_json: str) -> str:
    """SQL: an OTLP attribute list ([{key, value}]) as a JSON object (the first of repeated keys)."""
    value = _any_value("a->'value'")
    entries = (f"list_filter(list_transform(coalesce(json_extract({list_json}, '$[*]'), []), "
               f"lambda a: {{'key': a->>'key', 'value': {value}}}), lambda e: e.key IS NOT NULL)")
    unique = f"list_filter({entries}, lambda e, i: list_position(list_transform({entries}, lambda x: x.key), e.key) = i)"
    return f"coalesce(to_json(map_from_entries({unique})), '{{}}'::JSON)"


def _iso_from_nanos(ns: str) -> str:
    return (f"strftime(make_timestamp(try_cast(try_cast({ns} AS HUGEINT) // 1000 AS BIGINT)), "
            f"'%Y-%m-%dT%H:%M:%S.%fZ')")


def otlp_rows_sql(docs: str) -> str:
    """SELECT (``_line``, ``_line_no``) of each log record of the OTLP documents in ``docs`` (rows
    of ``_doc`` text and ``_line_no``); a document that is not JSON is one row of its raw text."""
    lr = "r.lr"
    nanos = f"coalesce(nullif(nullif({lr}->>'timeUnixNano', '0'), ''), nullif({lr}->>'observedTimeUnixNano', '0'))"
    number = f"try_cast({lr}->>'severityNumber' AS INTEGER)"
    severity = (f"coalesce(nullif({lr}->>'severityText', ''), CASE WHEN {number} BETWEEN 1 AND 24 THEN "
                f"{_SEVERITY}[({number} - 1) // 4 + 1] END)")
    fixed = (f"json_object('timestamp', {_iso_from_nanos(nanos)}, 'severity_text', {severity}, "
             f"'message', coalesce({lr}->>'$.body.stringValue', CAST({lr}->'$.body' AS VARCHAR)), "
             f"'trace_id', nullif({lr}->>'traceId', ''), 'span_id', nullif({lr}->>'spanId', ''), "
             f"'scope', r.scope)")
    own = _attributes(f"{lr}->'attributes'")
    obj = f"CAST(json_merge_patch(json_merge_patch({_attributes('r.resource')}, {own}), {fixed}) AS VARCHAR)"
    logs = ("flatten(flatten(list_transform(coalesce(json_extract(_json, '$.resourceLogs[*]'), []), lambda rl: "
            "list_transform(coalesce(json_extract(rl, '$.scopeLogs[*]'), []), lambda sl: "
            "list_transform(coalesce(json_extract(sl, '$.logRecords[*]'), []), lambda x: "
            "{'resource': rl->'$.resource.attributes', 'scope': sl->>'$.scope.name', 'lr': x})))))")
    # a trace's exceptions: each span event named 'exception', as a log record of level ERROR with
    # the span's name as its body, the event's attributes then the span's, and the span's ids
    attrs = ("to_json(list_concat(coalesce(json_extract(e, '$.attributes[*]'), []), "
             "coalesce(json_extract(sp, '$.attributes[*]'), [])))")
    event = (f"json_merge_patch(e, json_object('severityText', 'ERROR', 'traceId', sp->>'traceId', 'spanId', "
             f"sp->>'spanId', 'body', json_object('stringValue', sp->>'name'), 'attributes', {attrs}))")
    spans = ("flatten(flatten(flatten(list_transform(coalesce(json_extract(_json, '$.resourceSpans[*]'), []), "
             "lambda rs: list_transform(coalesce(json_extract(rs, '$.scopeSpans[*]'), []), lambda ss: "
             "list_transform(coalesce(json_extract(ss, '$.spans[*]'), []), lambda sp: "
             "list_transform(list_filter(coalesce(json_extract(sp, '$.events[*]'), []), "
             "lambda e: e->>'name' = 'exception'), lambda e: "
             f"{{'resource': rs->'$.resource.attributes', 'scope': ss->>'$.scope.name', 'lr': {event}}})))))))")
    records = f"list_concat({logs}, {spans})"
    numbered = f"list_transform({records}, lambda x, i: {{'i': i, 'r': x}})"
    valid = is_object_sql("_doc")
    return f"""(SELECT _line, _line_no FROM (
                  SELECT {obj} AS _line, _line_no, n.i AS i FROM
                    (SELECT _line_no, n.r AS r, n FROM (SELECT _line_no, unnest({numbered}) AS n
                     FROM (SELECT _line_no, CASE WHEN {valid} THEN _doc END AS _json FROM {docs})))
                  UNION ALL SELECT _doc, _line_no, 0 FROM {docs} WHERE NOT ({valid}))
                ORDER BY _line_no NULLS FIRST, i)"""


def _frame(f: str) -> str:
    """SQL: a Sentry frame as a line of a trace."""
    where = f"coalesce({f}->>'filename', {f}->>'abs_path', {f}->>'module', '?')"
    line = f"coalesce({f}->>'lineno', '?')"
    fn = f"coalesce({f}->>'function', '?')"
    return (f"CASE WHEN coalesce(({f}->>'in_app')::BOOLEAN, true) THEN '  File \"' || {where} || '\", line ' || {line} "
            f"|| ', in ' || {fn} ELSE '  [not in app] ' || {where} || ':' || {line} || ' in ' || {fn} END")


def sentry_object_sql(e: str) -> str:
    """SQL: a Sentry event (JSON object ``e``) as a flat object (text): its own keys, less the
    bulky ones, and timestamp, error_type, message and stack_trace from its exception values."""
    # a path with [*] gives [] when the key is missing
    values = (f"CASE WHEN json_exists({e}, '$.exception.values') THEN json_extract({e}, '$.exception.values[*]') "
              f"ELSE coalesce(json_extract(list_filter(json_extract({e}, '$.entries[*]'), "
              f"lambda x: x->>'type' = 'exception')[1], '$.data.values[*]'), []) END")
    trace = (f"array_to_string(list_transform({values}, lambda v: 'Traceback (most recent call last):' || chr(10) || "
             f"array_to_string(list_transform(coalesce(json_extract(v, '$.stacktrace.frames[*]'), []), "
             f"lambda f: {_frame('f')} || chr(10)), '') || "
             f"concat_ws(': ', v->>'type', nullif(v->>'value', ''))), chr(10) || chr(10))")
    root = f"{values}[-1]"
    ts = f"{e}->'timestamp'"
    time = (f"CASE WHEN json_type({ts}) IN ('DOUBLE', 'UBIGINT', 'BIGINT') THEN "
            f"strftime(make_timestamp(CAST(CAST({ts} AS DOUBLE) * 1000000 AS BIGINT)), '%Y-%m-%dT%H:%M:%S.%fZ') "
            f"ELSE coalesce({e}->>'timestamp', {e}->>'datetime', {e}->>'dateCreated') END")
    message = (f"coalesce(nullif({root}->>'value', ''), {e}->>'$.logentry.formatted', {e}->>'$.logentry.message', "
               f"CASE WHEN json_type({e}->'message') = 'VARCHAR' THEN {e}->>'message' END, {e}->>'title')")
    fixed = (f"json_object('timestamp', {time}, 'error_type', {root}->>'type', 'message', {message}, "
             f"'stack_trace', nullif({trace}, ''), "
             f"'exception', NULL, 'entries', NULL, 'breadcrumbs', NULL, 'logentry', NULL, 'datetime', NULL, "
             f"'dateCreated', NULL)")
    return f"CAST(json_merge_patch({e}, {fixed}) AS VARCHAR)"


def sentry_rows_sql(rows: str) -> str:
    """SELECT (``_line``, ``_line_no``) of ``rows`` (``_line`` JSON text, ``_line_no``): each event
    flattened; a row that is not a JSON object stays as it is (it is rejected with its line)."""
    valid = is_object_sql("_line")
    return (f"(SELECT CASE WHEN _json IS NULL THEN _line ELSE {sentry_object_sql('_json')} END AS _line, _line_no "
            f"FROM (SELECT *, CASE WHEN {valid} THEN _line END AS _json FROM {rows}))")


def is_matomo_sql(obj: str) -> str:
    """SQL: the JSON object ``obj`` is a Matomo visit with its actions."""
    return f"(json_type({obj}, '$.actionDetails') = 'ARRAY' AND json_exists({obj}, '$.idVisit'))"


def matomo_rows_sql(rows: str) -> str:
    """SELECT (``_line``, ``_line_no``) of ``rows`` (``_line`` JSON text, ``_line_no``): one row per
    action of each visit; a row that is not a visit stays as it is (it is rejected with its line)."""
    fixed = ("json_object('timestamp', a->>'timestamp', 'user_id', coalesce(nullif(v->>'userId', ''), "
             "v->>'visitorId'), 'session_id', v->>'idVisit', 'event', coalesce(nullif(a->>'eventAction', ''), "
             "nullif(a->>'pageTitle', ''), nullif(a->>'url', ''), a->>'type'), 'feature', nullif(a->>'eventCategory', ''))")
    valid = f"coalesce(CASE WHEN {is_object_sql('_line')} THEN {is_matomo_sql('_line')} END, false)"
    visits = f"(SELECT row_number() OVER () AS _visit, _line, _line_no FROM {rows})"  # in the file's order
    return f"""(SELECT _line, _line_no FROM (
                  SELECT CAST(json_merge_patch(n.a, {fixed.replace('a->', 'n.a->').replace('v->', 'n.v->')}) AS VARCHAR)
                         AS _line, _line_no, _visit, n.i AS i
                  FROM (SELECT _line_no, _visit, unnest(list_transform(json_extract(_line, '$.actionDetails[*]'),
                               lambda a, i: {{'i': i, 'a': a, 'v': _line::JSON}})) AS n FROM {visits} WHERE {valid})
                  UNION ALL SELECT _line, _line_no, _visit, 0 FROM {visits} WHERE NOT {valid})
                ORDER BY _line_no NULLS FIRST, _visit, i)"""
