"""My account: who I am, what I may do, and changing my own password."""

from __future__ import annotations

import streamlit as st

from readiness import settings, store
from readiness.security import access, users
from readiness.web import login, widgets
from readiness.web.text import md

actor = login.actor()

st.title("My account")
st.caption("Your role, what it lets you do, and your password.")

c1, c2 = st.columns([1, 2])
c1.metric("Signed in as", md(actor.name))
c1.metric("Role", actor.role)
allowed = [what for action, (roles, _grant, what) in access.MATRIX.items() if actor.role in roles]
c2.markdown("**Your role can**\n\n" + "\n".join(f"- {w}" for w in allowed))
c2.caption("Pilot-level actions apply to the pilots an admin has granted you (admins see every pilot).")

st.subheader("Change my password")
minimum = settings.get("min_password_length")
with st.form("change_password", clear_on_submit=True):
    current = st.text_input("Current password", type="password")
    new = st.text_input("New password", type="password", help=f"At least {minimum} characters.")
    again = st.text_input("New password again", type="password")
    if st.form_submit_button("Change password", type="primary"):
        if new != again:
            st.error("The two new passwords differ.")
        else:
            def change(con):
                users.change_own_password(con, actor, current, new, login.client())

            def run():
                with store.open_store(login.db()) as con:
                    change(con)

            done, _ = widgets.run_action(run)
            if done:
                st.session_state["_rr_password_changed"] = True
if st.session_state.pop("_rr_password_changed", False):
    st.success("Password changed. Your sessions have ended: log in again with the new password.")
    st.button("Log in again")
