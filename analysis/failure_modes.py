"""Failure modes: exceptions grouped by type, masked message template and top in-app stack frames.

How a batch is grouped (:func:`assign_failure_modes`, run in ingest's scratch, which holds the batch's
rows and the pilot's modes; the modes it adds land with the batch):

1. In DuckDB, over the batch's distinct messages: mask variable parts with a chain of
   ``regexp_replace`` (URLs, emails, UUIDs, dates and times, MAC and IP addresses, host names and
   addresses with their ports, paths, program and data file names, hex, quoted values but a quoted
   word, numbers, sizes with their units, in the spirit of Sentry's parameterisation; a bounded
   quantity ``<1 sec`` is a number, a quantity restated in other units ``466 bytes (0.46 KB)``
   counts once), extract up to 3 top in-app frames (``file:function``, frames under site-packages /
   dist-packages / the standard library are skipped), flag personal data (the distinct messages
   DuckDB finds could hold any go through readiness.security.privacy's detector).
2. In Python, over the DISTINCT (error type, frames, masked template) keys only:
   a. Position variability (:func:`variable_positions`): where templates equal at every other
      position hold ``VARIABLE_VALUES`` or more tokens at one position, it is a parameter
      (``Invalid user <*> from <ip>``, ``user=<*>``); where they hold two words only
      (``Powered On`` / ``Powered Off``), or a few words ending in a number (``ee0`` / ``alt0``),
      the position is fixed: those are different messages.
   b. A Drain-like merge. Templates with the same type, frames, token count and first
      ``PREFIX_TOKENS`` words join the most similar mode when at least ``SIMILARITY`` of their
      tokens agree; differing plain words become ``<*>`` (not at a fixed position), while differing
      structured tokens (``user=root`` / ``user=guest``) keep modes apart unless the mode holds
      ``user=<*>``. Tokens that differ only in id-like runs (words with a digit, masked numbers)
      agree, with the same structure around them: ``[Thunderbird_A8]`` / ``[Thunderbird_B8]``,
      ``(eadmin1)`` / ``(badmin1)``; a leading word with a digit does not split buckets.
   The pilot's existing modes take part first, so their ids never change and a new template that
   merges into an old mode gets its id.
3. Back in DuckDB: one UPDATE sets ``failure_mode`` and ``personal_data`` for the batch's rows, in
   ingest's scratch, before they are written out as they stay.

One configuration serves every pilot and log source (no per-system tuning).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pandas as pd

from analysis.common import NO_FILTERS, Empty, Filters, frame, local_day_sql, no_match, table_columns, where
from readiness.catalog import Pilot
from readiness.security import privacy
from readiness.security.access import Actor
from readiness.store import Connection, lake

WILDCARD = "<*>"
SIMILARITY = 0.8          # share of positions that must agree for a template to join a mode
MAX_FRAMES = 3            # top in-app frames in a fingerprint
EXAMPLES = 3              # example messages shown per mode
TREND_DAYS = 7            # trend compares the last 7 days with the 7 before
TREND_MIN_COUNT = 10      # fewer exceptions than this over the 14 days: 'steady'
TREND_RATIO = 1.5         # rising: recent >= 1.5 x previous; falling: recent <= previous / 1.5
STATUSES = ("new", "known", "mitigated", "accepted")

_UNITS = r"([KMGTPE]i?B|[KMGTPE]?bytes|B|ms|us|ns|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|days?)"

# (RE2 pattern, replacement, guard), applied in order; earlier masks protect their text from later
# ones. The guard is a cheap test on the original message, text it must hold ('a|b': either): the
# regex only runs where it could match (masks only remove characters or add placeholders, so the
# original is a safe place to look).
MASKS: list[tuple[str, str, str | None]] = [
    (r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+", "<url>", "://"),
    (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", "<email>", "@"),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<uuid>", "-"),
    (r"\b\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d([.,]\d+)?)?(Z|[+-]\d\d:?\d\d)?)?\b", "<date>", "-"),
    (r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w* +(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\w* +\d\d?"
     r"( +\d\d:\d\d:\d\d)?( +\d{4})?\b", "<date>", None),
    (r"\b[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5,}\b", "<mac>", ":"),                     # 64:d9:89:6b:b5:33
    (r"\b[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{0,4}){3,7}:[0-9a-fA-F]{1,4}\b", "<ip>", ":"),   # IPv6
    (r"\b\d\d:\d\d:\d\d([.,]\d+)?\b", "<time>", ":"),
    # a host name ends with a country code or a common top-level domain, and not inside a longer name
    (r"\b[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\.[a-z]{2}([^\w.-]|$)", r"<host>\2", "."),
    (r"\b[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.(com|net|org|edu|gov|mil|io|info|biz|local|lan)\b", "<host>", "."),
    (r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", "<ip>", "."),                       # its :port a <num>
    (r"(^|[\s=@,\[])[a-z0-9-]+(\.[a-z0-9-]+)+:(\d{1,5})\b", r"\1<host>:\3", ":"),  # a.dotted.host:port
    (r"\b\d\d?:\d\d\b", "<time>", ":"),                                            # 09:41, or 00:02 taken
    (r"([A-Za-z]:)?(\\[\w.$-]+){2,}\\?", "<path>", "\\"),                          # C:\dir\file
    (r"(^|[\s=:(\[,\"'])(/+[\w.$@+~<>*%-]+){2,}/?(\?[^\s\"']*)?", r"\1<path>", "/"),  # /dir//file?query
    (r"(^|[\s=:(\[,\"'])~?\.{0,2}(/+[\w.$@+~<>*%-]+)+/?", r"\1<path>", "/"),           # ./file, ~/dir, /file
    # a file name with a common extension: a program (chrome.exe) or data (capture-018.pcapng)
    (r"\b[\w-]+(\.[\w-]+)*\.(exe|dll|sys|so|jar|bat|cmd|ps1|msi|log|txt|xml|json|csv|ya?ml|ini|cfg|conf|dat|bin"
     r"|tmp|bak|gz|zip|tar|pcap|pcapng|png|jpe?g|pdf|html?)\b", "<file>", "."),
    (r"=\"[^\"\n]*\"", "=\"<str>\"", "=\""),                                          # key="quoted value"
    (r"\b0[xX][0-9a-fA-F]+\b", "<hex>", None),
    (r"[+-]?\b\d+(\.\d+)?\b", "<num>", None),                             # whole numbers first: not hex
    (r"\b[0-9a-fA-F]{8,}\b", "<hex>", None),
    # a quoted value ('invoice 42', '<num>') but not a quoted word ('Active'), and not don't: a word
    # is a value where many are seen at its place (see variable_positions)
    (r"(^|[\s=:(\[,])'[^'\n]*[^A-Za-z'\n][^'\n]*'", r"\1'<str>'", "'"),
    (r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?", "<num>", None),
    # a bounded quantity is one value ('<1 sec', '>= 5 MB'); a quantity restated in other units
    # in brackets counts once ('1290 bytes (1.26 KB)')
    (r"(^|\s)[<>~]=?\s?<num>( ?" + _UNITS + r")?\b", r"\1<num>", "<"),
    (r"(<num> ?[A-Za-z]+) \(<num> ?(" + _UNITS + r")\)", r"\1", "("),
    (r"<num> ?([KMGTPE]i?B|[KMGTPE]?bytes?|B)\b", "<size>", "B|byte"),               # 93.0 B, 5.4 KB, 466 bytes
    (r"(<num> ?)(sec|second|min|minute|hour|day)s\b", r"\1\2", "sec|min|hour|day"),  # 1 sec, 2 secs: one unit
    *[(f"<{m}>(,\\s?<{m}>)+", f"<{m}>", ",")                                 # lists of one kind: once
      for m in ("num", "ip", "hex", "uuid", "host", "email", "url", "path", "date", "time")],
]

# Frames outside the application: installed packages, the standard library and, for the JVM, the
# frameworks an application runs in (a Spring proxy's frames differ from call to call; Tomcat's
# container, not org.apache.* at large: a JSP compiles to org.apache.jsp, Hadoop's code is org.apache)
NOT_IN_APP = (r"site-packages|dist-packages|[/\\]lib[/\\]python\d|<frozen |node_modules|^at node:|\(node:|"
              r"^at (java|javax|jakarta|jdk|sun|com\.sun|kotlin|kotlinx|scala|System|Microsoft|org\.springframework|"
              r"org\.apache\.(catalina|coyote|tomcat)|org\.hibernate|org\.eclipse\.jetty|io\.netty|reactor|"
              r"com\.zaxxer)\.")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def mask_query(source: str, column: str) -> str:
    """SQL query over ``source`` (a table or subquery): ``column`` and its masked ``template``.

    One nested SELECT per mask, so each regexp_replace runs once per row, and only on rows whose
    original text passes the mask's guard. Whitespace is collapsed at the end.
    """
    sql = f"SELECT {column} AS _orig, coalesce({column}, '') AS _x FROM {source}"
    for pattern, repl, guard in MASKS:
        replace = f"regexp_replace(_x, {_quote(pattern)}, {_quote(repl)}, 'g')"
        if guard:
            test = " OR ".join(f"contains(_orig, {_quote(g)})" for g in guard.split("|"))
            replace = f"CASE WHEN {test} THEN {replace} ELSE _x END"
        sql = f"SELECT _orig, {replace} AS _x FROM ({sql})"
    return f"SELECT _orig AS {column}, trim(regexp_replace(_x, '\\s+', ' ', 'g')) AS template FROM ({sql})"


def frames_sql(column: str) -> str:
    """SQL expression: up to MAX_FRAMES top in-app frames as 'file:function | ...' ('' when none).

    Python tracebacks list the innermost frame last, Java, .NET and JavaScript first. A .NET
    frame is 'File.cs:Method' when it names its file ('at Ns.Class.Method(...) in path:line 42'),
    else 'Class:Method'.
    """
    py = (f"list_reverse(list_transform(list_filter(regexp_extract_all({column}, 'File \"[^\"]+\", line \\d+, in [^\\s]+'), "
          f"lambda f: NOT regexp_matches(f, {_quote(NOT_IN_APP)})), "
          f"lambda f: regexp_replace(f, '^File \"(.*[/\\\\])?([^\"/\\\\]+)\", line \\d+, in (\\S+)$', '\\2:\\3')))")
    jv = (f"list_transform(list_filter(regexp_extract_all({column}, 'at [\\w$.<>]+\\([^):]+'), "
          f"lambda f: NOT regexp_matches(f, {_quote(NOT_IN_APP)})), "
          f"lambda f: regexp_replace(f, '^at (.*\\.)?([\\w$<>]+)\\(([^):]+)$', '\\3:\\2'))")
    js = (f"list_transform(list_filter(regexp_extract_all({column}, 'at [\\w$.<>]+ \\([^)]+:\\d+:\\d+\\)'), "
          f"lambda f: NOT regexp_matches(f, {_quote(NOT_IN_APP)})), "
          f"lambda f: regexp_replace(f, '^at (\\S+) \\((.*[/\\\\])?([^/\\\\:]+):\\d+:\\d+\\)$', '\\3:\\1'))")
    net = (f"list_transform(list_filter(regexp_extract_all({column}, 'at [\\w.`<>\\[\\]+,]+\\([^)\\n]*\\)"
           f"(?: in [^\\n]*:line \\d+)?'), lambda f: NOT regexp_matches(f, {_quote(NOT_IN_APP)})), "
           f"lambda f: CASE WHEN regexp_matches(f, ':line \\d+$') "
           f"THEN regexp_replace(f, '^at (?:.*\\.)?([^.(]+)\\(.*\\) in (?:.*[/\\\\])?([^/\\\\]+):line \\d+$', '\\2:\\1') "
           f"ELSE regexp_replace(f, '^at (?:.*\\.)?([^.(]+)\\.([^.(]+)\\(.*$', '\\1:\\2') END)")
    chosen = (f"CASE WHEN {column} IS NULL THEN []::VARCHAR[] "
              f"WHEN {column} LIKE '%File \"%' THEN {py} "
              f"WHEN regexp_matches({column}, ':line \\d+|--- End of inner exception stack trace ---') "
              # a .NET frame's parentheses hold nothing or typed parameters; Java's a file and line
              f"OR len(list_filter(regexp_extract_all({column}, 'at [\\w.`<>\\[\\]+]+\\(([^)\\n]*)\\)', 1), "
              f"lambda a: a = '' OR (contains(a, ' ') AND a NOT IN ('Native Method', 'Unknown Source')))) > 0 "
              f"THEN {net} "
              f"WHEN regexp_matches({column}, 'at \\S+ \\([^)]+:\\d+:\\d+\\)') THEN {js} ELSE {jv} END")
    return f"array_to_string(({chosen})[1:{MAX_FRAMES}], ' | ')"


def _personal_messages(con: Connection, pilot_id: int, batch_id: int, view: str) -> None:
    """Register ``view``: the batch's distinct messages that hold personal data (column ``msg``).

    The detector is readiness.security.privacy's, the one that masks what is shown, so the flag and the mask
    agree. DuckDB first keeps only the distinct messages that could hold any (an '@', or ten digits
    close together: privacy.CANDIDATE_SQL_RE); only those reach Python.
    """
    candidates = [r[0] for r in con.execute(
        f"SELECT DISTINCT message FROM exceptions WHERE pilot_id = ? AND batch_id = ? "
        f"AND regexp_matches(message, {_quote(privacy.CANDIDATE_SQL_RE)})", [pilot_id, batch_id]).fetchall()]
    con.register(view, pd.DataFrame({"msg": pd.Series([m for m in candidates if privacy.has_personal_data(m)],
                                                      dtype=object)}))


# --- the Drain-like merge over distinct templates --------------------------------------------

@dataclass
class _Mode:
    mode_id: int
    error_type: str
    frames: str
    tokens: list[str]
    fingerprint: str
    new: bool = False
    changed: bool = False

    @property
    def template(self) -> str:
        return " ".join(self.tokens)


def fingerprint(error_type: str, template: str, frames: str) -> str:
    """Stable identity of a mode: sha1 of type, template and frames when it was first seen."""
    return hashlib.sha1(f"{error_type}\x1f{template}\x1f{frames}".encode()).hexdigest()


PREFIX_TOKENS = 3


def _bucket(error_type: str, frames: str, tokens: list[str]) -> tuple:
    """Templates only merge within a bucket: same type, frames, token count and leading words
    (a leading word with a digit in it, e.g. a queue id 'jA9J1UvC004306:', counts as variable)."""
    prefix = tuple(WILDCARD if "<" in t or _DIGIT.search(t) else t for t in tokens[:PREFIX_TOKENS])
    return (error_type, frames, len(tokens), prefix)


_PLACEHOLDER = re.compile(r"<[a-z*]+>")
_STRUCTURAL = re.compile(r"[=()\[\]{}:/\"']")
_DIGIT = re.compile(r"\d")
# a word, maybe with a number right after its letters or dot leaders ('Off', 'SOCKS5', 'en0,',
# 'icbi.....0'), not an id of parts ('QQ.10018')
_NAMED = re.compile(r"[^\w<]*[A-Za-z][A-Za-z_-]*(\.{2,})?(<num>)?[^\w<]*$")
# a number inside a word ('root14_local', 'job_<num>_r'): an id; a word ending in a number ('en0', 'SOCKS5') names one thing
_INNER_ID = re.compile(r"(<num>|\d)[A-Za-z0-9_.-]*[A-Za-z]")
_NUMBER = re.compile(r"<(num|hex)>")
_JOINED = re.compile(r"<[a-z*]+>(?:[._-]<[a-z*]+>)+")
_ID_RUN = re.compile(r"[A-Za-z0-9_.-]*\d[A-Za-z0-9_.-]*")  # a run of word characters with a digit: an id


def _skeleton(token: str) -> str:
    """A token with placeholders and id-like runs ('Thunderbird_A8', 'eadmin1') as <*>:
    '[Thunderbird_A8]' and '[Thunderbird_B8]' share one, 'user=root' and 'user=guest' do not."""
    # placeholders joined by dots or dashes are one value ('<host>.<host>': a host masked in two
    # pieces); a masked number counts as the digit it was; other placeholders stay as they are
    token = _JOINED.sub(WILDCARD, token)
    return _ID_RUN.sub(WILDCARD, _PLACEHOLDER.sub(WILDCARD, _NUMBER.sub("0", token)))


@functools.lru_cache(maxsize=65536)
def _id_shape(token: str) -> str:
    """A token with its id-like runs and placeholders as <*> (see _skeleton); a plain word as it is."""
    return _skeleton(token) if "<" in token or _DIGIT.search(token) else token


def _shape(token: str) -> str:
    """A token with every placeholder as <*> ('rhost=<ip>' and 'rhost=<host>' share a shape)."""
    return _PLACEHOLDER.sub(WILDCARD, token)


def _tokens(template: str) -> list[str]:
    """A template's tokens; a run of the same masked token ('blk_<num> blk_<num> ...') counts once, a
    number and a hex number being the same ('<hex> <num> <num>': words of a dump)."""
    out: list[str] = []
    for token in template.split(" ") if template else []:
        if not (out and "<" in token and _NUMBER.sub("<num>", token) == _NUMBER.sub("<num>", out[-1])):
            out.append(token)
    return out


def _bare(token: str) -> str:
    """A token without its placeholders ('rhost=<ip>' and 'rhost=' agree)."""
    return _PLACEHOLDER.sub("", token)


def _similarity(mode: list[str], tokens: list[str], fixed: frozenset[int] = frozenset()) -> float:
    """Share of positions where the tokens agree (same shape, or the mode has <*> there).

    Tokens with structure (key=value, calls, paths, quotes) must agree: 'user=root' and
    'user=guest' never merge, while differing plain words may become <*>, except at the
    ``fixed`` positions (where the batch shows two values only: 'Powered On' / 'Powered Off').
    """
    if not tokens:
        return 1.0
    same = 0
    for i, (a, b) in enumerate(zip(mode, tokens, strict=True)):
        if a == b or _bare(a) == _bare(b) or (_same_ids(a, b) and _INNER_ID.search(a) and _INNER_ID.search(b)):
            same += 1
        elif i in fixed:
            return 0.0
        elif a == WILDCARD or _fits(a, b) or _same_ids(a, b):
            same += 1
        elif _STRUCTURAL.search(_PLACEHOLDER.sub("", a + b)):
            return 0.0
    return same / len(tokens)


@functools.lru_cache(maxsize=4096)
def _pattern(token: str) -> re.Pattern | None:
    """A mode's token with <*> in it as a pattern ('user=<*>'), None without one."""
    if WILDCARD not in token or token == WILDCARD:
        return None
    return re.compile(".+".join(re.escape(part) for part in token.split(WILDCARD)))


def _fits(a: str, b: str) -> bool:
    """The mode's token has <*> where the token has a value: 'user=<*>' fits 'user=root'."""
    pattern = _pattern(a)
    return pattern is not None and pattern.fullmatch(b) is not None


def _same_ids(a: str, b: str) -> bool:
    """Tokens that differ only in id-like runs (words with a digit), the same around them."""
    return bool(_DIGIT.search(a) or "<" in a) and bool(_DIGIT.search(b) or "<" in b) and _skeleton(a) == _skeleton(b)


def _merge(mode: list[str], tokens: list[str]) -> list[str]:
    """The generalised template: agreeing tokens kept (as shapes), differing ones <*>."""
    out = []
    for a, b in zip(mode, tokens, strict=True):
        if a == b or _fits(a, b):
            out.append(a)
        elif _bare(a) == _bare(b):
            out.append(_shape(a))
        elif _same_ids(a, b):
            out.append(_skeleton(a))
        else:
            out.append(WILDCARD)
    return out


VARIABLE_VALUES = 5   # distinct values at one position, the rest of the template equal: a parameter
VARIABLE_CONTEXT = 3  # ... where the rest holds at least this many words (not placeholders)
VARIABLE_ROUNDS = 3   # passes: a position found variable can show the next one (two values that vary)
_SEPARATOR = re.compile(r"[^A-Za-z0-9_<>*]")


def _generalised(values: set[str]) -> str:
    """One token for the values seen at a variable position: what they share up to a separator
    stays ('user=root', 'user=ftp' -> 'user=<*>'; '[LNKD]', '[LNKE]' -> '[<*>]'), the rest is <*>."""
    shared = os.path.commonprefix(list(values))
    cut = max((m.end() for m in _SEPARATOR.finditer(shared)), default=0)
    head = shared[:cut]
    rest = os.path.commonprefix([v[cut:][::-1] for v in values])[::-1]
    found = _SEPARATOR.search(rest)
    tail = rest[found.start():] if found else ""
    return f"{head}{WILDCARD}{tail}"


def _contexts(tokens: list[str]) -> list[tuple[int, int, int]]:
    """Per position: (position, hash of the tokens before it, hash of the tokens after it), built in
    one pass each way, so that keying every position of a long template stays linear."""
    before, after = [0] * (len(tokens) + 1), [0] * (len(tokens) + 1)
    for i, tok in enumerate(tokens):
        before[i + 1] = hash((before[i], tok))
    for i in range(len(tokens) - 1, -1, -1):
        after[i] = hash((tokens[i], after[i + 1]))
    return [(i, before[i], after[i + 1]) for i in range(len(tokens))]


def _add_value(values: dict[int, str | set[str]], key: int, token: str) -> None:
    """Note ``token`` at ``key``: one value is kept as itself, more as a set (most places hold one)."""
    held = values.get(key)
    if held is None:
        values[key] = token
    elif isinstance(held, set):
        held.add(token)
    elif held != token:
        values[key] = {held, token}


def _count(held: str | set[str] | None) -> int:
    return 0 if held is None else len(held) if isinstance(held, set) else 1


def variable_positions(keys: list[tuple[str, str, list[str]]]) -> tuple[list[list[str]], list[frozenset[int]]]:
    """The templates' tokens with their variable positions as <*> (Drain-style position variability),
    and per template its two-valued positions.

    A position is variable where templates of one type and frames, equal at every other position,
    hold at least VARIABLE_VALUES distinct tokens: 'Invalid user admin from <ip>', '... user test9
    ...', '... user oracle ...' share 'Invalid user <*> from <ip>'. Where such templates hold two
    plain words only ('Powered On' / 'Powered Off', 'client SPP.' / 'client WindowsUpdateAgent.'),
    the position is fixed: a state, not a parameter, so the two stay two messages; so do a few
    (fewer than VARIABLE_VALUES) words that end in a number, which name a thing ('interface ee0' /
    'alt0' / 'scip0'). Work is per distinct template, never per log line.
    """
    tokens = [list(t) for _e, _f, t in keys]
    groups = [(etype, frames) for etype, frames, _t in keys]
    # two-valued places: keyed by the rest of the template with its ids as <*>
    shaped = [_contexts([_id_shape(t) for t in toks]) for toks in tokens]
    pairs: dict[int, str | set[str]] = {}
    for group, toks, contexts in zip(groups, tokens, shaped, strict=True):
        for tok, context in zip(toks, contexts, strict=True):
            if _NAMED.match(tok) and not _STRUCTURAL.search(tok):
                _add_value(pairs, hash((group, context)), tok)
    fixed = [frozenset(c[0] for c, tok in zip(contexts, toks, strict=True)
                       if 2 <= _count(pairs.get(hash((group, c)))) <= (VARIABLE_VALUES - 1 if "<" in tok else 2))
             for group, toks, contexts in zip(groups, tokens, shaped, strict=True)]
    del shaped, pairs
    for _ in range(VARIABLE_ROUNDS):
        contexts = [_contexts(toks) for toks in tokens]
        seen: dict[int, str | set[str]] = {}
        for group, toks, context in zip(groups, tokens, contexts, strict=True):
            words = sum(1 for t in toks if "<" not in t)
            for c, tok in zip(context, toks, strict=True):
                if words - ("<" not in tok) >= VARIABLE_CONTEXT:
                    _add_value(seen, hash((group, c)), tok)
        changes = []
        for group, toks, context in zip(groups, tokens, contexts, strict=True):
            for c, tok in zip(context, toks, strict=True):
                values = seen.get(hash((group, c)))
                if not isinstance(values, set):
                    continue
                if len(values) >= VARIABLE_VALUES or any(WILDCARD in v for v in values):
                    general = _generalised(values)
                    if general != tok:
                        changes.append((toks, c[0], general))
        if not changes:
            break
        for toks, i, general in changes:
            toks[i] = general
    return tokens, fixed


@dataclass
class TemplateMerger:
    """Drain-like merge of masked templates into modes; seeded with a pilot's existing modes."""
    next_id: int = 1
    buckets: dict[tuple, list[_Mode]] = field(default_factory=dict)
    by_fingerprint: dict[str, _Mode] = field(default_factory=dict)

    def add_existing(self, mode_id: int, error_type: str, template: str, frames: str, fp: str) -> None:
        mode = _Mode(mode_id, error_type, frames, _tokens(template), fp)
        self.buckets.setdefault(_bucket(error_type, frames, mode.tokens), []).append(mode)
        self.by_fingerprint[fp] = mode
        self.next_id = max(self.next_id, mode_id + 1)

    def assign(self, error_type: str, template: str, frames: str, fixed: frozenset[int] = frozenset()) -> _Mode:
        """The mode of one masked template: an exact or similar existing mode, else a new one.
        At the ``fixed`` positions a differing word keeps the template apart."""
        tokens = _tokens(template)
        fp = fingerprint(error_type, template, frames)
        if fp in self.by_fingerprint:
            return self.by_fingerprint[fp]
        candidates = self.buckets.setdefault(_bucket(error_type, frames, tokens), [])
        best, best_sim = None, -1.0
        for mode in candidates:
            sim = _similarity(mode.tokens, tokens, fixed)
            if sim > best_sim:
                best, best_sim = mode, sim
        if best is not None and best_sim >= SIMILARITY:
            merged = _merge(best.tokens, tokens)
            if merged != best.tokens:
                best.tokens, best.changed = merged, True
            return best
        mode = _Mode(self.next_id, error_type, frames, tokens, fp, new=True)
        self.next_id += 1
        candidates.append(mode)
        self.by_fingerprint[fp] = mode
        return mode


# --- writing: one batch ----------------------------------------------------------------------

def assign_failure_modes(con: Connection, pilot_id: int, batch_id: int) -> int:
    """Set failure_mode and personal_data on a batch's exceptions; return the number of new modes.

    Runs in the caller's transaction (opens none), on a connection whose exceptions are a local
    table (ingest's scratch). Existing modes keep their ids; new modes take the pilot's next ids.
    Rows already assigned are grouped again with the same result.
    """
    tag = uuid.uuid4().hex[:10]
    rows, keys, personal = f"_fm_rows_{tag}", f"_fm_keys_{tag}", f"_fm_personal_{tag}"
    _personal_messages(con, pilot_id, batch_id, personal)
    # Each distinct message and stack trace is masked once (repeated messages are common in logs).
    try:
        con.execute(f"""
            CREATE TEMP TABLE {rows} AS
            WITH src AS (SELECT src_row, coalesce(error_type, '') AS error_type,
                                coalesce(message, '') AS msg, coalesce(stack_trace, '') AS st
                         FROM exceptions WHERE pilot_id = ? AND batch_id = ?),
                 msgs AS (SELECT msg, template, msg IN (SELECT msg FROM {personal}) AS personal_data
                          FROM ({mask_query('(SELECT DISTINCT msg FROM src)', 'msg')})),
                 traces AS (SELECT st, {frames_sql('st')} AS frames FROM (SELECT DISTINCT st FROM src))
            SELECT src.src_row, src.error_type, traces.frames, msgs.template, msgs.personal_data
            FROM src JOIN msgs USING (msg) JOIN traces USING (st)""", [pilot_id, batch_id])
    finally:
        con.unregister(personal)
    try:
        distinct = con.execute(
            f"SELECT error_type, frames, template, count(*) AS n FROM {rows} "
            f"GROUP BY ALL ORDER BY n DESC, error_type, frames, template").fetchall()
        merger = TemplateMerger()
        for mode_id, etype, template, frames, fp in con.execute(
                "SELECT mode_id, coalesce(error_type, ''), template, coalesce(frames, ''), fingerprint "
                "FROM failure_modes WHERE pilot_id = ? ORDER BY mode_id", [pilot_id]).fetchall():
            merger.add_existing(mode_id, etype, template, frames, fp)
        mapping = []
        touched: dict[int, _Mode] = {}
        general, fixed = variable_positions([(etype, frames, _tokens(template)) for etype, frames, template, _n in distinct])
        for (etype, frames, template, _n), tokens, two in zip(distinct, general, fixed, strict=True):
            mode = merger.assign(etype, " ".join(tokens), frames, two)
            mapping.append((etype, frames, template, mode.mode_id))
            touched[mode.mode_id] = mode
        new = [m for m in touched.values() if m.new]
        if new:
            con.executemany(
                "INSERT INTO failure_modes (pilot_id, mode_id, fingerprint, error_type, template, frames) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [[pilot_id, m.mode_id, m.fingerprint, m.error_type or None, m.template, m.frames or None]
                 for m in new])
        changed = [m for m in touched.values() if m.changed and not m.new]
        if changed:
            con.executemany("UPDATE failure_modes SET template = ? WHERE pilot_id = ? AND mode_id = ?",
                            [[m.template, pilot_id, m.mode_id] for m in changed])
        key_frame = pd.DataFrame(mapping, columns=["error_type", "frames", "template", "mode_id"])
        view = f"_fm_keys_df_{tag}"
        con.register(view, key_frame)
        try:
            con.execute(f"CREATE TEMP TABLE {keys} AS SELECT * FROM {view}")
        finally:
            con.unregister(view)
        con.execute(
            f"UPDATE {lake.local('exceptions')} e SET failure_mode = k.mode_id, personal_data = r.personal_data "
            f"FROM {rows} r JOIN {keys} k USING (error_type, frames, template) "
            f"WHERE e.pilot_id = ? AND e.batch_id = ? AND e.src_row = r.src_row",
            [pilot_id, batch_id])
        return len(new)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {rows}")
        con.execute(f"DROP TABLE IF EXISTS {keys}")


# --- reading ---------------------------------------------------------------------------------

def _no_rows(con: Connection, pilot: Pilot, filters: Filters) -> Empty | None:
    """Why there is nothing to show, or None when the filtered pilot has exceptions."""
    loaded = con.execute("SELECT count(*) FROM exceptions WHERE pilot_id = ?", [pilot.pilot_id]).fetchone()[0]
    if not loaded:
        batches, lines = con.execute(
            "SELECT count(*), coalesce(sum(rows_skipped), 0) FROM ingest_batches WHERE pilot_id = ? AND kind = 'exceptions'",
            [pilot.pilot_id]).fetchone()
        if batches and lines:  # the logs were read and held no warning or error: that is evidence too
            return Empty(f"No exceptions: the {batches:,} exception log{'s' if batches != 1 else ''} loaded held "
                         f"{lines:,} information line{'s' if lines != 1 else ''} (INFO, DEBUG, ...) and no warning or error")
        return Empty("No exceptions have been loaded for this pilot")
    clause, params = where(pilot, filters, table_columns(con, "exceptions"))
    if not con.execute(f"SELECT count(*) FROM exceptions WHERE {clause}", params).fetchone()[0]:
        return Empty(no_match("exceptions", loaded, filters))
    return None


def _trend(recent: int, previous: int) -> str:
    """'rising' | 'steady' | 'falling': last TREND_DAYS days vs the TREND_DAYS before them."""
    if recent + previous < TREND_MIN_COUNT:
        return "steady"
    if recent >= TREND_RATIO * previous:
        return "rising"
    if recent * TREND_RATIO <= previous:
        return "falling"
    return "steady"


def failure_modes(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
    """One row per failure mode under ``filters``, most frequent first.

    Columns: mode_id, template, error_type, count, users, sessions, first_seen, last_seen,
    daily ([day, count] in the pilot's calendar), trend, share (of the filtered exceptions),
    examples (up to 3 distinct messages, earliest first), status, owner, note.
    Trend: the last 7 calendar days up to the latest filtered exception (of any mode) against the 7
    days before; 'rising' when recent >= 1.5 x previous, 'falling' when recent <= previous / 1.5,
    else (or with fewer than 10 exceptions over the 14 days) 'steady'.
    """
    empty = _no_rows(con, pilot, filters)
    if empty is not None:
        return empty
    clause, params = where(pilot, filters, table_columns(con, "exceptions"))
    clause = f"{clause} AND failure_mode IS NOT NULL"
    modes = frame(con, f"""
        WITH e AS (SELECT failure_mode, count(*) AS count, count(DISTINCT user_id) AS users,
                          count(DISTINCT session_id) AS sessions, min(ts) AS first_seen, max(ts) AS last_seen
                   FROM exceptions WHERE {clause} GROUP BY failure_mode)
        SELECT e.failure_mode AS mode_id, m.template, m.error_type, e.count, e.users, e.sessions,
               e.first_seen, e.last_seen, coalesce(n.status, 'new') AS status, n.owner, n.note
        FROM e JOIN failure_modes m ON m.pilot_id = ? AND m.mode_id = e.failure_mode
        LEFT JOIN failure_mode_notes n ON n.pilot_id = ? AND n.mode_id = e.failure_mode
        ORDER BY e.count DESC, mode_id""", [*params, pilot.pilot_id, pilot.pilot_id])
    if modes.empty:
        return Empty("Failure modes have not been computed for this pilot's exceptions yet")
    daily = frame(con, f"SELECT failure_mode AS mode_id, {local_day_sql(pilot)} AS day, count(*) AS n "
                       f"FROM exceptions WHERE {clause} GROUP BY ALL ORDER BY mode_id, day", params)
    daily["day"] = [d.date() if hasattr(d, "date") else d for d in daily["day"]]
    last_day = max(daily["day"])
    recent_from, previous_from = last_day - timedelta(days=TREND_DAYS - 1), last_day - timedelta(days=2 * TREND_DAYS - 1)
    per_day, recent, previous = {}, {}, {}
    for k, g in daily.groupby("mode_id"):
        per_day[k] = [[d, int(n)] for d, n in zip(g["day"], g["n"], strict=True)]
        recent[k] = sum(n for d, n in per_day[k] if d >= recent_from)
        previous[k] = sum(n for d, n in per_day[k] if previous_from <= d < recent_from)
    per_mode = _examples(con, clause, params)
    total = int(modes["count"].sum())
    modes["trend"] = [_trend(recent.get(m, 0), previous.get(m, 0)) for m in modes["mode_id"]]
    modes["share"] = modes["count"] / total
    modes["examples"] = [per_mode.get(m, []) for m in modes["mode_id"]]
    # every text shown is masked (privacy's one rule): the examples, and the type, template and notes
    # too; before `daily` joins, which holds days and counts only (thousands of pairs on a long pilot)
    modes = privacy.mask_frame(modes)
    modes["daily"] = [per_day.get(m, []) for m in modes["mode_id"]]
    cols = ["mode_id", "template", "error_type", "count", "users", "sessions", "first_seen", "last_seen",
            "daily", "trend", "share", "examples", "status", "owner", "note"]
    return modes[cols].reset_index(drop=True)


def _examples(con: Connection, clause: str, params: list, k: int = EXAMPLES) -> dict[int, list[str]]:
    """Per mode, its first ``k`` distinct messages by first occurrence (time, then text).

    Reads the earliest rows of each mode in (ts, message) order: the first k distinct messages met
    there are exactly the k with the earliest first occurrence. Only a mode whose earliest rows
    repeat fewer than k messages is looked at in full.
    """
    window = 20 * k
    out: dict[int, list[str]] = {}
    short = []
    for mode_id, messages, n in con.execute(
            f"SELECT failure_mode, min_by(message, {{'t': ts, 'm': message}}, {window}), count(*) "
            f"FROM exceptions WHERE {clause} GROUP BY failure_mode", params).fetchall():
        distinct = list(dict.fromkeys(messages))[:k]
        out[mode_id] = distinct
        if len(distinct) < k and n > window:
            short.append(mode_id)
    if short:
        rows = con.execute(f"""
            SELECT mode_id, message FROM (
                SELECT failure_mode AS mode_id, message, min(ts) AS first FROM exceptions
                WHERE {clause} AND list_contains(?, failure_mode) GROUP BY ALL)
            QUALIFY row_number() OVER (PARTITION BY mode_id ORDER BY first, message) <= {k}
            ORDER BY mode_id, first, message""", [*params, short]).fetchall()
        for mode_id in short:
            out[mode_id] = [m for i, m in rows if i == mode_id]
    return out


def exception_rate(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
    """Per pilot calendar day: exceptions, events, sessions, per_1000_events, per_session.

    Events and sessions (distinct session_id) come from usage; the rates are None on days
    without usage. Days with usage but no exceptions show 0 exceptions.
    """
    empty = _no_rows(con, pilot, filters)
    if empty is not None:
        return empty
    from analysis.usage import _view  # the usage rollup when it answers for these filters

    ex_clause, ex_params = where(pilot, filters, table_columns(con, "exceptions"))
    usage_view, us_params = _view(con, pilot, filters, "session")
    day = local_day_sql(pilot)
    out = frame(con, f"""
        WITH x AS (SELECT {day} AS day, count(*) AS exceptions FROM exceptions WHERE {ex_clause} GROUP BY ALL),
             u AS (SELECT day, CAST(sum(events) AS BIGINT) AS events, count(DISTINCT session_id) AS sessions
                   FROM {usage_view} GROUP BY ALL)
        SELECT day, coalesce(x.exceptions, 0) AS exceptions, coalesce(u.events, 0) AS events,
               coalesce(u.sessions, 0) AS sessions,
               CASE WHEN u.events > 0 THEN 1000.0 * coalesce(x.exceptions, 0) / u.events END AS per_1000_events,
               CASE WHEN u.sessions > 0 THEN coalesce(x.exceptions, 0) / u.sessions END AS per_session
        FROM x FULL OUTER JOIN u USING (day) ORDER BY day""", ex_params + us_params)
    out["day"] = [d.date() if hasattr(d, "date") else d for d in out["day"]]
    out = out.astype({"per_1000_events": object, "per_session": object})
    out["per_1000_events"] = [None if pd.isna(v) else float(v) for v in out["per_1000_events"]]
    out["per_session"] = [None if pd.isna(v) else float(v) for v in out["per_session"]]
    return out


def mode_rows(con: Connection, pilot: Pilot, mode_id: int, limit: int = 100,
              reveal_as: Actor | None = None) -> pd.DataFrame:
    """The rows of one mode for drill-down (batch_id, src_row, ts, user_id, message), newest first.

    Personal data in messages is masked, and user ids that are emails or phone numbers become
    stable pseudonyms, unless ``reveal_as`` names an actor allowed to reveal them (the reveal is
    audited; AccessDenied otherwise).
    """
    if reveal_as is not None:
        privacy.reveal(con, reveal_as, pilot, f"messages of failure mode {mode_id}")
    df = frame(con, "SELECT batch_id, src_row, ts, user_id, message FROM exceptions "
                    "WHERE pilot_id = ? AND failure_mode = ? ORDER BY ts DESC, batch_id, src_row LIMIT ?",
               [pilot.pilot_id, mode_id, int(limit)])
    return df if reveal_as is not None else privacy.mask_frame(df)


def untriaged_tail(con: Connection, pilot: Pilot, max_count: int) -> list[tuple[int, int]]:
    """(mode_id, exceptions) of the pilot's modes still 'new' with at most ``max_count`` exceptions,
    over all its exceptions (no filters)."""
    return [tuple(r) for r in con.execute(
        """SELECT m.mode_id, count(e.failure_mode) AS n
           FROM failure_modes m
           LEFT JOIN failure_mode_notes t ON t.pilot_id = m.pilot_id AND t.mode_id = m.mode_id
           LEFT JOIN exceptions e ON e.pilot_id = m.pilot_id AND e.failure_mode = m.mode_id
           WHERE m.pilot_id = ? AND coalesce(t.status, 'new') = 'new'
           GROUP BY m.mode_id HAVING count(e.failure_mode) <= ? ORDER BY m.mode_id""",
        [pilot.pilot_id, int(max_count)]).fetchall()]


def assignments(con: Connection, pilot: Pilot) -> list[tuple[int, int, int | None]]:
    """(batch_id, src_row, mode_id) of every exception of the pilot, by batch and row."""
    return [tuple(r) for r in con.execute(
        "SELECT batch_id, src_row, failure_mode FROM exceptions WHERE pilot_id = ? ORDER BY batch_id, src_row",
        [pilot.pilot_id]).fetchall()]


def grouping_accuracy(predicted: list[Any], truth: list[Any]) -> float:
    """Loghub grouping accuracy: share of lines whose predicted group is exactly their true group."""
    if len(predicted) != len(truth):
        raise ValueError("predicted and truth must have the same length")
    if not truth:
        return 0.0
    pred_groups: dict[Any, set[int]] = {}
    true_groups: dict[Any, set[int]] = {}
    for i, (p, t) in enumerate(zip(predicted, truth, strict=True)):
        pred_groups.setdefault(p, set()).add(i)
        true_groups.setdefault(t, set()).add(i)
    correct = 0
    for lines in true_groups.values():
        first = next(iter(lines))
        if pred_groups[predicted[first]] == lines:
            correct += len(lines)
    return correct / len(truth)
