"""Streamlit helpers shared by the evidence pages: segments that differ from the rest beyond chance."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from analysis import confidence, segments
from analysis.common import Filters
from readiness.web import cache
from readiness.web.text import md


def segment_differences(pilot, version: str, flt, metric: str) -> None:
    """A short list of the segment values whose ``metric`` differs from the rest beyond chance
    ("Procurement: task success 71% (64%–77%) against 90% elsewhere"), or one line saying none does."""
    found = [d for d in cache.evidence(segments.differences, pilot, version, flt) if d.metric == metric]
    st.subheader("Segments that differ beyond chance")
    if found:
        st.markdown("\n".join(f"- {md(d.segment.replace('_', ' '))} {md(d.text())}" for d in found[:5]))
    else:
        st.markdown(f"No team, feature or user group differs from the rest on {segments.LABELS[metric]} beyond chance.")
    st.caption(f"Each segment against every other, {segments.LABELS[metric]} with its interval; a z-test on the "
               "difference with users as clusters, p-values adjusted together by Holm's method over every "
               f"comparison made. Segments with fewer than {segments.MIN_USERS} users or {segments.MIN_RATINGS} "
               "ratings are not compared.")


def before_after(pilot, version: str, flt, names: tuple[str, ...], key: str) -> tuple[date, list] | None:
    """A date to split on (a release, a fix) and the page's figures before and after it, each with its
    interval and whether it changed beyond chance. Within the page's dates and segment. Returns the
    date and the changes shown (None when nothing is compared), for a decision to cite."""
    st.subheader("Before and after a date")
    split = st.columns([1, 2])[0].date_input("Compare before and after (a release, a fix)", value=None, key=key,
                          help="The figures on the days before this date against the days from it on.")
    if split is None:
        return None
    before = Filters(start=flt.start, end=split - timedelta(days=1), segment=flt.segment)
    after = Filters(start=split, end=flt.end, segment=flt.segment)
    changes = confidence.compare(cache.evidence(confidence.rate_intervals, pilot, version, before),
                                 cache.evidence(confidence.rate_intervals, pilot, version, after), names)
    if not changes:
        st.info(f"Nothing to compare: the figures need data on both sides of {split:%Y-%m-%d}.")
        return None
    st.table(pd.DataFrame([c.row() for c in changes]), hide_index=True, border="horizontal")
    st.caption(f"Before: the days up to {split - timedelta(days=1):%Y-%m-%d}; after: from {split:%Y-%m-%d}. "
               "Ranges as above; a change is beyond chance when a z-test on it (each side's standard error read "
               "from its interval), adjusted by Holm's method over these figures, says so.")
    return split, changes
