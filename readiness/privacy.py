"""Personal-data boundaries: what counts as personal data, masking, and the audited reveal.

Emails, phone numbers and card-like numbers in messages, comments and rejected raw rows are
masked by default for everyone, everywhere (pages, the Readout, exports). A reviewer or admin
with a grant on the pilot can reveal them; each reveal is checked and audited by :func:`reveal`.
"""

from __future__ import annotations

import re

import duckdb

from readiness import audit
from readiness.access import Actor, require
from readiness.store import transaction

# One shared set: an email, a phone number, or a card-like number (13-19 digits, spaces/dashes allowed).
PERSONAL_DATA_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
    "phone": re.compile(
        r"(?<![\w+])(?:\+\d{1,3}[\s.-]?(?:\(0\)[\s.-]?)?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}"  # +44 20 7946 0123
        r"|\(\d{3}\)\s?\d{3}[\s.-]\d{4}"                                                   # (555) 123-4567
        r"|\b0\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4})(?![\w])"                                  # 020 7946 0123, 07700 900123
    ),
    "card": re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"),
}


def has_personal_data(text: str | None) -> bool:
    """True when ``text`` contains an email, a phone number or a card-like number."""
    return bool(text) and any(p.search(text) for p in PERSONAL_DATA_PATTERNS.values())


def mask(text: str | None) -> str | None:
    """``text`` with every personal-data match replaced by ``[email]``, ``[phone]`` or ``[card]``."""
    if not text:
        return text
    for name in ("email", "card", "phone"):  # card before phone: a card number contains phone-like runs
        text = PERSONAL_DATA_PATTERNS[name].sub(f"[{name}]", text)
    return text


def mask_id(value: str | None) -> str | None:
    """A user id that is personal data (an email, a phone number) as a stable pseudonym, e.g.
    ``[email 3f2a9c]``: rows of the same user still read as the same, without showing who."""
    if not isinstance(value, str) or not has_personal_data(value):  # also None / NaN from a DataFrame
        return value
    import hashlib

    kind = next(name for name in ("email", "card", "phone") if PERSONAL_DATA_PATTERNS[name].search(value))
    return f"[{kind} {hashlib.sha256(value.encode()).hexdigest()[:6]}]"


def reveal(con: duckdb.DuckDBPyConnection, actor: Actor, pilot, what: str) -> None:
    """Check that ``actor`` may see ``pilot``'s personal data unmasked, and audit the reveal.

    Raises AccessDenied (nothing is revealed, nothing recorded) otherwise.
    """
    with transaction(con):
        require(con, actor, "reveal_personal_data", pilot.pilot_id)
        audit.record(con, actor, "reveal", f"pilot:{pilot.pilot_id}", {"pilot": pilot.name, "what": what})
