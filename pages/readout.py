"""Readout: one page for the meeting — the decision, the evidence behind it, risks, conditions, next review."""

from __future__ import annotations

import streamlit as st

from readiness import access, audit, conditions, decisions, export, risks, store, ui
from readiness.store import transaction

actor, pilot, version = ui.pick_pilot(stepper=False)
figures = ui.evidence("analysis.summary.summary", pilot, version)

with store.open_store(ui.db()) as con:
    current = decisions.current_decision(con, pilot)
    conds = conditions.list_conditions(con, actor, pilot)
    register = [r for r in risks.list_risks(con, actor, pilot, include_dismissed=False) if r["status"] == "open"]
    can_export = access.allowed(con, actor, "export", pilot.pilot_id)

top_signals = [] if register else ui.signals(actor, pilot, version)[:3]

st.title(f"Readout: {pilot.name}")
st.caption(f"{ui.md(pilot.capability)} · owner {ui.md(pilot.owner)} · {pilot.risk_tier} risk · data to "
           f"{(figures.get('data_as_of') or '—')[:10]}")

if current:
    st.header(f"Decision: {decisions.OUTCOMES[current['outcome']]}")
    st.markdown(f"> {ui.md(current['rationale'])}")
    st.markdown(f"Accountable owner **{ui.md(current['owner'])}** · next review **{current['next_review'] or '— (stopped)'}** · "
                f"decided by {ui.md(current['decided_by'])} on {current['decided_at']:%Y-%m-%d}")
else:
    st.header("No decision yet")

st.caption("Figures below are live (data as of the last ingest)"
           + (f"; the decision froze its own copy on {current['decided_at']:%Y-%m-%d}." if current else "."))
u, f, e = figures["usage"], figures["feedback"], figures["exceptions"]
c = st.columns(5)
c[0].metric("Users", f"{u['users']:,}" if u["users"] is not None else "—")
c[1].metric("Events", f"{u['events']:,}" if u["events"] is not None else "—")
c[2].metric("CSAT", f"{f['csat']:.0%}" if f["csat"] is not None else "—")
c[3].metric("Exceptions per 1,000 events", f"{e['per_1k_events']:.1f}" if e["per_1k_events"] is not None else "—")
c[4].metric("Failure modes", f"{e['failure_modes']:,}")

left, right = st.columns(2)
with left:
    st.subheader("Top risks")
    for r in sorted(register, key=lambda r: -(r["score"] or 0))[:3]:
        st.markdown(f"- **{r['severity'] or '—'}** {ui.md(r['title'])} — {ui.md(r['owner'] or 'no owner')}")
    for sig in top_signals:
        st.markdown(f"- **{sig['severity']}** {ui.md(sig['finding'])} *(signal, not yet in the register)*")
    if not register and not top_signals:
        st.markdown("None open.")
with right:
    st.subheader("Conditions")
    for x in conds:
        mark = {"met": ":material/check_circle:", "waived": ":material/schedule:"}.get(x["status"], ":material/cancel:")
        st.markdown(f"{mark} {ui.md(x['title'])}" + (f" — *{ui.md(x['live_value'])}*" if x.get("live_value") else ""))
    if not conds:
        st.markdown("Not opened yet.")

if can_export:
    def _csv() -> bytes:
        with store.open_store(ui.db()) as con:
            with transaction(con):
                access.require(con, actor, "export", pilot.pilot_id)
                rows = decisions.decision_summaries(con, actor, [pilot])
                audit.record(con, actor, "export", f"pilot:{pilot.pilot_id}/decisions", {"rows": len(rows)})
        return export.csv_bytes(rows, decisions.SUMMARY_COLUMNS)

    st.download_button("Decision summaries (CSV)", _csv, file_name="decisions.csv", mime="text/csv",
                       icon=":material/download:")
