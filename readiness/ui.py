"""The one Streamlit helper module: login with streamlit-authenticator, the session registry, page guards.

Everything else in ``readiness`` is plain Python; only this module, ``app.py`` and ``pages/``
import Streamlit.

How a login works here (streamlit-authenticator 0.4.x, with its known gaps closed):

* Credentials come from the store's ``users`` table (bcrypt hashes), handed to the library fresh
  on every rerun, without hints; ``auto_hash`` is off.
* The library's password check is replaced by :func:`readiness.security.users.login`, which applies the
  throttle *before* looking at the password and audits every attempt (the library's own counter
  only counts after a correct password).
* After a successful login the signed cookie token is registered as a server-side session
  (:func:`readiness.security.users.start_session`). A cookie is honoured only while its session is open:
  logout, a password or role change, removal, inactivity or the absolute lifetime end it, and
  a replayed cookie then shows the login form.
* Every rerun re-checks the session and re-reads the role from the store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import jwt
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import streamlit_authenticator as stauth

from readiness import catalog, keys, settings, store
from readiness.review.export import markdown_text
from readiness.security import access, users
from readiness.security.access import AccessDenied, Actor

_SID = "_rr_session"
_ACTOR = "_rr_actor"
_NOTICE = "_rr_notice"


def db() -> str:
    return str(settings.db_path())


def cookie_key() -> str:
    given = settings.get("cookie_key")
    if given:
        return given
    return keys.load_or_create(settings.sidecar(db(), "cookie_key_file", ".cookie-key")).decode()


def _credentials() -> dict[str, Any]:
    with store.open_store(db()) as con:
        rows = con.execute("SELECT username, display_name, email, role, password_hash FROM users WHERE active").fetchall()
    return {"usernames": {u: {"name": n, "email": e, "roles": [r], "password": h} for u, n, e, r, h in rows}}


def client() -> str | None:
    try:
        return st.context.ip_address
    except Exception:  # not known behind some proxies
        return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _forget_login() -> None:
    for key in (_SID, _ACTOR):
        st.session_state.pop(key, None)


def authenticate() -> Actor | None:
    """Show the login form until someone logs in; return the logged-in actor (None: form shown)."""
    authenticator = stauth.Authenticate(_credentials(), settings.get("cookie_name"), cookie_key(),
                                        cookie_expiry_days=settings.get("session_max_hours") / 24,
                                        auto_hash=False, login_sleep_time=0.2)
    model = authenticator.authentication_controller.authentication_model
    client_addr = client()

    def check_credentials(username: str, password: str) -> bool:
        with store.open_store(db()) as con:
            try:
                actor = users.login(con, username, password, client_addr)
            except users.Throttled:
                raise
            except AccessDenied:
                return False
        st.session_state[_ACTOR] = actor
        return True

    model.check_credentials = check_credentials  # throttle first, audit every attempt

    # A cookie from an earlier visit is honoured only while its server-side session is open.
    if not st.session_state.get("authentication_status"):
        token = st.context.cookies.get(settings.get("cookie_name"))
        if token and not st.session_state.get("logout"):
            with store.open_store(db()) as con:
                check = users.check_session(con, _token_hash(token))
            if check.actor is None:
                st.session_state["logout"] = True  # the library then ignores the cookie
                if "logged out" not in (check.reason or ""):
                    st.session_state[_NOTICE] = check.reason
            else:
                st.session_state[_SID] = _token_hash(token)
                st.session_state[_ACTOR] = check.actor

    if not st.session_state.get("authentication_status"):
        _login_form(authenticator)
        if not st.session_state.get("authentication_status"):
            return None

    if _SID not in st.session_state:  # a fresh form login: register the cookie's token as the session
        cm = authenticator.cookie_controller.cookie_model
        token = jwt.encode({"username": st.session_state["username"], "exp_date": cm.exp_date}, cookie_key(),
                           algorithm="HS256")
        actor = st.session_state.get(_ACTOR) or Actor(st.session_state["username"], st.session_state["roles"][0])
        with store.open_store(db()) as con:
            st.session_state[_SID] = users.start_session(con, actor, token, client_addr)

    with store.open_store(db()) as con:
        check = users.check_session(con, st.session_state[_SID])
    if check.actor is None:
        st.session_state[_NOTICE] = check.reason
        _forget_login()
        authenticator.logout(location="unrendered")
        st.rerun()
    st.session_state[_ACTOR] = check.actor

    def on_logout(_info: dict) -> None:
        sid = st.session_state.get(_SID)
        if sid:
            with store.open_store(db()) as con:
                users.end_session(con, sid, "logged out", check.actor)
        _forget_login()

    with st.sidebar:
        st.caption(f"Signed in as **{check.actor.name}** · {check.actor.role}")
        authenticator.logout("Log out", "sidebar", key="logout_button", callback=on_logout)
    return check.actor


def _login_form(authenticator: stauth.Authenticate) -> None:
    st.title("Readiness Review")
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.info(notice)
    try:
        authenticator.login(location="main", fields={"Form name": "Log in", "Username": "User name",
                                                     "Password": "Password", "Login": "Log in"},
                            clear_on_submit=False)
    except users.Throttled as err:
        st.error(str(err))
        return
    except stauth.LoginError as err:  # e.g. a cookie for an account that no longer exists
        st.session_state["logout"] = True
        st.error(str(err))
        return
    if st.session_state.get("authentication_status") is False:
        st.error("Wrong user name or password.")
    elif not st.session_state.get("authentication_status"):
        st.caption("Accounts are made by an admin (Admin → Users, or `python -m readiness users add`). "
                   "The first admin's password was printed once in the terminal that started the app.")


def still_placeholders() -> None:
    """Loading placeholders (Streamlit's skeletons) stand still instead of shimmering.

    A shimmer redraws the tab 60 times a second for as long as an element waits for its code or
    its data. Measured with 10 tabs of one Chromium on the 10M-event bench store: the compositor
    threads used 25 of the browser's 101 CPU-seconds over 60 page views, and 13 of 95 with still
    placeholders; on a small machine the views wait for the browser. Style-only HTML goes to
    Streamlit's event container: it takes no space on the page.
    """
    st.html("<style>[data-testid='stSkeleton'], [data-testid='stSkeleton'] * {animation: none !important;}</style>")


def through_app_py() -> None:
    """Make sure app.py (login, role-based navigation) runs before any page.

    Streamlit keeps a legacy mode for apps with a ``pages/`` folder: until some session's
    app.py has called ``st.navigation``, a first request for ``/audit_log`` would run
    ``pages/audit_log.py`` on its own, skipping app.py. When a page finds itself run that way,
    it switches the process to ``st.navigation`` mode and reruns, which goes through app.py.
    (The page would refuse anyway, as no actor is set; this turns the refusal into the login.)
    app.py calls it first too: in that mode app.py itself runs inside Streamlit's own page list.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def actor() -> Actor:
    """The logged-in actor of this rerun (set by app.py before any page runs), with its login
    session: the library (access.require) refuses its exports and writes once that session has
    ended, also in a download's callable, which runs after the page, outside app.py's login check."""
    through_app_py()
    current = st.session_state.get(_ACTOR)
    if current is None:
        st.error("Please log in.")
        st.stop()
    sid = st.session_state.get(_SID)
    return dataclasses.replace(current, session=sid) if sid else current


def guard(action: str, pilot_id: int | None = None) -> Actor:
    """Top of every page: stop with a clear message unless the actor may do ``action``."""
    who = actor()
    try:
        with store.open_store(db()) as con:
            access.require(con, who, action, pilot_id)
    except AccessDenied as err:
        st.error(f"Not allowed: {md(err)}")
        st.stop()
    except store.StoreBusy as err:
        busy(err)
    return who


def busy(err: Exception) -> None:
    """Say the store is busy and what to do; which file and which process hold it go to the server log."""
    st.warning(store.busy_message(err))
    st.button("Try again")
    st.stop()


_FLASH = "_rr_flash"


def run_action(fn: Callable[[], Any], success: str | None = None, *, refresh: bool = False) -> tuple[bool, Any]:
    """Run a library write; show its refusal or error as a message instead of a traceback.

    Returns (done, result). With ``refresh``, a write that succeeded reruns the page, so that
    everything drawn above the form shows what was just saved, and ``success`` is shown on that
    next run (:func:`show_flash`). Without it, a page kept showing what it had read before the
    write: "Added to the register." next to "Nothing in the register yet".
    """
    try:
        result = fn()
    except (AccessDenied, users.UserError, ValueError, LookupError) as err:
        st.error(md(err))  # messages name pilots, files and people as typed
        return False, None
    except store.StoreBusy as err:
        st.warning(store.busy_message(err))  # what to do; the path and the process go to the log
        return False, None
    if refresh:
        flash(success or "Saved.")
        st.rerun()
    if success:
        st.success(success)
    return True, result


def flash(message: str) -> None:
    """Show ``message`` on the next run (before st.rerun or st.switch_page)."""
    st.session_state[_FLASH] = message


def blank_text(df: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """``df`` with its text columns' missing values as empty cells: the grid writes them "None".
    ``columns`` names the text columns; by default those holding strings and those with no value."""
    text = columns or [c for c in df.columns if pd.api.types.is_string_dtype(df[c]) or df[c].isna().all()]
    if text:
        df = df.copy()
        df[text] = df[text].astype(object).where(df[text].notna(), "")
    return df


def words(key: str | None) -> str | None:
    """An internal class or key as a reviewer reads it: "customer_impact" -> "customer impact",
    "operational:reliability" -> "reliability (operational)". Anything not a string as it is."""
    if not isinstance(key, str):
        return key
    kind, _, what = key.partition(":")
    return f"{what.replace('_', ' ')} ({kind})" if what else kind.replace("_", " ")


def show_flash() -> None:
    """The message of a write that reran the page (:func:`run_action` with ``refresh``), once."""
    message = st.session_state.pop(_FLASH, None)
    if message:
        st.toast(message, icon=":material/check_circle:")


# ------------------------------------------------------------------------------------------
# Review pages: the pilot in hand, filters, cached evidence


# The review's place lives in session state (so it follows the reviewer from page to page) and in
# the URL's query string (so a link reopens the same view): ?pilot=NAME&from=DATE&to=DATE&team=VALUE.
_PILOT, _RANGE, _SEGMENT, _REVIEW = "_rr_pilot", "_rr_range", "_rr_segment", "_rr_review"
URL_SEGMENTS = ("team", "feature", "user_group")


def _adopt_link() -> None:
    """Once per session: take pilot, dates and segment from the link that opened the app
    (app.py keeps its query string through the login)."""
    asked = st.session_state.pop("_rr_asked_query", None)
    if not asked:
        return
    if asked.get("pilot"):
        st.session_state[_PILOT] = asked["pilot"]
    try:
        from datetime import date

        first, last = date.fromisoformat(asked["from"]), date.fromisoformat(asked["to"])
        st.session_state[_RANGE] = (first, last)
    except (KeyError, ValueError):
        pass
    for name in URL_SEGMENTS:
        if asked.get(name):
            st.session_state[_SEGMENT] = (name, asked[name])
            break


def _write_link() -> None:
    """Put the current pilot, dates and segment into the address bar."""
    params = {"pilot": st.session_state.get(_PILOT)}
    rng = st.session_state.get(_RANGE)
    if rng:
        params.update({"from": rng[0].isoformat(), "to": rng[1].isoformat()})
    seg = st.session_state.get(_SEGMENT)
    if seg:
        params[seg[0]] = seg[1]
    params = {k: v for k, v in params.items() if v}
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def pick_pilot(stepper: bool = True) -> tuple[Actor, Any, str]:
    """Sidebar pilot picker over the pilots the actor may read; returns (actor, pilot, data version).

    The access check runs here, on every rerun, before any cached read. The sidebar also shows
    where the review stands (the stepper).
    """
    from readiness import pilots

    who = actor()
    _adopt_link()
    try:
        with store.open_store(db()) as con:
            names = [r["name"] for r in pilots.list_pilots(con, who)]
            if not names:
                st.info("No pilots have been shared with you yet. Ask an admin to grant you access.")
                st.stop()
            if st.session_state.get(_PILOT) not in names:
                if st.session_state.get(_PILOT):  # not echoed: that would confirm another pilot's name
                    st.warning(f"The link names a pilot that does not exist or is not shared with you; "
                               f"showing {md(names[0])}.")
                st.session_state[_PILOT] = names[0]

            chosen = _kept_select("Pilot", names, _PILOT, "_w_pilot", after=_forget_pilot_view)
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
    _write_link()
    return who, pilot, version


def _forget_pilot_view() -> None:
    """Another pilot is in hand: the old one's segment and review mean nothing for it."""
    st.session_state.pop(_SEGMENT, None)
    st.session_state.pop(_REVIEW, None)


def choose_pilot(name: str) -> None:
    """Put ``name`` in hand, as the sidebar's pilot picker does (its pages check access again)."""
    if st.session_state.get(_PILOT) != name:
        st.session_state[_PILOT] = name
        _forget_pilot_view()


def _review_picker(con, who: Actor, pilot) -> None:
    """Sidebar: which review of the pilot is in view (the latest unless one is chosen)."""
    from readiness.review import decisions

    reviews = decisions.list_reviews(con, who, pilot)
    if not reviews:
        st.session_state.pop(_REVIEW, None)
        st.sidebar.caption("No review yet: recording a decision opens review 1.")
        return

    def label(r: dict) -> str:
        d = r["decision"]
        return (f"Review {r['number']} · " + (f"{decisions.OUTCOMES[d['outcome']]} ({d['decided_at']:%Y-%m-%d})"
                                               if d else "open"))

    numbers = [r["number"] for r in reviews]
    if st.session_state.get(_REVIEW) not in numbers:
        st.session_state[_REVIEW] = numbers[0]
    labels = {r["number"]: label(r) for r in reviews}
    _kept_select("Review", numbers, _REVIEW, "_w_review", format_func=labels.get,
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
    # (the segment read "Everyone" on Usage after a visit to Failure modes, while the link and the
    # kept choice still said team Procurement). A value set before the widget is drawn is used.
    st.session_state[widget] = st.session_state[kept]

    def keep() -> None:
        st.session_state[kept] = st.session_state[widget]
        if after:
            after()

    return st.sidebar.selectbox(label, options, key=widget, on_change=keep, **kwargs)


def review_in_view() -> int | None:
    """The review number chosen in the sidebar (None: the pilot has no review yet)."""
    return st.session_state.get(_REVIEW)


def review_steps(con, who: Actor, pilot, version: str) -> list:
    """The stepper's steps, cached by pilot and data version (which moves with every audited edit of
    the pilot's review as well as with its data); the caller has checked the grant."""
    return _review_steps(db(), pilot.pilot_id, version, who, pilot)


@st.cache_data(show_spinner=False, max_entries=256)
def _review_steps(db_path: str, pilot_id: int, version: str, _who: Actor, _pilot) -> list:
    from readiness.review import progress

    with store.open_store(db_path) as con:
        return progress.steps(con, _who, _pilot, untriaged_high=untriaged_high(con, _who, _pilot, version))


def untriaged_high(con, who: Actor, pilot, version: str) -> int:
    """How many high risk signals are neither in the register nor dismissed (signals cached by version)."""
    from readiness.review import risks

    return len(risks.untriaged(con, pilot.pilot_id, signals(who, pilot, version)))


STEP_PAGES = {"Sources": "pages/sources.py", "Usage": "pages/usage.py", "Feedback": "pages/feedback.py",
              "Failure modes": "pages/failure_modes.py", "Risks": "pages/risks.py",
              "Readiness": "pages/readiness_page.py", "Hand-off": "pages/handoff_page.py",
              "Decision": "pages/decision.py"}


def _stepper(steps: list) -> None:
    """Top of each review page: the review's steps as links, each marked done or not; hovering
    one says what is there or what is missing."""
    from streamlit.errors import StreamlitPageNotFoundError

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


def filters(pilot, version: str):
    """Sidebar dates (the pilot's calendar) and segment; returns analysis Filters.

    Both persist across pages and are written to the URL with the pilot.
    """
    from analysis.common import Filters, resolve_segment

    if "_w_dates" not in st.session_state:
        st.session_state["_w_dates"] = st.session_state.get(_RANGE) or ()
    value = st.sidebar.date_input(f"Dates ({md(pilot.time_zone)})", key="_w_dates",
                                  help="Pilot-local calendar days, both ends included. Empty: the whole pilot.")
    rng = tuple(value) if isinstance(value, (tuple, list)) and len(value) == 2 else None
    if rng:
        st.session_state[_RANGE] = rng
    elif isinstance(value, (tuple, list)) and not value:
        st.session_state.pop(_RANGE, None)
    elif isinstance(value, (tuple, list)):  # the first day picked, the last not yet
        kept = st.session_state.get(_RANGE)
        st.sidebar.caption("Pick the last day too. Until then the pages show "
                           + (f"{kept[0]:%Y-%m-%d} to {kept[1]:%Y-%m-%d}." if kept else "the whole pilot."))

    # the picker, the session and the address bar hold the values as shown (personal data masked);
    # the filter gets the stored value behind the one shown
    choices = segment_options(pilot, version)
    labels = ["Everyone"] + [f"{name.replace('_', ' ')}: {v}" for name, shown in choices.items() for v in shown]
    keys = [None] + [(name, v) for name, shown in choices.items() for v in shown]
    current = st.session_state.get(_SEGMENT)
    current = tuple(current) if current else None
    if current not in keys:
        current = None
        st.session_state.pop(_SEGMENT, None)
    # As with the review picker: _SEGMENT is kept across pages and wins (set on every run, see
    # _kept_select); a change of the widget is copied into it before the rerun.
    st.session_state["_w_segment"] = labels[keys.index(current)]

    def keep() -> None:
        chosen = keys[labels.index(st.session_state["_w_segment"])]
        if chosen:
            st.session_state[_SEGMENT] = chosen
        else:
            st.session_state.pop(_SEGMENT, None)

    label = st.sidebar.selectbox("Segment", labels, key="_w_segment", disabled=len(labels) == 1, on_change=keep,
                                 help="Team, feature or user group, where the usage data has them. Feedback and "
                                      "exceptions match a segment only where their rows carry the same column.")
    seg = keys[labels.index(label)]
    _write_link()
    start, end = st.session_state.get(_RANGE) or (None, None)
    return Filters(start=start, end=end, segment={seg[0]: resolve_segment(choices, *seg)} if seg else {})


@st.cache_data(show_spinner=False, max_entries=256)
def _segment_options(db_path: str, pilot_id: int, version: str) -> dict[str, dict[str, str]]:
    from analysis.common import segment_choices

    with store.open_store(db_path) as con:
        return segment_choices(con, pilot_id)


def segment_options(pilot, version: str) -> dict[str, dict[str, str]]:
    """Per segment, {value as shown: value as stored} (analysis.common.segment_choices)."""
    return _segment_options(db(), pilot.pilot_id, version)


@st.cache_data(show_spinner=False, max_entries=512)
def _evidence(func_path: str, db_path: str, pilot_id: int, version: str, time_zone: str, filter_key: tuple,
              _pilot, _filters) -> Any:
    import importlib

    module, name = func_path.rsplit(".", 1)
    fn = getattr(importlib.import_module(module), name)
    with store.open_store(db_path) as con:
        return fn(con, _pilot, _filters)


def evidence(func_path: str, pilot, version: str, flt=None) -> Any:
    """An analysis function's result, cached by pilot, data version and filters (call after pick_pilot)."""
    from analysis.common import NO_FILTERS

    flt = flt or NO_FILTERS
    return _evidence(func_path, db(), pilot.pilot_id, version, pilot.time_zone, flt.key(), pilot, flt)


@st.cache_data(show_spinner=False, max_entries=256)
def _masked_mode_rows(db_path: str, pilot_id: int, version: str, mode_id: int, limit: int, _pilot) -> Any:
    from analysis import failure_modes as fm

    with store.open_store(db_path) as con:
        return fm.mode_rows(con, _pilot, mode_id, limit)


def masked_mode_rows(pilot, version: str, mode_id: int, limit: int = 50) -> Any:
    """One failure mode's drill-down rows with personal data masked, cached by pilot, data version and
    mode (call after pick_pilot). A reveal is never cached: it is read, and audited, each time."""
    return _masked_mode_rows(db(), pilot.pilot_id, version, int(mode_id), limit, pilot)


@st.cache_data(show_spinner=False, max_entries=128)
def _signal_rows(db_path: str, pilot_id: int, version: str, rows_key: str, _actor: Actor, _pilot, _rows) -> Any:
    from readiness.review import signals as sig

    with store.open_store(db_path) as con:
        return sig.signal_rows(con, _actor, _pilot, _rows, limit=100)


def signal_rows(actor: Actor, pilot, version: str, rows: dict) -> Any:
    """The newest 100 rows behind a signal, personal data masked, cached by pilot, data version and
    the signal's row filter (call after pick_pilot): a scan of the logs, not repeated on each rerun."""
    return _signal_rows(db(), pilot.pilot_id, version, json.dumps(rows, sort_keys=True, default=str), actor, pilot,
                        rows)


@st.cache_data(show_spinner=False, max_entries=128)
def _signals(db_path: str, pilot_id: int, version: str, _actor: Actor, _pilot) -> list[dict[str, Any]]:
    from readiness.review import signals as sig

    found = _log_signals(db_path, pilot_id, catalog.logs_version(version), _actor, _pilot)
    with store.open_store(db_path) as con:
        return [s.to_dict() for s in sig.ordered(found + sig.review_signals(con, _actor, _pilot))]


@st.cache_data(show_spinner=False, max_entries=128)
def _log_signals(db_path: str, pilot_id: int, logs_version: str, _actor: Actor, _pilot) -> list:
    from readiness.review import signals as sig

    with store.open_store(db_path) as con:
        return sig.log_signals(con, _actor, _pilot)


def signals(actor: Actor, pilot, version: str) -> list[dict[str, Any]]:
    """The pilot's risk signals as dicts, cached by pilot and data version (call after pick_pilot,
    which has checked the grant). The checks that read only the logs are kept until a batch is
    loaded or deleted: a review edit (a note, a risk, a condition) re-runs only the others."""
    return _signals(db(), pilot.pilot_id, version, actor, pilot)


_PREVIEWS = "_rr_upload_previews"


def upload_previews(files: list, kind: str, opts: Any, time_zone: str) -> dict[str, Any]:
    """Each chosen upload's preview (readiness.ingest.load.Preview), or the message that says why it cannot
    load, by the upload's file_id. Kept in the session by upload, kind, options and zone: a preview
    copies the file to disk and reads it, which every rerun of the page (any widget) would repeat."""
    from readiness.ingest import load as ingest
    from readiness.ingest import uploads

    kept = st.session_state.get(_PREVIEWS, {})
    fresh = {}
    for f in files:
        key = (f.file_id, kind, repr(opts), time_zone)
        if key not in kept:
            try:
                kept[key] = uploads.preview_upload(db(), f.name, f, kind, opts, time_zone=time_zone)
            except ingest.UnusableFile as err:  # the message names the file as uploaded
                kept[key] = str(err)
            finally:
                f.seek(0)
        fresh[key] = kept[key]
    st.session_state[_PREVIEWS] = fresh  # only the current choice is kept
    return {key[0]: found for key, found in fresh.items()}


def with_store(fn: Callable[[Any], Any]) -> Callable[[], Any]:
    """Wrap ``fn(con)`` so run_action can call it with a fresh connection."""
    def run():
        with store.open_store(db()) as con:
            return fn(con)
    return run


def export_buttons(who: Actor, chosen: list, playbook: bool = True, title: str | None = "Exports") -> None:
    """Download buttons for the decisions CSV, the risk-register CSV and (one pilot) the playbook,
    under ``title``.

    Shown, title included, only when the role may export every chosen pilot (a viewer saw an empty
    "Exports" heading); each file is made when clicked, after the server-side check, and the export
    is audited then.
    """
    from readiness.review import export
    from readiness.review import playbook as pb

    if not chosen:
        return
    with store.open_store(db()) as con:
        if not all(access.allowed(con, who, "export", p.pilot_id) for p in chosen):
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


def figure(name: str, value: Any) -> str:
    """A signal's figure as a reviewer reads it: shares as percentages, counts with separators."""
    if isinstance(value, float) and ("share" in name or "rate" in name) and 0 <= value <= 1:
        return f"{value:.1%}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return md(str(value))


def count_of(n: int, noun: str) -> str:
    """In place of a share there is too little to give: how many rows it would be over ('3 ratings')."""
    return f"{n:,} {noun}{'s' * (n != 1)}" if n else "—"


def file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "pilot"


# A resource cache: every rerun gets the same figure object. From st.cache_data each read would
# unpickle the figure, and plotly validates a figure again as it builds it (25 ms per chart per
# rerun); st.plotly_chart only reads the figure (it draws from a copy).
@st.cache_resource(show_spinner=False, max_entries=256)
def _evidence_chart(chart_name: str, func_path: str, db_path: str, pilot_id: int, version: str, time_zone: str,
                    filter_key: tuple, _pilot, _filters) -> Any:
    from analysis.common import Empty
    from readiness.web import charts

    result = _evidence(func_path, db_path, pilot_id, version, time_zone, filter_key, _pilot, _filters)
    return result if isinstance(result, Empty) else _title_apart(getattr(charts, chart_name)(result))


def evidence_chart(chart_name: str, func_path: str, pilot, version: str, flt=None) -> bool:
    """Draw ``readiness.web.charts.<chart_name>`` of an evidence result (figure and caption cached with it,
    by pilot, data version and filters), or the result's reason when it is empty. True when drawn."""
    from analysis.common import NO_FILTERS

    flt = flt or NO_FILTERS
    result = _evidence_chart(chart_name, func_path, db(), pilot.pilot_id, version, pilot.time_zone, flt.key(),
                             pilot, flt)
    if empty_note(result):
        return False
    _draw(*result)
    return True


def _title_apart(result: tuple[Any, str]) -> tuple[Any, str, str | None]:
    """(figure without its title, caption, title): the title is drawn as wrapped text above the
    chart, since a plotly title is cut off in a narrow column. The figure is copied once here
    (cached with the evidence), not on every rerun."""
    fig, caption = result
    title = fig.layout.title.text
    if title:
        fig = go.Figure(fig).update_layout(title=None)
    return fig, caption, title


def _draw(fig: Any, caption: str, title: str | None) -> None:
    if title:
        st.markdown(f"**{md(title)}**")
    st.plotly_chart(fig, width="stretch", theme=None)
    st.caption(caption)


def chart(result: tuple[Any, str]) -> None:
    """Draw a (figure, caption) pair from readiness.web.charts: the title states the finding, the
    caption how it is computed. Plotly's own colours (the app's one palette) are kept."""
    _draw(*_title_apart(result))


def empty_note(result: Any) -> bool:
    """Show an Empty result's reason; True when the result was Empty."""
    from analysis.common import Empty

    if isinstance(result, Empty):
        how = (" Add it on the **Sources** page (upload, a feed or a manual source process), or with "
               "`python -m readiness ingest`." if "been loaded" in result.reason else "")
        st.info(md(result.reason) + how, icon=":material/info:")  # a reason may name a pilot or a segment
        return True
    return False


def md(text: Any) -> str:
    """User-typed or file-read text as Streamlit shows it: as typed, with no link, image, emphasis,
    HTML, icon, directive or formula from it (:func:`readiness.review.export.markdown_text`). Every such
    text that reaches Markdown goes through it: st.title, header, caption, markdown, alerts, toasts,
    metric and widget labels, help, radio and pills options, st.table cells. Not select boxes and
    grids: they show text as it is."""
    return markdown_text(text)
