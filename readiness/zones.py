"""A time zone as integer UTC offsets, for SQL that turns instants into local days and back."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_FIRST_YEAR = 2000


_LOOKAHEAD_YEARS = 3


@functools.lru_cache(maxsize=64)
def utc_offsets(tz: str) -> tuple[tuple[int, int], ...]:
    """(epoch microseconds from which it applies, UTC offset in microseconds), newest first,
    for 2000 until a few years ahead. Found by sampling each day and bisecting each change."""
    zone = ZoneInfo(tz)
    start = datetime(_FIRST_YEAR, 1, 1, tzinfo=UTC)
    end = datetime(datetime.now(UTC).year + _LOOKAHEAD_YEARS, 1, 1, tzinfo=UTC)

    def offset(t: datetime) -> int:
        return int(t.astimezone(zone).utcoffset().total_seconds() * 1_000_000)

    out = [(int(start.timestamp() * 1_000_000), offset(start))]
    t = start
    while t < end:
        nxt = t + timedelta(hours=12)
        if offset(nxt) != offset(t):
            lo, hi = int(t.timestamp()), int(nxt.timestamp())  # bisect, in whole seconds, to the change
            old = offset(t)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(datetime.fromtimestamp(mid, UTC)) == old else (lo, mid)
            out.append((hi * 1_000_000, offset(datetime.fromtimestamp(hi, UTC))))
        t = nxt
    out.append((int(end.timestamp() * 1_000_000), 0))  # sentinel: beyond it, ask ICU
    return tuple(reversed(out))
