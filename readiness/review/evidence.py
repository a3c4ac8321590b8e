"""A pilot's evidence kept, not recomputed after a server start: what the review pages show without a
date or segment filter, stored (table ``evidence_kept``) with the data version it was computed at.

A page's first view after a server start used to compute its evidence again: the intervals bootstrap
over users, the segments that differ beyond chance, the rollup read again. The pages read it from
here instead (:func:`get`): one row per pilot and evidence function (:data:`KEPT`).

* **When it is computed.** The first time a page asks for a result that is missing or stale, it is
  computed and kept. After each write (the command line's write commands, a page's action)
  :func:`keep_up` computes again every kept row the write made stale, so the next view, even after
  a server start, reads it. :func:`refresh` computes every result of one pilot (e.g. after a load).
* **When it is stale.** A row holds for the data version it was computed at: the pilot's whole
  :func:`readiness.catalog.data_version` for results that read its review records (a failure mode's
  status, owner and note), only the part that moves with its batches
  (:func:`readiness.catalog.logs_version`) for the others, so that a note does not recompute the
  intervals. It also holds only for the same ``context``: the pilot's name and time zone (it makes
  the days), the confidence level, and the code and library versions that computed it. A stale or
  unreadable row is never shown: the result is computed instead.
* **How it is kept.** Pickled, and read back through an unpickler that builds only the types a
  result is made of (pandas and numpy data, dates, the evidence's own dataclasses), so a row
  altered in the store cannot run code.

A filtered view (dates, a segment) is computed as before: only the default view is kept.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import logging
import pickle
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import analysis
import readiness
from analysis import confidence, failure_modes, feedback, segments, summary, usage
from analysis.common import NO_FILTERS, Filters
from analysis.intervals import level_default
from readiness import catalog
from readiness.review import readout
from readiness.store import Connection, DatabaseError, StoreBusy, transaction

# The evidence the review pages read without a filter (Usage, Feedback, Failure modes, Decision, Readout).
KEPT: tuple[Callable, ...] = (
    usage.totals, usage.trend, usage.active_users, usage.retention, usage.lifecycle, usage.feature_adoption,
    usage.concentration, usage.task_success,
    feedback.feedback_summary, feedback.sentiment_over_time, feedback.triage_table, feedback.themes,
    feedback.most_negative,
    failure_modes.failure_modes, failure_modes.exception_rate,
    confidence.rate_intervals, segments.differences, summary.summary, readout.headline,
)
# Results that read the pilot's review records besides its logs: kept per whole data version.
READS_RECORDS = frozenset({failure_modes.failure_modes})
_MISSING = object()
log = logging.getLogger(__name__)


def name_of(fn: Callable) -> str:
    """``module.function``: how a kept result names the function that computed it."""
    return f"{fn.__module__}.{fn.__qualname__}"


_BY_NAME = {name_of(fn): fn for fn in KEPT}


def is_kept(fn: Callable, filters: Filters | None = None) -> bool:
    """True when ``fn``'s result under ``filters`` is one this module keeps (the unfiltered view)."""
    return name_of(fn) in _BY_NAME and (filters is None or filters.key() == NO_FILTERS.key())


def _version(fn: Callable, version: str) -> str:
    return version if fn in READS_RECORDS else catalog.logs_version(version)


@functools.cache
def _code() -> str:
    """A digest of the code that computes the results and of the libraries that hold them: a new
    release computes them again rather than read what an older one kept."""
    h = hashlib.sha256(f"{sys.version}|{pd.__version__}|{np.__version__}".encode())
    for root in (Path(analysis.__file__).parent, Path(readiness.__file__).parent):
        for path in sorted(root.rglob("*.py")):
            h.update(path.as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def context(pilot: catalog.Pilot) -> str:
    """What a result depends on besides the data version: of the pilot's profile, its name (a reason
    names it) and time zone (it makes the days), the only fields evidence reads (an owner or a risk
    tier changed does not compute the evidence again); the confidence level; the code."""
    profile = hashlib.sha256(repr((pilot.name, pilot.time_zone)).encode()).hexdigest()[:16]
    return f"profile {profile}; level {level_default()}; code {_code()}"


# The types a kept result is built from, besides the evidence's own dataclasses (analysis.*): Python's
# containers and dates, numpy arrays and scalars, pandas frames with their indexes, dtypes and arrays
# (any class of pandas.arrays), and the Arrow buffers pandas keeps strings in.
_SAFE_TYPES = {
    *(("builtins", n) for n in ("list", "dict", "tuple", "set", "frozenset", "slice", "complex", "bytearray")),
    *(("datetime", n) for n in ("date", "datetime", "time", "timedelta", "timezone")),
    ("zoneinfo", "ZoneInfo"), ("zoneinfo._zoneinfo", "ZoneInfo"),
    ("numpy", "dtype"), ("numpy", "ndarray"),
    *((m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")),
    *((m, "_frombuffer") for m in ("numpy.core.numeric", "numpy._core.numeric")),
    *(("pandas", n) for n in ("DataFrame", "Series", "Index", "RangeIndex", "DatetimeIndex", "TimedeltaIndex",
                              "CategoricalIndex", "Categorical", "CategoricalDtype", "DatetimeTZDtype", "StringDtype",
                              "ArrowDtype", "Int64Dtype", "Int32Dtype", "Float64Dtype", "BooleanDtype", "Timestamp",
                              "Timedelta", "NaT", "NA")),
    ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"), ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.internals.managers", "BlockManager"), ("pandas.core.internals.managers", "SingleBlockManager"),
    ("pandas.core.internals.blocks", "new_block"), ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.indexes.datetimes", "_new_DatetimeIndex"), ("pandas.core.arrays.categorical", "_new_Categorical"),
    ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"), ("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle"),
    ("pandas._libs.tslibs.nattype", "__nat_unpickle"), ("pandas._libs.missing", "NA"),
    *(("pyarrow.lib", n) for n in ("_restore_array", "py_buffer", "type_for_alias", "field", "schema", "list_",
                                   "large_list", "struct", "timestamp", "string", "large_string", "int64", "float64",
                                   "bool_", "date32")),
}

class _Unpickler(pickle.Unpickler):
    """Builds only the types a kept result is made of; anything else is refused, not imported."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_TYPES or (module == "numpy.dtypes" and name.endswith("DType")):
            return super().find_class(module, name)
        if module == "pandas.arrays" and not name.startswith("_"):
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        if module.startswith("analysis.") or module == readout.__name__:
            found = super().find_class(module, name)
            if isinstance(found, type) and dataclasses.is_dataclass(found):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not a type of kept evidence")


def _loads(payload: bytes) -> Any:
    return _Unpickler(io.BytesIO(payload)).load()


def _dumps(value: Any) -> bytes | None:
    """The result pickled, or None when the reader would refuse it (it is then not kept, and computed
    on each first read instead: slower, never wrong)."""
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        _loads(payload)
    except pickle.UnpicklingError as err:
        log.warning("Evidence not kept: %s", err)
        return None
    return payload


def read(con: Connection, pilot: catalog.Pilot, fn: Callable, version: str | None = None) -> Any:
    """The kept result of ``fn`` for the pilot's unfiltered view when it holds for ``version`` (its data
    version now; read when not given) and today's context; ``None`` when it is missing or stale."""
    got = _read(con, pilot, fn, version or catalog.data_version(con, pilot.pilot_id))
    return None if got is _MISSING else got


def _read(con: Connection, pilot: catalog.Pilot, fn: Callable, version: str) -> Any:
    row = con.execute("SELECT payload FROM evidence_kept WHERE pilot_id = ? AND name = ? AND data_version = ? "
                      "AND context = ?", [pilot.pilot_id, name_of(fn), _version(fn, version), context(pilot)]).fetchone()
    if row is None:
        return _MISSING
    try:
        return _loads(row[0])
    except (pickle.UnpicklingError, AttributeError, ImportError, EOFError, TypeError, ValueError):
        return _MISSING  # written by other code, or altered: computed afresh


def get(con: Connection, pilot: catalog.Pilot, fn: Callable, version: str | None = None) -> Any:
    """``fn(con, pilot, NO_FILTERS)``: the result kept for ``version`` (the pilot's data version as the
    caller read it; read now when not given), else computed and kept, when the store takes the write
    and the data has not moved on since ``version`` (a busy store keeps it another time). ``fn`` must
    be one of :data:`KEPT`."""
    if not is_kept(fn):
        raise ValueError(f"{name_of(fn)} is not kept evidence")
    version = version or catalog.data_version(con, pilot.pilot_id)
    got = _read(con, pilot, fn, version)
    if got is not _MISSING:
        return got
    value = fn(con, pilot, NO_FILTERS)
    _keep(con, pilot, {fn: value}, version)
    return value


def _keep(con: Connection, pilot: catalog.Pilot, results: dict[Callable, Any], version: str) -> bool:
    """Store ``results`` as computed at ``version``, unless the pilot's data moved on while they were
    computed (they would be kept under a version they do not hold for). False when not kept."""
    rows = [[pilot.pilot_id, name_of(fn), _version(fn, version), context(pilot), _dumps(value), datetime.now(UTC)]
            for fn, value in results.items()]
    rows = [r for r in rows if r[4] is not None]
    if not rows:
        return False
    try:
        with transaction(con):
            if catalog.data_version(con, pilot.pilot_id) != version:
                return False
            con.execute("DELETE FROM evidence_kept WHERE pilot_id = ? AND list_contains(?, name)",
                        [pilot.pilot_id, [r[1] for r in rows]])
            con.executemany("INSERT INTO evidence_kept VALUES (?, ?, ?, ?, ?, ?)", rows)
    except (StoreBusy, DatabaseError):  # another writer, or a store opened to read only: kept another time
        return False
    return True


def refresh(con: Connection, pilot_id: int, names: set[str] | None = None) -> list[str]:
    """Compute and keep the pilot's results (of ``names``; None: every kept function) that are missing
    or stale; returns the names computed."""
    pilot = _pilot(con, pilot_id)
    version = catalog.data_version(con, pilot_id)
    todo = [fn for fn in KEPT if (names is None or name_of(fn) in names)
            and _read(con, pilot, fn, version) is _MISSING]
    if todo:
        _keep(con, pilot, {fn: fn(con, pilot, NO_FILTERS) for fn in todo}, version)
    return [name_of(fn) for fn in todo]


def _pilot(con: Connection, pilot_id: int) -> catalog.Pilot:
    name = con.execute("SELECT name FROM pilots WHERE pilot_id = ?", [pilot_id]).fetchone()
    if name is None:
        raise catalog.PilotNotFound(f"No pilot with id {pilot_id}.")
    return catalog.get_pilot(con, name[0])


def stale(con: Connection) -> dict[int, set[str]]:
    """Per pilot, the names of its kept results that no longer hold (its data, profile or the code
    moved on). Three queries, however many pilots keep results."""
    rows = con.execute("SELECT e.pilot_id, p.name, e.name, e.data_version, e.context FROM evidence_kept e "
                       "JOIN pilots p USING (pilot_id)").fetchall()
    if not rows:
        return {}
    versions = catalog.data_versions(con)
    contexts = {p.pilot_id: context(p) for p in catalog.pilots_by_name(con, sorted({r[1] for r in rows}))}
    out: dict[int, set[str]] = {}
    for pilot_id, _, name, kept_version, kept_context in rows:
        fn = _BY_NAME.get(name)  # a function no longer kept: its row is never read
        if fn is not None and (kept_version != _version(fn, versions[pilot_id]) or kept_context != contexts[pilot_id]):
            out.setdefault(pilot_id, set()).add(name)
    return out


def keep_up(con: Connection) -> dict[int, list[str]]:
    """After a write: compute again the kept results it made stale, so that the next view (even after a
    server start) reads them; returns them per pilot. One query when none is kept."""
    return {pilot_id: refresh(con, pilot_id, names) for pilot_id, names in stale(con).items()}
