"""Admin: accounts, roles and per-pilot grants. Every change goes through readiness.security.users (checked, audited)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from readiness import catalog, settings, store
from readiness.security import access, users
from readiness.web import login, widgets
from readiness.web.text import md

actor = login.guard("manage_users")

st.title("Users & grants")
st.caption("Who can log in, with which role, and which pilots each person can see. "
           "A role change, password reset or removal ends that person's open sessions.")

db = login.db()
try:
    with store.open_store(db) as con:
        rows = users.list_users(con, actor)
        pilot_names = catalog.pilot_names(con)
except store.StoreBusy as err:
    login.busy(err)

st.dataframe(
    pd.DataFrame(rows), hide_index=True, width="stretch",
    column_order=["username", "display_name", "role", "active", "pilots", "open_sessions", "password_changed_at"],
    column_config={"username": "User name", "display_name": "Name", "role": "Role", "active": "Active",
                   "pilots": st.column_config.TextColumn("Pilots granted", help="Admins see every pilot."),
                   "open_sessions": "Open sessions",
                   "password_changed_at": st.column_config.DatetimeColumn("Password changed (UTC)",
                                                                          format="YYYY-MM-DD HH:mm")},
)
names = [r["username"] for r in rows]
min_len = settings.get("min_password_length")


add, change, grants = st.tabs(["Add a user", "Change a user", "Grants"])
with add, st.form("add_user", clear_on_submit=True):
    c1, c2 = st.columns(2)
    name = c1.text_input("User name", help="2-32 characters: lower-case letters, digits, '.', '_' or '-'.")
    role = c2.selectbox("Role", access.ROLES, index=1)
    display = c1.text_input("Full name (optional)")
    email = c2.text_input("Email (optional)")
    password = st.text_input("Password", type="password",
                             help=f"At least {min_len} characters. Leave empty to generate one (shown once).")
    if st.form_submit_button("Add user", type="primary"):
        pw = password or users.random_password()
        _, made = widgets.run_action(widgets.with_store(lambda con: users.add_user(con, actor, name, role, pw, display or None,
                                                                      email or None)))
        if made:
            st.success(f"Added {made.username} ({made.role}).")
            if not password:
                st.info("Their password, shown only now:")
                st.code(pw, language=None)

with change:
    if not names:
        st.info("No users yet.")
    else:
        who = st.selectbox("User", names, key="change_user")
        c1, c2 = st.columns(2)
        with c1.form("set_role"):
            new_role = st.selectbox("New role", access.ROLES)
            if st.form_submit_button("Set role"):
                widgets.run_action(widgets.with_store(lambda con: users.set_role(con, actor, who, new_role)),
                              f"{who} is now a {new_role}.")
        with c2.form("reset_password", clear_on_submit=True):
            new_pw = st.text_input("New password", type="password", help=f"At least {min_len} characters; "
                                   "leave empty to generate one (shown once).")
            if st.form_submit_button("Reset password"):
                pw = new_pw or users.random_password()
                done, _ = widgets.run_action(widgets.with_store(lambda con: users.reset_password(con, actor, who, pw)),
                                        f"Password of {who} changed; their sessions are ended.")
                if done and not new_pw:
                    st.code(pw, language=None)
        with st.form("remove_user"):
            confirm = st.checkbox(f"Yes, remove {who} and their grants")
            if st.form_submit_button("Remove user", disabled=False):
                if not confirm:
                    st.warning("Tick the box to confirm.")
                else:
                    widgets.run_action(widgets.with_store(lambda con: users.remove_user(con, actor, who)), f"Removed {who}.")

with grants:
    if not names or not pilot_names:
        st.info("Grants need at least one user and one pilot.")
    else:
        with st.form("grant"):
            c1, c2 = st.columns(2)
            who = c1.selectbox("User", names, key="grant_user")
            pilot = c2.selectbox("Pilot", pilot_names)
            g1, g2 = st.columns(2)
            if g1.form_submit_button("Grant access", type="primary"):
                ok, done = widgets.run_action(widgets.with_store(lambda con: users.grant(con, actor, who, pilot)))
                if ok:
                    st.success(f"{who} can now see {md(pilot)}." if done else
                               f"{who} already had access to {md(pilot)}.")
            if g2.form_submit_button("Revoke access"):
                ok, done = widgets.run_action(widgets.with_store(lambda con: users.revoke(con, actor, who, pilot)))
                if ok:
                    st.success(f"{who} can no longer see {md(pilot)}." if done else
                               f"{who} had no access to {md(pilot)}.")
