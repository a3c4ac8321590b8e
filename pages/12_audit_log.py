"""Admin: the audit log — filter, verify the hash chain, export through the one safe CSV writer."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from readiness import store
from readiness.review import export
from readiness.security import access, audit
from readiness.store import transaction
from readiness.web import login

actor = login.guard("verify_audit")

st.title("Audit log")
st.caption("Every login, ingest, deletion, edit, reveal, export and account change, in order. "
           "Each record is chained to the one before it; Verify checks the whole chain.")

db = login.db()
c1, c2, c3, c4 = st.columns([1, 1, 2, 2])
who = c1.text_input("Actor")
what = c2.text_input("Action", placeholder="e.g. ingest")
text = c3.text_input("Object or details contain")
days = c4.date_input("Dates (UTC)", value=(), help="Leave empty for all dates.")
since = until = None
if isinstance(days, tuple) and len(days) == 2:
    since = datetime.combine(days[0], time.min, UTC)
    until = datetime.combine(days[1], time.min, UTC) + timedelta(days=1)
filters = {"actor": who or None, "action": what or None, "text": text or None, "since": since, "until": until}

try:
    with store.open_store(db) as con:
        rows = audit.search(con, limit=1000, **filters)
        head = audit.head(con)
except store.StoreBusy as err:
    login.busy(err)

v1, v2 = st.columns([1, 3])
if v1.button("Verify the chain", type="primary"):
    try:
        with store.open_store(db) as con:
            result = audit.verify(con)
    except store.StoreBusy as err:
        login.busy(err)
    (v2.success if result.ok else v2.error)(login.page_text(result.message))  # the key's file: in the log
    for w in result.warnings:
        v2.warning(login.page_text(w))
else:
    v2.caption(f"Newest record {head['seq']:,} · hash `{head['hash'][:16]}…` (anchor it elsewhere with "
               "`python -m readiness audit head`).")

COLUMNS = ["seq", "ts", "actor", "role", "action", "object", "details"]


def _csv() -> bytes:
    """Runs when the download is clicked: checked again, audited as an export."""
    with store.open_store(db) as con:
        with transaction(con):
            access.require(con, actor, "verify_audit")
            data = audit.search(con, limit=1_000_000, **filters)
            audit.record(con, actor, "export", "audit_log", {"rows": len(data), "filters": filters})
    return export.csv_bytes(data, COLUMNS)


st.download_button("Download CSV", _csv, file_name="audit_log.csv", mime="text/csv", icon=":material/download:")
st.dataframe(pd.DataFrame(rows, columns=COLUMNS), hide_index=True, width="stretch",
             column_config={"seq": "No.", "ts": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                            "actor": "Actor", "role": "Role", "action": "Action", "object": "Object",
                            "details": st.column_config.JsonColumn("Details")})
st.caption(f"Showing the newest {len(rows):,} matching records (up to 1,000; the CSV has them all).")
