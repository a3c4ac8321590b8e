"""Charts on a page: an evidence result made into a figure (:mod:`readiness.web.charts`), cached
with the evidence, and drawn with its title as wrapped text and its caption below."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from analysis.common import NO_FILTERS, Empty
from readiness.web import cache
from readiness.web.text import md
from readiness.web.widgets import empty_note


# A resource cache: every rerun gets the same figure object. From st.cache_data each read would
# unpickle the figure, and plotly validates a figure again as it builds it (25 ms per chart per
# rerun); st.plotly_chart only reads the figure (it draws from a copy).
@st.cache_resource(show_spinner=False, max_entries=256)
def _evidence_chart(name: str, db_path: str, pilot_id: int, version: str, time_zone: str, filter_key: tuple,
                    _draw_fn: Callable, _evidence_fn: Callable, _pilot, _filters) -> Any:
    result = cache.evidence(_evidence_fn, _pilot, version, _filters)
    return result if isinstance(result, Empty) else _title_apart(_draw_fn(result))


def evidence_chart(chart_fn: Callable, evidence_fn: Callable, pilot, version: str, flt=None) -> bool:
    """Draw ``chart_fn`` (one of :mod:`readiness.web.charts`) of ``evidence_fn``'s result (figure and
    caption cached with it, by pilot, data version and filters), or the result's reason when it is
    empty. True when drawn."""
    flt = flt or NO_FILTERS
    name = f"{cache.qualified_name(chart_fn)}({cache.qualified_name(evidence_fn)})"
    result = _evidence_chart(name, cache.db(), pilot.pilot_id, version, pilot.time_zone, flt.key(),
                             chart_fn, evidence_fn, pilot, flt)
    if empty_note(result):
        return False
    _draw(*result)
    return True


def _title_apart(result: tuple[Any, str]) -> tuple[Any, str, str | None]:
    """(figure without its title, caption, title): the title is drawn as wrapped text above the
    chart, since a plotly title is cut off in a narrow column. The figure is copied once here
    (cached with the evidence), not on every rerun."""
    fig, caption = result
    title = fig.layout.title.text
    if title:
        fig = go.Figure(fig).update_layout(title=None)
    return fig, caption, title


def _draw(fig: Any, caption: str, title: str | None) -> None:
    if title:
        st.markdown(f"**{md(title)}**")
    st.plotly_chart(fig, width="stretch", theme=None)
    st.caption(caption)


def chart(result: tuple[Any, str]) -> None:
    """Draw a (figure, caption) pair from readiness.web.charts: the title states the finding, the
    caption how it is computed. Plotly's own colours (the app's one palette) are kept."""
    _draw(*_title_apart(result))
