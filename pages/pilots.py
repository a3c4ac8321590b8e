"""Landing page: every pilot in the store with its row counts per log kind."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from readiness import pilots, settings, store


@st.cache_data(show_spinner=False)
def _pilot_rows(db: str, version: str) -> pd.DataFrame:
    """Pilots with counts; cached per store file and data version."""
    with store.open_store(db) as con:
        return pd.DataFrame(pilots.list_pilots(con))


def _version(db: str) -> str:
    with store.open_store(db) as con:
        return pilots.data_version(con)


st.title("Pilots")
st.caption("Which pilots are in the store, and how much evidence has each brought in?")

db = str(settings.db_path())
try:
    df = _pilot_rows(db, _version(db))
except store.StoreBusy as err:
    st.warning(str(err))
    st.button("Try again")
    st.stop()

if df.empty:
    st.info("No pilots yet. Load logs with `python -m readiness ingest --pilot NAME --create --kind usage FILE`, "
            "or the demo with `python -m readiness demo`.")
    st.stop()

c1, c2, c3, c4 = st.columns(4)
c1.metric("Pilots", f"{len(df):,}")
c2.metric("Usage events", f"{int(df['usage_rows'].sum()):,}")
c3.metric("Feedback entries", f"{int(df['feedback_rows'].sum()):,}")
c4.metric("Exceptions", f"{int(df['exception_rows'].sum()):,}")

for row in df.itertuples():
    st.markdown(f"**{row.name}** · {row.risk_tier} risk · {row.time_zone} — "
                f"{row.usage_rows:,} usage events, {row.feedback_rows:,} feedback entries, "
                f"{row.exception_rows:,} exceptions, {row.rejected_rows:,} rejected rows")

shown = df[["name", "capability", "owner", "risk_tier", "time_zone", "usage_rows", "feedback_rows",
            "exception_rows", "rejected_rows", "first_ts", "last_ts", "last_ingest"]]
st.dataframe(
    shown, hide_index=True, width="stretch",
    column_config={
        "name": st.column_config.TextColumn("Pilot"),
        "capability": st.column_config.TextColumn("Capability", width="medium"),
        "owner": "Pilot owner",
        "risk_tier": "Risk tier",
        "time_zone": "Time zone",
        "usage_rows": st.column_config.NumberColumn("Usage events", format="localized"),
        "feedback_rows": st.column_config.NumberColumn("Feedback", format="localized"),
        "exception_rows": st.column_config.NumberColumn("Exceptions", format="localized"),
        "rejected_rows": st.column_config.NumberColumn("Rejected rows", format="localized"),
        "first_ts": st.column_config.DatetimeColumn("Data from", format="YYYY-MM-DD"),
        "last_ts": st.column_config.DatetimeColumn("Data to", format="YYYY-MM-DD"),
        "last_ingest": st.column_config.DatetimeColumn("Last ingest (UTC)", format="YYYY-MM-DD HH:mm"),
    },
)
st.caption("Counts are rows loaded; rejected rows are kept with their reasons (`python -m readiness rejects`).")
