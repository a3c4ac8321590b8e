"""Readiness Review: the Streamlit entry point.

Run: streamlit run app.py   (the README's quick start does this on the bundled demo pilot)

Every rerun: first-run set-up (once per process), login (readiness.web.login), then only the pages the
actor's role allows are given to st.navigation; each page checks again at its top.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from readiness import demo, keys, settings, store
from readiness.security import access, users
from readiness.security.access import system_actor
from readiness.web import login, widgets

# The icon is a file of ours: Streamlit fetches a ":material/..." page icon from fonts.gstatic.com.
st.set_page_config(page_title="Readiness Review", page_icon=str(Path(__file__).parent / "readiness" / "assets" / "favicon.png"),
                   layout="wide")
login.through_app_py()
login.log_to_stderr()
login.still_placeholders()
# The page this browser tab asked for, remembered on the session's first run, before anything can
# interrupt it (the login cookie component answers with a rerun that may arrive without the page in
# it). Only then: a later run's address is the page the tab is leaving, not one it asked for.
if "_rr_opened" not in st.session_state:
    st.session_state["_rr_opened"] = True
    st.session_state["_rr_asked"] = urlparse(st.context.url or "").path.strip("/")
    st.session_state["_rr_asked_query"] = st.query_params.to_dict()  # pilot, dates, segment
# DuckDB in the app may touch only the data folder, the upload folder and the admins' feed root.
store.restrict_file_access([settings.db_path().parent, settings.upload_dir(), settings.get("feed_root")])


@st.cache_resource(show_spinner="Preparing the store (first run only)...")
def _first_run(db: str) -> bool:
    """Once per server process: the first admin, and on the default store the demo pilot with its accounts.

    New passwords are printed once, here, in the terminal that runs the app.
    """
    actor = system_actor("app:first-run")
    loaded = demo.load_demo_if_empty(None, actor=actor)
    with store.open_store(db) as con:
        made = []
        admin_pw = users.ensure_admin(con, actor)
        if admin_pw:
            made.append(("admin", "admin", admin_pw))
        if loaded:
            made += demo.demo_accounts(con, actor)
    if made:
        lines = ["", "=" * 72, "Readiness Review: new accounts (shown once; change with",
                 "  python -m readiness users reset-password NAME)"]
        lines += [f"  {name:<16} {role:<9} {pw}" for name, role, pw in made]
        lines += ["=" * 72, ""]
        print("\n".join(lines), flush=True)
    return loaded


try:
    login.check_shared_secrets()
    _first_run(login.db())
except store.StoreBusy as err:
    login.busy(err, before_navigation=True)
except Exception as err:  # the page says what to do; what went wrong, and where, goes to the server log
    login.unavailable(err, before_navigation=True)

# (section, file, title, icon, action needed to see it in the navigation)
PAGES = [
    ("Overview", "pages/01_pilots.py", "Portfolio", ":material/dashboard:", None),
    ("Review", "pages/02_sources.py", "Sources", ":material/upload_file:", None),
    ("Review", "pages/03_usage.py", "Usage", ":material/monitoring:", None),
    ("Review", "pages/04_feedback.py", "Feedback", ":material/reviews:", None),
    ("Review", "pages/05_failure_modes.py", "Failure modes", ":material/bug_report:", None),
    ("Review", "pages/06_risks.py", "Risks", ":material/warning:", None),
    ("Review", "pages/07_readiness.py", "Readiness", ":material/checklist:", None),
    ("Review", "pages/08_handoff.py", "Hand-off", ":material/handshake:", None),
    ("Review", "pages/09_decision.py", "Decision", ":material/gavel:", None),
    ("Present", "pages/10_readout.py", "Readout", ":material/present_to_all:", None),
    ("Admin", "pages/11_admin_users.py", "Users & grants", ":material/group:", "manage_users"),
    ("Admin", "pages/12_audit_log.py", "Audit log", ":material/policy:", "verify_audit"),
    ("Account", "pages/13_account.py", "My account", ":material/person:", None),
]


def _address(file: str) -> str:
    """A page's address: its file's name without the number that orders the pages
    (pages/03_usage.py is /usage), as Streamlit names a pages/ file before app.py's navigation
    has run. The number also keeps page scripts apart from modules: 03_usage cannot be imported."""
    return re.sub(r"^\d+_", "", Path(file).stem)


def _run() -> None:
    """Log in, then the pages the actor's role allows."""
    busy = None
    try:
        actor = login.authenticate()
    except store.StoreBusy as err:
        # A reviewer keeps the navigation as at this session's last login check; no page runs
        # until the store answers (then the session is checked again, as on every run).
        actor, busy = login.last_actor(), err
        if actor is None:
            login.busy(err, before_navigation=True)
    except (store.StoreError, keys.SecretError) as err:
        login.unavailable(err, before_navigation=True)
    if actor is None:
        # Always hand st.navigation a page list (else Streamlit lists every file in pages/ itself). Each
        # page's address shows the login form, so a deep link survives the login and reveals nothing.
        def _login_page() -> None:
            pass

        st.navigation([st.Page(_login_page, title="Log in", url_path=_address(f), default=(i == 0))
                       for i, (_, f, _, _, _) in enumerate(PAGES)], position="hidden").run()
        st.stop()

    pages: dict[str, list] = {}
    by_path: dict[str, st.Page] = {}
    for section, file, title, icon, action in PAGES:
        if action is None or actor.role in access.MATRIX[action][0]:
            by_path[_address(file)] = st.Page(file, title=title, icon=icon, url_path=_address(file),
                                              default=(file == PAGES[0][1]))
            pages.setdefault(section, []).append(by_path[_address(file)])
    current = st.navigation(pages, expanded=True)
    if busy is not None:
        login.busy(busy)
    _keep_deep_link(current, by_path, by_path[_address(PAGES[0][1])])
    widgets.show_flash()
    start, ended = time.perf_counter(), "ok"
    try:
        current.run()
    except store.StoreBusy as exc:  # a page that does not catch it itself: the same message, in the page
        ended = type(exc).__name__
        login.busy(exc)
    except (store.StoreError, keys.SecretError) as exc:
        ended = type(exc).__name__
        login.unavailable(exc)
    except BaseException as exc:  # st.stop, st.rerun and st.switch_page end a run by raising
        ended = type(exc).__name__
        raise
    finally:
        _log_page_time(current.title, time.perf_counter() - start, ended)


LANDING_S = 5.0


def _keep_deep_link(current, by_path: dict, default) -> None:
    """Once per session, a deep link survives the login: the tab opens the page it asked for.

    The page is kept as "landed" for a few seconds after: a rerun that arrives then without its
    page (the login cookie component's answer, asked for by a run before the login) falls back to
    the default page, and is sent back. Without that the tab stays on the default page: the page
    asked for (Usage, say) stops at its start and Portfolio runs half a second later (about 1 run
    in 3 of tests/e2e/test_second_process.py on a busy machine). A click on Portfolio asks for
    Portfolio, so it is never sent back.
    """
    asked = st.session_state.pop("_rr_asked", "")
    if asked in by_path:
        st.session_state["_rr_landed"] = (asked, time.monotonic())
        if current.url_path != by_path[asked].url_path:
            st.switch_page(by_path[asked])
        return
    landed = st.session_state.get("_rr_landed")
    if not landed:
        return
    if time.monotonic() - landed[1] > LANDING_S:
        st.session_state.pop("_rr_landed")
    elif current.url_path == default.url_path != by_path[landed[0]].url_path and not _asked_for(current):
        st.session_state.pop("_rr_landed")  # once
        st.switch_page(by_path[landed[0]])


def _asked_for(page) -> bool:
    """Whether this rerun asked for ``page`` itself, rather than falling back to it.

    A click on a page's link names that page. The cookie component's rerun names no page, or a
    page of the login form's navigation (same address, another script), which this navigation
    does not have. Reads Streamlit's page intent for the run (``PagesManager``, streamlit 1.67);
    if that is not there, no rerun counts as asked for.
    """
    pages = getattr(get_script_run_ctx(), "pages_manager", None)
    return getattr(pages, "intended_page_script_hash", None) == page._script_hash


def _log_page_time(page: str, seconds: float, ended: str) -> None:
    """One line in the page times log (setting page_times_log), when one is set."""
    path = settings.get("page_times_log")
    if path:
        with open(path, "a", encoding="utf-8") as f:  # one short append: lines of concurrent runs do not mix
            f.write(f"{datetime.now(UTC).isoformat(timespec='milliseconds')}\t{page}\t{seconds:.3f}\t{ended}\n")


# The store's DuckDB instance stays open for this script run only: every unit of work in it reuses
# the instance (about 1 ms instead of 30 ms per open on a 150 MB store); between runs the app holds
# nothing, so the CLI can write.
with store.held_open(login.db()):
    _run()
