"""Streamlit helpers shared by the evidence pages: segments that differ from the rest beyond chance."""

from __future__ import annotations

import streamlit as st

from analysis import segments
from readiness import ui


def segment_differences(pilot, version: str, flt, metric: str) -> None:
    """A short list of the segment values whose ``metric`` differs from the rest beyond chance
    ("Procurement: task success 71% (64%–77%) against 90% elsewhere"), or one line saying none does."""
    found = [d for d in ui.evidence("analysis.segments.differences", pilot, version, flt) if d.metric == metric]
    st.subheader("Segments that differ beyond chance")
    if found:
        st.markdown("\n".join(f"- {ui.md(d.segment.replace('_', ' '))} {ui.md(d.text())}" for d in found[:5]))
    else:
        st.markdown(f"No team, feature or user group differs from the rest on {segments.LABELS[metric]} beyond chance.")
    st.caption(f"Each segment against every other, {segments.LABELS[metric]} with its interval; a z-test on the "
               "difference with users as clusters, p-values adjusted together by Holm's method over every "
               f"comparison made. Segments with fewer than {segments.MIN_USERS} users or {segments.MIN_RATINGS} "
               "ratings are not compared.")
