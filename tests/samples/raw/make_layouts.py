"""Make application logs in the layouts common logging libraries and servers write by default.

    python tests/samples/raw/make_layouts.py       # (re)writes layouts/*.log and layouts_truth.json

Each record (time, level, logger, message, exception) is written in each library's documented
layout: Serilog's file sink ('{Timestamp:yyyy-MM-dd HH:mm:ss.fff zzz} [{Level:u3}] {Message:lj}
{NewLine}{Exception}') and console ('[{Timestamp:HH:mm:ss} {Level:u3}] ...'), log4j's
'%d %-5p [%t] %c - %m%n', logback's default console pattern ('%d{HH:mm:ss.SSS} [%thread] %-5level
%logger{36} - %msg%n'), Spring Boot 3's console, NLog's default, Apache 2.4's and 2.2's error log
and nginx's. The Python log is written by Python's logging itself, its tracebacks from exceptions
actually raised. Seeded and with fixed times; the truth is counted here from the records written.
"""

from __future__ import annotations

import json
import linecache
import logging
import random
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent / "layouts"
START = datetime(2026, 12, 6, 9, 0, 0, 123000, tzinfo=UTC)
ZONE = timezone(timedelta(hours=1))  # Serilog and Spring Boot write the local time with its offset
INFO_WORDS = {"INFO", "DEBUG", "VERBOSE", "TRACE", "NOTICE", "FINE", "INF", "DBG", "VRB", "notice", "info", "debug"}


@dataclass
class Rec:
    t: datetime
    level: str           # as the layout writes it
    stored: str          # as the level loads (Serilog's 'ERR' as 'ERROR')
    logger: str
    message: str
    root: str | None = None            # the root cause's type
    trace: list[str] = field(default_factory=list)


DOTNET = ["System.InvalidOperationException: Sync of invoice {n} failed",
          " ---> System.Collections.Generic.KeyNotFoundException: The given key 'vat' was not present in the dictionary.",
          "   at App.Invoices.SupplierLookup.VatOf(String id) in /src/App/Invoices/SupplierLookup.cs:line 14",
          "   at App.Invoices.SyncJob.Run(Int32 invoice) in /src/App/Invoices/SyncJob.cs:line 30",
          "   --- End of inner exception stack trace ---",
          "   at App.Invoices.SyncJob.Run(Int32 invoice) in /src/App/Invoices/SyncJob.cs:line 33"]
JAVA = ["java.lang.IllegalStateException: could not sync invoice {n}",
        "\tat com.example.sync.SyncJob.run(SyncJob.java:41)",
        "\tat java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
        "Caused by: java.net.SocketTimeoutException: Read timed out",
        "\tat com.example.erp.ErpClient.fetch(ErpClient.java:88)",
        "\t... 2 more"]


def records(rng: random.Random, n: int, levels: list[tuple[str, str]], trace: list[str], root: str) -> list[Rec]:
    out = []
    for i in range(n):
        t = START + timedelta(seconds=41 * i + rng.randrange(40), milliseconds=rng.randrange(1000))
        level, stored = rng.choice(levels)
        inv = rng.randrange(1000, 9999)
        if stored.upper() in ("ERROR", "FATAL", "SEVERE") and rng.random() < 0.6:
            out.append(Rec(t, level, stored, "App.Invoices.SyncJob", f"Sync of invoice {inv} failed", root,
                           [ln.format(n=inv) for ln in trace]))
        elif stored.upper() in ("ERROR", "FATAL", "SEVERE"):
            out.append(Rec(t, level, stored, "App.Payments.Gateway", f"payment {inv} declined by the gateway"))
        elif stored.upper() in ("WARN", "WARNING"):
            out.append(Rec(t, level, stored, "App.Invoices.SyncJob", f"retrying invoice {inv} in 30 s"))
        else:
            out.append(Rec(t, level, stored, "App.Web.Requests", f"GET /invoice/{inv} answered in {rng.randrange(9, 300)} ms"))
    return out


U3 = [("INF", "INFO"), ("INF", "INFO"), ("DBG", "DEBUG"), ("WRN", "WARNING"), ("ERR", "ERROR"), ("FTL", "FATAL")]
WORDS = [("INFO", "INFO"), ("INFO", "INFO"), ("DEBUG", "DEBUG"), ("WARN", "WARN"), ("ERROR", "ERROR")]


def serilog_file(r: Rec) -> list[str]:
    local = r.t.astimezone(ZONE)
    return [f"{local.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} +01:00 [{r.level}] {r.message}", *r.trace]


def serilog_console(r: Rec) -> list[str]:
    return [f"[{r.t.strftime('%H:%M:%S')} {r.level}] {r.message}", *r.trace]


def log4j(r: Rec) -> list[str]:
    return [f"{r.t.strftime('%Y-%m-%d %H:%M:%S,%f')[:-3]} {r.level:<5} [pool-1-thread-{r.t.second % 4 + 1}] "
            f"{r.logger} - {r.message}", *r.trace]


def logback_console(r: Rec) -> list[str]:
    return [f"{r.t.strftime('%H:%M:%S.%f')[:-3]} [main] {r.level:<5} {r.logger[:36]} - {r.message}", *r.trace]


def spring_boot(r: Rec) -> list[str]:
    local = r.t.astimezone(ZONE).isoformat(timespec="milliseconds")
    return [f"{local} {r.level:>5} 4242 --- [invoices] [nio-8080-exec-{r.t.second % 9 + 1}] "
            f"{r.logger[:40]:<40} : {r.message}", *r.trace]


def nlog(r: Rec) -> list[str]:
    return [f"{r.t.strftime('%Y-%m-%d %H:%M:%S.%f')[:-2]}|{r.level}|{r.logger}|{r.message}", *r.trace]


PYTHON = ["Traceback (most recent call last):", '  File "/srv/invoices/app/sync.py", line 12, in sync',
          '    vat_of({{"id": invoice}})', '  File "/srv/invoices/app/sync.py", line 2, in vat_of',
          '    return supplier["vat"]', "KeyError: 'vat'"]
PY_WORDS = [("INFO", "INFO"), ("INFO", "INFO"), ("DEBUG", "DEBUG"), ("WARNING", "WARNING"), ("ERROR", "ERROR")]
RUBY = [("INFO", "INFO"), ("INFO", "INFO"), ("DEBUG", "DEBUG"), ("WARN", "WARN"), ("ERROR", "ERROR"),
        ("FATAL", "FATAL")]
JUL = [("INFO", "INFO"), ("INFO", "INFO"), ("FINE", "FINE"), ("WARNING", "WARNING"), ("SEVERE", "SEVERE")]


def flask(r: Rec) -> list[str]:  # '[%(asctime)s] %(levelname)s in %(module)s: %(message)s'
    return [f"[{r.t.strftime('%Y-%m-%d %H:%M:%S,%f')[:-3]}] {r.level} in {r.logger.split('.')[-1].lower()}: "
            f"{r.message}", *r.trace]


def gunicorn(r: Rec) -> list[str]:  # '[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s'
    return [f"[{r.t.strftime('%Y-%m-%d %H:%M:%S')} +0000] [4242] [{r.level}] {r.message}", *r.trace]


def celery(r: Rec) -> list[str]:  # '[%(asctime)s: %(levelname)s/%(processName)s] %(message)s'
    return [f"[{r.t.strftime('%Y-%m-%d %H:%M:%S,%f')[:-3]}: {r.level}/ForkPoolWorker-{r.t.second % 4 + 1}] "
            f"{r.message}", *r.trace]


def ruby(r: Rec) -> list[str]:  # Ruby's Logger: '%s, [%s #%d] %5s -- %s: %s'
    return [f"{r.level[0]}, [{r.t.strftime('%Y-%m-%dT%H:%M:%S.%f')} #4242] {r.level:>5} -- {r.logger}: {r.message}",
            *r.trace]


def tomcat(r: Rec) -> list[str]:  # JULI's OneLineFormatter; the trace indented by a tab
    return [f"{r.t.strftime('%d-%b-%Y %H:%M:%S.%f')[:-3]} {r.level} [http-nio-8080-exec-{r.t.second % 9 + 1}] "
            f"{r.logger}.run {r.message}", *("\t" + line for line in r.trace)]


# Go: klog (Kubernetes), the standard library's log, logrus's text and zap's console encoder
GO_PANIC = ["panic: could not sync invoice {n}: ledger closed", "", "goroutine 1 [running]:",
            "main.sync(0x{n})", "\t/src/app/sync.go:57 +0x1d", "main.main()", "\t/src/app/main.go:20 +0x25",
            "exit status 2"]
ZAP_STACK = ["main.(*Job).Run", "\t/src/app/sync/job.go:57", "main.main", "\t/src/app/main.go:20",
             "runtime.main", "\t/usr/local/go/src/runtime/proc.go:271"]
KLOG = [("I", "INFO"), ("I", "INFO"), ("W", "WARNING"), ("E", "ERROR")]
GO_WORDS = [("INFO", "INFO"), ("INFO", "INFO"), ("WARN", "WARN"), ("ERROR", "ERROR")]
LOGRUS = [("info", "info"), ("info", "info"), ("debug", "debug"), ("warning", "warning"), ("error", "error")]
DOTNET_CONSOLE = [("info", "info"), ("info", "info"), ("dbug", "DEBUG"), ("warn", "warn"), ("fail", "ERROR")]


def klog(r: Rec) -> list[str]:  # 'Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg'
    return [f"{r.level}{r.t.strftime('%m%d %H:%M:%S.%f')} {4242:>7} sync.go:57] {r.message}", *r.trace]


def go_log(r: Rec) -> list[str]:  # log.SetFlags(log.LstdFlags | log.Lshortfile), the level in the message
    return [f"{r.t.strftime('%Y/%m/%d %H:%M:%S')} sync.go:57: {r.level}: {r.message}", *r.trace]


def go_slog(r: Rec) -> list[str]:  # slog.Error and the rest with no handler set: the standard logger's line
    return [f"{r.t.strftime('%Y/%m/%d %H:%M:%S')} {r.level} {r.message} worker={r.t.second % 4}", *r.trace]


def logrus(r: Rec) -> list[str]:  # logrus.TextFormatter, not on a terminal
    fields = ' error="context deadline exceeded"' if r.stored == "error" else ""
    return [f'time="{r.t.strftime("%Y-%m-%dT%H:%M:%SZ")}" level={r.level} msg="{r.message}"{fields} worker=3']


GOKIT = [("info", "info"), ("info", "info"), ("debug", "debug"), ("warn", "warn"), ("error", "error")]


def gokit(r: Rec) -> list[str]:  # go-kit's logfmt logger (Prometheus, Alertmanager, Loki): fields, then msg
    err = ' err="Post \\"http://am:9093/api/v2/alerts\\": context deadline exceeded"' if r.stored == "error" else ""
    return [f'level={r.level} ts={r.t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}Z caller=sync.go:57 component="invoice sync" '
            f'worker=3 msg="{r.message}"{err}']


def gokit_time_first(r: Rec) -> list[str]:  # the same logger as Prometheus 2.x configures it: ts and caller first
    return [f'ts={r.t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}Z caller=sync.go:57 level={r.level} component=sync '
            f'msg="{r.message}"']


def zap_console(r: Rec) -> list[str]:  # zap.NewDevelopment(): its console encoder, a stack trace from WARN up
    stamp = r.t.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0100"
    return [f'{stamp}\t{r.level}\tsync/job.go:57\t{r.message}\t{{"worker": 3}}', *r.trace]


def dotnet_console(r: Rec) -> list[str]:  # Microsoft.Extensions.Logging's console logger, simple formatter
    return [f"{r.level}: {r.logger}[0]", f"      {r.message}", *("      " + line for line in r.trace)]

RAILS = ["[TAG] ActiveRecord::RecordNotFound (Couldn't find Invoice with 'id'={n}):", "[TAG]   ",
         "[TAG] app/models/invoice.rb:31:in `supplier_vat'", "[TAG] app/controllers/invoices_controller.rb:12:in `show'"]
RAILS_LEVELS = [("INFO", "INFO"), ("INFO", "INFO"), ("DEBUG", "DEBUG"), ("WARN", "WARN"), ("FATAL", "FATAL")]


def rails(r: Rec) -> list[str]:  # Rails' production log: Logger::Formatter, the request id as a tag
    tag = f"[{r.t.strftime('%H%M%S%f')}-4f2e-9c1d]"
    head = f"{r.level[0]}, [{r.t.strftime('%Y-%m-%dT%H:%M:%S.%f')} #4242] {r.level:>5} -- : {tag} "
    if r.trace:  # ActionDispatch writes the exception in one call: its first line is blank
        return [head + "  ", *(line.replace("[TAG]", tag) for line in r.trace)]
    return [head + r.message]


LAYOUTS = {  # file: (writer, levels, trace, root cause, format named in the preview)
    "serilog_file.log": (serilog_file, U3, DOTNET, "System.Collections.Generic.KeyNotFoundException", "time and [level]"),
    "serilog_console.log": (serilog_console, U3, DOTNET, "System.Collections.Generic.KeyNotFoundException",
                            "[time level]"),
    "log4j.log": (log4j, WORDS, JAVA, "java.net.SocketTimeoutException", "log4j"),
    "logback_console.log": (logback_console, WORDS, JAVA, "java.net.SocketTimeoutException", "logback, time of day"),
    "spring_boot.log": (spring_boot, WORDS, JAVA, "java.net.SocketTimeoutException", "Spring Boot"),
    "nlog.log": (nlog, WORDS, DOTNET, "System.Collections.Generic.KeyNotFoundException", "NLog"),
    "flask.log": (flask, PY_WORDS, PYTHON, "KeyError", "Flask"),
    "gunicorn_error.log": (gunicorn, PY_WORDS, PYTHON, "KeyError", "gunicorn"),
    "celery.log": (celery, PY_WORDS, PYTHON, "KeyError", "Celery"),
    "ruby_logger.log": (ruby, RUBY, [], None, "Ruby Logger"),
    "tomcat.log": (tomcat, JUL, JAVA, "java.net.SocketTimeoutException", "Tomcat"),
    "klog.log": (klog, KLOG, [], None, "Kubernetes klog"),
    "go_log.log": (go_log, GO_WORDS, GO_PANIC, "panic", "Go log"),
    "logrus.log": (logrus, LOGRUS, [], None, "logfmt (logrus, slog)"),
    "zap_console.log": (zap_console, GO_WORDS, ZAP_STACK, None, "zap console"),
    "dotnet_console.log": (dotnet_console, DOTNET_CONSOLE, DOTNET, "System.Collections.Generic.KeyNotFoundException",
                           ".NET console"),
    "rails_production.log": (rails, RAILS_LEVELS, RAILS, "ActiveRecord::RecordNotFound", "Ruby Logger"),
    "gokit.log": (gokit, GOKIT, [], None, "logfmt (go-kit)"),
    "gokit_time_first.log": (gokit_time_first, GOKIT, [], None, "logfmt (go-kit, time first)"),
    "go_slog.log": (go_slog, GO_WORDS, GO_PANIC, "panic", "Go slog default"),
}
NO_TIME = ("dotnet_console.log",)  # dated by the file's last change, as the test sets it
CHANGED = "2026-12-06T18:00:00"
NO_COMPONENT = ("klog.log", "go_log.log", "logrus.log", "zap_console.log", "rails_production.log", "gokit.log",
                "gokit_time_first.log", "go_slog.log")  # the caller's file, not a logger


def apache_24(rng: random.Random, n: int) -> list[Rec]:
    """Apache 2.4: '[time] [module:level] [pid N:tid M] [client ip:port] AHnnnnn: message'."""
    kinds = [("mpm_event", "notice", None, "AH00489: Apache/2.4.62 (Unix) configured -- resuming normal operations"),
             ("core", "error", "10.0.{a}.{b}:5{a}{b}1", "AH00128: File does not exist: /var/www/html/invoice/{n}.pdf"),
             ("php", "error", "10.0.{a}.{b}:6{a}{b}2", "PHP Fatal error:  Uncaught Error: Call to undefined function "
                                                      "vat_of() in /var/www/html/pay.php:{b}"),
             ("proxy", "warn", "10.0.{a}.{b}:7{a}{b}3", "AH01144: No protocol handler was valid for the URL /erp/{n} "
                                                       "(scheme 'http')."),
             ("proxy_http", "error", None, "(111)Connection refused: AH01114: HTTP: failed to make connection to "
                                           "backend: erp.example.org"),
             ("ssl", "warn", None, "AH01909: www.example.org:443:0 server certificate does NOT include an ID which "
                                   "matches the server name")]
    out = []
    for i in range(n):
        t = START + timedelta(seconds=29 * i + rng.randrange(20), microseconds=rng.randrange(10**6))
        module, level, client, text = rng.choice(kinds)
        a, b, num = rng.randrange(9), rng.randrange(1, 9), rng.randrange(1000, 9999)
        head = f"[{t.strftime('%a %b %d %H:%M:%S.%f %Y')}] [{module}:{level}] [pid {100 + b}:tid 1402{a}]"
        if client:
            head += f" [client {client.format(a=a, b=b)}]"
        out.append(Rec(t, head, level, module, text.format(n=num, b=b)))
    return out


def apache_22(rng: random.Random, n: int) -> list[Rec]:
    kinds = [("notice", None, "Apache/2.2.34 (Unix) configured -- resuming normal operations"),
             ("error", "10.0.{a}.{b}", "File does not exist: /var/www/html/invoice/{n}.pdf"),
             ("error", "10.0.{a}.{b}", "script '/var/www/html/pay{b}.php' not found or unable to stat"),
             ("warn", None, "child process {n} still did not exit, sending a SIGTERM")]
    out = []
    for i in range(n):
        t = START + timedelta(seconds=31 * i + rng.randrange(20))
        level, client, text = rng.choice(kinds)
        a, b, num = rng.randrange(9), rng.randrange(1, 9), rng.randrange(1000, 9999)
        head = f"[{t.strftime('%a %b %d %H:%M:%S %Y')}] [{level}]"
        if client:
            head += f" [client {client.format(a=a, b=b)}]"
        out.append(Rec(t, head, level, "", text.format(n=num, b=b)))
    return out


def nginx(rng: random.Random, n: int) -> list[Rec]:
    kinds = [("notice", "start worker processes"),
             ("error", 'open() "/usr/share/nginx/html/invoice/{n}.pdf" failed (2: No such file or directory), '
                       'client: 10.0.0.{b}, server: erp.example.org, request: "GET /invoice/{n}.pdf HTTP/1.1", '
                       'host: "erp.example.org"'),
             ("error", "upstream timed out (110: Connection timed out) while reading response header from upstream, "
                       'client: 10.0.0.{b}, server: erp.example.org, request: "GET /api/invoices/{n} HTTP/1.1", '
                       'upstream: "http://127.0.0.1:8080/api/invoices/{n}", host: "erp.example.org"'),
             ("warn", "an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/{b}/00/000000"
                      "{n} while reading upstream, client: 10.0.0.{b}, server: erp.example.org")]
    out = []
    for i in range(n):
        t = START + timedelta(seconds=23 * i + rng.randrange(20))
        level, text = rng.choice(kinds)
        b, num = rng.randrange(1, 9), rng.randrange(1000, 9999)
        conn = "" if level == "notice" else f"*{100 + i} "
        out.append(Rec(t, f"{t.strftime('%Y/%m/%d %H:%M:%S')} [{level}] 29#29: {conn}", level, "",
                       text.format(n=num, b=b)))
    return out


def postgres(rng: random.Random, n: int) -> list[Rec]:
    """PostgreSQL's default prefix '%m [%p] '; an error's STATEMENT line belongs to it."""
    kinds = [("LOG", "INFO", "checkpoint complete: wrote {b} buffers"),
             ("ERROR", "ERROR", 'relation "invoice_{b}" does not exist at character 15'),
             ("ERROR", "ERROR", 'duplicate key value violates unique constraint "invoices_pkey"'),
             ("WARNING", "WARNING", "there is no transaction in progress"),
             ("FATAL", "FATAL", 'password authentication failed for user "app{b}"')]
    out = []
    for i in range(n):
        t = START + timedelta(seconds=27 * i + rng.randrange(20), milliseconds=rng.randrange(1000))
        word, stored, text = rng.choice(kinds)
        b, pid = rng.randrange(1, 9), 1200 + rng.randrange(50)
        stamp = f"{t.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} UTC [{pid}]"
        rec = Rec(t, f"{stamp} {word}:  ", stored, "", text.format(b=b))
        if word == "ERROR":
            rec.message += f"\n{stamp} STATEMENT:  SELECT * FROM invoice_{b} WHERE id = {rng.randrange(9999)}"
        out.append(rec)
    return out


def mysql(rng: random.Random, n: int) -> list[Rec]:
    """MySQL 8's error log: '2026-12-06T09:00:01.456789Z 8 [ERROR] [MY-010584] [Repl] message'."""
    kinds = [("System", "INFO", "MY-010116", "Server", "/usr/sbin/mysqld (mysqld 8.0.36) starting as process 1"),
             ("Note", "NOTICE", "MY-010051", "Server", "Event Scheduler: scheduler thread started with id {b}"),
             ("Warning", "Warning", "MY-010068", "Server", "CA certificate ca.pem is self signed."),
             ("ERROR", "ERROR", "MY-010584", "Repl", "Replica SQL for channel '': Error executing row event: "
                                                    "'Table 'erp.invoice_{b}' doesn't exist'")]
    out = []
    for i in range(n):
        t = START + timedelta(seconds=33 * i + rng.randrange(20), microseconds=rng.randrange(10**6))
        word, stored, code, sub, text = rng.choice(kinds)
        out.append(Rec(t, f"{t.strftime('%Y-%m-%dT%H:%M:%S.%fZ')} {rng.randrange(20)} [{word}] [{code}] [{sub}] ",
                       stored, sub, text.format(b=rng.randrange(1, 9))))
    return out


SERVERS = {"apache_24_error.log": (apache_24, " ", "Apache error log"),
           "postgresql.log": (postgres, "", "PostgreSQL"),
           "mysql_error.log": (mysql, "", "MySQL"),
           "apache_22_error.log": (apache_22, " ", "Apache error log"),
           "nginx_error.log": (nginx, "", "nginx error log")}


APP_FILE = "/srv/invoices/app/sync.py"
APP_CODE = """def vat_of(supplier):
    return supplier["vat"]


def share(total, parts):
    return total / parts


def sync(log, invoice, kind):
    try:
        if kind == "key":
            vat_of({"id": invoice})
        else:
            share(invoice, 0)
    except (KeyError, ZeroDivisionError) as err:
        log.exception("could not sync invoice %d", invoice)
        return type(err).__name__
"""


PYTHON_FORMATS = {  # file: (format, style, date format, layout named in the preview, component of a record)
    "python_bracket.log": ("%(asctime)s [%(levelname)s] %(name)s: %(message)s", "%", None, "time, [level] and logger",
                           lambda r: r.name),
    # Django's documented 'verbose' formatter
    "django_verbose.log": ("{levelname} {asctime} {module} {process:d} {thread:d} {message}", "{", None,
                           "Django verbose", lambda r: r.module),
    # logging.basicConfig()'s default: no time
    "python_default.log": ("%(levelname)s:%(name)s:%(message)s", "%", None, "Python logging default",
                           lambda r: r.name),
    # loguru's default layout, written by Python's logging
    "loguru.log": ("%(asctime)s.%(msecs)03d | %(levelname)-8s | %(name)s:%(funcName)s:%(lineno)d - %(message)s", "%",
                   "%Y-%m-%d %H:%M:%S", "loguru", lambda r: f"{r.name}:{r.funcName}:{r.lineno}"),
}


def python_logged(path: Path, fmt: str, style: str, datefmt: str | None, layout: str, component) -> dict:
    """Python's logging with ``fmt``, exceptions raised; the truth counted from the records written."""
    rng = random.Random(11)
    log = logging.getLogger("invoices.sync")
    log.propagate = False
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    formatter = logging.Formatter(fmt, datefmt=datefmt, style=style)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    clock = iter(START.timestamp() + 37 * i + rng.randrange(30) + rng.randrange(1000) / 1000 for i in range(1000))
    levels: Counter = Counter()
    components: Counter = Counter()
    first: list[float] = []

    def fixed_time(record: logging.LogRecord) -> bool:
        record.created = next(clock)
        record.msecs = int(record.created * 1000) % 1000
        record.process, record.thread = 4242, 140230  # as a server's would be, the same each run
        levels[record.levelname] += 1
        if record.levelname != "INFO":
            components[component(record)] += 1
            first.append(record.created)
        return True

    handler.addFilter(fixed_time)
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG)
    roots: Counter = Counter()

    app: dict = {}  # the application's code, under the path it would have in a deployment
    linecache.cache[APP_FILE] = (len(APP_CODE), None, APP_CODE.splitlines(True), APP_FILE)
    exec(compile(APP_CODE, APP_FILE, "exec"), app)
    try:
        for _ in range(40):
            inv = rng.randrange(1000, 9999)
            kind = rng.choice(["info", "info", "warning", "key", "zero"])
            if kind == "info":
                log.info("invoice %d synced", inv)
            elif kind == "warning":
                log.warning("invoice %d took %d s to sync", inv, rng.randrange(5, 60))
            else:
                roots[app["sync"](log, inv, kind)] += 1
    finally:
        handler.close()
        log.handlers[:] = []
    return {"format": layout, "records": sum(levels.values()), "info": levels["INFO"],
            "levels": {k: v for k, v in levels.items() if k != "INFO"}, "root_types": dict(roots),
            "components": dict(components),
            "first_ts": CHANGED if "asctime" not in fmt else
            datetime.fromtimestamp(min(first), UTC).strftime("%Y-%m-%dT%H:%M:%S")}


def java_logged(path: Path) -> dict | None:
    """java.util.logging's default layout, written by Java itself (None when no Java is installed)."""
    source = Path(__file__).resolve().parent / "jul" / "InvoiceSync.java"
    try:
        run = subprocess.run(["java", "-Duser.language=en", "-Duser.country=US", "-Duser.timezone=UTC", str(source)],
                             capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    path.write_text(run.stderr, encoding="utf-8")
    truth = json.loads(run.stdout)
    return {"format": "java.util.logging", **truth, "components": {"com.example.invoices.InvoiceSync":
                                                                   truth["records"] - truth["info"]}}


def truth_of(recs: list[Rec], fmt: str) -> dict:
    kept = [r for r in recs if r.stored.upper() not in {w.upper() for w in INFO_WORDS}]
    return {"format": fmt, "records": len(recs), "info": len(recs) - len(kept),
            "levels": dict(Counter(r.stored for r in kept)), "root_types": dict(Counter(r.root for r in kept if r.root)),
            "first_ts": min(r.t for r in kept).strftime("%Y-%m-%dT%H:%M:%S"),
            "components": dict(Counter(r.logger for r in kept if r.logger))}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    truth = {}
    for i, (name, (writer, levels, trace, root, fmt)) in enumerate(LAYOUTS.items()):
        recs = records(random.Random(i), 60, levels, trace, root)
        (HERE / name).write_text("".join(line + "\n" for r in recs for line in writer(r)), encoding="utf-8")
        truth[name] = truth_of(recs, fmt)  # with no date written, the day is the file's last change's
        if writer in (serilog_file, serilog_console, gunicorn, celery):  # these layouts write no logger
            truth[name]["components"] = {}
        named = {flask: lambda c: c.split(".")[-1].lower(), tomcat: lambda c: c + ".run"}.get(writer)
        if named:  # Flask names the module, JULI the logger and its method
            truth[name]["components"] = {named(c): n for c, n in truth[name]["components"].items()}
        if name in NO_COMPONENT:
            truth[name]["components"] = {}
        if name in NO_TIME:
            truth[name]["first_ts"] = CHANGED
    for i, (name, (maker, sep, fmt)) in enumerate(SERVERS.items()):
        recs = maker(random.Random(100 + i), 60)
        (HERE / name).write_text("".join(f"{r.level}{sep}{r.message}\n" for r in recs), encoding="utf-8")
        truth[name] = truth_of(recs, fmt)
    for name, args in PYTHON_FORMATS.items():
        truth[name] = python_logged(HERE / name, *args)
    if jul := java_logged(HERE / "jul.log"):
        truth["jul.log"] = jul
    else:  # keep the last one written
        truth["jul.log"] = json.loads((HERE.parent / "layouts_truth.json").read_text())["jul.log"]
    (HERE.parent / "layouts_truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
