"""Actions and widgets shared by the pages: running a library write, messages that outlive a
rerun, the export buttons, an empty result's reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from analysis.common import Empty
from readiness import store
from readiness.errors import ReadinessError
from readiness.review import evidence, export, figures
from readiness.review import playbook as pb
from readiness.security import access
from readiness.security.access import Actor
from readiness.web.login import db, page_text
from readiness.web.text import file_stem, md

_FLASH = "_rr_flash"


def run_action(fn: Callable[[], Any], success: str | None = None, *, refresh: bool = False) -> tuple[bool, Any]:
    """Run a library write; show its refusal or error as a message instead of a traceback.

    Returns (done, result). With ``refresh``, a write that succeeded reruns the page, so that
    everything drawn above the form shows what was just saved, and ``success`` is shown on that
    next run (:func:`show_flash`). Without it, a page keeps showing what it read before the
    write: "Added to the register." next to "Nothing in the register yet".
    """
    try:
        result = fn()
    except store.StoreBusy as err:
        st.warning(store.busy_message(err))  # what to do; the path and the process go to the log
        return False, None
    except ReadinessError as err:  # anything else is a bug, and shows as one
        st.error(md(page_text(err)))  # messages name pilots, files and people as typed
        return False, None
    _keep_figures()
    if refresh:
        flash(success or "Saved.")
        st.rerun()
    if success:
        st.success(success)
    return True, result


def _keep_figures() -> None:
    """Recompute the pilots' stored figures and kept evidence a write made stale; when the store is
    busy, the next read recomputes them instead."""
    try:
        with store.open_store(db()) as con:
            evidence.keep_up(con)  # first: the figures judge the exception rate on it
            figures.keep_up(con)
    except store.StoreBusy:
        pass


def flash(message: str) -> None:
    """Show ``message`` on the next run (before st.rerun or st.switch_page)."""
    st.session_state[_FLASH] = message


def show_flash() -> None:
    """The message of a write that reran the page (:func:`run_action` with ``refresh``), once."""
    message = st.session_state.pop(_FLASH, None)
    if message:
        st.toast(message, icon=":material/check_circle:")


def with_store(fn: Callable[[Any], Any]) -> Callable[[], Any]:
    """Wrap ``fn(con)`` so run_action can call it with a fresh connection."""
    def run():
        with store.open_store(db()) as con:
            return fn(con)
    return run


def export_buttons(who: Actor, chosen: list, playbook: bool = True, title: str | None = "Exports") -> None:
    """Download buttons for the decisions CSV, the risk-register CSV and (one pilot) the playbook,
    under ``title``.

    Shown, title included, only when the role may export every chosen pilot (a viewer sees no empty
    "Exports" heading); each file is made when clicked, after the server-side check, and the export
    is audited then.
    """

    if not chosen:
        return
    with store.open_store(db()) as con:
        if not access.allowed_on_all(con, who, "export", [p.pilot_id for p in chosen]):
            return

    def csv_file(what: str) -> Callable[[], bytes]:
        def make() -> bytes:
            with store.open_store(db()) as con:
                return export.audited_csv(con, who, what, chosen)[0]
        return make

    def playbook_file(fmt: str) -> Callable[[], bytes]:
        def make() -> bytes:
            with store.open_store(db()) as con:
                return pb.export_playbook(con, who, chosen[0], fmt).encode("utf-8")
        return make

    if title:
        st.subheader(title)
    stem = file_stem(chosen[0].name) if len(chosen) == 1 else "all_pilots"
    cols = st.columns(4 if playbook and len(chosen) == 1 else 2)
    cols[0].download_button("Decisions (CSV)", csv_file("decisions"), file_name=f"{stem}_decisions.csv",
                            mime="text/csv", icon=":material/download:", width="stretch")
    cols[1].download_button("Risk register (CSV)", csv_file("risks"), file_name=f"{stem}_risks.csv",
                            mime="text/csv", icon=":material/download:", width="stretch")
    if playbook and len(chosen) == 1:
        cols[2].download_button("Playbook (Markdown)", playbook_file("md"), file_name=f"{stem}_playbook.md",
                                mime="text/markdown", icon=":material/download:", width="stretch")
        cols[3].download_button("Playbook (HTML)", playbook_file("html"), file_name=f"{stem}_playbook.html",
                                mime="text/html", icon=":material/download:", width="stretch")


def empty_note(result: Any) -> bool:
    """Show an Empty result's reason; True when the result was Empty."""

    if isinstance(result, Empty):
        how = (" Add it on the **Sources** page (upload, a feed or a manual source process), or with "
               "`python -m readiness ingest`." if "been loaded" in result.reason else "")
        st.info(md(result.reason) + how, icon=":material/info:")  # a reason may name a pilot or a segment
        return True
    return False
