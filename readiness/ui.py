"""The one Streamlit helper module: login with streamlit-authenticator, the session registry, page guards.

Everything else in ``readiness`` is plain Python; only this module, ``app.py`` and ``pages/``
import Streamlit.

How a login works here (streamlit-authenticator 0.4.x, with its known gaps closed):

* Credentials come from the store's ``users`` table (bcrypt hashes), handed to the library fresh
  on every rerun, without hints; ``auto_hash`` is off.
* The library's password check is replaced by :func:`readiness.users.login`, which applies the
  throttle *before* looking at the password and audits every attempt (the library's own counter
  only counts after a correct password).
* After a successful login the signed cookie token is registered as a server-side session
  (:func:`readiness.users.start_session`). A cookie is honoured only while its session is open:
  logout, a password or role change, removal, inactivity or the absolute lifetime end it, and
  a replayed cookie then shows the login form.
* Every rerun re-checks the session and re-reads the role from the store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import jwt
import streamlit as st
import streamlit_authenticator as stauth

from readiness import access, keys, settings, store, users
from readiness.access import AccessDenied, Actor

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
    """The logged-in actor of this rerun (set by app.py before any page runs)."""
    through_app_py()
    current = st.session_state.get(_ACTOR)
    if current is None:
        st.error("Please log in.")
        st.stop()
    return current


def guard(action: str, pilot_id: int | None = None) -> Actor:
    """Top of every page: stop with a clear message unless the actor may do ``action``."""
    who = actor()
    try:
        with store.open_store(db()) as con:
            access.require(con, who, action, pilot_id)
    except AccessDenied as err:
        st.error(f"Not allowed: {err}")
        st.stop()
    except store.StoreBusy as err:
        busy(err)
    return who


def busy(err: Exception) -> None:
    st.warning(str(err))
    st.button("Try again")
    st.stop()


def run_action(fn: Callable[[], Any], success: str | None = None) -> tuple[bool, Any]:
    """Run a library write; show its refusal or error as a message instead of a traceback.

    Returns (done, result).
    """
    try:
        result = fn()
    except (AccessDenied, users.UserError, ValueError, LookupError) as err:
        st.error(str(err))
        return False, None
    except store.StoreBusy as err:
        st.warning(str(err))
        return False, None
    if success:
        st.success(success)
    return True, result


# ------------------------------------------------------------------------------------------
# Review pages: the pilot in hand, filters, cached evidence


def pick_pilot() -> tuple[Actor, Any, str]:
    """Sidebar pilot picker over the pilots the actor may read; returns (actor, pilot, data version).

    The access check runs here, on every rerun, before any cached read.
    """
    from readiness import pilots

    who = actor()
    try:
        with store.open_store(db()) as con:
            names = [r["name"] for r in pilots.list_pilots(con, who)]
            if not names:
                st.info("No pilots have been shared with you yet. Ask an admin to grant you access.")
                st.stop()
            chosen = st.session_state.get("_rr_pilot")
            chosen = chosen if chosen in names else names[0]
            chosen = st.sidebar.selectbox("Pilot", names, index=names.index(chosen), key="_rr_pilot_box")
            st.session_state["_rr_pilot"] = chosen
            pilot = pilots.pilot_for(con, who, chosen)
            version = pilots.data_version(con, pilot.pilot_id)
    except AccessDenied as err:
        st.error(f"Not allowed: {err}")
        st.stop()
    except store.StoreBusy as err:
        busy(err)
    return who, pilot, version


def date_filter(pilot) -> tuple:
    """Sidebar date range in the pilot's calendar; returns (start, end) or (None, None)."""
    value = st.sidebar.date_input(f"Dates ({pilot.time_zone})", value=(), key="_rr_dates",
                                  help="Leave empty for the whole pilot.")
    if isinstance(value, tuple) and len(value) == 2:
        return value[0], value[1]
    return None, None


@st.cache_data(show_spinner=False, max_entries=512)
def _evidence(func_path: str, db_path: str, pilot_id: int, version: str, time_zone: str, start, end,
              _pilot) -> Any:
    import importlib

    from analysis.common import Filters

    module, name = func_path.rsplit(".", 1)
    fn = getattr(importlib.import_module(module), name)
    with store.open_store(db_path) as con:
        return fn(con, _pilot, Filters(start=start, end=end))


def evidence(func_path: str, pilot, version: str, start=None, end=None) -> Any:
    """An analysis function's result, cached by pilot, data version and filters (call after pick_pilot)."""
    return _evidence(func_path, db(), pilot.pilot_id, version, pilot.time_zone, start, end, pilot)


@st.cache_data(show_spinner=False, max_entries=128)
def _signals(db_path: str, pilot_id: int, version: str, _actor: Actor, _pilot) -> list[dict[str, Any]]:
    from readiness.signals import compute_signals

    with store.open_store(db_path) as con:
        return [s.to_dict() for s in compute_signals(con, _actor, _pilot)]


def signals(actor: Actor, pilot, version: str) -> list[dict[str, Any]]:
    """The pilot's risk signals as dicts, cached by pilot and data version (call after pick_pilot,
    which has checked the grant); the register does not change them, so the version suffices."""
    return _signals(db(), pilot.pilot_id, version, actor, pilot)


def with_store(fn: Callable[[Any], Any]) -> Callable[[], Any]:
    """Wrap ``fn(con)`` so run_action can call it with a fresh connection."""
    def run():
        with store.open_store(db()) as con:
            return fn(con)
    return run


def empty_note(result: Any) -> bool:
    """Show an Empty result's reason; True when the result was Empty."""
    from analysis.common import Empty

    if isinstance(result, Empty):
        st.info(result.reason)
        return True
    return False


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:/])")


def md(text: Any) -> str:
    """User text made inert inside st.markdown: no links, images, emphasis or HTML from it."""
    return "—" if text is None or text == "" else _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")
