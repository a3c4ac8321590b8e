"""Readiness: what must be true before broader use, and the four-eyes approvals."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from analysis import confidence
from readiness import catalog, store
from readiness.review import conditions
from readiness.security import access
from readiness.web import cache, login, navigation, widgets
from readiness.web.text import md

actor, pilot, version = navigation.pick_pilot()
rates = cache.evidence(confidence.rate_intervals, pilot, version)  # the exception rate's interval, as kept

st.title("Readiness")
st.caption(f"{md(pilot.name)} · {pilot.risk_tier} risk tier. What must be true before broader use? "
           "Computed conditions show their live value; a waiver needs a second person.")

try:
    with store.open_store(login.db()) as con:
        if access.allowed(con, actor, "edit_review", pilot.pilot_id):
            conditions.ensure_conditions(con, actor, pilot)
        rows = conditions.list_conditions(con, actor, pilot, rates=rates)
        pending = conditions.pending_approvals(con, actor, pilot)
        can_edit = access.allowed(con, actor, "edit_review", pilot.pilot_id)
        can_approve = access.allowed(con, actor, "approve", pilot.pilot_id)
        can_tier = access.allowed(con, actor, "change_risk_tier", pilot.pilot_id)
        untriaged = cache.untriaged_high(con, actor, pilot, version)
except store.StoreBusy as err:
    login.busy(err)
if not rows:
    st.info("No conditions yet: a reviewer opens them for this review.")
    st.stop()

blocking = conditions.blocking(rows)
c = st.columns(3)
c[0].metric("Required conditions met or waived",
            f"{sum(1 for r in rows if r['required'] and r['status'] in ('met', 'waived'))} of {sum(1 for r in rows if r['required'])}",
            help="A waiver counts once a second person has approved it; one waiting for approval does not.")
c[1].metric("Blocking an 'operate' decision", len(blocking),
            help="Required conditions not met and not waived: while any is left, the suggested decision is not "
                 "'operate' (the Decision page says which).")
c[2].metric("Waiting for approval", len(pending))
# A static table: every word of a condition and of its live value shows (a data grid cut them off).
# st.table reads its cells as Markdown: the text in them goes through md.
# "Live value": computed now from the logs and the review's records (sources, hand-off, register).
table = pd.DataFrame({
    "No.": [r["condition_id"] for r in rows],
    "Condition": [md(r["title"]) for r in rows],
    "Required": ["required" if r["required"] else "—" for r in rows],
    "Status": [r["status"].replace(" ", "\u00a0") for r in rows],  # "not met" on one line
    "Live value": [md(conditions.live_text(r)) if r["computed"] else "— set by the reviewer" for r in rows],
    "Owner": [md(r["owner"]) if r["owner"] else "" for r in rows],
    "Evidence": [md(r["evidence"]) if r["evidence"] else "" for r in rows],
    "Waived until": [f"{r['waiver_expiry']:%Y-%m-%d}" if r["waiver_expiry"] else "" for r in rows],
})
st.table(table.drop(columns=[c for c in ("Owner", "Evidence", "Waived until") if not table[c].any()]),
         hide_index=True, border="horizontal")
if untriaged and any(r["computed"] == "no_high_risk_open" and r["status"] == "met" for r in rows):
    st.warning(f"{untriaged} high risk signal{'s are' if untriaged != 1 else ' is'} neither in the register nor "
               "dismissed (Risks page). The register condition counts the register only; take "
               f"{'them' if untriaged != 1 else 'it'} in or dismiss {'them' if untriaged != 1 else 'it'} first.",
               icon=":material/warning:")

manual = [r for r in rows if not r["computed"]]
if can_edit and manual:
    labels = {r["condition_id"]: r["title"] for r in manual}
    pick = st.selectbox("Condition", list(labels), format_func=labels.get)
    current = next(r for r in manual if r["condition_id"] == pick)
    left, right = st.columns(2)
    with left.form("set_condition"):
        status = st.radio("Status", ("met", "not met"), index=0 if current["status"] == "met" else 1, horizontal=True)
        owner = st.text_input("Owner", value=current["owner"] or "")
        evidence = st.text_area("Evidence", value=current["evidence"] or "")
        if st.form_submit_button("Save", type="primary"):
            widgets.run_action(widgets.with_store(lambda con: conditions.set_condition(
                con, actor, pilot, pick, status=status, owner=owner or None, evidence=evidence or None)), "Saved.", refresh=True)
    with right.form("waiver"):
        reason = st.text_input("Waiver reason")
        expiry = st.date_input("Waived until", value=date.today() + timedelta(days=60))
        if st.form_submit_button("Request a waiver"):
            widgets.run_action(widgets.with_store(lambda con: conditions.request_waiver(
                con, actor, pilot, pick, reason=reason, expiry=expiry)),
                "Requested: a lead or admin other than you must approve it.", refresh=True)

if pending:
    st.subheader("Waiting for a second person")
    for req in pending:
        st.markdown(f"**{md(conditions.describe_request(req))}**  \n"
                    f"Requested by {md(req['requested_by'])} on {req['requested_at']:%Y-%m-%d}")
        if can_approve and req["requested_by"] != actor.name:
            a, b = st.columns(2)
            if a.button("Approve", key=f"ok_{req['approval_id']}", type="primary"):
                widgets.run_action(widgets.with_store(lambda con, r=req: conditions.decide_approval(
                    con, actor, pilot, r["approval_id"], approve=True)), "Approved.", refresh=True)
            if b.button("Reject", key=f"no_{req['approval_id']}"):
                widgets.run_action(widgets.with_store(lambda con, r=req: conditions.decide_approval(
                    con, actor, pilot, r["approval_id"], approve=False)), "Rejected.", refresh=True)

if can_tier:
    # The profile said "changed on the Readiness page", but nothing here could (library only).
    st.subheader("Risk tier")
    with st.form("risk_tier"):
        a, b = st.columns([1, 3])
        tiers = list(catalog.RISK_TIERS)
        tier = a.selectbox("Risk tier", tiers, index=tiers.index(pilot.risk_tier),
                           help="Which conditions are required depends on it. Raising it applies at once; "
                                "lowering it waits for a lead or admin other than you.")
        why = b.text_input("Reason", placeholder="e.g. it now reads customer records")
        if st.form_submit_button("Change the risk tier"):
            done, pending_id = widgets.run_action(widgets.with_store(lambda con: conditions.request_tier_change(
                con, actor, pilot, tier, why)))
            if done:
                widgets.flash(f"Risk tier is now {tier}." if pending_id is None else
                         f"Requested: {pilot.risk_tier} to {tier} waits for a lead or admin other than you.")
                st.rerun()
