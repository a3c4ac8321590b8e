"""Login glue: streamlit-authenticator over the store's users, the server-side session registry,
and the guard at the top of every page.

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
import logging
import re
import sys
from typing import Any, NoReturn

import jwt
import streamlit as st
import streamlit_authenticator as stauth

from readiness import keys, settings, store
from readiness.security import access, users
from readiness.security.access import AccessDenied, Actor
from readiness.web.text import md

_SID = "_rr_session"
_log = logging.getLogger(__name__)
_PID = re.compile(r"\s*\(PID \d+\)")


_ACTOR = "_rr_actor"


_NOTICE = "_rr_notice"


def db() -> str:
    return str(settings.db_path())


def cookie_key() -> str:
    """The login cookie's signing key: the configured one (secrets file, else the setting), else
    the key file beside the store, made on first use."""
    given = keys.configured("cookie_key")
    if given:
        return given
    return keys.load_or_create(settings.sidecar(db(), "cookie_key_file", ".cookie-key")).decode()


def _credentials() -> dict[str, Any]:
    with store.open_store(db()) as con:
        rows = users.login_credentials(con)
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
    ``pages/12_audit_log.py`` on its own, skipping app.py. When a page finds itself run that way,
    it switches the process to ``st.navigation`` mode and reruns, which goes through app.py.
    (The page would refuse anyway, as no actor is set; this turns the refusal into the login.)
    app.py calls it first too: in that mode app.py itself runs inside Streamlit's own page list.

    The mode is chosen per run from a process-wide flag, so a second session whose first run began
    in that mode, while the first session's page switched the flag, runs a page on its own although
    the flag now says otherwise (two tabs reconnecting at once to a replica that has just started,
    after the other replica stopped). Such a run is told by Streamlit's legacy runner
    (``_mpa_v1``, streamlit 1.67) being on the call stack.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory or _run_by_legacy_pages_mode():
        PagesManager.uses_pages_directory = False
        st.rerun()


def _run_by_legacy_pages_mode() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_mpa_v1" and "streamlit" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


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


def busy(err: Exception, *, before_navigation: bool = False) -> NoReturn:
    """Say the store is busy and what to do; which file and which process hold it go to the server log.
    ``before_navigation``: app.py stops before it has drawn its navigation (see :func:`_no_page_list`)."""
    st.warning(store.busy_message(err))
    st.button("Try again")
    if before_navigation:
        _no_page_list()
    st.stop()


def _no_page_list() -> None:
    """A run that stops before app.py's navigation still hands Streamlit a page list, hidden: without
    one Streamlit lists every file in pages/ in the sidebar, by its file name."""
    st.navigation([st.Page(_nothing, title="Readiness Review")], position="hidden")


def _nothing() -> None:
    pass


def log_to_stderr() -> None:
    """The library's messages for the operator (a busy store's holder, a store that cannot be
    opened, a secret refused) go to the server's standard error, with time and level, once per
    process: the replica's journal under systemd. Python's fallback would drop INFO and stamp nothing."""
    logger = logging.getLogger("readiness")
    if not any(getattr(h, "_readiness", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._readiness = True
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def last_actor() -> Actor | None:
    """Who this browser session's last completed login check found (None before a login, after a
    logout or an ended session): the navigation to draw while the store cannot be read."""
    return st.session_state.get(_ACTOR) if _SID in st.session_state else None


UNAVAILABLE = ("Readiness Review cannot open its store right now, so this page cannot be shown. This is not "
               "something you can fix from here: tell whoever runs Readiness Review (the server's log says "
               "what is wrong and what to do), then press Try again.")
MISCONFIGURED = ("This Readiness Review server is not set up correctly, so it shows no pages. Tell whoever "
                 "runs it: the server's log says what to fix.")


def unavailable(err: Exception, *, before_navigation: bool = False) -> NoReturn:
    """Stop the page with what a visitor can do when the store cannot be opened (damaged, no access,
    its schema not brought up to date) or the server's set-up is wrong; the message with the files
    involved and the fix goes to the server log, never to the page."""
    _log.error("A page could not be served: %s", err)
    st.error(MISCONFIGURED if isinstance(err, keys.SecretError) else UNAVAILABLE)
    st.button("Try again")
    if before_navigation:
        _no_page_list()
    st.stop()


def page_text(err: Exception | str) -> str:
    """An error's message (or a library's message) for a page, with the server's own folders (the
    store's, the upload folder) and process ids left out; the whole message goes to the server log."""
    text = str(err)
    db = settings.db_path()
    places = {str(db): "the store", str(settings.upload_dir()): "the upload folder", str(db.parent): "the data folder",
              str(settings.sidecar(db, "audit_key_file", ".audit-key")): "(its file on the server)",
              str(settings.sidecar(db, "audit_head_file", ".audit-head")): "(its file on the server)"}
    url = settings.get("database_url")
    if url:  # the organisation deployment: the database's host is the operator's business
        text = text.replace(f" ({store.postgres.where(url)})", "")
    # "the store <its path>" says "the store" once
    text = re.sub(r"\b([Tt]he store) " + re.escape(str(db)) + r"(?![\w./-])", r"\1", text)
    for path, name in sorted(places.items(), key=lambda kv: -len(kv[0])):  # the longest first
        text = text.replace(path, name)
    if text != str(err) or _PID.search(text):
        _log.info("Shown on a page without its server details: %s", err)
    return _PID.sub("", text)


def check_shared_secrets() -> None:
    """Refuse to serve pages with secrets the replicas would not share: a secrets file that cannot
    be used, or a Streamlit cookie secret other than the file's (a replica started without
    ``python -m readiness serve``). Raises keys.SecretError; nothing to check without a secrets file."""
    shared = keys.shared_secrets()
    if shared and st.get_option("server.cookieSecret") != shared["cookie_secret"]:
        raise keys.SecretError(
            "This replica's Streamlit cookie secret (server.cookieSecret) is not the cookie_secret of the secrets "
            f"file {settings.get('secrets_file')}: replicas would not share it.",
            "Start each replica with `python -m readiness serve --port N`, which passes it on, or set "
            "STREAMLIT_SERVER_COOKIE_SECRET to it.")
