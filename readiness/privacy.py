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
  (:func:`_written_as_phone`: at least 10 digits, set apart from ids, grouped or with ``+``);
* card numbers: 13-19 digit runs (spaces, dashes or dots between digits allowed) that pass the
  Luhn check.

A cheap regular expression looks for the digits a phone or card needs before libphonenumber
runs, so text without them costs a regex search.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any

import duckdb
import phonenumbers

from readiness import audit
from readiness.access import Actor, allowed, require
from readiness.store import transaction

# Numbers written without a country code are read as these regions' numbers (a number in any of
# them counts). US: NANP formats such as (555) 123-4567, 555.123.4567; GB: 020 7946 0123, 07700 900123.
# A number with a +country code is read as written, whatever the region.
PHONE_REGIONS = ("US", "GB")
# POSSIBLE: the length fits the region's numbering plan; VALID would also need an assigned range,
# and so miss fictional and reserved numbers (555-0100, 07700 900xxx) that still stand for a person's.
PHONE_LENIENCY = phonenumbers.Leniency.POSSIBLE
MIN_PHONE_DIGITS = 10   # shorter runs (7-digit local numbers, amounts, ports, years) are not masked

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# A phone number as it may be written: + or ( then at least 10 digits, at most 3 separators
# (space, ( ) . - /) between two digits, not glued to an id or a longer number (a letter, digit,
# _, . or - before it; a letter or digit after it, nor ':15' or '.5': a time, a decimal).
_PHONE_SHAPE = r"[+(]{0,2}\d(?:[\s().\-/]{0,3}\d){" + str(MIN_PHONE_DIGITS - 1) + ",}"
_PHONE_GATE = re.compile(r"(?<![\w.-])" + _PHONE_SHAPE + r"(?!\w|[.:/-]\d)")
_PHONE_WRITTEN = re.compile(_PHONE_SHAPE)
_CONTEXT = 4  # characters either side of a gate's stretch that libphonenumber sees with it
# A card number: 13-19 digits, a space, dash or dot allowed between any two, not part of a longer
# id or number (before it: no letter, digit, _, . or -; after it: no letter, digit, _ or -, nor '.5').
_CARD = re.compile(r"(?<![\w.-])\d(?:[ .-]?\d){12,18}(?![\w-]|\.\d)")

# The same gates as SQL (RE2), for ingest: a message can hold personal data only if it matches.
CANDIDATE_SQL_RE = r"@|[0-9]([\s().+/-]{0,3}[0-9]){9}"

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
    return [m.span() for m in _CARD.finditer(text) if luhn_ok(re.sub(r"\D", "", m.group()))]


def _written_as_phone(text: str, start: int, raw: str) -> Span | None:
    """The span of a libphonenumber match written as a phone number, or None.

    Kept: at least MIN_PHONE_DIGITS digits, nothing but digits and separators (an extension after
    them stays), not glued to an id (INV-2026-000123, blk_-6952..., v1.2.3.4567), and either
    grouped (555-123-4567, 020 7946 0123), with a +country code, in parentheses, or starting with
    a national trunk 0 (07700900123): a bare run of digits is an id, a timestamp or an amount
    far more often than a phone number.
    """
    if start and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        return None
    m = _PHONE_WRITTEN.match(raw)
    if m is None:
        return None
    end = start + m.end()
    if end < len(text) and (text[end].isalnum() or text[end] == "_"
                            or (text[end] in ".:-/" and text[end + 1:end + 2].isdigit())):  # 10:15, 12.5
        return None
    core = m.group()
    if core.startswith("(") and ")" not in core:  # '(555.123.4567)': the brackets are the text's
        start, core = start + 1, core[1:]
    groups = re.findall(r"\d+", core)
    if len(groups) == 1 and not core.startswith(("+", "(")) and not re.match(r"0[1-9]", core):
        return None
    return (start, end)


def _phone_spans(text: str) -> list[Span]:
    # libphonenumber reads only the stretches the gate found (it would otherwise parse every number
    # in the text: amounts, years, durations), and the next region only what the one before left
    candidates = [m.span() for m in _PHONE_GATE.finditer(text)]
    spans: list[Span] = []
    for region in PHONE_REGIONS:
        for a, b in candidates:
            a0 = max(0, a - _CONTEXT)  # with a little context: the matcher checks what surrounds a number
            for match in phonenumbers.PhoneNumberMatcher(text[a0:b + _CONTEXT], region, leniency=PHONE_LENIENCY):
                span = _written_as_phone(text, a0 + match.start, match.raw_string)
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
# Kept under its old name for callers that look kinds up (analysis.feedback re-exports it).
PERSONAL_DATA_PATTERNS = DETECTORS


def kinds(text: str | None) -> list[str]:
    """The kinds of personal data in ``text`` ('email', 'card', 'phone'), in DETECTORS order."""
    if not isinstance(text, str) or not text:
        return []
    return [name for name, find in DETECTORS.items() if find(text)]


def has_personal_data(text: str | None) -> bool:
    """True when ``text`` contains an email, a phone number or a card number."""
    return isinstance(text, str) and bool(text) and any(find(text) for find in DETECTORS.values())


def mask(text: str | None) -> str | None:
    """``text`` with every personal-data match replaced by ``[email]``, ``[card]`` or ``[phone]``."""
    if not isinstance(text, str) or not text:
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


def may_reveal(con: duckdb.DuckDBPyConnection, actor: Actor, pilot_id: int) -> bool:
    """True when ``actor`` holds the reveal right on the pilot (admin, or a reviewer with a grant)."""
    return allowed(con, actor, "reveal_personal_data", pilot_id)


def reveal(con: duckdb.DuckDBPyConnection, actor: Actor, pilot, what: str) -> None:
    """Check that ``actor`` may see ``pilot``'s personal data unmasked, and audit the reveal.

    Raises AccessDenied (nothing is revealed, nothing recorded) otherwise.
    """
    with transaction(con):
        require(con, actor, "reveal_personal_data", pilot.pilot_id)
        audit.record(con, actor, "reveal", f"pilot:{pilot.pilot_id}", {"pilot": pilot.name, "what": what})
