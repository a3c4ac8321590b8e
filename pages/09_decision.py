"""Decision: the suggested outcome and what blocks operate; the decision form; past decisions."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from analysis import summary
from analysis.common import NO_FILTERS
from analysis.confidence import cited_rationale
from readiness import store
from readiness.review import asof, between, criteria, decisions, reviews
from readiness.security import access
from readiness.web import cache, login, navigation, query, widgets
from readiness.web import intervals as intervals_ui
from readiness.web.text import md

COMPARED = ("exceptions.per_1k_events", "usage.task_success", "feedback.csat", "feedback.negative_share")

actor, pilot, version = navigation.pick_pilot()

st.title("Decision")
st.caption(f"{md(pilot.name)} · operate, harden further, hand off, reframe or stop? The evidence suggests; you decide. "
           "The evidence is frozen with the decision.")

sigs = cache.signals(actor, pilot, version)
figures = cache.evidence(summary.summary, pilot, version)  # cached by pilot and data version
with store.open_store(login.db()) as con:
    conds = cache.judged_conditions(actor, pilot, version)
    suggestion = decisions.suggest(con, pilot, figures=figures, conditions=conds, signals=sigs)
    history = decisions.shown_decisions(con, actor, pilot)  # masked unless the actor may reveal
    review = reviews.current_review(con, pilot)
    can_decide = access.allowed(con, actor, "record_decision", pilot.pilot_id)

in_view = query.review_in_view()
latest = review["number"] if review else None
past = [d for d in history if d["review_number"] == in_view and d["status"] == "current"]
if in_view is not None and latest is not None and in_view < latest and past:
    d = past[0]
    frozen = json.loads(d["snapshot"])
    with st.container(border=True):
        st.subheader(f"Review {in_view}, as decided on {d['decided_at']:%Y-%m-%d}")
        st.markdown(f"**{decisions.OUTCOMES[d['outcome']]}** by {md(d['decided_by'])}, owner {md(d['owner'])}"
                    + (f", next review {d['next_review']}" if d["next_review"] else "") + f"  \n{md(d['rationale'])}")
        a, b = st.columns(2)
        a.dataframe(pd.DataFrame([{"Figure": between.FIGURE_LABELS.get(f"{s}.{n}", f"{s}.{n}"),
                                   "At the decision": frozen["figures"][s].get(n)} for s, n in between.FIGURES]),
                    hide_index=True, width="stretch")
        held = json.loads(d["conditions"] or "[]")
        b.markdown("**Conditions at the decision**\n\n" + ("\n".join(
            f"- {md(c.get('title') or c.get('area'))}: {c.get('status')}" for c in held) or "none recorded"))
        st.caption(md(asof.describe(cache.as_decided(actor, pilot, version, d["decision_id"]))))
        st.caption("Choose the latest review in the sidebar to work on the current one.")

box = st.success if suggestion.outcome == "operate" else st.warning
box(f"**Suggested: {decisions.SUGGESTIONS[suggestion.outcome]}**\n\n" + "\n".join(f"- {md(r)}" for r in suggestion.reasons))
if suggestion.criteria:
    st.table(pd.DataFrame(criteria.shown_rows(list(suggestion.criteria))), hide_index=True, border="horizontal")
    methods = sorted({c.method for c in suggestion.criteria if c.method})
    st.caption(f"Operate needs each interval wholly on the right side of its threshold; an interval across it is "
               f"not enough evidence yet. Intervals at {figures['intervals']['level']:.0%}: " + "; ".join(methods) + ".")

current = next((d for d in reversed(history) if d["status"] == "current"), None)
if current:
    st.markdown(f"**Current decision:** {decisions.OUTCOMES[current['outcome']]} (review {current['review_number']}, "
                f"by {md(current['decided_by'])} on {current['decided_at']:%Y-%m-%d}) — owner {md(current['owner'])}"
                + (f", next review {current['next_review']}" if current["next_review"] else ""))
    if current["outcome"] == "handoff":
        if current["handoff"] == "accepted":
            st.info(f"Hand-off accepted by {md(current['accepted_by'])}.")
        else:
            st.warning(f"Hand-off pending acceptance by {md(current['receiver'])}.")
            if actor.name == current["receiver"] and st.button("Accept the hand-off", type="primary"):
                widgets.run_action(widgets.with_store(lambda con: decisions.accept_handoff(con, actor, pilot, current["decision_id"])),
                              "Accepted.", refresh=True)
    if current["winddown"]:
        st.markdown("**Wind-down checklist**\n\n" + "\n".join(f"- [ ] {md(s['step'])}" for s in json.loads(current["winddown"])))

# A release or a fix in the pilot's time: the figures before and after it, for the decision to cite.
compared = intervals_ui.before_after(pilot, version, NO_FILTERS, COMPARED, "_w_split_decision")

if can_decide:
    st.subheader("Record the decision")
    with st.form("decide"):
        labels = list(decisions.OUTCOMES)
        # an extension is recorded as harden further, with the extension as its rationale
        outcome = st.radio("Outcome", labels, index=labels.index(suggestion.outcome if suggestion.outcome in labels
                                                                  else "harden"),
                           format_func=decisions.OUTCOMES.get, horizontal=True)
        rationale = st.text_area("Rationale (required)", placeholder="Why this outcome, on this evidence")
        cite = compared is not None and st.checkbox(
            f"Cite the comparison before and after {compared[0]:%Y-%m-%d} in the rationale", value=True,
            help="Adds each figure before and after the date, with its range, to the rationale recorded.")
        a, b, c = st.columns(3)
        owner = a.text_input("Accountable owner", value=pilot.owner or "")
        next_review = b.date_input("Next review (not for a stop)", value=date.today() + timedelta(days=42))
        receiver = c.text_input("Hand-off receiver (user name)", help="Only for a hand-off; they must accept it.")
        against = suggestion.outcome != "operate"
        # operate against the evidence is the reviewer's call, but not by a slip of the radio: it was
        # recorded with 5 required conditions unmet and no word of warning
        confirmed = st.checkbox(f"Record operate although the evidence suggests "
                                f"{decisions.SUGGESTIONS[suggestion.outcome].lower()}",
                                help="Only for operate: tick it to record operate against the suggestion above "
                                     "and its reasons.") if against else True
        if st.form_submit_button("Record decision", type="primary"):
            if outcome == "operate" and not confirmed:
                st.error(md(decisions.operate_refused(suggestion)))
            else:
                if cite and rationale.strip():
                    rationale = cited_rationale(rationale, *compared)
                done, d = widgets.run_action(widgets.with_store(lambda con: decisions.record_decision(
                    con, actor, pilot, outcome=outcome, rationale=rationale, owner=owner,
                    next_review=None if outcome == "stop" else next_review, receiver=receiver or None,
                    against_evidence=against and confirmed)))  # the library asks again, on the evidence as it is now
                if done:  # rerun, so the current decision and the timeline above show it at once
                    widgets.flash(f"Recorded: {decisions.OUTCOMES[d['outcome']]}"
                             + (f", superseding decision {d['supersedes']}" if d["supersedes"] else "") + ".")
                    st.rerun()

BADGE = {"operate": "green", "harden": "orange", "handoff": "blue", "reframe": "violet", "stop": "gray"}


def fmt(figure: str, value) -> str:
    if value is None:
        return "—"
    if figure == "feedback.csat":
        return f"{value:.0%}"
    return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)


with store.open_store(login.db()) as con:
    since = between.diff(con, actor, pilot, against="previous", figures=figures, conds=conds)
st.subheader("Since the previous review")
if since["decision"] is None:
    st.info("This is the pilot's first review: there is no earlier decision to compare with.")
else:
    prev = since["decision"]
    st.caption(f"Review {prev['review_number']} decided **{decisions.OUTCOMES[prev['outcome']]}** on "
               f"{prev['decided_at']:%Y-%m-%d}; its figures were frozen then. Now = the data loaded today.")
    st.caption(md(asof.describe(cache.as_decided(actor, pilot, version, prev["decision_id"]))))
    changed = since["conditions"]
    rows = [{"Figure": between.FIGURE_LABELS.get(f["figure"], f["figure"]), "At review " + str(prev["review_number"]):
             fmt(f["figure"], f["at_decision"]), "Now": fmt(f["figure"], f["now"]),
             "Change": "—" if f["change"] is None else (f"{f['change']:+,.2f}" if isinstance(f["change"], float)
                                                        else f"{f['change']:+,}")}
            for f in since["figures"]]
    left, right = st.columns([3, 2])
    left.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    with right:
        r = since["risks"]
        st.metric("Open high risks", r.get("open_high_now"),
                  None if r.get("open_high_at_decision") is None
                  else f"{r['open_high_now'] - r['open_high_at_decision']:+d} since review {prev['review_number']}",
                  delta_color="inverse")
        if changed:
            st.markdown("**Conditions that changed**\n\n" + "\n".join(
                f"- {md(c['area'])}: {c['at_decision'] or 'not set'} → {c['now'] or 'not set'}" for c in changed))
        else:
            st.caption("No condition changed status since then.")

if history:
    st.subheader("Decisions so far")
    lines = []
    for d in reversed(history):
        outcome = decisions.OUTCOMES[d["outcome"]]
        badge = f":{BADGE.get(d['outcome'], 'gray')}-badge[{outcome}]"
        head = f"**{d['decided_at']:%Y-%m-%d}** · review {d['review_number']} · {badge}"
        if d["status"] == "superseded":
            head += " · *superseded*"
        tail = f"by {md(d['decided_by'])}, owner {md(d['owner'])}"
        if d["next_review"]:
            tail += f", next review {d['next_review']}"
        if d["handoff"]:
            tail += f", hand-off {d['handoff']}"
        lines.append(f"{head} — {tail}  \n&nbsp;&nbsp;&nbsp;&nbsp;{md(d['rationale'])}")
    st.markdown("\n\n".join(lines))
    with st.expander("As a table"):
        table = pd.DataFrame(history)[["decision_id", "review_number", "outcome", "status", "handoff", "owner",
                                       "next_review", "decided_by", "decided_at", "rationale"]]
        table["outcome"] = table["outcome"].map(decisions.OUTCOMES)
        st.dataframe(table, hide_index=True, width="stretch", column_config={
            "decision_id": "No.", "review_number": "Review", "outcome": "Outcome", "status": "Status",
            "handoff": "Hand-off", "owner": "Owner", "next_review": "Next review", "decided_by": "Decided by",
            "decided_at": st.column_config.DatetimeColumn("Decided (UTC)", format="YYYY-MM-DD HH:mm"),
            "rationale": st.column_config.TextColumn("Rationale", width="large")})

widgets.export_buttons(actor, [pilot])
