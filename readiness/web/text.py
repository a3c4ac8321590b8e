"""Text as the app shows it: user text made inert for Markdown, keys in words, figures and counts."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from readiness.review.export import markdown_text


def md(text: Any) -> str:
    """User-typed or file-read text as Streamlit shows it: as typed, with no link, image, emphasis,
    HTML, icon, directive or formula from it (:func:`readiness.review.export.markdown_text`). Every such
    text that reaches Markdown goes through it: st.title, header, caption, markdown, alerts, toasts,
    metric and widget labels, help, radio and pills options, st.table cells. Not select boxes and
    grids: they show text as it is."""
    return markdown_text(text)


def words(key: str | None) -> str | None:
    """An internal class or key as a reviewer reads it: "customer_impact" -> "customer impact",
    "operational:reliability" -> "reliability (operational)". Anything not a string as it is."""
    if not isinstance(key, str):
        return key
    kind, _, what = key.partition(":")
    return f"{what.replace('_', ' ')} ({kind})" if what else kind.replace("_", " ")


def figure(name: str, value: Any) -> str:
    """A signal's figure as a reviewer reads it: shares as percentages, counts with separators."""
    if isinstance(value, float) and ("share" in name or "rate" in name) and 0 <= value <= 1:
        return f"{value:.1%}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return md(str(value))


def count_of(n: int, noun: str) -> str:
    """In place of a share there is too little to give: how many rows it would be over ('3 ratings')."""
    return f"{n:,} {noun}{'s' * (n != 1)}" if n else "—"


def file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "pilot"


def blank_text(df: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """``df`` with its text columns' missing values as empty cells: the grid writes them "None".
    ``columns`` names the text columns; by default those holding strings and those with no value."""
    text = columns or [c for c in df.columns if pd.api.types.is_string_dtype(df[c]) or df[c].isna().all()]
    if text:
        df = df.copy()
        df[text] = df[text].astype(object).where(df[text].notna(), "")
    return df
