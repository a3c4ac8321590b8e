"""Navigation inside a review: the sidebar's pilot and review pickers, and the stepper of the
review's steps at the top of each review page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from readiness import catalog, pilots, store
from readiness.review import decisions
from readiness.security.access import AccessDenied, Actor
from readiness.web import query
from readiness.web.cache import review_steps
from readiness.web.login import actor, busy, db
from readiness.web.text import md


def pick_pilot(stepper: bool = True) -> tuple[Actor, Any, str]:
    """Sidebar pilot picker over the pilots the actor may read; returns (actor, pilot, data version).

    The access check runs here, on every rerun, before any cached read. The sidebar also shows
    where the review stands (the stepper).
    """

    who = actor()
    query.adopt_link()
    try:
        with store.open_store(db()) as con:
            names = [r["name"] for r in pilots.list_pilots(con, who)]
            if not names:
                st.info("No pilots have been shared with you yet. Ask an admin to grant you access.")
                st.stop()
            if st.session_state.get(query.PILOT) not in names:
                if st.session_state.get(query.PILOT):  # not echoed: that would confirm another pilot's name
                    st.warning(f"The link names a pilot that does not exist or is not shared with you; "
                               f"showing {md(names[0])}.")
                st.session_state[query.PILOT] = names[0]

            chosen = _kept_select("Pilot", names, query.PILOT, "_w_pilot", after=query.forget_pilot_view)
            pilot = pilots.pilot_for(con, who, chosen)
            version = catalog.data_version(con, pilot.pilot_id)
            progress = review_steps(con, who, pilot, version) if stepper else None
            _review_picker(con, who, pilot)
    except AccessDenied as err:
        st.error(f"Not allowed: {md(err)}")
        st.stop()
    except store.StoreBusy as err:
        busy(err)
    if progress:
        _stepper(progress)
    query.write_link()
    return who, pilot, version


def _review_picker(con, who: Actor, pilot) -> None:
    """Sidebar: which review of the pilot is in view (the latest unless one is chosen)."""

    reviews = decisions.list_reviews(con, who, pilot)
    if not reviews:
        st.session_state.pop(query.REVIEW, None)
        st.sidebar.caption("No review yet: recording a decision opens review 1.")
        return

    def label(r: dict) -> str:
        d = r["decision"]
        return (f"Review {r['number']} · " + (f"{decisions.OUTCOMES[d['outcome']]} ({d['decided_at']:%Y-%m-%d})"
                                               if d else "open"))

    numbers = [r["number"] for r in reviews]
    if st.session_state.get(query.REVIEW) not in numbers:
        st.session_state[query.REVIEW] = numbers[0]
    labels = {r["number"]: label(r) for r in reviews}
    _kept_select("Review", numbers, query.REVIEW, "_w_review", format_func=labels.get,
                 help="The evidence pages always show the data as loaded now; a past review's frozen figures, "
                      "conditions and decision are on the Decision page.")


def _kept_select(label: str, options: list, kept: str, widget: str, after: Callable[[], None] | None = None,
                 **kwargs: Any) -> Any:
    """A sidebar selectbox whose choice outlives the pages that do not draw it.

    Streamlit drops a widget's state on a page without it, so the choice lives in ``kept`` (set
    before the call, one of ``options``), which always wins; a change of the widget is copied into
    it by on_change, before the rerun (then ``after`` runs too). A link can set ``kept`` as well.
    """
    # Always, even when the widget's state already holds the same value: that state may be left from
    # the same widget on another page, and Streamlit then draws the widget afresh with its default
    # (the segment picker would say "Everyone" on one page while the link and the kept choice say a
    # team). A value set before the widget is drawn is used.
    st.session_state[widget] = st.session_state[kept]

    def keep() -> None:
        st.session_state[kept] = st.session_state[widget]
        if after:
            after()

    return st.sidebar.selectbox(label, options, key=widget, on_change=keep, **kwargs)


STEP_PAGES = {"Sources": "pages/02_sources.py", "Usage": "pages/03_usage.py", "Feedback": "pages/04_feedback.py",
              "Failure modes": "pages/05_failure_modes.py", "Risks": "pages/06_risks.py",
              "Readiness": "pages/07_readiness.py", "Hand-off": "pages/08_handoff.py",
              "Decision": "pages/09_decision.py"}


def _stepper(steps: list) -> None:
    """Top of each review page: the review's steps as links, each marked done or not; hovering
    one says what is there or what is missing."""

    done = sum(1 for s in steps if s.done)
    cols = st.columns([len(s.name) + 5 for s in steps], gap="xxsmall")  # room for each name and its mark
    for col, s in zip(cols, steps, strict=True):
        icon = ":material/check_circle:" if s.done else ":material/radio_button_unchecked:"
        try:
            col.page_link(STEP_PAGES[s.name], label=s.name, help=s.detail, width="stretch", icon=icon)
        except StreamlitPageNotFoundError:  # a page run on its own (AppTest), without app.py's navigation
            col.markdown(f"{icon} {s.name}", help=s.detail)
    todo = [s.name for s in steps if not s.done]
    st.caption(f"Review steps: {done} of {len(steps)} done" + (f" · still open: {', '.join(todo)}" if todo else "")
               + " · hover a step for what is missing")
