"""Failure modes: exceptions grouped into the ways the capability fails, with reviewer notes."""

from __future__ import annotations

import streamlit as st

from analysis import confidence, failure_modes
from analysis import failure_modes as fm
from readiness import store
from readiness.review import annotations, criteria
from readiness.security import access
from readiness.web import cache, charts, login, navigation, plotting, query, widgets
from readiness.web import intervals as ui_intervals
from readiness.web.text import blank_text, md

actor, pilot, version = navigation.pick_pilot()
flt = query.filters(pilot, version)

st.title("Failure modes")
st.caption(f"{md(pilot.name)} · exceptions grouped by type and message template. Which failures matter, "
           "and is anyone on them? Personal data in messages is masked.")

modes = cache.evidence(failure_modes.failure_modes, pilot, version, flt)
if widgets.empty_note(modes):
    st.stop()
figs = cache.evidence(confidence.rate_intervals, pilot, version, flt)
c = st.columns(6)
c[0].metric("Exceptions", f"{int(modes['count'].sum()):,}")
c[1].metric("Failure modes", f"{len(modes):,}")
c[2].metric("Rising", f"{int((modes['trend'] == 'rising').sum())}")
c[3].metric("Without an owner", f"{int(modes['owner'].isna().sum())}")
for col, name, label in ((c[4], "exceptions.per_1k_events", "Per 1,000 events"),
                         (c[5], "exceptions.per_session", "Per session")):
    if name in figs:
        col.metric(label, figs[name].shown())
        col.caption(criteria.figure_note(figs[name]))
if figs:
    st.caption(confidence.methods_note(figs, ("exceptions.per_1k_events", "exceptions.per_session"))
               + " A user's exceptions come together (one bad afternoon is many), so the rate is resampled by user.")
plotting.evidence_chart(charts.exception_rate, failure_modes.exception_rate, pilot, version, flt)
ui_intervals.segment_differences(pilot, version, flt, "per_1k_events")
ui_intervals.before_after(pilot, version, flt, ("exceptions.per_1k_events", "exceptions.per_session"), "_w_split_failures")

SORTS = {"Exceptions": ("count", False), "Users hit": ("users", False), "Trend (rising first)": ("trend_rank", True),
         "Last seen": ("last_seen", False)}
sort_by = st.segmented_control("Sort by", list(SORTS), default="Exceptions", key="fm_sort") or "Exceptions"
column, ascending = SORTS[sort_by]
shown = modes.assign(last_28_days=modes["daily"].map(charts.sparkline),
                     trend_rank=modes["trend"].map({"rising": 0, "steady": 1, "falling": 2}))
shown = shown.sort_values([column, "count"], ascending=[ascending, False])
st.dataframe(blank_text(shown, ["error_type", "owner"]), hide_index=True, width="stretch",
             column_order=["mode_id", "error_type", "template", "count", "last_28_days", "trend", "users", "share",
                           "status", "owner"],
             column_config={
                 "mode_id": "Mode", "error_type": "Type",
                 "template": st.column_config.TextColumn("Message template", width="medium"),
                 "count": st.column_config.NumberColumn("Exceptions", format="localized"), "users": "Users hit",
                 "share": st.column_config.ProgressColumn("Share", format="percent", min_value=0, max_value=1),
                 "last_28_days": st.column_config.LineChartColumn("Last 28 days", y_min=0),
                 "trend": "Trend (7 d)", "status": "Status", "owner": "Owner"})
st.caption("One row per failure mode: exceptions grouped by type, masked message template and top in-app stack "
           "frames. Trend compares the last 7 days with the 7 before. Click a column header to sort by it too.")

with store.open_store(login.db()) as con:
    can_edit = access.allowed(con, actor, "edit_review", pilot.pilot_id)
    can_reveal = access.allowed(con, actor, "reveal_personal_data", pilot.pilot_id)
still_new = int((modes["status"] == "new").sum())
if can_edit and still_new > 1:
    # one by one, a file of 229 modes made this step impossible to finish
    with st.expander(f"Triage the long tail: {still_new} modes still 'new'"), st.form("tail"):
        a, b = st.columns(2)
        most = a.number_input("Modes with at most this many exceptions", min_value=1, value=10, step=1,
                              help="Counted over all the pilot's exceptions, whatever the dates and segment.")
        status = b.selectbox("Mark them", [x for x in fm.STATUSES if x != "new"])
        why = st.text_input("Note (required)", placeholder="e.g. rare and harmless; reviewed as a group")
        if st.form_submit_button("Mark them"):
            done, marked = widgets.run_action(widgets.with_store(lambda con: annotations.annotate_tail(
                con, pilot, max_count=int(most), status=status, note=why, actor=actor)))
            if done:
                n = f"{int(most)} exception{'s' * (int(most) != 1)}"
                widgets.flash(f"Marked {len(marked)} mode{'s' * (len(marked) != 1)} with at most {n} as {status}."
                         if marked else f"No mode still 'new' has {n} or fewer.")
                st.rerun()

st.subheader("Look closer")
labels = {int(r.mode_id): f"{r.mode_id} · {r.error_type or ''} {r.template[:90]}" for r in modes.itertuples()}
mode_id = st.selectbox("Failure mode", list(labels), format_func=labels.get)
row = modes[modes["mode_id"] == mode_id].iloc[0]
st.markdown("**Examples** (earliest first)")
for example in row["examples"]:
    st.text(example)
reveal = can_reveal and st.toggle("Show personal data (recorded in the audit log)", key=f"reveal_{mode_id}")
if reveal:
    done, rows = widgets.run_action(widgets.with_store(lambda con: fm.mode_rows(con, pilot, mode_id, 50, reveal_as=actor)))
else:
    done, rows = widgets.run_action(lambda: cache.masked_mode_rows(pilot, version, mode_id))
if done:  # the latest 50 exceptions of the mode, each with where it came from (batch, row in the file)
    st.dataframe(blank_text(rows, ["user_id", "message"]), hide_index=True, width="stretch", column_config={
        "batch_id": st.column_config.NumberColumn("Batch", help="The load it came in (Sources page)"),
        "src_row": st.column_config.NumberColumn("Row", help="Its row in that file"),
        "ts": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "user_id": "User", "message": st.column_config.TextColumn("Message", width="large")})

if can_edit:
    with st.form(f"annotate_{mode_id}"):
        st.markdown("**Reviewer's note**")
        a, b = st.columns(2)
        status = a.selectbox("Status", fm.STATUSES, index=list(fm.STATUSES).index(row["status"]))
        owner = b.text_input("Owner", value=row["owner"] or "")
        note = st.text_area("Note", value=row["note"] or "")
        if st.form_submit_button("Save note", type="primary"):
            widgets.run_action(widgets.with_store(lambda con: annotations.annotate_mode(con, pilot, mode_id, status=status,
                                                                     owner=owner or None, note=note or None,
                                                                     actor=actor)), "Saved.", refresh=True)
