"""The review's place: the pilot, dates, segment and review in view, kept in session state (so it
follows the reviewer from page to page) and in the address bar (so a link reopens the same view):
?pilot=NAME&from=DATE&to=DATE&team=VALUE."""

from __future__ import annotations

from datetime import date

import streamlit as st

from analysis.common import Filters, resolve_segment
from readiness.web.cache import segment_options
from readiness.web.text import md

# The review's place lives in session state (so it follows the reviewer from page to page) and in
# the URL's query string (so a link reopens the same view): ?pilot=NAME&from=DATE&to=DATE&team=VALUE.
PILOT, RANGE, SEGMENT, REVIEW = "_rr_pilot", "_rr_range", "_rr_segment", "_rr_review"


URL_SEGMENTS = ("team", "feature", "user_group")


def adopt_link() -> None:
    """Once per session: take pilot, dates and segment from the link that opened the app
    (app.py keeps its query string through the login)."""
    asked = st.session_state.pop("_rr_asked_query", None)
    if not asked:
        return
    if asked.get("pilot"):
        st.session_state[PILOT] = asked["pilot"]
    try:
        first, last = date.fromisoformat(asked["from"]), date.fromisoformat(asked["to"])
        st.session_state[RANGE] = (first, last)
    except (KeyError, ValueError):
        pass
    for name in URL_SEGMENTS:
        if asked.get(name):
            st.session_state[SEGMENT] = (name, asked[name])
            break


def write_link() -> None:
    """Put the current pilot, dates and segment into the address bar."""
    params = {"pilot": st.session_state.get(PILOT)}
    rng = st.session_state.get(RANGE)
    if rng:
        params.update({"from": rng[0].isoformat(), "to": rng[1].isoformat()})
    seg = st.session_state.get(SEGMENT)
    if seg:
        params[seg[0]] = seg[1]
    params = {k: v for k, v in params.items() if v}
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def forget_pilot_view() -> None:
    """Another pilot is in hand: the old one's segment and review mean nothing for it."""
    st.session_state.pop(SEGMENT, None)
    st.session_state.pop(REVIEW, None)


def choose_pilot(name: str) -> None:
    """Put ``name`` in hand, as the sidebar's pilot picker does (its pages check access again)."""
    if st.session_state.get(PILOT) != name:
        st.session_state[PILOT] = name
        forget_pilot_view()


def review_in_view() -> int | None:
    """The review number chosen in the sidebar (None: the pilot has no review yet)."""
    return st.session_state.get(REVIEW)


def filters(pilot, version: str):
    """Sidebar dates (the pilot's calendar) and segment; returns analysis Filters.

    Both persist across pages and are written to the URL with the pilot.
    """

    if "_w_dates" not in st.session_state:
        st.session_state["_w_dates"] = st.session_state.get(RANGE) or ()
    value = st.sidebar.date_input(f"Dates ({md(pilot.time_zone)})", key="_w_dates",
                                  help="Pilot-local calendar days, both ends included. Empty: the whole pilot.")
    rng = tuple(value) if isinstance(value, (tuple, list)) and len(value) == 2 else None
    if rng:
        st.session_state[RANGE] = rng
    elif isinstance(value, (tuple, list)) and not value:
        st.session_state.pop(RANGE, None)
    elif isinstance(value, (tuple, list)):  # the first day picked, the last not yet
        kept = st.session_state.get(RANGE)
        st.sidebar.caption("Pick the last day too. Until then the pages show "
                           + (f"{kept[0]:%Y-%m-%d} to {kept[1]:%Y-%m-%d}." if kept else "the whole pilot."))

    # the picker, the session and the address bar hold the values as shown (personal data masked);
    # the filter gets the stored value behind the one shown
    choices = segment_options(pilot, version)
    labels = ["Everyone"] + [f"{name.replace('_', ' ')}: {v}" for name, shown in choices.items() for v in shown]
    keys = [None] + [(name, v) for name, shown in choices.items() for v in shown]
    current = st.session_state.get(SEGMENT)
    current = tuple(current) if current else None
    if current not in keys:
        current = None
        st.session_state.pop(SEGMENT, None)
    # As with the review picker: SEGMENT is kept across pages and wins (set on every run, see
    # _kept_select); a change of the widget is copied into it before the rerun.
    st.session_state["_w_segment"] = labels[keys.index(current)]

    def keep() -> None:
        chosen = keys[labels.index(st.session_state["_w_segment"])]
        if chosen:
            st.session_state[SEGMENT] = chosen
        else:
            st.session_state.pop(SEGMENT, None)

    label = st.sidebar.selectbox("Segment", labels, key="_w_segment", disabled=len(labels) == 1, on_change=keep,
                                 help="Team, feature or user group, where the usage data has them. Feedback and "
                                      "exceptions match a segment only where their rows carry the same column.")
    seg = keys[labels.index(label)]
    write_link()
    start, end = st.session_state.get(RANGE) or (None, None)
    return Filters(start=start, end=end, segment={seg[0]: resolve_segment(choices, *seg)} if seg else {})
