"""Personal-data boundaries: what counts as personal data, masking, and the audited reveal.

One rule: every text shown to someone is masked (emails, phone numbers, card numbers replaced by
``[email]``, ``[phone]``, ``[card]``) unless it is shown to a role with the reveal right and, for
log data, the reveal is asked for and audited (:func:`reveal`). That covers every text field, not
only messages and comments: error types, categories, components, segment values, notes, a
decision's rationale. Masking is applied to what is shown (small result frames, via
:func:`mask_frame` / :func:`masked`); the per-row ``personal_data`` flags are set at ingest with
the same detector (:func:`has_personal_data`), so a count and a mask always agree.

The detector:

* emails: one regular expression;
* phone numbers: Google's libphonenumber (``phonenumbers.PhoneNumberMatcher``) over
  :data:`PHONE_REGIONS`, at POSSIBLE leniency (a well-formed number counts whether or not its range
  is assigned: ``555-123-4567`` is masked), kept when it is written as a phone number
  (:func:`_written_as_phone`: at least 10 digits, set apart from ids, grouped as libphonenumber
  formats the number, or with ``+``);
* card numbers: 13-19 digit runs (spaces, dashes or dots between digits allowed) that pass the
  Luhn check.

Cheap regular expressions look for what a phone or card needs before libphonenumber runs, so
text without it costs a regex search (ingest runs the first of them in DuckDB).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any

import phonenumbers

from readiness.security import audit
from readiness.security.access import Actor, allowed, require
from readiness.store import Connection, transaction

# Numbers written without a country code are read as these regions' numbers (a number in any of
# them counts). US: NANP formats such as (555) 123-4567, 555.123.4567; GB: 020 7946 0123, 07700 900123.
# A number with a +country code is read as written, whatever the region.
PHONE_REGIONS = ("US", "GB")
# POSSIBLE: the length fits the region's numbering plan; VALID would also need an assigned range,
# and so miss fictional and reserved numbers (555-0100, 07700 900xxx) that still stand for a person's.
PHONE_LENIENCY = phonenumbers.Leniency.POSSIBLE
MIN_PHONE_DIGITS = 10   # shorter runs (7-digit local numbers, amounts, ports, years) are not masked

_EMAIL_RE = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_EMAIL = re.compile(_EMAIL_RE)
# Where libphonenumber is asked to look: a stretch written like a phone number, so that it never
# parses the rest of a log line (sizes, ids, years, counts: it parses every sub-run it can, ~50 us
# each). Either a +country code then the number, or one run after + or a trunk 0 (+447700900123,
# 07700900123), or, written nationally, a trunk prefix 0 with up to 4 more digits (020, 07700) or
# a 3-digit area code (555, (415), 1-800), then groups ending in 3+ digits, as US and GB numbers
# are written: '2005 123456' (a year and a count) and '67108864 1004' are not asked about.
# _PHONE_CORE has no look-around, so DuckDB (RE2) runs it too (CANDIDATE_SQL_RE).
_SEP = r"[\s()./-]"
_PHONE_CORE = (r"(?:\+[0-9]{10,}|0[1-9][0-9]{8,}"
               r"|\+\(?[0-9]{1,3}\)?" + _SEP + r"{1,3}[0-9](?:" + _SEP + r"{0,3}[0-9]){5,}"
               r"|(?:1[\s.-]{1,3})?\(?(?:0[0-9]{1,4}|[0-9]{3})\)?" + _SEP + r"{1,3}[0-9](?:" + _SEP
               + r"{0,3}[0-9]){2,}[0-9][0-9])")
# In Python, also: ten digits or more close together (at most 3 separators between two); set apart
# (no letter, digit, _ . or - before it, nor '07:'; no letter or digit after it, nor ':15', '.5' or
# '.host'); not an IPv4 address (10.0.0.7, 82-68-222-194) nor a decimal (0.1066108).
_PHONE_GATE = re.compile(
    r"(?<![\w.-])(?<!\d:)(?!\d{1,3}(?:[.-]\d{1,3}){3}(?!\d))(?!\d+\.\d{5})"
    r"(?=[+(]{0,2}\d(?:" + _SEP + r"{0,3}\d){" + str(MIN_PHONE_DIGITS - 1) + r"})"
    + _PHONE_CORE + r"(?!\w|[.:/-]\w)", re.ASCII)
_PHONE_WRITTEN = re.compile(r"[+(]{0,2}\d(?:" + _SEP + r"{0,3}\d)*", re.ASCII)
_CONTEXT = 4  # characters either side of a gate's stretch that libphonenumber sees with it
_FORMATS = (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
# A card number: 13-19 digits in one run, or in groups as cards print them (4 digits, then groups
# of 3-6: 4111 1111 1111 1111, 3782 822463 10005) split by spaces, dashes or dots; not part of a
# longer id or number (before it: no letter, digit, _ . or -; after it: no letter, digit, _ or -,
# nor '.5'); card numbers never start with 0 (0000000000000000 passes the Luhn check). An IP
# address and a number after it (10.251.42.84 1044) is not one.
_CARD = re.compile(r"(?<![\w.-])(?=[1-9])(?:\d{13,19}|\d{4}(?:[ .-]\d{3,6}){2,4})(?![\w-]|\.\d)", re.ASCII)

# What any personal data needs, in one expression that both Python and DuckDB (RE2) run (ASCII, no
# look-around): an email; a card-like run; a phone-like stretch, set apart. Text without it is
# passed over with one search, and ingest sends only the messages that match it to Python.
# Each detector above finds nothing where this does not match (they are narrower, same ASCII digits).
_NUMBER_RE = r"(?:^|[^\w.-])(?:[1-9](?:[0-9]{12,18}|[0-9]{3}(?:[ .-][0-9]{3,6}){2,4})|" + _PHONE_CORE + ")"
CANDIDATE_SQL_RE = _EMAIL_RE + "|" + _NUMBER_RE
_NUMBER = re.compile(_NUMBER_RE, re.ASCII)  # in Python, an email's '@' is looked for with `in`


def _candidate(text: str) -> bool:
    """True when ``text`` could hold personal data (CANDIDATE_SQL_RE matches it, or, cheaper, an '@')."""
    return "@" in text or _NUMBER.search(text) is not None

Span = tuple[int, int]


def luhn_ok(digits: str) -> bool:
    """The Luhn check (ISO/IEC 7812) that every payment card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _email_spans(text: str) -> list[Span]:
    return [m.span() for m in _EMAIL.finditer(text)] if "@" in text else []


def _card_spans(text: str) -> list[Span]:
    spans = []
    for m in _CARD.finditer(text):
        # the longest leading groups that make a card: '4111 1111 1111 1111 2026' is a card and a year
        groups = list(re.finditer(r"\d+", m.group()))
        for k in range(len(groups), 0, -1):
            digits = "".join(g.group() for g in groups[:k])
            if 13 <= len(digits) <= 19 and luhn_ok(digits):
                spans.append((m.start(), m.start() + groups[k - 1].end()))
                break
    return spans


def _joins(text: str) -> set[int]:
    """Where ``text``'s digit groups meet, counted in digits from the right: '555-123-4567' -> {4, 7}."""
    out, n = set(), 0
    for group in reversed(re.findall(r"\d+", text)[1:]):
        n += len(group)
        out.add(n)
    return out


def _grouped_as_dialled(core: str, number: phonenumbers.PhoneNumber) -> bool:
    """True when ``core`` has the digits of the number as libphonenumber formats it (nationally, or
    internationally with its country code) grouped the same or more coarsely: 555-123-4567 and
    (555) 1234567 for (555) 123-4567, +44 (0)20 7946 0958 for +44 20 7946 0958; not 2026-000123
    (an id), nor 1201 113099 (a GB number is written with its trunk 0)."""
    number = phonenumbers.PhoneNumber(country_code=number.country_code, national_number=number.national_number,
                                      italian_leading_zero=number.italian_leading_zero,
                                      number_of_leading_zeros=number.number_of_leading_zeros)  # no extension
    raw = core.replace("(0)", "")  # +44 (0)20: the trunk prefix some write in brackets
    digits, joins = re.sub(r"\D", "", raw), _joins(raw)
    for fmt in _FORMATS:  # the same digits as one of them (a national number with its trunk 0)
        shown = phonenumbers.format_number(number, fmt)
        if digits == re.sub(r"\D", "", shown) and joins <= _joins(shown):
            return True
    return False


def _written_as_phone(text: str, start: int, raw: str, number: phonenumbers.PhoneNumber) -> Span | None:
    """The span of a libphonenumber match when it is written as a phone number, else None.

    Kept: at least MIN_PHONE_DIGITS digits, nothing but digits and separators (an extension after
    them stays), not glued to an id, a name or a longer number (INV-2026-000123, blk_-6952..., 10:15), and
    written the way phone numbers are: grouped as libphonenumber formats it (555-123-4567,
    555.123.4567, 020 7946 0123, +44 20 7946 0958), or in three or more groups of 3+ digits ending
    in 4+ (0207 946 0123), or in one run only after a + or a trunk 0 (+447700900123, 07700900123):
    a bare run of digits is an id, a timestamp or an amount far more often than a phone number.
    """
    if start and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        return None
    m = _PHONE_WRITTEN.match(raw)
    if m is None:
        return None
    end = start + m.end()
    if end < len(text) and (text[end].isalnum() or text[end] == "_"  # 10:15, 12.5, 0610.ctinets.com
                            or (text[end] in ".:-/" and text[end + 1:end + 2].isalnum())):
        return None
    core = m.group()
    if core.startswith("(") and ")" not in core:  # '(555.123.4567)': the brackets are the text's
        start, core = start + 1, core[1:]
    groups = re.findall(r"\d+", core)
    if sum(map(len, groups)) < MIN_PHONE_DIGITS:
        return None
    if len(groups) == 1:
        return (start, end) if core.startswith("+") or re.match(r"0[1-9]", core) else None
    if _grouped_as_dialled(core, number):
        return (start, end)
    informal = len(groups) >= 3 and all(len(g) >= 3 for g in groups) and len(groups[-1]) >= 4
    return (start, end) if informal else None


def _phone_spans(text: str) -> list[Span]:
    # libphonenumber reads only the stretches the gate found, and the next region only what the one
    # before left (a number written nationally fits one region's format)
    candidates = [m.span() for m in _PHONE_GATE.finditer(text)]
    spans: list[Span] = []
    for region in PHONE_REGIONS:
        for a, b in candidates:
            a0 = max(0, a - _CONTEXT)  # with a little context: the matcher checks what surrounds a number
            for match in phonenumbers.PhoneNumberMatcher(text[a0:b + _CONTEXT], region, leniency=PHONE_LENIENCY):
                span = _written_as_phone(text, a0 + match.start, match.raw_string, match.number)
                if span and not any(x < span[1] and span[0] < y for x, y in spans):
                    spans.append(span)
        candidates = [(a, b) for a, b in candidates if not any(x < b and a < y for x, y in spans)]
        if not candidates:
            break
    return sorted(spans)


# Applied in this order, each to the text the one before left: an email first (its digits are not
# a phone number), a card before a phone (a card number holds phone-like runs).
DETECTORS: dict[str, Callable[[str], list[Span]]] = {
    "email": _email_spans, "card": _card_spans, "phone": _phone_spans}
# The same table under the name callers that look kinds up use (analysis.feedback re-exports it).
PERSONAL_DATA_PATTERNS = DETECTORS


def kinds(text: str | None) -> list[str]:
    """The kinds of personal data in ``text`` ('email', 'card', 'phone'), in DETECTORS order."""
    if not isinstance(text, str) or not _candidate(text):
        return []
    return [name for name, find in DETECTORS.items() if find(text)]


def has_personal_data(text: str | None) -> bool:
    """True when ``text`` contains an email, a phone number or a card number."""
    return isinstance(text, str) and _candidate(text) and any(find(text) for find in DETECTORS.values())


def mask(text: str | None) -> str | None:
    """``text`` with every personal-data match replaced by ``[email]``, ``[card]`` or ``[phone]``."""
    if not isinstance(text, str) or not _candidate(text):
        return text
    for name, find in DETECTORS.items():
        spans = find(text)
        if spans:
            parts, last = [], 0
            for a, b in spans:
                parts += [text[last:a], f"[{name}]"]
                last = b
            text = "".join(parts) + text[last:]
    return text


def mask_id(value: str | None) -> str | None:
    """A value that is or holds personal data (a user id, a team or segment value) as a stable
    pseudonym, e.g. ``[email 3f2a9c]``: rows of the same value still read as the same, and two
    values stay apart, without showing who. Other values (and None / NaN) are returned as they are."""
    found = kinds(value)
    if not found:
        return value
    return f"[{found[0]} {hashlib.sha256(value.encode()).hexdigest()[:6]}]"


# Columns whose values name a person or a group (a user, a team, a feature, a user group): shown as
# stable pseudonyms (mask_id), so that rows of one value still read as one and two values stay apart.
ID_COLUMNS = ("user_id", "team", "feature", "user_group")


def masked(value: Any, ids: Iterable[str] = ID_COLUMNS) -> Any:
    """``value`` as shown without the reveal right: every string in it masked.

    Strings, and strings inside lists, tuples, dicts, DataFrames (see :func:`mask_frame`) and
    dataclasses (e.g. an evidence result, an ``Empty``'s reason). Numbers, dates and None pass.
    """
    import pandas as pd

    if isinstance(value, str):
        return mask(value)
    if isinstance(value, pd.DataFrame):
        return mask_frame(value, ids)
    if isinstance(value, dict):
        return {k: masked(v, ids) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(masked(v, ids) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: masked(getattr(value, f.name), ids) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **{k: v for k, v in changes.items() if v is not getattr(value, k)})
    if hasattr(value, "tolist") and getattr(value, "dtype", None) is not None and value.dtype == object:
        return [masked(v, ids) for v in value.tolist()]  # a numpy array of strings (a list cell)
    return value


def mask_frame(df, ids: Iterable[str] = ID_COLUMNS):
    """A copy of a small result frame with every text cell masked (lists of text too); columns
    named in ``ids`` become pseudonyms (:func:`mask_id`). Column types are kept. For what is shown
    only: it loops over the cells, so never over a large table."""
    import pandas as pd

    out = df.copy()
    ids = set(ids)
    for col in out.columns:
        column = out[col]
        if not len(out) or pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
            continue
        one = mask_id if col in ids else mask
        values = [one(v) if isinstance(v, str) else masked(v, ids) for v in column]
        out[col] = pd.Series(values, index=out.index,
                             dtype=column.dtype if isinstance(column.dtype, pd.StringDtype) else object)
    return out


def may_reveal(con: Connection, actor: Actor, pilot_id: int) -> bool:
    """True when ``actor`` holds the reveal right on the pilot (admin, or a reviewer with a grant)."""
    return allowed(con, actor, "reveal_personal_data", pilot_id)


def reveal(con: Connection, actor: Actor, pilot, what: str) -> None:
    """Check that ``actor`` may see ``pilot``'s personal data unmasked, and audit the reveal.

    Raises AccessDenied (nothing is revealed, nothing recorded) otherwise.
    """
    with transaction(con):
        require(con, actor, "reveal_personal_data", pilot.pilot_id)
        audit.record(con, actor, "reveal", f"pilot:{pilot.pilot_id}", {"pilot": pilot.name, "what": what})
