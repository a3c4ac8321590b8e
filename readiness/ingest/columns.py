"""Canonical log columns per kind, their synonyms, and the proposed mapping from a file's columns.

The mapping says, for each canonical column, which source column(s) feed it and why.
Source columns that feed nothing are kept in each row's ``attributes`` JSON, never dropped.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from dataclasses import dataclass, field

from readiness.errors import ReadinessError

KINDS = ("usage", "feedback", "exceptions")

# kind -> (required, at-least-one-of, optional); order is the order columns are offered in.
SCHEMA: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "usage": (("timestamp", "user_id", "event"), (),
              ("session_id", "feature", "duration_ms", "outcome", "team")),
    "feedback": (("timestamp",), ("rating", "score", "comment"),
                 ("user_id", "channel", "category")),
    "exceptions": (("timestamp", "message"), (),
                   ("user_id", "session_id", "error_type", "stack_trace", "level", "component")),
}

NUMERIC = {"duration_ms": None, "rating": (1, 5), "score": (0, 10)}  # name -> allowed range

# Synonyms in order of preference; names are compared lower-cased with every non-alphanumeric
# character removed, so "Created At", "created_at" and "createdAt" are the same name.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "time", "ts", "created_at", "@timestamp", "datetime", "date_time",
                  "event_time", "occurred_at", "logged_at", "time_stamp", "received_at", "when",
                  # process mining (XES, OCEL) and product analytics (Segment, PostHog, Amplitude)
                  "time:timestamp", "ocel:timestamp", "event_timestamp", "original_timestamp", "sent_at",
                  "client_event_time", "server_received_time", "submitted_at", "submit_date", "created",
                  "created_date", "start_time", "start_timestamp", "recorded_at", "response_date",
                  "submitted_on", "submission_date", "date_submitted", "review_created", "review_created_utc",
                  # Python's logging (asctime), Splunk, journald, Windows' and Azure's exports
                  "asctime", "_time", "__realtime_timestamp", "time_created", "time_generated", "date_and_time",
                  "event_time_utc", "timestamp_utc", "time_utc",
                  # German, French, Spanish, Dutch exports
                  "zeitstempel", "datum_uhrzeit", "horodatage", "fecha_hora", "tijdstip"),
    "user_id": ("user_id", "distinct_id", "uid", "user", "user_email", "email", "username", "user_name", "login",
                "actor", "visitor_id",  # Pendo's and Matomo's person, before the account (a customer company)
                "account_id", "employee_id",
                "org:resource", "anonymous_id", "user_pseudo_id", "respondent_id",
                "respondent", "customer_id", "client_id", "member_id", "person_id", "reviewer_id",
                "email_address", "enduser.id", "remote_user", "benutzer", "nutzer", "utilisateur", "usuario", "gebruiker",
                "benutzer_id", "nutzer_id", "benutzerkennung", "id_utilisateur", "utilisateur_id", "id_usuario",
                "usuario_id", "gebruiker_id", "gebruikersnaam"),
    "event": ("event", "event_name", "action", "activity", "event_type", "operation",
              "event_table_name",  # Heap Connect's all_events
              "request_uri",  # JSON access logs: nginx's, Caddy's request.uri
              "concept:name", "ocel:activity", "activity_name", "action_name",
              "ereignis", "aktion", "evenement", "événement", "evento", "accion", "acción", "gebeurtenis", "actie"),
    "session_id": ("session_id", "session", "sid", "conversation_id",
                   "case:concept:name", "case_id", "visit_id", "ga_session_id",
                   "sitzung", "sitzungs_id", "sitzung_id", "sesion", "sesión", "id_sesion", "sessie"),
    "feature": ("feature", "feature_name", "module", "capability", "tool", "screen"),
    "duration_ms": ("duration_ms", "duration", "latency_ms", "elapsed_ms", "response_time_ms",
                    "took_ms", "latency", "dauer_ms", "duree_ms", "duracion_ms", "duur_ms"),
    "outcome": ("outcome", "result", "status", "success", "ergebnis", "resultat", "résultat", "resultado",
                "resultaat", "uitkomst"),
    "team": ("team", "department", "dept", "group", "business_unit", "org_unit", "org:group",
             "abteilung", "equipe", "équipe", "equipo", "departamento", "afdeling"),
    "rating": ("rating", "stars", "star_rating", "csat", "satisfaction", "review_score", "overall_rating",
               "osat", "review_stars", "satisfaction_score",
               "bewertung", "sterne", "valoracion", "valoración", "evaluation", "beoordeling"),
    "score": ("score", "nps", "nps_score", "likelihood_to_recommend", "recommend",
              "ltr",  # Medallia's and many CX tools' likelihood to recommend
              "weiterempfehlung", "recommandation", "recomendacion", "recomendación", "aanbeveling"),
    "comment": ("comment", "comments", "feedback", "text", "verbatim", "free_text", "remarks", "remark",
                "body", "message", "review", "review_text", "review_body", "review_content", "reviews",
                "kommentar", "commentaire", "comentario", "opmerking", "anmerkung"),
    "channel": ("channel", "source", "medium", "via"),
    "category": ("category", "type", "topic", "tag", "label"),
    "message": ("innermost_message", "message", "msg", "error_message", "content", "error", "exception_message",
                "short_message",  # GELF's
                "description", "log_message", "text", "exception.message", "error.message", "error.value", "outer_message",
                "rendered_message",
                "log.message"),  # Elastic APM's logged error (error.log.message)
    "error_type": ("innermost_type", "error_type", "exception_type", "exc_type", "error_class", "exception", "type",
                   "error_code", "exception.type", "error.type", "err.type", "err.name", "error.kind", "outer_type"),
    "stack_trace": ("stack_trace", "stacktrace", "traceback", "stack", "trace", "backtrace", "exc_info", "exc_text",
                    "exception.stacktrace", "error.stack_trace", "err.stack", "error.stack",
                    "full_message",  # GELF's: the backtrace where there is one
                    "exception"),  # structlog's: the formatted traceback (when it is not a type's name)
    # a level's name before its number: Windows' LevelDisplayName ('Information') over Level (4)
    "level": ("level_display_name", "levelname", "level", "severity", "log_level", "priority", "loglevel",
              "log.level", "severity_text", "severity_level",
              "status"),  # Datadog's (error, warn, info, ...): only where its values are level names
    "component": ("component", "service", "module", "logger", "source", "app", "subsystem",
                  "service.name", "logger_name", "log.logger", "caller",
                  "source_context",  # Serilog's logger (a class's full name)
                  # journald, Windows' event exports, Application Insights
                  "syslog_identifier", "_systemd_unit", "provider_name", "cloud_role_name", "app_role_name"),
}
# A column whose name merely contains one of these words is a candidate for the canonical
# column, taken only when its values fit it (its content decides): 'How likely are you to
# recommend us?' is a score, 'FaultMessage' a message, 'Email Address' a user.
NAME_PARTS: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "datetime", "date", "time"),
    "user_id": ("userid", "username", "email", "respondent"),
    "score": ("recommend", "likely", "likelihood", "nps", "weiterempfehl", "empfehl", "recommand", "recomend",
              "aanbevel"),
    "rating": ("rating", "stars", "satisf"),
    "message": ("message", "error", "exception"),
    "comment": ("comment", "review", "feedback", "remark", "reason", "verbatim"),
    "duration_ms": ("duration", "latency", "elapsed", "dauer", "duree", "duracion", "duur"),
}
# The unit a duration column's name gives its numbers (the last unit word in it: 'Dauer (s)',
# 'duration_seconds', 'latencyMs'), as the factor to milliseconds; a name with none is milliseconds.
DURATION_UNITS = {"ms": 1, "millis": 1, "msec": 1, "milliseconds": 1, "millisecond": 1,
                  "s": 1000, "sec": 1000, "secs": 1000, "second": 1000, "seconds": 1000,
                  "us": 0.001, "µs": 0.001, "micros": 0.001, "microseconds": 0.001,
                  "ns": 0.000001, "nanos": 0.000001, "nanoseconds": 0.000001,
                  "min": 60000, "mins": 60000, "minute": 60000, "minutes": 60000,
                  "h": 3600000, "hr": 3600000, "hrs": 3600000, "hour": 3600000, "hours": 3600000, "std": 3600000,
                  "stunden": 3600000}


# A record's kind where a tool writes it under 'type' (Datadog's "type": "log"): never an error's type
RECORD_KINDS = ("log", "logs", "event", "events", "span", "trace", "metric", "record", "entry", "message")

# Serilog's compact log event format (CLEF, as Seq reads it): @t the time, @m the rendered message
# or @mt its template, @l the level (absent: Information), @x the exception as .NET writes it
CLEF_KEYS = {"timestamp": ("@t",), "message": ("@m", "@mt"), "level": ("@l",), "stack_trace": ("@x",)}
CLEF_DEFAULT_LEVEL = "INFORMATION"


def is_clef(columns: list[str] | tuple[str, ...]) -> bool:
    """Whether a JSON file's keys are CLEF's: a time and a message template (or a rendered message
    and a level), each under @."""
    return "@t" in columns and ("@mt" in columns or ("@m" in columns and "@l" in columns))


def duration_factor(name: str) -> float:
    """Milliseconds per unit of a duration column named ``name`` (1 when the name gives no unit)."""
    words = re.findall(r"[A-Z]?[a-zµ]+|[A-Z]+(?![a-z])", re.sub(r"'s\b", "", name.rsplit(".", 1)[-1]))
    units = [DURATION_UNITS[w.lower()] for w in words if w.lower() in DURATION_UNITS]
    return units[-1] if units else 1


# A nested key this deep ('attributes.attributes.error.kind') maps by its dotted names, not by a word
# in it or its values
DEEP_DOTS = 3

# Words naming a heading or a company's reply, not a person's comment ('Review Title', 'Company Reply')
TITLE_WORDS = ("title", "subject", "headline", "summary", "reply")

# Names of counts and identifiers: never a rating or score, whatever their values.
COUNT_NAMES = ("count", "num", "number", "helpful", "votes", "qty", "quantity", "id", "total", "age",
               "index", "rank", "version", "attempt", "retries", "size")
# Survey answers written as words, read as stars: satisfaction (SurveyMonkey, Qualtrics, Google
# Forms) and quality scales. Two-level answers (Zendesk's good / bad) are not a 1-5 scale.
RATING_LABELS: dict[str, int] = {
    "very satisfied": 5, "extremely satisfied": 5, "completely satisfied": 5, "satisfied": 4,
    "somewhat satisfied": 4, "mostly satisfied": 4, "neither satisfied nor dissatisfied": 3,
    "neither satisfied or dissatisfied": 3, "neutral": 3, "somewhat dissatisfied": 2, "dissatisfied": 2,
    "mostly dissatisfied": 2, "very dissatisfied": 1, "extremely dissatisfied": 1, "completely dissatisfied": 1,
    "excellent": 5, "very good": 4, "good": 3, "fair": 2, "poor": 1, "very poor": 1,
}

# Two-level satisfaction (Zendesk's CSAT: Good / Bad), read as the ends of the 1-5 scale so that CSAT
# (ratings of 4 or 5) is the share of Good; a survey offered and not answered is no rating.
GOOD_BAD: dict[str, int] = {"good": 5, "bad": 1}
UNANSWERED = ("offered", "unoffered", "not offered", "not rated")

# The exception's own message where a log also has the line's text (ECS, OpenTelemetry, pino's and
# bunyan's serialised 'err'): it names the failure.
EXCEPTION_MESSAGES = ("error.message", "exception.message", "err.message", "error.exception.message")
# Anonymous ids of product analytics (Segment's anonymousId): a user's id where the signed-in id is blank.
# Names too generic to tell a nested key's meaning by its last name alone
GENERIC_NAMES = {"type", "kind", "category", "label", "tag", "topic", "name", "id", "value", "data"}
# user_pseudo_id: GA4's; amplitude_id: Amplitude's id of a person (device_id: a device, before sign-in)
ANONYMOUS_NAMES = ("anonymous_id", "anon_id", "anonymous_user_id", "user_pseudo_id", "amplitude_id", "device_id")
# A JSON access log's client address: the user where nobody signed in (as the line logs read it); only
# beside an access log's request or remote user (elsewhere an address is no person)
ACCESS_ADDRESSES = ("remote_addr", "client_ip", "remote_ip")
ACCESS_NAMES = ("requesturi", "remoteuser")
# An outcome column of HTTP status codes, by its name (exam points 180-560 are no status)
STATUS_NAMES = ("status", "statuscode", "httpstatus", "httpstatuscode", "scstatus", "responsecode",
                "responsestatus")
DATE_NAMES = ("date", "day", "log_date", "datum", "fecha")
TIME_NAMES = ("time", "hour", "log_time", "time_of_day", "uhrzeit", "zeit", "heure", "hora", "tijd")


def _named(col: str, names: tuple[str, ...]) -> bool:
    """``col`` is one of ``names``, also under a search hit's ``_source`` ('_source.error.message')."""
    return any(col in (n, "_source." + n) for n in names)


def norm(name: str) -> str:
    """Return a column name as compared for synonyms: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def canonical_columns(kind: str) -> tuple[str, ...]:
    """All canonical columns of ``kind``, required first."""
    req, one_of, opt = SCHEMA[kind]
    return req + one_of + opt


@dataclass(frozen=True)
class ColumnProfile:
    """What a sample of one source column's values looks like (blank values left out)."""
    values: int            # non-blank values sampled
    distinct: int
    numeric: int           # values that read as numbers
    integers: int          # ... as whole numbers or halves (4.5 stars)
    low: float | None      # smallest and largest number
    high: float | None
    over_five: int         # numbers above 5 (a 0-10 score reaches there, a 1-5 rating does not)
    flags: int             # values that are 0/1, true/false, yes/no, y/n
    times: int             # values that read as a time: ISO 8601 or a common layout
    epochs: int            # numbers in the range of Unix epoch seconds, ms, µs or ns, 2000-2040
    mean_length: float
    mean_words: float
    nested: int = 0        # JSON objects or arrays (a nested record, not a value)
    example: str | None = None
    labels: int = 0        # satisfaction or quality labels of a 1-5 scale (RATING_LABELS)
    good_bad: int = 0      # 'Good' or 'Bad' (GOOD_BAD)
    bad: int = 0           # 'Bad' 
    unanswered: int = 0    # 'Offered', 'Unoffered' (UNANSWERED)
    other_labels: int = 0  # labels of the 1-5 scales other than 'good' ('Excellent', 'Fair', ...)
    traces: int = 0        # text over several lines, the later ones indented (a stack trace's frames)
    levels: int = 0        # a log level's name ('error', 'WARN', 'Information')
    late: bool = False     # a JSON key first written after the first thousands of objects

    def share(self, n: int) -> float:
        return n / self.values if self.values else 0.0

    @property
    def time_share(self) -> float:
        return self.share(max(self.times, self.epochs))

    @property
    def is_flag(self) -> bool:
        """Only yes/no values (0/1, true/false): a flag, never text or a rating."""
        return self.values > 0 and self.flags == self.values and self.distinct <= 2

    @property
    def is_good_bad(self) -> bool:
        """Zendesk's two-level CSAT: Good or Bad (or offered and not answered), no other label."""
        return (self.values > 0 and self.good_bad > 0 and not self.other_labels and (self.bad or self.unanswered)
                and self.share(self.good_bad + self.unanswered) >= 0.9)

    @property
    def is_rating_labels(self) -> bool:
        """Survey answers written as words of a 1-5 scale ('Very satisfied' ... 'Very dissatisfied')."""
        return self.values > 0 and self.share(self.labels) >= 0.9 and self.distinct >= 2

    def whole_numbers_within(self, lo: int, hi: int) -> bool:
        """Nearly every value a number, the numbers whole (or halves) and all between lo and hi."""
        return (self.values > 0 and self.share(self.numeric) >= 0.95 and self.share(self.integers) >= 0.9
                and self.low is not None and self.low >= lo and self.high <= hi)

    @property
    def is_free_text(self) -> bool:
        """Text people wrote: not numbers, flags, times or nested records; words, and varied."""
        return (self.values > 0 and not self.is_flag and self.share(self.numeric) < 0.5
                and self.time_share < 0.5 and self.share(self.nested) < 0.5 and self.mean_words >= 2
                and self.distinct >= max(2, 0.3 * self.values))

    def describe_numbers(self) -> str:
        lo, hi = (f"{v:g}" for v in (self.low, self.high))
        return f"whole numbers {lo}-{hi}" if self.share(self.integers) >= 0.9 else f"numbers {lo}-{hi}"


@dataclass(frozen=True)
class ColumnMapping:
    canonical: str
    sources: tuple[str, ...]  # one column, or several joined by a space (e.g. Date + Time)
    reason: str
    first: bool = False       # the first non-blank of the sources, not all joined (userId | anonymousId)
    by: str = "name"          # "map" (given by hand), "name", or "content" (its values decided)
    good_bad: bool = False    # rating: Zendesk's Good / Bad (GOOD_BAD), not the 1-5 labels
    http_status: bool = False  # outcome: HTTP status codes, read as an access log's outcome
    seconds: bool = False     # duration_ms: the tool writes seconds though the name gives no unit (Caddy)

    def spec(self) -> str:
        """How ``--map`` writes it: 'Date+Time' (joined), 'userId|anonymousId' (first non-blank)."""
        return ("|" if self.first else "+").join(self.sources)


@dataclass
class Mapping:
    kind: str
    columns: list[ColumnMapping]
    unmapped: list[str]                 # kept in attributes
    problems: list[str] = field(default_factory=list)   # why it cannot load as it is
    notes: list[str] = field(default_factory=list)      # columns named like one thing but holding another

    def get(self, canonical: str) -> ColumnMapping | None:
        return next((c for c in self.columns if c.canonical == canonical), None)

    def missing_required(self) -> list[str]:
        req, one_of, _ = SCHEMA[self.kind]
        missing = [c for c in req if self.get(c) is None]
        if one_of and not any(self.get(c) for c in one_of):
            missing.append(" or ".join(one_of))
        return missing

    def as_dict(self) -> dict[str, str]:
        return {c.canonical: c.spec() for c in self.columns}


class MappingError(ReadinessError, ValueError):
    """A --map override names an unknown canonical column or a column the file lacks."""


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    """Turn ``["canonical=source", ...]`` into a dict; an empty source means 'do not map'."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise MappingError(f"--map takes canonical=source (e.g. timestamp=created), not {item!r}.")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _tokens(name: str) -> list[str]:
    """A column name's words, lower-cased: 'HelpfulnessNumerator' -> ['helpfulness', 'numerator']."""
    return [t.lower() for t in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)]


def _has_word(name: str, part: str) -> bool:
    """``part`` is a word of the name, or begins one (when it is long) or ends one: 'FaultDate',
    'faultdate' and 'Review Date' have 'date'; 'Recommended IND' has 'recommend'; 'sentiment'
    does not have 'time'."""
    return any(t == part or t.endswith(part) or (len(part) >= 5 and t.startswith(part)) for t in _tokens(name))


def _count_like(name: str) -> bool:
    """Named like a count or an identifier ('HelpfulnessNumerator', 'ProductId', 'votes')."""
    return any(t.startswith(c) for t in _tokens(name) for c in COUNT_NAMES)


def _pct(share: float) -> str:
    return f"{share:.0%}"


def _holds_records(prof: ColumnProfile | None) -> bool:
    return prof is not None and prof.share(prof.nested) >= 0.9


def _fits(canon: str, prof: ColumnProfile | None, strict: bool) -> str | None:
    """Why a column's values rule it out for ``canon`` (None when they fit or were not sampled).
    ``strict``: the column is proposed by content or by a word in its name, not by a synonym."""
    if prof is None or (prof.values == 0 and not strict):
        return None
    if prof.values == 0:
        return "it is empty"
    if _holds_records(prof):
        return "it holds nested records (JSON objects or lists), not values; their keys map by their dotted names"
    if canon in ("rating", "score") and prof.is_flag and not prof.whole_numbers_within(1, 5):
        return "it holds only yes/no flags (0/1), not a rating or score"
    if canon == "timestamp":
        return None if not strict or prof.time_share >= 0.8 else f"only {_pct(prof.time_share)} of its values read as times"
    if canon == "rating" and (prof.is_rating_labels or prof.is_good_bad):
        return None
    if canon in ("rating", "score", "duration_ms"):
        # by a synonym, a number column stays mapped: its values that are not numbers are rejected rows;
        # one that holds hardly any numbers is another thing of that name (a quiz's 'Score': '7 / 10')
        if (strict and prof.share(prof.numeric) < 0.5) or prof.share(prof.numeric) < 0.2:
            return f"its values are not numbers (e.g. {prof.example!r})"
        if canon == "rating" and strict and not prof.whole_numbers_within(1, 5):
            return f"it holds {prof.describe_numbers()}, not 1-5"
        if canon == "score" and strict and not (prof.whole_numbers_within(0, 10) and prof.high > 5 and prof.distinct >= 3):
            return f"it holds {prof.describe_numbers()}, not 0-10"
        return None
    if (canon in ("error_type", "category") and prof.values and prof.distinct == 1
            and (prof.example or "").lower() in RECORD_KINDS):  # Slack's every "type" is "message"
        return f"it names the kind of record ({prof.example!r}), not {'an error' if canon == 'error_type' else 'a category'}"
    # structlog's 'exception', Serilog's 'Exception': the whole traceback, not an error's name
    if canon == "error_type" and (prof.mean_words > 20 or prof.share(prof.traces) >= 0.5):
        return f"its values are stack traces or long text (e.g. {(prof.example or '')[:40]!r}), not the name of an error"
    if canon in ("comment", "message"):
        if prof.is_flag:
            return "it holds only yes/no flags (0/1), not text"
        if prof.share(prof.numeric) >= 0.8:
            return f"it holds numbers (e.g. {prof.example!r}), not text"
        if prof.time_share >= 0.8:
            return "it holds times, not text"
        if strict and not prof.is_free_text:
            return "its values are not free text"
    return None


def propose_mapping(kind: str, source_columns: list[str], overrides: dict[str, str] | None = None,
                    profiles: dict[str, ColumnProfile] | None = None,
                    questions: dict[str, str] | None = None) -> Mapping:
    """Propose which source columns feed each canonical column of ``kind``, with reasons.

    Overrides (canonical -> source, ``A+B`` for several, empty for none) win; then names: exact
    names and synonyms, a date column plus a time column for ``timestamp``, and words in a name
    (``FaultMessage``), each only where the column's values fit (``profiles``: a sample of each
    column's values; without them names alone decide). Then content, for what names left open:
    the column whose values read as times; whole numbers 1-5 are a rating whatever the name (0-10
    a score); the longest, most varied free text is the comment or message. A 0/1 flag is never
    text. ``questions``: a survey export's question text per column (Qualtrics names its columns
    Q1, Q2, ...), whose words count as the column's name's.
    """
    if kind not in SCHEMA:
        raise MappingError(f"Unknown kind {kind!r}: use one of {', '.join(KINDS)}.")
    overrides = overrides or {}
    profiles = profiles or {}
    wanted = canonical_columns(kind)
    by_norm: dict[str, str] = {}
    for col in source_columns:
        by_norm.setdefault(norm(col), col)
    # a nested key ('properties.$session_id', 'attributes.user.id') answers to its own name too,
    # after every whole name
    # after every whole name; a generic name ('type', 'status') does not, as Google Cloud's
    # 'resource.type' names where the log came from, not the error
    # (a flattened export's dotted header too: PostHog's CSV 'properties.$session_id', Segment's 'context.page.path')
    nested = {c for c in source_columns if "." in c and (c.split(".", 1)[0] in source_columns
                                                         or re.fullmatch(r"[\w$@:-]+(?:\.[\w$@:-]+)+", c))}
    for col in sorted(nested, key=lambda c: c.count(".")):
        parts = col.split(".")  # its last name alone only as deep as three keys ('a.b.c.status' is no outcome)
        shortest = len(parts) if len(parts) <= 3 else len(parts) - 1
        for name in (".".join(parts[i:]) for i in range(1, shortest)):
            if norm(name) not in GENERIC_NAMES:
                by_norm.setdefault(norm(name), col)
    used: set[str] = set()
    chosen: dict[str, ColumnMapping] = {}
    notes: list[str] = []

    def take(canon: str, cols: tuple[str, ...], why: str, by: str = "name", first: bool = False) -> None:
        chosen[canon] = ColumnMapping(canon, cols, why, first, by=by)
        used.update(cols)

    for canon, spec in overrides.items():
        if canon not in wanted:
            raise MappingError(
                f"--map {canon}=...: {canon!r} is not a {kind} column. "
                f"{kind} columns are: {', '.join(wanted)}."
            )
        if not spec:
            chosen[canon] = ColumnMapping(canon, (), "left unmapped by --map", by="map")
            continue
        first = "|" in spec and spec not in source_columns  # a name holding '+' or '|' is one column
        parts = [spec] if spec in source_columns else [p.strip() for p in spec.split("|" if first else "+")]
        found = []
        for part in parts:
            match = part if part in source_columns else by_norm.get(norm(part))
            if match is None:
                raise MappingError(
                    f"--map {canon}={spec}: the file has no column {part!r}. "
                    f"Columns found: {', '.join(source_columns)}."
                )
            found.append(match)
        chosen[canon] = ColumnMapping(canon, tuple(found), f"--map {canon}={spec}", first, by="map")
        used.update(found)

    def free(names: tuple[str, ...]) -> str | None:  # a column of that name, unused, holding values (not records)
        return next((by_norm[n] for n in map(norm, names) if n in by_norm and by_norm[n] not in used
                     and not _holds_records(profiles.get(by_norm[n]))), None)

    if is_clef(source_columns):  # its keys are short and fixed: they answer to no synonym
        for canon, keys in CLEF_KEYS.items():
            found = tuple(k for k in keys if k in source_columns and k not in used)
            if canon in wanted and canon not in chosen and found:
                take(canon, found, f"CLEF's {' or '.join(found)} (Serilog's compact JSON)", first=len(found) > 1)

    if "timestamp" in wanted and "timestamp" not in chosen:
        # Logs often split the instant in two: a date column and a time-of-day column.
        date, tcol = free(DATE_NAMES), free(TIME_NAMES)
        other = free(tuple(s for s in SYNONYMS["timestamp"] if norm(s) not in map(norm, TIME_NAMES)))
        if date and tcol and other is None:
            # syslog splits it in three ("Jun", "14", "15:16:01"): a month column goes first
            month = free(("month", "mon")) if norm(date) in map(norm, ("date", "day")) else None
            parts, why = (((month, date, tcol), "a month, a day and a time column, joined (syslog style)") if month
                          else ((date, tcol), "a date column and a time column, joined"))
            take("timestamp", parts, why)

    def late_key(col: str) -> bool:  # a JSON key first written after the first thousands of objects
        return col in profiles and profiles[col].late

    for canon, late in itertools.product(wanted, (False, True)):  # a key the first objects write wins
        if canon in chosen:
            continue
        for rank, syn in enumerate(SYNONYMS[canon]):
            col = by_norm.get(norm(syn))
            if col is None or col in used or late_key(col) != late:
                continue
            misfit = _fits(canon, profiles.get(col), strict=False)
            if canon == "level" and norm(syn) == "status" and not (profiles.get(col) and profiles[col].levels
                                                                    and profiles[col].share(profiles[col].levels) >= 0.8):
                continue  # a status is a level only where it holds level names (Datadog's)
            if misfit:
                if not _holds_records(profiles.get(col)):  # a parent object is no surprise: its keys map
                    notes.append(f"{col!r} is named like {canon} but {misfit}: not used as {canon}.")
                continue
            why = "same name" if rank == 0 or norm(col) == norm(canon) else f"{col!r} is a synonym of {canon}"
            take(canon, (col,), why)
            break
    message = chosen.get("message")
    if kind == "exceptions" and message and len(message.sources) == 1 and message.by != "map" and (
            exc := next((c for c in source_columns if _named(c, EXCEPTION_MESSAGES) and c not in used), None)):
        # ECS and OpenTelemetry write the log line's text and, apart, the exception's message
        chosen["message"] = ColumnMapping("message", (exc, message.sources[0]),
                                          f"{exc!r}, or {message.sources[0]!r} where it is blank", first=True)
        used.add(exc)
    elif kind == "exceptions" and message and len(message.sources) == 1 and message.by != "map" and (
            _named(message.sources[0], EXCEPTION_MESSAGES)) and (
            line := free(tuple(s for s in SYNONYMS["message"] if s not in EXCEPTION_MESSAGES))):
        # the exception's message came by its own name (pino's 'err.message' answers to 'message'):
        # the line's text ('msg') stands in where a line has no exception
        chosen["message"] = ColumnMapping("message", (message.sources[0], line),
                                          f"{message.sources[0]!r}, or {line!r} where it is blank", first=True)
        used.add(line)
    message = chosen.get("message")
    if (kind == "exceptions" and message and message.by != "map" and "textPayload" in source_columns
            and "textPayload" not in message.sources):
        # Google Cloud Logging: a structured entry's message is in jsonPayload, a plain one's in textPayload
        chosen["message"] = ColumnMapping("message", (*message.sources, "textPayload"),
                                          f"{' or '.join(map(repr, message.sources))}, or 'textPayload' where it is blank",
                                          first=True)
        used.add("textPayload")
    user = chosen.get("user_id")
    if (user and user.by == "name" and len(user.sources) == 1 and "." in user.sources[0]
            and (distinct := by_norm.get("distinctid")) and distinct != user.sources[0]):
        # Mixpanel's distinct_id is the person; its properties.$user_id is blank until sign-in
        used.discard(user.sources[0])
        take("user_id", (distinct,), f"{distinct!r} is Mixpanel's person (over {user.sources[0]!r})")
    event = chosen.get("event")
    names = {norm(c): c for c in source_columns if c not in used}
    if (kind == "usage" and event and event.sources == (by_norm.get("event"),) and event.by != "map"
            and {"name", "type"} <= names.keys()
            and {"messageid", "anonymousid"} <= {norm(c) for c in source_columns}
            and {"sentat", "receivedat", "originaltimestamp"} & {norm(c) for c in source_columns}):
        # Segment: a track call names its event, a page or screen call its page; identify, group and
        # alias calls name neither (they are left out: load.segment_calls)
        chosen["event"] = ColumnMapping("event", (event.sources[0], names["name"], names["type"]),
                                        f"Segment's calls: {event.sources[0]!r}, else the page's {names['name']!r}, "
                                        f"else the call's {names['type']!r}", first=True)
        used.update((names["name"], names["type"]))
    user = chosen.get("user_id")
    access = any(norm(c.rsplit(".", 1)[-1]) in ACCESS_NAMES or norm(c) in ACCESS_NAMES
                 for m in chosen.values() for c in m.sources)
    if user and len(user.sources) == 1 and user.by != "map" and (
            anon := free(ANONYMOUS_NAMES) or (free(ACCESS_ADDRESSES) if access else None)):
        # analytics tools write the signed-in id, or an anonymous one before sign-in
        chosen["user_id"] = ColumnMapping("user_id", (user.sources[0], anon),
                                          f"{user.sources[0]!r}, or {anon!r} where it is blank", first=True)
        used.add(anon)
    if "timestamp" in wanted and "timestamp" not in chosen and (date := free(DATE_NAMES)):
        take("timestamp", (date,), f"{date!r} is the only date column")
    _settle_rating_and_score(kind, chosen, used, profiles, notes)
    by_values = functools.partial(take, by="content")  # what follows is decided by the column's values
    _by_name_part(wanted, source_columns, chosen, used, profiles, by_values, questions)
    _by_content(kind, wanted, source_columns, chosen, used, profiles, by_values)

    rating = chosen.get("rating")
    if rating and len(rating.sources) == 1 and (p := profiles.get(rating.sources[0])) and p.is_good_bad:
        chosen["rating"] = dataclasses.replace(rating, good_bad=True,
                                               reason=rating.reason + "; Good / Bad read as 5 / 1 (CSAT: Good's share)")
    outcome = chosen.get("outcome")
    if (outcome and len(outcome.sources) == 1 and (p := profiles.get(outcome.sources[0]))
            and norm(outcome.sources[0].rsplit(".", 1)[-1]) in STATUS_NAMES
            and p.whole_numbers_within(100, 599) and p.high >= 200):
        chosen["outcome"] = dataclasses.replace(outcome, http_status=True, reason=outcome.reason + (
            "; HTTP status codes: 1xx-3xx success, 4xx client error, 5xx failure"))
    duration = chosen.get("duration_ms")
    if (duration and duration.sources == ("duration",) and duration.by != "map"
            and {"logger", "resp_headers", "request.uri"} <= set(source_columns)):
        chosen["duration_ms"] = dataclasses.replace(duration, seconds=True, reason=duration.reason + (
            "; Caddy's access log writes seconds"))
    columns = [chosen[c] for c in wanted if c in chosen and chosen[c].sources]
    # a nested key is kept in attributes inside its parent: it is not listed on its own
    mapping = Mapping(kind, columns, [c for c in source_columns if c not in used and c not in nested], notes=notes)
    missing = mapping.missing_required()
    if missing:
        first = missing[0].split(" or ")[0]
        likely = _candidates(first, source_columns, used, profiles)
        said = (f" Likely by content: {', '.join(f'{c!r} ({why})' for c, why in likely)}." if likely
                else (" No column looks like it by its content." if profiles else ""))
        example = f"{first}={likely[0][0]}" if likely else f"{first}=COLUMN"
        mapping.problems.append(
            f"Required column(s) not found: {', '.join(missing)}. Columns found: "
            f"{', '.join(source_columns) or '(none)'}.{said} Name the column that holds it: {example} "
            f"(command line: --map {example}; Sources page: choose it in the file's mapping table)."
        )
    return mapping


def _settle_rating_and_score(kind: str, chosen: dict[str, ColumnMapping], used: set[str],
                             profiles: dict[str, ColumnProfile], notes: list[str]) -> None:
    """A 'score' holding only 1-5 is a star rating (NPS on it would read -100); a 'rating' that
    reaches 6-10 in more than a few rows is a 0-10 score."""
    if kind != "feedback":
        return
    score, rating = chosen.get("score"), chosen.get("rating")
    if score and len(score.sources) == 1 and score.by != "map":
        prof = profiles.get(score.sources[0])
        if prof and prof.values and prof.whole_numbers_within(1, 5):
            del chosen["score"]
            col = score.sources[0]
            if rating is None:
                chosen["rating"] = ColumnMapping("rating", (col,), f"{col!r} holds only whole numbers 1-5: star ratings, "
                                                                   f"not a 0-10 recommend score", by="content")
                rating = chosen["rating"]
            else:
                used.discard(col)
                notes.append(f"{col!r} holds only whole numbers 1-5, so it is not a 0-10 recommend score; kept "
                             f"in attributes (no NPS).")
    if rating and len(rating.sources) == 1 and rating.by != "map" and "score" not in chosen:
        prof = profiles.get(rating.sources[0])
        if (prof and prof.values and prof.whole_numbers_within(0, 10) and prof.share(prof.over_five) >= 0.05):
            col = rating.sources[0]
            del chosen["rating"]
            chosen["score"] = ColumnMapping("score", (col,), f"{col!r} holds whole numbers 0-10 "
                                                             f"({_pct(prof.share(prof.over_five))} above 5): a recommend score, "
                                                             "not 1-5 stars", by="content")


def _by_name_part(wanted, source_columns, chosen, used, profiles, take, questions=None) -> None:
    """Canonical columns still open, from a word in a column's name (or its survey question),
    where the values fit."""
    questions = questions or {}
    for canon, parts in NAME_PARTS.items():
        if canon not in wanted or canon in chosen:
            continue
        for col in source_columns:
            if col.count(".") >= DEEP_DOTS:
                continue  # a key four deep maps by its dotted names only ('a.invoice.approval.duration' is no use's)
            asked = questions.get(col, "")
            part = next((p for p in parts if _has_word(col, p)), None)
            in_question = part is None and (part := next((p for p in parts if _has_word(asked, p)), None)) is not None
            if col in used or part is None or col not in profiles:
                continue
            prof = profiles[col]  # a column named a comment holds sentences, however often one repeats
            if _fits(canon, prof, strict=True) and not (part == "comment" and prof.mean_words >= 3 and not prof.numeric):
                continue
            if canon in ("rating", "score") and _count_like(col):
                continue
            if canon == "comment" and any(t in TITLE_WORDS for t in _tokens(col)):
                continue  # a review's title or a ticket's subject sums it up; the text is elsewhere
            where = f"its question {asked[:80]!r}" if in_question else "its name"
            take(canon, (col,), f"{col!r} has {part!r} in {where} and its values fit")
            break


def _by_content(kind, wanted, source_columns, chosen, used, profiles, take) -> None:
    """Canonical columns still open, from the values alone."""
    open_cols = [c for c in source_columns if c not in used and profiles.get(c) and profiles[c].values
                 and c.count(".") < DEEP_DOTS]
    if "timestamp" in wanted and "timestamp" not in chosen:
        # a column named like an id or a count whose numbers merely fall in an epoch's range (a
        # 19-digit snowflake id reads as nanoseconds) is never the time by its values alone
        times = [c for c in open_cols if profiles[c].time_share >= 0.8
                 and not (_count_like(c) and profiles[c].epochs > profiles[c].times)]
        if times:  # written times before epoch numbers, numbers not named like ids (a 19-digit snowflake id
            # reads as epoch nanoseconds), then the surest, then the most varied
            best = max(times, key=lambda c: (profiles[c].times >= profiles[c].epochs, not _count_like(c),
                                             profiles[c].time_share, profiles[c].distinct))
            p = profiles[best]
            what = "Unix epoch numbers" if p.epochs > p.times else "times"
            take("timestamp", (best,), f"by content: {_pct(p.time_share)} of {p.values:,} sampled values read as "
                                       f"{what}, e.g. {p.example!r}")
            open_cols.remove(best)
    if kind == "feedback":
        if "rating" not in chosen:
            stars = [c for c in open_cols if not _count_like(c) and profiles[c].whole_numbers_within(1, 5)
                     and profiles[c].distinct >= 2]
            words = [c for c in open_cols if profiles[c].is_rating_labels or profiles[c].is_good_bad]
            if stars:
                best = max(stars, key=lambda c: profiles[c].values)
                take("rating", (best,), f"by content: {profiles[best].describe_numbers()}, read as star ratings")
                open_cols.remove(best)
            elif words:
                best = max(words, key=lambda c: profiles[c].values)
                take("rating", (best,), f"by content: answers such as {profiles[best].example!r} on a 1-5 scale "
                                        "(very dissatisfied 1 ... very satisfied 5)")
                open_cols.remove(best)
        if "score" not in chosen and "rating" not in chosen:
            scores = [c for c in open_cols if not _count_like(c) and profiles[c].whole_numbers_within(0, 10)
                      and profiles[c].high > 5 and profiles[c].distinct >= 3]
            if len(scores) == 1:
                take("score", (scores[0],), f"by content: {profiles[scores[0]].describe_numbers()}, read as a "
                                            f"0-10 recommend score")
                open_cols.remove(scores[0])
    text = "comment" if kind == "feedback" else "message" if kind == "exceptions" else None
    if text and text not in chosen:
        free_text = [c for c in open_cols if profiles[c].is_free_text]
        if free_text:
            best = max(free_text, key=lambda c: (profiles[c].mean_length, profiles[c].distinct))
            p = profiles[best]
            take(text, (best,), f"by content: the longest free text (mean {p.mean_length:.0f} characters, "
                                f"{_pct(p.share(p.distinct))} distinct)")


def _candidates(canon: str, source_columns: list[str], used: set[str],
                profiles: dict[str, ColumnProfile]) -> list[tuple[str, str]]:
    """Up to three columns whose values look most like ``canon``, each with why, best first."""
    open_cols = [c for c in source_columns if c not in used and profiles.get(c) and profiles[c].values]
    scored: list[tuple[float, str, str]] = []
    for c in open_cols:
        p = profiles[c]
        if canon == "timestamp" and p.time_share > 0:
            scored.append((p.time_share, c, f"{_pct(p.time_share)} of its values read as times"))
        elif (canon in ("user_id", "session_id") and not p.is_flag and p.time_share < 0.5 and p.mean_words <= 3
              and (p.share(p.numeric) < 0.5 or p.share(p.integers) >= 0.95)):
            # ids repeat (a user has several rows): a column of repeated values first
            scored.append((float(p.distinct < p.values), c, f"{p.distinct:,} distinct values in {p.values:,} rows"))
        elif canon == "event" and p.share(p.numeric) < 0.5 and p.time_share < 0.5 and 1 < p.distinct <= 0.5 * p.values:
            scored.append((1 - p.distinct / p.values, c, f"{p.distinct:,} distinct labels in {p.values:,} rows"))
        elif canon in ("message", "comment") and p.is_free_text:
            scored.append((p.mean_length, c, f"free text, mean {p.mean_length:.0f} characters"))
        elif canon == "rating" and p.whole_numbers_within(1, 5):
            scored.append((1, c, p.describe_numbers()))
        elif canon == "score" and p.whole_numbers_within(0, 10):
            scored.append((1, c, p.describe_numbers()))
    scored.sort(key=lambda t: -t[0])
    return [(c, why) for _, c, why in scored[:3]]
