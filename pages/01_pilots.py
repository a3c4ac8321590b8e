"""Portfolio (landing page): where each pilot's review stands, what needs attention, and the evidence loaded."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import streamlit as st

from readiness import catalog, pilots, store
from readiness.review import figures, portfolio
from readiness.security import access
from readiness.security.access import Actor
from readiness.web import login, query, widgets
from readiness.web.text import md

PICK_AS_PILLS = 12  # pilots shown: up to this many are offered as buttons, more in a select box


@st.cache_data(show_spinner=False)
def _pilot_rows(db: str, version: str, visible: tuple[int, ...] | None, _actor: Actor) -> pd.DataFrame:
    """Pilots with counts; cached per store file, data version and the set of pilots visible."""
    with store.open_store(db) as con:
        return pd.DataFrame(pilots.list_pilots(con, _actor))


@st.cache_data(show_spinner=False, max_entries=64)
def _portfolio(db: str, version: str, visible: tuple[int, ...] | None, today: date, _actor: Actor) -> pd.DataFrame:
    """Where each review stands, from each pilot's stored figures (one query; a pilot whose data or
    records changed since is recomputed first); cached per data version (which moves with every
    audited review edit), the pilots visible, and the day (overdue flags)."""
    with store.open_store(db) as con:
        return pd.DataFrame(figures.portfolio(con, _actor, today))


def _version_and_visible(db: str, actor: Actor) -> tuple[str, tuple[int, ...] | None]:
    """The access check runs here, fresh on every rerun, before the cached read."""
    with store.open_store(db) as con:
        visible = access.visible_pilot_ids(con, actor)
        return catalog.data_version(con), (None if visible is None else tuple(sorted(visible)))


st.title("Portfolio")
st.caption("Every pilot you may see: its decision or review in progress, the next review, open high risks, "
           "conditions, and what needs attention between reviews.")

actor = login.actor()  # any logged-in role; what they see is limited to their grants
db = login.db()
try:
    version, visible = _version_and_visible(db, actor)
    df = _pilot_rows(db, version, visible, actor)
    with store.open_store(db) as con:
        can_create = access.allowed(con, actor, "create_pilot")
except store.StoreBusy as err:
    login.busy(err)
except access.AccessDenied as err:
    st.error(f"Not allowed: {md(err)}")
    st.stop()


def _create(con, name: str, profile: dict) -> catalog.Pilot:
    with store.transaction(con):
        return pilots.create_pilot(con, name, actor, **profile)  # checks the role again, audited


@st.dialog("New pilot")
def _new_pilot() -> None:
    """Reviewers and admins start a review here (a dialog: nothing of it is drawn until asked for)."""
    with st.form("new_pilot", border=False):
        name = st.text_input("Name", placeholder="e.g. Invoice triage assistant")
        capability = st.text_input("Capability: what it does, in a sentence")
        owner = st.text_input("Pilot owner")
        a, b = st.columns(2)
        zone = a.text_input("Time zone (IANA)", value="UTC",
                            help="Its logs' local days, and how times without a zone are read; e.g. Europe/London")
        tier = b.selectbox("Risk tier", catalog.RISK_TIERS, index=1)
        if st.form_submit_button("Create pilot", type="primary"):
            profile = {"owner": owner.strip() or None, "capability": capability.strip() or None,
                       "time_zone": zone.strip() or "UTC", "risk_tier": tier}
            done, made = widgets.run_action(widgets.with_store(lambda con: _create(con, name, profile)))
            if done:
                query.choose_pilot(made.name)
                widgets.flash(f"Pilot {md(made.name)} created: load its logs here.")
                st.switch_page("pages/02_sources.py")


if can_create and st.button("New pilot", icon=":material/add:"):
    _new_pilot()

if df.empty and visible is not None:
    st.info("No pilots have been shared with you yet. "
            + ("Start one with New pilot, or ask" if can_create else "Ask") + " an admin to grant you access to a pilot.")
    st.stop()
if df.empty:
    st.info("No pilots yet. Start one with New pilot and load its logs on the Sources page, or from the command line: "
            "`python -m readiness ingest --pilot NAME --create --kind usage FILE` "
            "(the demo: `python -m readiness demo`).")
    st.stop()

try:
    # high signals neither in the register nor dismissed count too (untriaged_high): the register
    # alone says 0 open high risks and nothing to attend to while such signals wait.
    with st.spinner("Reading each pilot's figures…"):
        status = _portfolio(db, version, visible, datetime.now(UTC).date(), actor)
    with store.open_store(db) as con:
        chosen = catalog.pilots_by_name(con, list(status["pilot"]))
except store.StoreBusy as err:
    login.busy(err)

rows = status.to_dict("records")
counts = portfolio.attention_counts(rows)
needing = sum(1 for r in rows if portfolio.attention(r))
c = st.columns(5)
c[0].metric("Pilots", f"{len(rows):,}")
c[1].metric("In review", f"{sum(1 for r in rows if r['decision'] == 'in review'):,}")
c[2].metric("Reviews overdue", f"{counts['overdue']:,}")
c[3].metric("Open high risks", f"{int(status['open_high_risks'].sum()):,}",
            help="High risks open in the pilots' registers. High risk signals not yet taken into a register or "
                 "dismissed are counted under Need attention.")
c[4].metric("Need attention", f"{needing:,}", help="Pilots with an overdue review, an open high risk, a high "
            "risk signal not yet triaged, or a flag between reviews: an expired waiver, drift of a condition that "
            "held at the decision, usage falling, an overdue risk.")

# The view's filters live in the address bar (a link reopens the same view) and in the widgets' state.
asked = portfolio.PortfolioFilter.from_query(
    {k: (st.query_params.get_all(k) if k in ("owner", "tier", "decision") else st.query_params.get(k))
     for k in portfolio.QUERY_KEYS})
owners, decisions_seen = portfolio.choices(rows, "owner"), portfolio.choices(rows, "decision")
defaults = {"_pf_q": asked.search, "_pf_owner": [o for o in asked.owners if o in owners],
            "_pf_tier": [t for t in asked.tiers if t in catalog.RISK_TIERS],
            "_pf_decision": [d for d in asked.decisions if d in decisions_seen],
            "_pf_needs": asked.needs if asked.needs in portfolio.ATTENTION else None,
            "_pf_sort": asked.sort, "_pf_desc": asked.descending}
for key, value in defaults.items():
    st.session_state.setdefault(key, value)

kinds = [k for k in portfolio.ATTENTION if counts[k]]
if kinds:
    st.pills("Need attention (pick one to show only those pilots)", kinds, key="_pf_needs",
             format_func=lambda k: f"{portfolio.ATTENTION[k]} · {counts[k]:,}")
f = st.columns([4, 2, 1], vertical_alignment="bottom")
f[0].text_input("Search pilots", key="_pf_q", placeholder="Part of a name", icon=":material/search:")
f[1].selectbox("Sort by", list(portfolio.SORTS), key="_pf_sort", format_func=portfolio.SORTS.get)
f[2].toggle("Descending", key="_pf_desc")
g = st.columns(3)
g[0].multiselect("Owner", owners, key="_pf_owner", placeholder="Any owner")
g[1].multiselect("Risk tier", list(catalog.RISK_TIERS), key="_pf_tier", placeholder="Any tier")
g[2].multiselect("Decision", decisions_seen, key="_pf_decision", placeholder="Any decision")
flt = portfolio.PortfolioFilter(
    search=st.session_state["_pf_q"].strip(), owners=tuple(st.session_state["_pf_owner"]),
    tiers=tuple(st.session_state["_pf_tier"]), decisions=tuple(st.session_state["_pf_decision"]),
    needs=st.session_state["_pf_needs"], sort=st.session_state["_pf_sort"], descending=st.session_state["_pf_desc"])
# Only the portfolio's own keys are written: another page's (pilot, dates) are left for it, and an
# address that already says this view is not written again.
wanted = flt.to_query()
for key in portfolio.QUERY_KEYS:
    shown = st.query_params.get_all(key) if isinstance(wanted.get(key), list) else st.query_params.get(key)
    if key not in wanted and key in st.query_params:
        del st.query_params[key]
    elif key in wanted and shown != wanted[key]:
        st.query_params[key] = wanted[key]

shown = pd.DataFrame(portfolio.narrowed(rows, flt), columns=status.columns)
shown["attention"] = [", ".join(portfolio.ATTENTION[k] for k in portfolio.attention(r))
                      for r in shown.to_dict("records")]
shown["next_review_shown"] = [("⚠ " if o else "") + (str(d) if d else "—") for d, o in
                              zip(shown["next_review"], shown["overdue"], strict=True)]
st.caption(f"Showing {len(shown):,} of {len(rows):,} pilots" + (" · filtered" if flt.to_query().keys() - {"sort", "desc"}
                                                                   else "") + ".")
st.dataframe(
    shown, hide_index=True, width="stretch", height=min(38 + 35 * max(len(shown), 1), 600),
    column_order=["pilot", "owner", "risk_tier", "decision", "next_review_shown", "open_high_risks",
                  "untriaged_high", "conditions", "attention", "flags", "data_as_of"],
    column_config={
        "pilot": "Pilot", "owner": "Owner", "risk_tier": "Risk tier", "decision": "Decision",
        "next_review_shown": st.column_config.TextColumn("Next review", help="⚠ = overdue"),
        "open_high_risks": "Open high risks",
        "untriaged_high": st.column_config.NumberColumn(
            "High signals to triage", help="High risk signals neither in the register nor dismissed (Risks page)"),
        "conditions": "Conditions met",
        "attention": st.column_config.TextColumn("Needs attention", width="medium"),
        "flags": st.column_config.TextColumn("Between reviews", width="medium"),
        "data_as_of": st.column_config.DatetimeColumn("Data as of (UTC)", format="YYYY-MM-DD")})
if len(shown) <= PICK_AS_PILLS:  # a few: one click each (labels read Markdown, hence md)
    name = st.pills("Open a pilot", list(shown["pilot"]), key="portfolio_pick", format_func=md)
else:
    name = st.selectbox("Open a pilot", list(shown["pilot"]), index=None, key="portfolio_pick",
                        placeholder="Choose a pilot from the list above, or type part of its name")
if name:
    query.choose_pilot(name)
    a, b, c2 = st.columns(3)
    if a.button(f"Review {md(name)}", icon=":material/arrow_forward:", type="primary", width="stretch"):
        st.switch_page("pages/02_sources.py")
    if b.button("Decision", icon=":material/gavel:", width="stretch"):
        st.switch_page("pages/09_decision.py")
    if c2.button("Readout", icon=":material/present_to_all:", width="stretch"):
        st.switch_page("pages/10_readout.py")

widgets.export_buttons(actor, chosen, playbook=False)

st.subheader("Evidence loaded")
c = st.columns(4)
c[0].metric("Usage events", f"{int(df['usage_rows'].sum()):,}")
c[1].metric("Feedback entries", f"{int(df['feedback_rows'].sum()):,}")
c[2].metric("Exceptions", f"{int(df['exception_rows'].sum()):,}")
c[3].metric("Rejected rows", f"{int(df['rejected_rows'].sum()):,}")
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
st.caption("Counts are rows loaded; rejected rows are kept with their reasons (Sources page, or "
           "`python -m readiness rejects`).")
