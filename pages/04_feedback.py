"""Feedback: what users say — ratings, sentiment, themes, and operational needs kept apart from wishes."""

from __future__ import annotations

import streamlit as st

from analysis import confidence, feedback
from readiness.review import criteria
from readiness.web import cache, charts, navigation, plotting, query, widgets
from readiness.web import intervals as ui_intervals
from readiness.web.text import count_of, md, words

FIGURES = ("feedback.mean_rating", "feedback.csat", "feedback.nps", "feedback.negative_share")

actor, pilot, version = navigation.pick_pilot()
flt = query.filters(pilot, version)

st.title("Feedback")
st.caption(f"{md(pilot.name)} · are users satisfied, what do they keep saying, and what must be fixed before "
           "broader use? Personal data in comments is masked.")

summary = cache.evidence(feedback.feedback_summary, pilot, version, flt)
if widgets.empty_note(summary):
    st.stop()
c = st.columns(5)
c[0].metric("Entries", f"{summary.count:,}")
c[1].metric("Mean rating", f"{summary.mean_rating:.1f} / 5" if summary.mean_rating is not None else "—")
c[2].metric("CSAT (4-5 stars)", f"{summary.csat:.0%}" if summary.csat is not None else count_of(summary.rated, "rating"),
            help="Share of the rated entries (not of all entries) that gave 4 or 5 stars.")
c[3].metric("NPS", f"{summary.nps:+.0f}" if summary.nps is not None else count_of(summary.scored, "score"),
            help="Net Promoter Score, from the 0-10 'would you recommend it' answers (not the stars): the share "
                 "of 9-10 minus the share of 0-6, from -100 to +100.")
c[4].metric("Negative comments", f"{summary.negative_share:.0%}" if summary.negative_share is not None
            else count_of(summary.analysed, "comment"), help="Share of the analysed comments with negative sentiment.")
figs = cache.evidence(confidence.rate_intervals, pilot, version, flt)
for col, name in zip(c[1:], FIGURES):
    if name in figs:
        col.caption(criteria.figure_note(figs[name]))
for why in summary.missing.values():
    st.caption(md(why))
st.caption(confidence.methods_note(figs, FIGURES) + " Ratings, scores and comments count one per answer.")

left, right = st.columns(2)
with left:
    if summary.rated:
        plotting.evidence_chart(charts.ratings_of, feedback.feedback_summary, pilot, version, flt)
with right:
    plotting.evidence_chart(charts.negative_share, feedback.sentiment_over_time, pilot, version, flt)

ui_intervals.segment_differences(pilot, version, flt, "csat")
ui_intervals.before_after(pilot, version, flt, FIGURES, "_w_split_feedback")

st.subheader("Operational requirements apart from feature requests")
triage = cache.evidence(feedback.triage_table, pilot, version, flt)
if not widgets.empty_note(triage):
    left, right = st.columns([2, 3])
    with left:
        plotting.evidence_chart(charts.triage_split, feedback.triage_table, pilot, version, flt)
    with right:
        st.dataframe(triage.assign(triage=triage["triage"].map(words)), hide_index=True, width="stretch", column_config={
            "triage": "Class", "operational": "Operational", "comments": "Comments",
            "share": st.column_config.ProgressColumn("Share", format="percent", min_value=0, max_value=1),
            "examples": st.column_config.ListColumn("Examples")})

st.subheader("Themes")
themes = cache.evidence(feedback.themes, pilot, version, flt)
if not widgets.empty_note(themes):
    st.dataframe(themes[["label", "size", "mean_rating", "mean_sentiment", "examples"]], hide_index=True,
                 width="stretch", column_config={
                     "label": "Theme", "size": "Comments",
                     "mean_rating": st.column_config.NumberColumn("Mean rating", format="%.1f", help="1-5 stars"),
                     "mean_sentiment": st.column_config.NumberColumn(
                         "Mean sentiment", format="%+.2f", help="VADER compound score, -1 (negative) to +1 (positive)"),
                     "examples": st.column_config.ListColumn("Examples")})

st.subheader("Most negative comments")
negative = cache.evidence(feedback.most_negative, pilot, version, flt)
if not widgets.empty_note(negative):
    st.dataframe(negative.assign(triage=negative["triage"].map(words)), hide_index=True, width="stretch", column_config={
        "comment": st.column_config.TextColumn("Comment", width="large"),
        "sentiment": st.column_config.NumberColumn("Sentiment", format="%+.2f"),
        "rating": st.column_config.NumberColumn("Rating", format="%.0f"),
        "ts": st.column_config.DatetimeColumn(f"When ({pilot.time_zone})", format="YYYY-MM-DD HH:mm"),
        "triage": "Class", "personal_data": "Personal data"})
