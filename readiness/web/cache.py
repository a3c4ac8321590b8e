"""Page results cached by pilot and data version: evidence, risk signals, segment choices, upload
previews, the review's steps. The caller has checked access (``navigation.pick_pilot``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import streamlit as st

from analysis import confidence
from analysis import failure_modes as fm
from analysis.common import NO_FILTERS, segment_choices
from readiness import catalog, store
from readiness.review import asof, conditions, figures, progress, risks
from readiness.review import evidence as kept
from readiness.review import signals as sig
from readiness.security.access import Actor
from readiness.web.login import db


def qualified_name(fn: Callable) -> str:
    """``module.function``: the part of a cache key that says which function's result it is."""
    return f"{fn.__module__}.{fn.__qualname__}"


@st.cache_data(show_spinner=False, max_entries=512)
def _evidence(name: str, db_path: str, pilot_id: int, version: str, time_zone: str, filter_key: tuple,
              _fn: Callable, _pilot, _filters) -> Any:
    with store.open_store(db_path) as con:
        if kept.is_kept(_fn, _filters):  # the unfiltered view: kept in the store, so a server start reads it
            return kept.get(con, _pilot, _fn, version)
        return _fn(con, _pilot, _filters)


def evidence(fn: Callable, pilot, version: str, flt=None) -> Any:
    """``fn(con, pilot, filters)`` (an evidence function), cached by function, pilot, data version and
    filters (call after pick_pilot). Without filters, the result kept in the store
    (readiness.review.evidence) when it is current, else computed and kept."""
    flt = flt or NO_FILTERS
    return _evidence(qualified_name(fn), db(), pilot.pilot_id, version, pilot.time_zone, flt.key(), fn, pilot, flt)


@st.cache_data(show_spinner=False, max_entries=256)
def _masked_mode_rows(db_path: str, pilot_id: int, version: str, mode_id: int, limit: int, _pilot) -> Any:

    with store.open_store(db_path) as con:
        return fm.mode_rows(con, _pilot, mode_id, limit)


def masked_mode_rows(pilot, version: str, mode_id: int, limit: int = 50) -> Any:
    """One failure mode's drill-down rows with personal data masked, cached by pilot, data version and
    mode (call after pick_pilot). A reveal is never cached: it is read, and audited, each time."""
    return _masked_mode_rows(db(), pilot.pilot_id, version, int(mode_id), limit, pilot)


@st.cache_data(show_spinner=False, max_entries=128)
def _signal_rows(db_path: str, pilot_id: int, version: str, rows_key: str, _actor: Actor, _pilot, _rows) -> Any:

    with store.open_store(db_path) as con:
        return sig.signal_rows(con, _actor, _pilot, _rows, limit=100)


def signal_rows(actor: Actor, pilot, version: str, rows: dict) -> Any:
    """The newest 100 rows behind a signal, personal data masked, cached by pilot, data version and
    the signal's row filter (call after pick_pilot): a scan of the logs, not repeated on each rerun."""
    return _signal_rows(db(), pilot.pilot_id, version, json.dumps(rows, sort_keys=True, default=str), actor, pilot,
                        rows)


@st.cache_data(show_spinner=False, max_entries=128)
def _signals(db_path: str, pilot_id: int, version: str, _actor: Actor, _pilot) -> list[dict[str, Any]]:

    with store.open_store(db_path) as con:  # kept with the pilot's figures at this data version, if they are
        kept = figures.current(con, pilot_id, version)
        if kept is not None:
            return kept["signals"]
        try:  # missing or stale (e.g. conditions created as a page opened): computed once, kept for every page
            return figures.refresh(con, pilot_id)["signals"]
        except store.StoreBusy:  # another write holds the store: computed, not kept
            pass
    found = _log_signals(db_path, pilot_id, catalog.logs_version(version), _actor, _pilot)
    with store.open_store(db_path) as con:
        return [s.to_dict() for s in sig.ordered(found + sig.review_signals(con, _actor, _pilot))]


@st.cache_data(show_spinner=False, max_entries=128)
def _log_signals(db_path: str, pilot_id: int, logs_version: str, _actor: Actor, _pilot) -> list:

    with store.open_store(db_path) as con:
        return sig.log_signals(con, _actor, _pilot)


def signals(actor: Actor, pilot, version: str) -> list[dict[str, Any]]:
    """The pilot's risk signals as dicts, cached by pilot and data version (call after pick_pilot,
    which has checked the grant): the ones stored with its figures (readiness.review.figures) when
    they were computed at this version, else the figures are computed and stored now. When the
    store is busy with another write, the checks that read only the logs are kept until a batch is
    loaded or deleted: a review edit (a note, a risk, a condition) re-runs only the others."""
    return _signals(db(), pilot.pilot_id, version, actor, pilot)


@st.cache_data(show_spinner=False, max_entries=256)
def _segment_options(db_path: str, pilot_id: int, version: str) -> dict[str, dict[str, str]]:

    with store.open_store(db_path) as con:
        return segment_choices(con, pilot_id)


def segment_options(pilot, version: str) -> dict[str, dict[str, str]]:
    """Per segment, {value as shown: value as stored} (analysis.common.segment_choices)."""
    return _segment_options(db(), pilot.pilot_id, version)


@st.cache_data(show_spinner=False, max_entries=256)
def _conditions(db_path: str, pilot_id: int, version: str, today: date, _who: Actor, _pilot) -> list[dict[str, Any]]:

    rates = evidence(confidence.rate_intervals, _pilot, version)  # the exception rate's interval, as kept
    with store.open_store(db_path) as con:
        return conditions.list_conditions(con, _who, _pilot, today, rates=rates)


def judged_conditions(who: Actor, pilot, version: str) -> list[dict[str, Any]]:
    """The current review's conditions, computed ones judged on the logs (an interval over every
    exception for the exception rate), cached by pilot, data version and day (a waiver runs out at a
    day's turn); call after pick_pilot, which has checked the grant."""
    return _conditions(db(), pilot.pilot_id, version, datetime.now(UTC).date(), who, pilot)


def review_steps(con, who: Actor, pilot, version: str) -> list:
    """The stepper's steps, cached by pilot and data version (which moves with every audited edit of
    the pilot's review as well as with its data); the caller has checked the grant."""
    return _review_steps(db(), pilot.pilot_id, version, who, pilot)


@st.cache_data(show_spinner=False, max_entries=256)
def _review_steps(db_path: str, pilot_id: int, version: str, _who: Actor, _pilot) -> list:

    with store.open_store(db_path) as con:
        n = untriaged_high(con, _who, _pilot, version)  # stores the pilot's figures when they are stale
        kept = figures.current(con, pilot_id, version)  # the conditions as judged with the pilot's figures
        return progress.steps(con, _who, _pilot, untriaged_high=n, conds=kept["conditions"] if kept else None)


def untriaged_high(con, who: Actor, pilot, version: str) -> int:
    """How many high risk signals are neither in the register nor dismissed (signals cached by version)."""

    return len(risks.untriaged(con, pilot.pilot_id, signals(who, pilot, version)))


@st.cache_data(show_spinner=False, max_entries=64)
def _as_decided(db_path: str, pilot_id: int, version: str, decision_id: int, _actor: Actor, _pilot) -> dict[str, Any]:

    with store.open_store(db_path) as con:
        return asof.decided_figures(con, _actor, _pilot, decision_id)


def as_decided(actor: Actor, pilot, version: str, decision_id: int) -> dict[str, Any]:
    """A decision's figures recomputed as decided (readiness.review.asof), cached by pilot, data
    version and decision (call after pick_pilot)."""
    return _as_decided(db(), pilot.pilot_id, version, int(decision_id), actor, pilot)
