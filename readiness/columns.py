"""Canonical log columns per kind, their synonyms, and the proposed mapping from a file's columns.

The mapping says, for each canonical column, which source column(s) feed it and why.
Source columns that feed nothing are kept in each row's ``attributes`` JSON, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
                  "event_time", "occurred_at", "logged_at", "time_stamp", "received_at", "when"),
    "user_id": ("user_id", "uid", "user", "user_email", "email", "username", "user_name", "login",
                "actor", "account_id", "employee_id"),
    "event": ("event", "event_name", "action", "activity", "event_type", "operation"),
    "session_id": ("session_id", "session", "sid", "conversation_id"),
    "feature": ("feature", "feature_name", "module", "capability", "tool", "screen"),
    "duration_ms": ("duration_ms", "duration", "latency_ms", "elapsed_ms", "response_time_ms",
                    "took_ms", "latency"),
    "outcome": ("outcome", "result", "status", "success"),
    "team": ("team", "department", "dept", "group", "business_unit", "org_unit"),
    "rating": ("rating", "stars", "star_rating", "csat", "satisfaction"),
    "score": ("score", "nps", "nps_score", "likelihood_to_recommend", "recommend"),
    "comment": ("comment", "comments", "feedback", "text", "verbatim", "free_text", "remarks",
                "body", "message"),
    "channel": ("channel", "source", "medium", "via"),
    "category": ("category", "type", "topic", "tag", "label"),
    "message": ("message", "msg", "error_message", "content", "error", "exception_message",
                "description", "log_message", "text"),
    "error_type": ("error_type", "exception_type", "exc_type", "error_class", "exception", "type",
                   "error_code"),
    "stack_trace": ("stack_trace", "stacktrace", "traceback", "stack", "trace", "backtrace"),
    "level": ("level", "severity", "log_level", "priority", "loglevel"),
    "component": ("component", "service", "module", "logger", "source", "app", "subsystem"),
}
DATE_NAMES = ("date", "day", "log_date")
TIME_NAMES = ("time", "hour", "log_time", "time_of_day")


def norm(name: str) -> str:
    """Return a column name as compared for synonyms: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def canonical_columns(kind: str) -> tuple[str, ...]:
    """All canonical columns of ``kind``, required first."""
    req, one_of, opt = SCHEMA[kind]
    return req + one_of + opt


@dataclass(frozen=True)
class ColumnMapping:
    canonical: str
    sources: tuple[str, ...]  # one column, or several joined by a space (e.g. Date + Time)
    reason: str


@dataclass
class Mapping:
    kind: str
    columns: list[ColumnMapping]
    unmapped: list[str]                 # kept in attributes
    problems: list[str] = field(default_factory=list)

    def get(self, canonical: str) -> ColumnMapping | None:
        return next((c for c in self.columns if c.canonical == canonical), None)

    def missing_required(self) -> list[str]:
        req, one_of, _ = SCHEMA[self.kind]
        missing = [c for c in req if self.get(c) is None]
        if one_of and not any(self.get(c) for c in one_of):
            missing.append(" or ".join(one_of))
        return missing

    def as_dict(self) -> dict[str, str]:
        return {c.canonical: "+".join(c.sources) for c in self.columns}


class MappingError(ValueError):
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


def propose_mapping(kind: str, source_columns: list[str],
                    overrides: dict[str, str] | None = None) -> Mapping:
    """Propose which source columns feed each canonical column of ``kind``, with reasons.

    Overrides (canonical -> source, ``A+B`` for several, empty for none) win; then exact names;
    then synonyms; then a date column plus a time column for ``timestamp``.
    """
    if kind not in SCHEMA:
        raise MappingError(f"Unknown kind {kind!r}: use one of {', '.join(KINDS)}.")
    overrides = overrides or {}
    wanted = canonical_columns(kind)
    by_norm: dict[str, str] = {}
    for col in source_columns:
        by_norm.setdefault(norm(col), col)
    used: set[str] = set()
    chosen: dict[str, ColumnMapping] = {}

    for canon, spec in overrides.items():
        if canon not in wanted:
            raise MappingError(
                f"--map {canon}=...: {canon!r} is not a {kind} column. "
                f"{kind} columns are: {', '.join(wanted)}."
            )
        if not spec:
            chosen[canon] = ColumnMapping(canon, (), "left unmapped by --map")
            continue
        parts = [p.strip() for p in spec.split("+")]
        found = []
        for part in parts:
            match = part if part in source_columns else by_norm.get(norm(part))
            if match is None:
                raise MappingError(
                    f"--map {canon}={spec}: the file has no column {part!r}. "
                    f"Columns found: {', '.join(source_columns)}."
                )
            found.append(match)
        chosen[canon] = ColumnMapping(canon, tuple(found), f"--map {canon}={spec}")
        used.update(found)

    def free(names: tuple[str, ...]) -> str | None:
        return next((by_norm[n] for n in map(norm, names) if n in by_norm and by_norm[n] not in used), None)

    if "timestamp" in wanted and "timestamp" not in chosen:
        # Logs often split the instant in two: a date column and a time-of-day column.
        date, tcol = free(DATE_NAMES), free(TIME_NAMES)
        other = free(tuple(s for s in SYNONYMS["timestamp"] if norm(s) not in map(norm, TIME_NAMES)))
        if date and tcol and other is None:
            # syslog splits it in three ("Jun", "14", "15:16:01"): a month column goes first
            month = free(("month", "mon")) if norm(date) in map(norm, ("date", "day")) else None
            parts, why = (((month, date, tcol), "a month, a day and a time column, joined (syslog style)") if month
                          else ((date, tcol), "a date column and a time column, joined"))
            chosen["timestamp"] = ColumnMapping("timestamp", parts, why)
            used.update(parts)

    for canon in wanted:
        if canon in chosen:
            continue
        for rank, syn in enumerate(SYNONYMS[canon]):
            col = by_norm.get(norm(syn))
            if col is not None and col not in used:
                why = "same name" if rank == 0 or norm(col) == norm(canon) else f"{col!r} is a synonym of {canon}"
                chosen[canon] = ColumnMapping(canon, (col,), why)
                used.add(col)
                break
    if "timestamp" in wanted and "timestamp" not in chosen and (date := free(DATE_NAMES)):
        chosen["timestamp"] = ColumnMapping("timestamp", (date,), f"{date!r} is the only date column")
        used.add(date)

    columns = [chosen[c] for c in wanted if c in chosen and chosen[c].sources]
    mapping = Mapping(kind, columns, [c for c in source_columns if c not in used])
    missing = mapping.missing_required()
    if missing:
        # the example names a column no other canonical column took (a mapped one cannot serve twice)
        spare = mapping.unmapped[0] if mapping.unmapped else "COLUMN"
        example = f"{missing[0].split(' or ')[0]}={spare}"
        mapping.problems.append(
            f"Required column(s) not found: {', '.join(missing)}. Columns found: "
            f"{', '.join(source_columns) or '(none)'}. Name the column that holds it: {example} "
            f"(command line: --map {example}; Sources page: Column mapping overrides)."
        )
    return mapping
