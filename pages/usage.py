"""Usage: how much the capability is used, by whom, and whether people come back."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from readiness import ui

actor, pilot, version = ui.pick_pilot()
start, end = ui.date_filter(pilot)

st.title("Usage")
st.caption(f"{pilot.name} · days are {pilot.time_zone} calendar days. Is it used, by how many, and do they come back?")

totals = ui.evidence("analysis.usage.totals", pilot, version, start, end)
if ui.empty_note(totals):
    st.stop()
trend = ui.evidence("analysis.usage.trend", pilot, version, start, end)
c = st.columns(5)
c[0].metric("Events", f"{totals.events:,}")
c[1].metric("Users", f"{totals.users:,}")
c[2].metric("Sessions", f"{totals.sessions:,}" if totals.sessions is not None else "—")
c[3].metric("Mean daily users", f"{totals.dau_mean:.1f}")
if not hasattr(trend, "reason") and trend.events_change_pct is not None:
    c[4].metric("Events, last 4 weeks", f"{trend.events_recent:,}", f"{trend.events_change_pct:+.0f}% vs 4 weeks before")

active = ui.evidence("analysis.usage.active_users", pilot, version, start, end)
if not hasattr(active, "reason"):
    fig = px.line(active, x="day", y=[c for c in ("dau", "wau", "mau") if c in active.columns],
                  labels={"value": "active users", "day": "", "variable": ""}, height=300)
    fig.update_layout(margin=dict(l=0, r=0, t=10, b=0), legend=dict(orientation="h"))
    st.plotly_chart(fig, width="stretch")

left, right = st.columns(2)
with left:
    st.subheader("Features: keep, fix or drop?")
    adoption = ui.evidence("analysis.usage.feature_adoption", pilot, version, start, end)
    if not ui.empty_note(adoption):
        st.dataframe(adoption, hide_index=True, width="stretch",
                     column_order=["feature", "hint", "hint_reason", "users", "share_of_users", "repeat_rate",
                                   "success_rate", "events"],
                     column_config={"feature": "Feature", "hint": "Hint",
                                    "hint_reason": st.column_config.TextColumn("Why", width="medium"),
                                    "users": "Users", "events": st.column_config.NumberColumn("Events", format="localized"),
                                    "share_of_users": st.column_config.NumberColumn("Share of users", format="percent"),
                                    "repeat_rate": st.column_config.NumberColumn("Come back", format="percent"),
                                    "success_rate": st.column_config.NumberColumn("Success", format="percent")})
with right:
    st.subheader("Who carries the use?")
    conc = ui.evidence("analysis.usage.concentration", pilot, version, start, end)
    if not ui.empty_note(conc):
        st.metric("Share of events from the top 10% of users", f"{conc.top_share:.0%}")
        st.metric("Users who make half of all events", f"{conc.users_for_half:,}")
    success = ui.evidence("analysis.usage.task_success", pilot, version, start, end)
    if not ui.empty_note(success):
        st.metric("Task success", f"{success.success_rate:.0%}", help=f"{success.successes:,} of {success.attempts:,} attempts")

st.subheader("Weekly retention (% of each cohort active N weeks later)")
retention = ui.evidence("analysis.usage.retention", pilot, version, start, end)
if not ui.empty_note(retention):
    st.dataframe(retention, hide_index=True, width="stretch")
