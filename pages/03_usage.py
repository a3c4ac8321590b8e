"""Usage: how much the capability is used, by whom, and whether people come back."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import usage
from analysis.common import Empty
from readiness.web import cache, charts, navigation, plotting, query, widgets
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
    # a change only against a whole earlier 4 weeks (as the readout): against a near-empty window (a
    # range starting 1 Aug leaves the "4 weeks before" a few days) a percentage means nothing
    whole = trend.prior_complete and trend.events_change_pct is not None
    c[4].metric("Events, last 4 weeks", f"{trend.events_recent:,}",
                f"{trend.events_change_pct:+.0f}% vs the 4 before" if whole else None,
                help=None if whole else "No change shown: the data in view does not cover the 4 weeks before.")
st.caption(md(totals.sessions_reason or totals.sessions_reading))  # a reason may name a segment


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
        # one above the other: side by side in this column, labels and figures are cut off ("41% of e…")
        st.metric("Events made by the top 10% of users", f"{conc.top_share:.0%}")
        st.metric("Users making half of all events", f"{conc.users_for_half:,}")
    success = cache.evidence(usage.task_success, pilot, version, flt)
    if not widgets.empty_note(success):
        st.metric("Task success", f"{success.success_rate:.0%}",
                  help=f"{success.successes:,} of {success.attempts:,} attempts with an outcome succeeded")
if not isinstance(adoption, Empty):
    # a static table: every word of each hint's reason shows (a grid cuts "only 86% of attempts
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
