"""Risks: signals computed from the logs, and the register of risks taken on (or dismissed)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from readiness import access, risks, store, ui

actor, pilot, version = ui.pick_pilot()

st.title("Risks")
st.caption(f"{pilot.name} · what the logs say could go wrong (data, customer impact, compliance, operational "
           "dependency), and what the review has decided to do about it.")

found = ui.signals(actor, pilot, version)
with store.open_store(ui.db()) as con:
    register = risks.list_risks(con, actor, pilot)
    can_edit = access.allowed(con, actor, "edit_review", pilot.pilot_id)
in_register = {r["signal_key"]: r for r in register if r["signal_key"]}
ICON = {"high": ":material/error:", "medium": ":material/warning:", "low": ":material/info:"}

st.subheader(f"Signals ({len(found)})")
for d in found:
    taken = in_register.get(d["key"])
    label = f"**{d['severity'].upper()}** · {d['class'].replace('_', ' ')} — {ui.md(d['finding'])}"
    with st.expander(label + (f"  ·  *{taken['status']}*" if taken else ""), icon=ICON[d["severity"]]):
        st.json(d["figures"], expanded=False)
        if taken:
            st.caption(f"In the register as risk {taken['risk_id']} ({taken['status']}"
                       + (f": {ui.md(taken['dismiss_reason'])}" if taken["dismiss_reason"] else "") + ").")
        elif can_edit:
            with st.form(f"accept_{d['key']}"):
                a, b, c = st.columns(3)
                likelihood = a.slider("Likelihood", 1, 5, 3)
                impact = b.slider("Impact", 1, 5, 4 if d["severity"] == "high" else 3)
                due = c.date_input("Due", value=date.today() + timedelta(days=30))
                owner = st.text_input("Owner")
                mitigation = st.text_input("Mitigation")
                reason = st.text_input("…or dismiss it, because")
                x, y = st.columns(2)
                if x.form_submit_button("Take into the register", type="primary"):
                    ui.run_action(ui.with_store(lambda con: risks.accept_signal(
                        con, actor, pilot, d["key"], risk_class=d["class"], finding=d["finding"], likelihood=likelihood,
                        impact=impact, owner=owner, mitigation=mitigation or None, due=due)), "Added to the register.")
                if y.form_submit_button("Dismiss"):
                    ui.run_action(ui.with_store(lambda con: risks.dismiss_signal(
                        con, actor, pilot, d["key"], risk_class=d["class"], finding=d["finding"], reason=reason)),
                        "Dismissed, with the reason kept.")

st.subheader("Register")
if register:
    st.dataframe(pd.DataFrame(register)[["risk_id", "severity", "risk_class", "title", "likelihood", "impact", "owner",
                                         "mitigation", "due", "status", "overdue"]],
                 hide_index=True, width="stretch")
else:
    st.info("Nothing in the register yet: take signals in, or add a risk the logs cannot show.")
if can_edit:
    with st.expander("Add a risk the logs cannot show"), st.form("manual_risk", clear_on_submit=True):
        title = st.text_input("Risk")
        a, b, c = st.columns(3)
        risk_class = a.selectbox("Class", risks.CLASSES)
        likelihood = b.slider("Likelihood", 1, 5, 3, key="m_l")
        impact = c.slider("Impact", 1, 5, 3, key="m_i")
        owner = st.text_input("Owner", key="m_o")
        if st.form_submit_button("Add risk"):
            ui.run_action(ui.with_store(lambda con: risks.add_risk(con, actor, pilot, risk_class=risk_class, title=title,
                                                                   likelihood=likelihood, impact=impact, owner=owner)),
                          "Added.")
