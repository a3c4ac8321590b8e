"""Risks: signals computed from the logs, and the register of risks taken on (or dismissed)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from readiness import store
from readiness.review import risks
from readiness.security import access
from readiness.web import cache, charts, login, navigation, plotting, widgets
from readiness.web.text import figure, md, words

actor, pilot, version = navigation.pick_pilot()

st.title("Risks")
st.caption(f"{md(pilot.name)} · what the logs say could go wrong (data, customer impact, compliance, operational "
           "dependency), and what the review has decided to do about it.")

found = cache.signals(actor, pilot, version)
with store.open_store(login.db()) as con:
    register = risks.list_risks(con, actor, pilot)
    can_edit = access.allowed(con, actor, "edit_review", pilot.pilot_id)
in_register = {r["signal_key"]: r for r in register if r["signal_key"]}
ICON = {"high": ":material/error:", "medium": ":material/warning:", "low": ":material/info:"}

st.subheader(f"Signals ({len(found)})")
for d in found:
    taken = in_register.get(d["key"])
    label = f"**{d['severity'].upper()}** · {words(d['class'])} — {md(d['finding'])}"
    with st.expander(label + (f"  ·  *{taken['status']}*" if taken else ""), icon=ICON[d["severity"]]):
        plain = {k: v for k, v in d["figures"].items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
        if plain:
            st.caption("The figures: " + " · ".join(f"{k.replace('_', ' ')} {figure(k, v)}" for k, v in plain.items()))
        if len(plain) < len(d["figures"]):
            st.caption("All the figures it was computed from:")
            st.json(d["figures"], expanded=False)
        if d["rows"].get("table") not in (None, "pilots", "ingest_batches") and st.toggle(
                "Show the rows behind it (newest 100, personal data masked)", key=f"rows_{d['key']}"):
            done, behind = widgets.run_action(lambda: cache.signal_rows(actor, pilot, version, d["rows"]))
            if done:
                behind = behind.drop(columns=["pilot_id", "attributes"], errors="ignore")
                st.dataframe(behind, hide_index=True, width="stretch", column_config={
                    **{c: c.replace("_id", "").replace("_", " ").capitalize() for c in behind.columns},
                    "batch_id": "Batch", "src_row": st.column_config.NumberColumn("Row", help="Its row in the batch's file"),
                    "ts": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss")})
        if taken:
            st.caption(f"In the register as risk {taken['risk_id']} ({taken['status']}"
                       + (f": {md(taken['dismiss_reason'])}" if taken["dismiss_reason"] else "") + ").")
        elif can_edit:
            with st.form(f"accept_{d['key']}"):
                a, b, c = st.columns(3)
                rated = risks.default_rating(d["severity"])
                likelihood = a.slider("Likelihood", 1, 5, rated[0])
                impact = b.slider("Impact", 1, 5, rated[1], help=(
                    f"Severity in the register = likelihood × impact: high from {risks.HIGH_SCORE}, medium from "
                    f"{risks.MEDIUM_SCORE}. The defaults keep the signal's severity ({d['severity']})."))
                due = c.date_input("Due", value=date.today() + timedelta(days=30))
                owner = st.text_input("Owner")
                mitigation = st.text_input("Mitigation")
                reason = st.text_input("…or dismiss it, because")
                x, y = st.columns(2)
                if x.form_submit_button("Take into the register", type="primary"):
                    widgets.run_action(widgets.with_store(lambda con: risks.accept_signal(
                        con, actor, pilot, d["key"], risk_class=d["class"], finding=d["finding"], likelihood=likelihood,
                        impact=impact, owner=owner, mitigation=mitigation or None, due=due)), "Added to the register.", refresh=True)
                if y.form_submit_button("Dismiss"):
                    widgets.run_action(widgets.with_store(lambda con: risks.dismiss_signal(
                        con, actor, pilot, d["key"], risk_class=d["class"], finding=d["finding"], reason=reason)),
                        "Dismissed, with the reason kept.", refresh=True)

st.subheader("Register")
live = [r for r in register if r["status"] != "dismissed"]
if live:
    # Status and Overdue next to the risk: at the end they are off the grid's right edge at 1400 px
    columns = ["risk_id", "severity", "status", "overdue", "title", "risk_class", "likelihood", "impact", "owner",
               "mitigation", "due"]
    table = pd.DataFrame(live)[columns]
    table["risk_class"] = table["risk_class"].map(words)  # shown only: the class is not edited here
    # narrow where the values are short
    config = {"risk_id": st.column_config.NumberColumn("#", width="small"),
              "severity": st.column_config.TextColumn("Severity", width="small"),
              "risk_class": "Class", "overdue": st.column_config.CheckboxColumn("Overdue", width="small"),
              "title": st.column_config.TextColumn("Risk", required=True, width="medium"),
              "likelihood": st.column_config.NumberColumn("Likelihood", width="small", min_value=1, max_value=5, step=1, required=True),
              "impact": st.column_config.NumberColumn("Impact", width="small", min_value=1, max_value=5, step=1, required=True),
              "owner": "Owner", "mitigation": st.column_config.TextColumn("Mitigation", width="medium"),
              "due": st.column_config.DateColumn("Due", width="small"),
              "status": st.column_config.SelectboxColumn("Status", options=list(risks.STATUSES), required=True)}
    if can_edit:
        edited = st.data_editor(table, hide_index=True, width="stretch", column_config=config, key="register_editor",
                                disabled=["risk_id", "severity", "risk_class", "overdue"], num_rows="fixed")
        changes = risks.register_changes(live, edited.to_dict("records"))
        if st.button(f"Save {len(changes)} changed risk{'s' * (len(changes) != 1)}", type="primary",
                     disabled=not changes, help="All changes are saved together, each in the audit log."):
            done, _ = widgets.run_action(widgets.with_store(lambda con: risks.edit_register(con, actor, pilot, changes)))
            if done:  # a toast right before a rerun is never seen: the next run shows it (app.py)
                st.session_state.pop("register_editor", None)
                widgets.flash(f"Saved {len(changes)} risk change{'s' * (len(changes) != 1)}; each is in the audit log.")
                st.rerun()
        st.caption("Edit cells in place, then save. Severity follows likelihood × impact after saving.")
    else:
        st.dataframe(table, hide_index=True, width="stretch", column_config=config)
    left, _ = st.columns([2, 3])
    with left:
        plotting.chart(charts.risk_heatmap(live, risks.HIGH_SCORE, risks.MEDIUM_SCORE))
else:
    st.info("Nothing in the register yet: take signals in, or add a risk the logs cannot show.")
dismissed = [r for r in register if r["status"] == "dismissed"]
if dismissed:
    with st.expander(f"Dismissed signals ({len(dismissed)})"):
        st.dataframe(pd.DataFrame(dismissed)[["risk_id", "risk_class", "title", "dismiss_reason", "updated_by"]]
                     .assign(risk_class=lambda d: d["risk_class"].map(words)),
                     hide_index=True, width="stretch", column_config={
                         "risk_id": "No.", "risk_class": "Class", "title": "Signal", "dismiss_reason": "Why dismissed",
                         "updated_by": "Dismissed by"})
if can_edit:
    with st.expander("Add a risk the logs cannot show"), st.form("manual_risk", clear_on_submit=True):
        title = st.text_input("Risk")
        a, b, c = st.columns(3)
        risk_class = a.selectbox("Class", risks.CLASSES)
        likelihood = b.slider("Likelihood", 1, 5, 3, key="m_l")
        impact = c.slider("Impact", 1, 5, 3, key="m_i")
        owner = st.text_input("Owner", key="m_o")
        if st.form_submit_button("Add risk"):
            widgets.run_action(widgets.with_store(lambda con: risks.add_risk(con, actor, pilot, risk_class=risk_class, title=title,
                                                                   likelihood=likelihood, impact=impact, owner=owner)),
                          "Added.", refresh=True)
