"""Readout: one screen for the meeting — the decision, four headline figures with their trend, top risks,
conditions, owner and next review. Large type, no editing widgets, no personal data; prints from the
browser and downloads as one self-contained HTML file."""

from __future__ import annotations

import streamlit as st

from readiness import store
from readiness.review import asof, readout
from readiness.security import access
from readiness.web import cache, login, navigation, widgets
from readiness.web.text import file_stem, md

actor, pilot, version = navigation.pick_pilot(stepper=False)
signals = cache.signals(actor, pilot, version)
figures = cache.evidence(readout.headline, pilot, version)
with store.open_store(login.db()) as con:
    c = readout.content(con, actor, pilot, signals, figures=figures, conds=cache.judged_conditions(actor, pilot, version))
    can_export = access.allowed(con, actor, "export", pilot.pilot_id)

# Large type for a room; in print, only the readout (no sidebar, header or buttons).
st.html("""<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p, [data-testid="stMain"] li {font-size: 1.3rem;}
[data-testid="stMetricValue"], [data-testid="stMetricValue"] p {font-size: 3.2rem !important; font-weight: 600;}
[data-testid="stMetricDelta"] p {font-size: 1.2rem !important;}
[data-testid="stMetricLabel"] p {font-size: 1.1rem !important;}
@media print {
  [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"], .stDownloadButton,
  [data-testid="stDecoration"] {display: none !important;}
  [data-testid="stMain"] {margin-left: 0 !important;}
}
</style>""")

st.title(md(c["pilot"]))
st.caption(f"{md(c['capability'])} · pilot owner {md(c['owner'])} · {c['risk_tier']} risk · data as of "
           f"{c['data_as_of'] or '—'}")

d = c["decision"]
if d:
    st.header(f"Decision: {d['outcome']}")
    st.markdown(f"> {md(d['rationale'])}")
    st.markdown(f"Accountable owner **{md(d['owner'])}** · next review **{d['next_review'] or '— (stopped)'}** · "
                f"decided by {md(d['decided_by'])} on {d['decided_at']:%Y-%m-%d} (review {d['review_number']})")
    st.caption(md(asof.describe(cache.as_decided(actor, pilot, version, d["decision_id"]))))
else:
    st.header("Decision: pending")
    st.markdown("No decision has been recorded for this review yet.")

cols = st.columns(4)
for col, f in zip(cols, c["figures"], strict=True):
    shown = f["change"] if not f["change"] or f.get("against", readout.WINDOW) == readout.WINDOW \
        else f"{f['change']} vs {f['against']}"
    col.metric(f["label"], f["value"], shown, delta_color="off" if f["good"] is None else
               ("normal" if (f["direction"] == "up") == f["good"] else "inverse"), border=True)
    if f.get("range"):
        col.markdown(f"range **{f['range']}**")
st.caption("All four figures cover the last 28 days of data; each change compares them with the 28 days before. "
           + c["frozen_note"] + " " + c["ranges_note"])

left, right = st.columns(2)
with left:
    st.subheader("Top risks")
    for t in c["top"]:  # worst first: open register risks and signals not yet triaged
        st.markdown(f"- **{t['severity'] or '—'}** {md(t['text'])} — {md(t['owner'] or 'no owner')}"
                    if t["kind"] == "risk" else
                    f"- **{t['severity']}** {md(t['text'])} *(signal, not yet in the register)*")
    if not c["top"]:
        st.markdown("None open.")
with right:
    st.subheader(f"Conditions: {c['conditions_met']} of {len(c['conditions'])} met" if c["conditions"] else "Conditions")
    for x in c["conditions"]:
        mark = {"met": ":green[:material/check_circle:]", "waived": ":orange[:material/schedule:]",
                "undecided": ":orange[:material/help:]"}.get(
            x["status"], ":red[:material/cancel:]")
        st.markdown(f"{mark} {md(x['title'])}" + (f" — *{md(x['live_value'])}*" if x["live_value"] else ""))
    if not c["conditions"]:
        st.markdown("Not opened yet (the Readiness page opens the checklist).")

if can_export:
    st.divider()

    def _page() -> bytes:
        with store.open_store(login.db()) as con:
            return readout.export_html(con, actor, pilot, signals, figures).encode("utf-8")

    st.download_button("Readout as one HTML file", _page, file_name=f"readout_{file_stem(pilot.name)}.html",
                       mime="text/html", icon=":material/download:")
    widgets.export_buttons(actor, [pilot], title=None)
st.caption("To print or save as PDF, use the browser's Print: the sidebar and buttons are left out.")
