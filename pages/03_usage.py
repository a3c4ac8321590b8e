"""Usage: how much the capability is used, by whom, and whether people come back."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import confidence, usage
from analysis.common import Empty
from readiness.review import criteria
from readiness.web import cache, charts, navigation, plotting, query, widgets
from readiness.web import intervals as ui_intervals
from readiness.web.text import md

actor, pilot, version = navigation.pick_pilot()
flt = query.filters(pilot, version)

st.title("Usage")
st.caption(f"{md(pilot.name)} · days are {md(pilot.time_zone)} calendar days. Is it used, by how many, and do they come back?")

totals = cache.evidence(usage.totals, pilot, version, flt)
if widgets.empty_note(totals):
    st.stop()
trend = cache.evidence(usage.trend, pilot, version, flt)
c = st.columns(5)
c[0].metric("Events", f"{totals.events:,}")
c[1].metric("Users", f"{totals.users:,}")
c[2].metric("Sessions", f"{totals.sessions:,}" if totals.sessions is not None else "—", help=md(totals.sessions_reading))
c[3].metric("Mean daily users", f"{totals.dau_mean:.1f}")
if not hasattr(trend, "reason"):
    # a change only against a whole earlier 4 weeks (as the readout): with a range starting 1 Aug, the
    # "4 weeks before" held a few days and the change read +1887%
    whole = trend.prior_complete and trend.events_change_pct is not None
    c[4].metric("Events, last 4 weeks", f"{trend.events_recent:,}",
                f"{trend.events_change_pct:+.0f}% vs the 4 before" if whole else None,
                help=None if whole else "No change shown: the data in view does not cover the 4 weeks before.")
st.caption(md(totals.sessions_reason or totals.sessions_reading))  # a reason may name a segment
figs = cache.evidence(confidence.rate_intervals, pilot, version, flt)
rates = st.columns(3)
for col, name, label, why in (
        (rates[0], "usage.task_success", "Task success", "Attempts with an outcome that succeeded."),
        (rates[1], "usage.stickiness", "Stickiness (DAU / MAU)",
         "Mean daily users over the last 28 days of data, as a share of the users active in them."),
        (rates[2], "usage.retention_week_1", "Back the week after their first",
         "Users active in the week after the week they were first seen, of the cohorts whose next week has data.")):
    if name in figs:
        col.metric(label, figs[name].shown(), help=why)
        col.caption(criteria.figure_note(figs[name]))
st.caption(confidence.methods_note(figs, ("usage.task_success", "usage.stickiness", "usage.retention_week_1"))
           + " A user's events are not independent of each other, so rates over events are resampled by user.")


plotting.evidence_chart(charts.active_users, usage.active_users, pilot, version, flt)

left, right = st.columns(2)
with left:
    plotting.evidence_chart(charts.retention, usage.retention, pilot, version, flt)
with right:
    plotting.evidence_chart(charts.lifecycle, usage.lifecycle, pilot, version, flt)

adoption = cache.evidence(usage.feature_adoption, pilot, version, flt)
left, right = st.columns([3, 2])
with left:
    plotting.evidence_chart(charts.feature_adoption, usage.feature_adoption, pilot, version, flt)
with right:
    st.subheader("Who carries the use?")
    conc = cache.evidence(usage.concentration, pilot, version, flt)
    if not widgets.empty_note(conc):
        # one above the other: side by side in this column, labels and figures were cut off ("41% of e…")
        st.metric("Events made by the top 10% of users", f"{conc.top_share:.0%}")
        st.metric("Users making half of all events", f"{conc.users_for_half:,}")
    success = cache.evidence(usage.task_success, pilot, version, flt)
    widgets.empty_note(success)  # the figure itself is in the row above, with its interval
if not isinstance(adoption, Empty):
    # a static table: every word of each hint's reason shows (the grid cut "only 86% of attempts
    # succeed (< 90%)" off the rows that need it most); one row per feature, so it stays short.
    # st.table reads cells as Markdown: the feature's name (a file's text) goes through md.
    def share(v) -> str:
        return "—" if pd.isna(v) else f"{v:.0%}"

    st.table(pd.DataFrame({
        "Feature": adoption["feature"].map(md), "Hint": adoption["hint"], "Why": adoption["hint_reason"],
        "Users": adoption["users"].map("{:,}".format),
        "Share of users": adoption["share_of_users"].map(share),
        "Come back": adoption["repeat_rate"].map(share), "Success": adoption["success_rate"].map(share),
        "Events": adoption["events"].map("{:,}".format),
    }), hide_index=True, border="horizontal")

ui_intervals.segment_differences(pilot, version, flt, "task_success")
ui_intervals.before_after(pilot, version, flt, ("usage.task_success", "usage.stickiness", "exceptions.per_1k_events"), "_w_split_usage")
