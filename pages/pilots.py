"""Landing page: every pilot in the store with its row counts per log kind."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from readiness import access, between, pilots, store, ui
from readiness.access import Actor


@st.cache_data(show_spinner=False)
def _pilot_rows(db: str, version: str, visible: tuple[int, ...] | None, _actor: Actor) -> pd.DataFrame:
    """Pilots with counts; cached per store file, data version and the set of pilots visible."""
    with store.open_store(db) as con:
        return pd.DataFrame(pilots.list_pilots(con, _actor))


def _version_and_visible(db: str, actor: Actor) -> tuple[str, tuple[int, ...] | None]:
    """The access check runs here, fresh on every rerun, before the cached read."""
    with store.open_store(db) as con:
        visible = access.visible_pilot_ids(con, actor)
        return pilots.data_version(con), (None if visible is None else tuple(sorted(visible)))


st.title("Pilots")
st.caption("Which pilots are in the store, and how much evidence has each brought in?")

actor = ui.actor()  # any logged-in role; what they see is limited to their grants
db = ui.db()
try:
    version, visible = _version_and_visible(db, actor)
    df = _pilot_rows(db, version, visible, actor)
except store.StoreBusy as err:
    ui.busy(err)
except access.AccessDenied as err:
    st.error(f"Not allowed: {err}")
    st.stop()

if df.empty and visible is not None:
    st.info("No pilots have been shared with you yet. Ask an admin to grant you access to a pilot.")
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
    st.markdown(f"**{ui.md(row.name)}** · {row.risk_tier} risk · {row.time_zone} — "
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

st.subheader("Where each review stands")
try:
    with store.open_store(db) as con:
        status = between.portfolio(con, actor)
except store.StoreBusy as err:
    ui.busy(err)
st.dataframe(pd.DataFrame(status), hide_index=True, width="stretch", column_config={
    "pilot": "Pilot", "risk_tier": "Risk tier", "decision": "Decision", "next_review": "Next review",
    "overdue": st.column_config.CheckboxColumn("Overdue"), "open_high_risks": "Open high risks",
    "conditions": "Conditions met", "flags": st.column_config.TextColumn("Needs attention", width="large"),
    "data_as_of": st.column_config.DatetimeColumn("Data as of (UTC)", format="YYYY-MM-DD")})
