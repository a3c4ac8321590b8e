"""Make the raw-log corpus: web access logs as Apache and nginx write them.

    python tests/samples/raw/make_raw.py       # (re)writes the files beside this script

Seeded and with fixed times, so a re-run rewrites identical bytes. truth.json holds what each
file must load as, counted here from the lines written (not with the project's code).
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
START = datetime(2026, 5, 17, 10, 5, 3, tzinfo=UTC)
PAGES = ["/", "/invoices", "/invoice/{n}", "/invoice/{n}/approve", "/api/v1/suppliers/{n}", "/search?q=acme+{n}",
         "/reports/weekly", "/login"]
ASSETS = ["/static/app.js", "/static/style.css", "/images/logo.png", "/favicon.ico", "/fonts/inter.woff2"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
          "curl/8.5.0"]


def _lines(rng: random.Random, n: int, vhost: bool, request_time: bool) -> tuple[list[str], dict]:
    out, events, users, static, failures, client_errors = [], set(), set(), 0, 0, 0
    durations, times = [], []
    for i in range(n):
        t = START + timedelta(seconds=37 * i + rng.randrange(30))
        client = f"10.{rng.randrange(3)}.{rng.randrange(4)}.{rng.randrange(1, 9)}"
        auth = rng.choice(["-", "-", "alice", "bob", "chen"])
        if rng.random() < 0.25:
            path, method = rng.choice(ASSETS), "GET"
        else:
            path, method = rng.choice(PAGES).format(n=rng.randrange(1000, 9999)), rng.choice(["GET", "GET", "POST"])
        status = rng.choice([200, 200, 200, 200, 302, 304, 404, 403, 500, 502])
        size = "-" if status == 304 else str(rng.randrange(200, 90000))
        line = f'{client} - {auth} [{t.strftime("%d/%b/%Y:%H:%M:%S +0000")}] "{method} {path} HTTP/1.1" {status} {size}'
        line += f' "{rng.choice(["-", "https://erp.example.org/"])}" "{rng.choice(AGENTS)}"'
        secs = rng.randrange(1, 4000) / 1000
        if request_time:
            line += f" {secs:.3f}"
        if vhost:
            line = "erp.example.org " + line
        out.append(line)
        if path.split("?")[0].endswith((".js", ".css", ".png", ".ico", ".woff2")):
            static += 1
            continue
        times.append(t)  # of the requests that load (static files are left out)
        bare = path.split("?")[0]
        masked = "/".join("{id}" if seg.isdigit() else seg for seg in bare.split("/"))
        events.add(f"{method} {masked}")
        users.add(auth if auth != "-" else client)
        failures += status >= 500
        client_errors += 400 <= status < 500
        durations.append(secs * 1000)
    truth = {"lines": n, "static": static, "events_loaded": n - static, "distinct_events": len(events),
             "users": len(users), "failures": failures, "client_errors": client_errors,
             "first_ts": min(times).strftime("%Y-%m-%dT%H:%M:%S"), "last_ts": max(times).strftime("%Y-%m-%dT%H:%M:%S"),
             "mean_duration_ms": round(sum(durations) / len(durations), 3)
             if request_time else None}
    return out, truth


APP_CODE = """
class SupplierMissing(Exception):
    pass


def lookup(record):
    return record["vat"]


def parse_amount(text):
    return float(text)


def sync(record):
    try:
        return lookup(record)
    except KeyError as err:
        raise SupplierMissing(f"supplier {record['supplier']} has no VAT number") from err


def total(lines):
    try:
        return sum(parse_amount(x) for x in lines)
    except ValueError:
        return 1 / 0


def step(kind, i):
    if kind == 1:
        return sync({"supplier": f"S{i}"})
    if kind == 2:
        return total(["12.50", f"{i},00"])
    return lookup({"id": i})


def attempt(log, kind, i):
    try:
        step(kind, i)
    except Exception:
        log.exception("could not sync invoice %d", 9000 + i)
"""


def _file_logger(path: Path, name: str, start: datetime, minutes: int):
    """A logger writing to ``path`` as a Python service would, its records ``minutes`` apart from ``start``."""
    import logging

    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    clock = iter(start + timedelta(minutes=minutes * i) for i in range(1000))
    handler.addFilter(lambda record: setattr(record, "created", next(clock).timestamp()) or setattr(record, "msecs", 0)
                      or True)
    handler.formatter.converter = time.gmtime
    log = logging.getLogger(name)
    log.handlers[:] = [handler]
    log.propagate, log.level = False, logging.DEBUG
    return handler, log


def python_log(path: Path) -> dict:
    """A Python application's log, its tracebacks made by raising and logging real exceptions
    (the code is compiled under the name app/sync.py, so the frames read the same anywhere)."""

    code: dict = {}
    exec(compile(APP_CODE, "app/sync.py", "exec"), code)  # noqa: S102 - our own fixed source
    handler, log = _file_logger(path, "invoices.sync", datetime(2026, 3, 2, 9, 0, tzinfo=UTC), 7)
    types: dict[str, int] = {}
    records = 0
    for i in range(40):
        records += 1
        if i % 4 == 0:
            log.info("synced batch %d", i)
            continue
        code["attempt"](log, i % 4, i)
        root = {1: "KeyError", 2: "ValueError", 3: "KeyError"}[i % 4]
        types[root] = types.get(root, 0) + 1
    handler.close()
    return {"records": records, "info": 10, "exceptions": 30, "root_types": types}


def java_log(path: Path) -> dict:
    """A Java service's log (logback layout) with 'Caused by:' chains and '... N more'."""
    rng = random.Random(7)
    out, types = [], {}
    for i in range(30):
        t = (datetime(2026, 3, 2, 9, 0) + timedelta(seconds=97 * i)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        if i % 3 == 0:
            out.append(f"{t} [http-nio-8080-exec-{i % 5}] INFO  c.a.invoices.Api - GET /invoices/{9000 + i} 200")
            continue
        out.append(f"{t} [http-nio-8080-exec-{i % 5}] ERROR c.a.invoices.SyncJob - sync failed for invoice {9000 + i}")
        if i % 3 == 1:
            out += ["org.springframework.dao.DataAccessResourceFailureException: could not fetch supplier",
                    "\tat c.a.invoices.SupplierRepo.find(SupplierRepo.java:41)",
                    "\tat c.a.invoices.SyncJob.run(SyncJob.java:88)",
                    f"Caused by: java.net.SocketTimeoutException: Read timed out after {rng.randrange(1000, 9000)} ms",
                    "\tat java.base/java.net.SocketInputStream.read(SocketInputStream.java:168)",
                    "\t... 12 more"]
            types["java.net.SocketTimeoutException"] = types.get("java.net.SocketTimeoutException", 0) + 1
        else:
            out += [f"java.lang.IllegalStateException: invoice {9000 + i} has no lines",
                    "\tat c.a.invoices.Invoice.total(Invoice.java:57)",
                    "\tat c.a.invoices.SyncJob.run(SyncJob.java:92)"]
            types["java.lang.IllegalStateException"] = types.get("java.lang.IllegalStateException", 0) + 1
    path.write_text("\n".join(out) + "\n")
    return {"records": 30, "info": 10, "exceptions": 20, "root_types": types}


def raised(kind: int, i: int) -> BaseException:
    """A real exception of APP_CODE's ``step`` (kind 1: SupplierMissing from KeyError; 2: ZeroDivisionError
    while handling ValueError; 3: KeyError), with its traceback."""
    code: dict = {}
    exec(compile(APP_CODE, "app/sync.py", "exec"), code)  # noqa: S102 - our own fixed source
    try:
        code["step"](kind, i)
    except Exception as err:  # noqa: BLE001 - the exception is the sample
        err.__traceback__ = err.__traceback__.tb_next  # from step on: no frame of this script
        return err
    raise AssertionError("step did not raise")


def _chain(err: BaseException) -> list[BaseException]:
    """The exception and its causes, oldest (the root cause) first."""
    out = [err]
    while (nxt := out[-1].__cause__ or out[-1].__context__) is not None:
        out.append(nxt)
    return out[::-1]


JSON_ROOTS = {1: "KeyError", 2: "ValueError", 3: "KeyError"}  # the root cause: the chain's oldest exception


def _json_records(n: int) -> list[dict]:
    """n log records of the sync job, every fourth an INFO line, the others a real exception."""
    out = []
    for i in range(n):
        t = datetime(2026, 3, 2, 9, 0, tzinfo=UTC) + timedelta(minutes=7 * i, milliseconds=123)
        rec = {"t": t, "i": i, "user": f"u-{100 + i % 6}", "invoice": 9000 + i}
        if i % 4:
            rec["err"] = raised(i % 4, i)
        out.append(rec)
    return out


def _trace(err: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(err)).rstrip("\n")


def ecs_log(path: Path) -> dict:
    """ECS JSON lines as ecs-logging-python writes them ('log.level' flat); a shipper's lines with
    'log' -> 'level' nested among them."""
    lines = []
    for r in _json_records(24):
        obj = {"@timestamp": r["t"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "log.level": "info",
               "message": f"synced invoice {r['invoice']}", "ecs.version": "1.6.0",
               "log": {"logger": "invoices.sync", "origin": {"file": {"name": "sync.py", "line": 41},
                                                             "function": "attempt"}},
               "process": {"pid": 4242, "name": "MainProcess"}, "service": {"name": "invoices"},
               "user": {"id": r["user"]}}
        if "err" in r:
            err = r["err"]
            obj.update({"log.level": "error", "message": f"could not sync invoice {r['invoice']}",
                        "error": {"type": type(err).__name__, "message": str(err), "stack_trace": _trace(err)}})
        if r["i"] % 5 == 0:  # a shipper nests the level
            obj["log"]["level"] = obj.pop("log.level").upper()
        lines.append(json.dumps(obj))
    path.write_text("\n".join(lines) + "\n")
    errors = [r for r in _json_records(24) if "err" in r]
    return {"records": 24, "exceptions": len(errors), "info": 24 - len(errors),
            "types": _count(type(r["err"]).__name__ for r in errors), "users": 6}


def _count(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _otlp_record(r: dict) -> dict:
    ns = str(int(r["t"].timestamp()) * 1_000_000_000 + r["t"].microsecond * 1000)
    attrs = [{"key": "enduser.id", "value": {"stringValue": r["user"]}},
             {"key": "invoice.id", "value": {"intValue": str(r["invoice"])}}]
    rec = {"timeUnixNano": ns, "observedTimeUnixNano": ns, "severityNumber": 9, "severityText": "INFO",
           "body": {"stringValue": f"synced invoice {r['invoice']}"}, "attributes": attrs,
           "traceId": f"{r['i']:032x}", "spanId": f"{r['i']:016x}"}
    if "err" in r:
        err = r["err"]
        rec.update({"severityNumber": 17, "body": {"stringValue": f"could not sync invoice {r['invoice']}"}})
        del rec["severityText"]  # the number alone says ERROR
        attrs += [{"key": "exception.type", "value": {"stringValue": type(err).__name__}},
                  {"key": "exception.message", "value": {"stringValue": str(err)}},
                  {"key": "exception.stacktrace", "value": {"stringValue": _trace(err)}}]
    return rec


def _otlp_document(records: list[dict], service: str) -> dict:
    return {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}},
                                    {"key": "service.version", "value": {"stringValue": "1.4.2"}}]},
        "scopeLogs": [{"scope": {"name": "invoices.sync"}, "logRecords": [_otlp_record(r) for r in records]}]}]}


def otlp_logs(doc_path: Path, lines_path: Path) -> dict:
    """OTLP JSON: one document of two services (pretty-printed), and the file exporter's form, one
    export per line, five records each, with a line cut short among them."""
    records = _json_records(30)
    doc = _otlp_document(records[:18], "invoices")
    doc["resourceLogs"] += _otlp_document(records[18:], "invoices-worker")["resourceLogs"]
    doc_path.write_text(json.dumps(doc, indent=2) + "\n")
    lines = [json.dumps(_otlp_document(records[k:k + 5], "invoices")) for k in range(0, 30, 5)]
    lines.insert(3, lines[3][:200])  # cut short: a broken line, rejected with its line number
    lines_path.write_text("\n".join(lines) + "\n")
    errors = [r for r in records if "err" in r]
    truth = {"records": 30, "exceptions": len(errors), "info": 30 - len(errors),
             "types": _count(type(r["err"]).__name__ for r in errors)}
    first = sum("err" in r for r in records[:18])
    return {doc_path.name: {**truth, "components": {"invoices": first, "invoices-worker": len(errors) - first}},
            lines_path.name: {**truth, "records": 31, "rejected_lines": [4],
                                "components": {"invoices": len(errors)}}}


def _sentry_frames(err: BaseException) -> list[dict]:
    import traceback

    frames = [{"filename": f.filename, "function": f.name, "lineno": f.lineno, "in_app": True,
               "abs_path": "/srv/" + f.filename, "module": "app.sync"}
              for f in traceback.extract_tb(err.__traceback__)]
    # the job runner's frame, outside the app
    return [{"filename": "rq/job.py", "function": "perform", "lineno": 1228, "in_app": False,
             "module": "rq.job"}, *frames]


def sentry_events(path: Path) -> dict:
    """Sentry events as JSON Lines (an export of the API's event JSON): exception values oldest first,
    the SDK's order, so the last value is the one raised last."""
    lines, last_types = [], []
    for r in _json_records(20):
        event = {"event_id": f"{r['i']:032x}", "platform": "python", "logger": "invoices.sync",
                 "level": "info", "message": f"synced invoice {r['invoice']}",
                 "timestamp": r["t"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                 "user": {"id": r["user"], "ip_address": "10.0.0.7"}, "tags": [["environment", "pilot"]],
                 "sdk": {"name": "sentry.python", "version": "2.19.0"}}
        if r["i"] % 6 == 5:
            event["timestamp"] = r["t"].timestamp()  # some exports write epoch seconds
        if "err" in r:
            chain = _chain(r["err"])
            event.pop("message")
            event.update({"level": "error", "culprit": "app.sync in lookup",
                          "exception": {"values": [{"type": type(e).__name__, "value": str(e), "module": None,
                                                    "mechanism": {"type": "logging", "handled": True},
                                                    "stacktrace": {"frames": _sentry_frames(e)}} for e in chain]}})
            last_types.append(type(chain[-1]).__name__)
        lines.append(json.dumps(event))
    path.write_text("\n".join(lines) + "\n")
    return {"records": 20, "exceptions": len(last_types), "info": 20 - len(last_types), "types": _count(last_types)}


IIS_FIELDS = [("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
               "cs(Referer) sc-status sc-substatus sc-win32-status time-taken"),
              # after a restart IIS may log other fields, in another order
              "date time s-sitename cs-method cs-uri-stem cs-uri-query cs-username c-ip cs-host sc-status time-taken"]


def w3c_log(path: Path, rng: random.Random) -> dict:
    """An IIS log in W3C extended format (CRLF line ends): directives, then its fields change mid-file."""
    out, events, users, static, failures, client_errors, durations, times = [], set(), set(), 0, 0, 0, [], []
    rejected, n = [], 0
    start = datetime(2026, 10, 11, 0, 0, 2)
    for block, fields in enumerate(IIS_FIELDS):
        out += ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
                f"#Date: {(start + timedelta(hours=3 * block)).strftime('%Y-%m-%d %H:%M:%S')}", f"#Fields: {fields}"]
        for i in range(120):
            t = start + timedelta(hours=3 * block, seconds=41 * i + rng.randrange(30))
            client = f"192.168.{rng.randrange(3)}.{rng.randrange(1, 9)}"
            auth = rng.choice(["-", "-", "CORP\\alice", "CORP\\bob", "chen@example.org"])
            if rng.random() < 0.2:
                stem, query, method = rng.choice(ASSETS), "-", "GET"
            else:
                page = rng.choice(PAGES).format(n=rng.randrange(1000, 9999))
                stem, _, query = page.partition("?")
                query, method = query or rng.choice(["-", "tab=lines", f"id={rng.randrange(99)}"]), rng.choice(["GET", "POST"])
            status, ms = rng.choice([200, 200, 200, 302, 304, 401, 404, 500, 503]), rng.randrange(0, 5000)
            value = {"date": t.strftime("%Y-%m-%d"), "time": t.strftime("%H:%M:%S"), "s-ip": "10.0.0.4",
                     "cs-method": method, "cs-uri-stem": stem, "cs-uri-query": query, "s-port": "443",
                     "cs-username": auth, "c-ip": client, "cs(User-Agent)": rng.choice(AGENTS).replace(" ", "+"),
                     "cs(Referer)": rng.choice(["-", "https://erp.example.org/invoices"]), "sc-status": str(status),
                     "sc-substatus": "0", "sc-win32-status": "0", "time-taken": str(ms), "s-sitename": "W3SVC1",
                     "cs-host": "erp.example.org"}
            out.append(" ".join(value[f] for f in fields.split()))
            n += 1
            if stem.endswith((".js", ".css", ".png", ".ico", ".woff2")):
                static += 1
                continue
            times.append(t)
            events.add(f"{method} " + "/".join("{id}" if seg.isdigit() else seg for seg in stem.split("/")))
            users.add(auth if auth != "-" else client)
            failures += status >= 500
            client_errors += 400 <= status < 500
            durations.append(ms)
        out.append(f"{start.strftime('%Y-%m-%d')} 03:00:00 W3SVC1 GET /cut-short")  # fewer fields than named
        n += 1
        rejected.append(len(out))
    path.write_bytes(("\r\n".join(out) + "\r\n").encode())
    return {"lines": n, "static": static, "events_loaded": n - static - len(rejected),
            "distinct_events": len(events), "users": len(users), "failures": failures, "client_errors": client_errors,
            "first_ts": min(times).strftime("%Y-%m-%dT%H:%M:%S"), "last_ts": max(times).strftime("%Y-%m-%dT%H:%M:%S"),
            "mean_duration_ms": round(sum(durations) / len(durations), 3), "rejected_lines": rejected}


SEVERITIES = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")


def _syslog_events(rng: random.Random, n: int) -> list[tuple[datetime, int, str, str, str, str]]:
    """(time, severity, app, pid, message, its template) of a small host's services."""
    said = [(3, "billing", "payment {n} failed: card declined"), (3, "billing", "payment {n} failed: gateway timeout"),
            (4, "billing", "retrying payment {n} (attempt 2)"), (6, "billing", "payment {n} settled"),
            (5, "sshd", "Accepted publickey for deploy from 10.0.0.{k} port 5{k}22 ssh2"),
            (2, "kernel", "Out of memory: Killed process {n} (java)"), (7, "cron", "(root) CMD (run-parts /etc/cron.hourly)")]
    out = []
    for i in range(60):
        sev, app, text = rng.choice(said)
        t = datetime(2026, 10, 11, 22, 0, 3) + timedelta(seconds=53 * i, milliseconds=rng.randrange(1000))
        out.append((t, sev, app, str(1000 + rng.randrange(50)), text.format(n=rng.randrange(8000, 9999), k=i % 9), text))
    return out


def _syslog_truth(events: list) -> dict:
    loads = [e for e in events if e[1] <= 4]
    return {"records": len(events), "exceptions": len(loads), "info": len(events) - len(loads),
            "levels": _count(SEVERITIES[e[1]] for e in loads), "components": _count(e[2] for e in loads),
            # the failure each loaded line (by its line number) is: its message's template
            "row_modes": {str(k + 1): e[5] for k, e in enumerate(events) if e[1] <= 4}}


def syslog_5424(path: Path, rng: random.Random) -> dict:
    """Syslog as RFC 5424 writes it (facility local0), structured data on some lines, '-' for none."""
    events = _syslog_events(rng, 60)
    lines = []
    for k, (t, sev, app, pid, text, _) in enumerate(events):
        sd = f'[origin ip="10.0.0.4"][meta sequenceId="{k + 1}" note="a \\"quoted\\" \\]"]' if k % 3 == 0 else "-"
        msgid = "PAY" if app == "billing" else "-"
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lines.append(f"<{16 * 8 + sev}>1 {stamp} web01.example.org {app} {pid} {msgid} {sd} {text}")
    path.write_text("\n".join(lines) + "\n")
    return _syslog_truth(events)


def syslog_3164(path: Path, rng: random.Random) -> dict:
    """Syslog as RFC 3164 writes it (BSD): a priority, a time without year (days space-padded), host, tag[pid]."""
    events = _syslog_events(rng, 60)
    lines = [f"<{3 * 8 + sev}>{t.strftime('%b')} {t.day:>2} {t.strftime('%H:%M:%S')} web01 {app}[{pid}]: {text}"
             for t, sev, app, pid, text, _ in events]
    path.write_text("\n".join(lines) + "\n")
    return _syslog_truth(events)


SIGNAL_CODE = """
class PaymentDeclined(Exception):
    pass


def next_line(lines):
    return next(iter(lines))


def charge(i):
    try:
        return next_line([])
    except StopIteration as err:
        raise PaymentDeclined(f"card of invoice {i} declined") from err


def step(kind, i):
    if kind == 1:
        return charge(i)
    if kind == 2:
        raise PaymentDeclined(f"invoice {i} over the limit")
    if kind == 3:
        raise KeyboardInterrupt
    return next_line([])


def attempt(log, kind, i):
    try:
        step(kind, i)
    except BaseException:
        log.exception("payment run %d stopped", 7000 + i)
"""


def python_signals_log(path: Path) -> dict:
    """A Python log whose exceptions are named without 'Error': StopIteration, KeyboardInterrupt and
    a custom PaymentDeclined (raised from StopIteration: the root cause is StopIteration)."""

    code: dict = {"__name__": "app.payments"}
    exec(compile(SIGNAL_CODE, "app/payments.py", "exec"), code)  # noqa: S102 - our own fixed source
    handler, log = _file_logger(path, "payments.run", datetime(2026, 3, 3, 9, 0, tzinfo=UTC), 5)
    roots = {1: "StopIteration", 2: "app.payments.PaymentDeclined", 3: "KeyboardInterrupt", 0: "StopIteration"}
    for i in range(24):
        code["attempt"](log, i % 4, i)
    handler.close()
    return {"records": 24, "info": 0, "exceptions": 24, "root_types": _count(roots[i % 4] for i in range(24)),
            "modes": 4}


DOTNET_ERRORS = {
    "lookup": ("System.InvalidOperationException: Sync of invoice {n} failed",
               [" ---> System.Collections.Generic.KeyNotFoundException: The given key 'vat' was not present in the "
                "dictionary.",
                "   at System.Collections.Generic.Dictionary`2.get_Item(TKey key)",
                "   at App.Invoices.SupplierLookup.VatOf(Supplier supplier) in /src/App.Invoices/SupplierLookup.cs:line 17",
                "   at App.Invoices.SyncJob.Run(Int32 invoiceId) in /src/App.Invoices/SyncJob.cs:line 42",
                "   --- End of inner exception stack trace ---",
                "   at App.Invoices.SyncJob.Run(Int32 invoiceId) in /src/App.Invoices/SyncJob.cs:line 48",
                "   at App.Invoices.Worker.ExecuteAsync(CancellationToken stoppingToken) in "
                "/src/App.Invoices/Worker.cs:line 25"],
               "System.Collections.Generic.KeyNotFoundException"),
    "total": ("System.NullReferenceException: Object reference not set to an instance of an object.",
              ["   at App.Invoices.Invoice.Total() in /src/App.Invoices/Invoice.cs:line 57",
               "   at App.Invoices.SyncJob.Run(Int32 invoiceId) in /src/App.Invoices/SyncJob.cs:line 44"],
              "System.NullReferenceException"),
    "pdf": ("System.NullReferenceException: Object reference not set to an instance of an object.",
            ["   at App.Invoices.Pdf.Render(Invoice invoice)",  # no symbols: no file, no line
             "   at App.Invoices.Mailer.SendAsync(Int32 invoiceId)"],
            "System.NullReferenceException"),
    # .NET Framework writes the inner exception on the outer's line
    "http": ("System.Net.Http.HttpRequestException: An error occurred while sending the request. ---> "
             "System.Net.Sockets.SocketException: No connection could be made because the target machine actively "
             "refused it 10.0.0.9:443",
             ["   at System.Net.Sockets.Socket.EndConnect(IAsyncResult asyncResult)",
              "   --- End of inner exception stack trace ---",
              "   at App.Invoices.PspClient.Charge(Int32 invoiceId) in C:\\src\\App.Invoices\\PspClient.cs:line 88"],
             "System.Net.Sockets.SocketException"),
}


def dotnet_log(path: Path) -> dict:
    """A .NET service's log in log4net's layout: inner exceptions (' ---> '), 'End of inner exception
    stack trace', frames with and without files, CRLF line ends."""
    out, roots, modes = [], [], []
    kinds = list(DOTNET_ERRORS)
    for i in range(32):
        t = (datetime(2026, 3, 2, 9, 0) + timedelta(seconds=61 * i)).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        if i % 4 == 0:
            out.append(f"{t} [7] INFO  App.Invoices.Worker - worker tick {i}")
            continue
        kind = kinds[len(roots) % len(kinds)]
        first, frames, root = DOTNET_ERRORS[kind]
        out += [f"{t} [12] ERROR App.Invoices.SyncJob - sync failed for invoice {9000 + i}",
                first.format(n=9000 + i), *frames]
        roots.append(root)
        modes.append(kind)
    path.write_bytes(("\r\n".join(out) + "\r\n").encode())
    return {"records": 32, "info": 8, "exceptions": 24, "root_types": _count(roots), "modes": len(set(modes))}


NODE_ERRORS = {
    "user": (["TypeError: Cannot read properties of undefined (reading 'id')",
              "    at getUser (/app/src/users.js:10:5)",
              "    at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)",
              "    at /app/src/server.js:22:3"], "TypeError"),
    "charge": (["Error: could not charge invoice {n}",
                "    at charge (/app/src/billing.js:41:11)",
                "    at async pay (/app/src/routes/pay.js:12:5) {",
                "  [cause]: FetchError: request to https://psp.example.com/charge failed, reason: connect ECONNREFUSED",
                "      at ClientRequest.<anonymous> (/app/node_modules/node-fetch/lib/index.js:1491:11)",
                "      at ClientRequest.emit (node:events:519:28) {",
                "    code: 'ECONNREFUSED'",
                "  }",
                "}"], "FetchError"),
    "date": (["RangeError: Invalid time value", "    at Date.toISOString (<anonymous>)",
              "    at formatDate (/app/src/dates.js:7:20)", "    at renderInvoice (/app/src/pdf.js:30:14)"],
             "RangeError"),
    "lock": (["Error: invoice {n} is locked", "    at lock (/app/src/locks.js:3:9)",
              "    at processTicksAndRejections (node:internal/process/task_queues:95:5)"], "Error"),
}


def node_log(path: Path) -> dict:
    """A Node service's log as winston writes it ('<ISO time> <level>: <message>') with error stacks,
    a '[cause]:' chain among them."""
    out, roots, modes = [], [], []
    kinds = list(NODE_ERRORS)
    for i in range(30):
        t = (datetime(2026, 3, 2, 9, 0) + timedelta(seconds=97 * i)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        if i % 3 == 0:
            out.append(f"{t} info: GET /invoices/{9000 + i} 200 12ms")
            continue
        kind = kinds[i % len(kinds)]
        lines, root = NODE_ERRORS[kind]
        out += [f"{t} error: unhandled error in POST /invoices/{9000 + i}/pay", *(ln.replace("{n}", str(9000 + i)) for ln in lines)]
        roots.append(root)
        modes.append(kind)
    path.write_text("\n".join(out) + "\n")
    return {"records": 30, "info": 10, "exceptions": 20, "root_types": _count(roots), "modes": len(set(modes))}


def main() -> None:
    rng = random.Random(22)
    truth = {}
    combined, t = _lines(rng, 300, vhost=False, request_time=False)
    combined.insert(150, '10.0.0.9 - - [17/May/2026:12:00:00 +0000] "GET /broken HTTP/1.1 200 512')  # a cut quote
    t["lines"] += 1
    t["rejected_lines"] = [151]
    (HERE / "access_combined.log").write_text("\n".join(combined) + "\n")
    truth["access_combined.log"] = t
    vhost, t = _lines(rng, 200, vhost=True, request_time=True)
    (HERE / "access_vhost_request_time.log").write_text("\n".join(vhost) + "\n")
    truth["access_vhost_request_time.log"] = t
    truth["iis_w3c.log"] = w3c_log(HERE / "iis_w3c.log", rng)
    (HERE / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    apps = {"python_app.log": python_log(HERE / "python_app.log"), "java_app.log": java_log(HERE / "java_app.log"),
            "python_signals.log": python_signals_log(HERE / "python_signals.log"),
            "dotnet_app.log": dotnet_log(HERE / "dotnet_app.log"), "node_app.log": node_log(HERE / "node_app.log")}
    (HERE / "app_truth.json").write_text(json.dumps(apps, indent=2) + "\n")
    schemas = {"ecs.jsonl": ecs_log(HERE / "ecs.jsonl"), "sentry_events.jsonl": sentry_events(HERE / "sentry_events.jsonl"),
               **otlp_logs(HERE / "otlp_logs.json", HERE / "otlp_export.jsonl")}
    (HERE / "json_truth.json").write_text(json.dumps(schemas, indent=2) + "\n")
    syslog = {"syslog_5424.log": syslog_5424(HERE / "syslog_5424.log", random.Random(5424)),
              "syslog_3164.log": syslog_3164(HERE / "syslog_3164.log", random.Random(3164))}
    (HERE / "syslog_truth.json").write_text(json.dumps(syslog, indent=2) + "\n")


if __name__ == "__main__":
    main()
