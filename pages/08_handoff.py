"""Hand-off: who runs it and how, the constraints, the hardening backlog, and the operating playbook."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from readiness import store
from readiness.review import handoff, playbook
from readiness.security import access
from readiness.web import cache, login, navigation, widgets
from readiness.web.text import md

actor, pilot, version = navigation.pick_pilot()

st.title("Hand-off")
st.caption(f"{md(pilot.name)} · who operates it, how it is supported, used, reviewed and changed, what constrains it, "
           "and what must be hardened first (operational requirements apart from feature requests).")

with store.open_store(login.db()) as con:
    record = handoff.get_handoff(con, actor, pilot)
    constraints = handoff.list_constraints(con, actor, pilot)
    backlog = handoff.list_backlog(con, actor, pilot)
    can_edit = access.allowed(con, actor, "edit_review", pilot.pilot_id)
    can_export = access.allowed(con, actor, "export", pilot.pilot_id)

with st.form("handoff", border=True):
    if not can_edit:  # say why the fields are greyed out
        st.caption(f"Read only: your role ({actor.role}) may read the hand-off; reviewers and admins with "
                   "access to this pilot edit it.")
    a, b = st.columns(2)
    owner = a.text_input("Operating owner", value=record.get("operating_owner") or "", disabled=not can_edit)
    support = b.text_input("Support path", value=record.get("support_path") or "", disabled=not can_edit)
    used = st.text_area("How it is used", value=record.get("how_used") or "", disabled=not can_edit)
    c, d = st.columns(2)
    reviewed = c.text_area("How it is reviewed", value=record.get("how_reviewed") or "", disabled=not can_edit)
    changed = d.text_area("How it is changed", value=record.get("how_changed") or "", disabled=not can_edit)
    logs = st.text_input("Where its logs live", value=record.get("logs_location") or "", disabled=not can_edit)
    delivery = st.text_input("Work moving to delivery teams", value=record.get("delivery_work") or "",
                             disabled=not can_edit)
    st.markdown("**Escalation rules** — who is called, for what, when")
    rules = st.data_editor(pd.DataFrame(record.get("escalation") or [], columns=["who", "for", "when"]),
                           num_rows="dynamic", width="stretch", disabled=not can_edit, key="escalation",
                           column_config={"who": "Who", "for": "For what", "when": "When"})
    if st.form_submit_button("Save hand-off", type="primary", disabled=not can_edit):
        escalation = [r for r in rules.fillna("").to_dict("records") if any(r.values())]
        widgets.run_action(widgets.with_store(lambda con: handoff.set_handoff(
            con, actor, pilot, operating_owner=owner or None, support_path=support or None, how_used=used or None,
            how_reviewed=reviewed or None, how_changed=changed or None, logs_location=logs or None,
            delivery_work=delivery or None, escalation=escalation)), "Saved.", refresh=True)

st.subheader("Hardening backlog: operational")
# full width, the item widest: in half the page the grid hides evidence, owner and status off to
# the right
items = {"title": st.column_config.TextColumn("Item", width="large"),
         "evidence": st.column_config.TextColumn("Evidence", width="medium"),
         "owner": st.column_config.TextColumn("Owner", width="small"),
         "status": st.column_config.TextColumn("Status", width="small")}
st.dataframe(pd.DataFrame(backlog["operational"], columns=list(items)), hide_index=True, width="stretch",
             column_config=items)
st.subheader("Feature requests (kept apart)")
st.dataframe(pd.DataFrame(backlog["feature"], columns=list(items)), hide_index=True, width="stretch",
             column_config=items)
if can_edit and st.button("Seed from feedback and failure modes"):
    widgets.run_action(widgets.with_store(lambda con: handoff.seed_backlog(con, actor, pilot)), "Backlog seeded.", refresh=True)
st.subheader("Constraints")
st.dataframe(pd.DataFrame(constraints, columns=["area", "description", "owner", "mitigation", "status"]),
             hide_index=True, width="stretch", column_config={
                 "area": "Area", "description": "Constraint", "owner": "Owner", "mitigation": "Mitigation",
                 "status": "Status"})
if can_edit:
    with st.form("constraint", clear_on_submit=True):
        area = st.selectbox("Area", handoff.CONSTRAINT_AREAS)
        text = st.text_input("Constraint")
        c_owner = st.text_input("Owner", key="c_owner")
        mitigation = st.text_input("Mitigation")
        if st.form_submit_button("Add constraint"):
            widgets.run_action(widgets.with_store(lambda con: handoff.add_constraint(
                con, actor, pilot, area=area, description=text, owner=c_owner or None,
                mitigation=mitigation or None)), "Added.", refresh=True)

st.subheader("Operating playbook")
conds = cache.judged_conditions(actor, pilot, version)  # cached per data version, on the kept exception rate
with store.open_store(login.db()) as con:
    preview = playbook.markdown(playbook.content(con, actor, pilot, conds))
with st.expander("Preview"):  # as a reader sees it (its user text went through export.markdown_text)
    st.markdown(preview)
if can_export:
    def _file(fmt: str):
        def make() -> str:
            with store.open_store(login.db()) as con:
                return playbook.export_playbook(con, actor, pilot, fmt)  # checked and audited
        return make

    a, b = st.columns(2)
    a.download_button("Playbook (Markdown)", _file("md"), file_name="playbook.md", mime="text/markdown",
                      icon=":material/download:")
    b.download_button("Playbook (HTML)", _file("html"), file_name="playbook.html", mime="text/html",
                      icon=":material/download:")
