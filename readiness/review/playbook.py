"""The operating playbook, generated from the review: Markdown and HTML, with user text escaped.

Sections: what the capability is; how it is used, reviewed and changed; owner, support path and
escalation; known risks and their owners; constraints; readiness conditions; where the logs
live; the decision and the next review. Every piece of user text is escaped: in HTML with
``html.escape``; in Markdown with :func:`readiness.review.export.markdown_text`, as on the app's pages (a
``<script>`` stays text in renderers that allow raw HTML; no link, address, emphasis, code or table
from it).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from readiness.catalog import Pilot
from readiness.errors import InvalidChoice
from readiness.review import conditions, decisions, handoff, reviews, risks
from readiness.review.export import markdown_text
from readiness.security import audit
from readiness.security.access import Actor, require
from readiness.store import Connection, transaction

_BACKLOG = (("operational", "Operational work before and while it runs", "No open operational items."),
            ("feature", "Feature requests (not needed to operate)", "No open feature requests."))


def _md(text: Any) -> str:
    return markdown_text(text, breaks=True)


def _h(text: Any) -> str:
    return "—" if text is None or text == "" else html.escape(str(text)).replace("\n", "<br>")


def content(con: Connection, actor: Actor, pilot: Pilot, conds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the playbook shows, as plain data (checked for read access); ``conds``: the current
    review's conditions as conditions.list_conditions gives them, when the caller has them."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    current = reviews.current_decision(con, pilot)
    return {
        "pilot": pilot,
        "handoff": handoff.get_handoff(con, actor, pilot),
        "risks": [r for r in risks.list_risks(con, actor, pilot, include_dismissed=False) if r["status"] != "mitigated"],
        "constraints": [c for c in handoff.list_constraints(con, actor, pilot) if c["status"] == "open"],
        "conditions": conditions.list_conditions(con, actor, pilot) if conds is None else conds,
        # the hardening backlog feeds the playbook: its open items only
        "backlog": {kind: [b for b in items if b["status"] == "open"]
                    for kind, items in handoff.list_backlog(con, actor, pilot).items()},
        "decision": current,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def markdown(c: dict[str, Any]) -> str:
    p, h, d = c["pilot"], c["handoff"], c["decision"]
    out = [f"# Operating playbook: {_md(p.name)}", "", f"_Generated {c['generated_at']} by Readiness Review._", "",
           "## The capability", "", _md(p.capability), "",
           "## How it is used, reviewed and changed", "",
           f"- **Used:** {_md(h.get('how_used'))}", f"- **Reviewed:** {_md(h.get('how_reviewed'))}",
           f"- **Changed:** {_md(h.get('how_changed'))}", "",
           "## Owner, support and escalation", "",
           f"- **Operating owner:** {_md(h.get('operating_owner'))}", f"- **Pilot owner:** {_md(p.owner)}",
           f"- **Support path:** {_md(h.get('support_path'))}", ""]
    if h.get("escalation"):
        out += ["| who is called | for what | when |", "|---|---|---|"]
        out += [f"| {_md(e['who'])} | {_md(e['for'])} | {_md(e['when'])} |" for e in h["escalation"]]
        out.append("")
    out += ["## Known risks", ""]
    out += ([f"- **{_md(r['severity'] or 'unscored')}** ({_md(r['risk_class'])}) {_md(r['title'])} — owner "
             f"{_md(r['owner'])}; mitigation: {_md(r['mitigation'])}; status {_md(r['status'])}"
             + (f"; due {r['due']}" if r["due"] else "") for r in c["risks"]] or ["No open risks in the register."])
    out += ["", "## Constraints", ""]
    out += ([f"- ({_md(x['area'])}) {_md(x['description'])} — owner {_md(x['owner'])}; mitigation "
             f"{_md(x['mitigation'])}" for x in c["constraints"]] or ["No open constraints."])
    out += ["", "## Readiness conditions", ""]
    out += ([f"- [{'x' if x['status'] in ('met', 'waived') else ' '}] {_md(x['title'])} — {_md(x['status'])}"
             + (f" ({_md(x['live_value'])})" if x.get("live_value") else "")
             + (f", owner {_md(x['owner'])}" if x.get("owner") else "") for x in c["conditions"]]
            or ["No conditions recorded yet."])
    out += ["", "## Hardening backlog", ""]
    for kind, heading, empty in _BACKLOG:
        rows = c.get("backlog", {}).get(kind, [])
        out += [f"**{heading}**", ""]
        out += ([f"- {_md(b['title'])} — owner {_md(b['owner'])}"
                 + (f"; {_md(b['evidence'])}" if b.get("evidence") else "") for b in rows] or [empty])
        out.append("")
    out += ["## Where the logs live", "", _md(h.get("logs_location")), "",
            "## Decision and next review", ""]
    if d:
        out += [f"- **Decision:** {decisions.OUTCOMES[d['outcome']]} (review {d['review_number']}, "
                f"{d['decided_at']:%Y-%m-%d}, by {_md(d['decided_by'])})",
                f"- **Accountable owner:** {_md(d['owner'])}", f"- **Rationale:** {_md(d['rationale'])}",
                f"- **Next review:** {d['next_review'] or 'none (stopped)'}"]
    else:
        out.append("No decision recorded yet.")
    return "\n".join(out) + "\n"


def html_page(c: dict[str, Any]) -> str:
    p, h, d = c["pilot"], c["handoff"], c["decision"]

    def items(rows: list[str], empty: str) -> str:
        return "<ul>" + "".join(f"<li>{r}</li>" for r in rows) + "</ul>" if rows else f"<p>{empty}</p>"

    esc = "".join(f"<tr><td>{_h(e['who'])}</td><td>{_h(e['for'])}</td><td>{_h(e['when'])}</td></tr>"
                  for e in h.get("escalation") or [])
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Operating playbook: {_h(p.name)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;line-height:1.5}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem}</style></head><body>",
        f"<h1>Operating playbook: {_h(p.name)}</h1><p><em>Generated {c['generated_at']} by Readiness Review.</em></p>",
        f"<h2>The capability</h2><p>{_h(p.capability)}</p>",
        "<h2>How it is used, reviewed and changed</h2>",
        items([f"<b>Used:</b> {_h(h.get('how_used'))}", f"<b>Reviewed:</b> {_h(h.get('how_reviewed'))}",
               f"<b>Changed:</b> {_h(h.get('how_changed'))}"], ""),
        "<h2>Owner, support and escalation</h2>",
        items([f"<b>Operating owner:</b> {_h(h.get('operating_owner'))}", f"<b>Pilot owner:</b> {_h(p.owner)}",
               f"<b>Support path:</b> {_h(h.get('support_path'))}"], ""),
        f"<table><tr><th>who is called</th><th>for what</th><th>when</th></tr>{esc}</table>" if esc else "",
        "<h2>Known risks</h2>",
        items([f"<b>{_h(r['severity'] or 'unscored')}</b> ({_h(r['risk_class'])}) {_h(r['title'])} — owner "
               f"{_h(r['owner'])}; mitigation: {_h(r['mitigation'])}; status {_h(r['status'])}" for r in c["risks"]],
              "No open risks in the register."),
        "<h2>Constraints</h2>",
        items([f"({_h(x['area'])}) {_h(x['description'])} — owner {_h(x['owner'])}" for x in c["constraints"]],
              "No open constraints."),
        "<h2>Readiness conditions</h2>",
        items([f"{_h(x['title'])} — <b>{_h(x['status'])}</b>" + (f" ({_h(x['live_value'])})" if x.get("live_value") else "")
               for x in c["conditions"]], "No conditions recorded yet."),
        "<h2>Hardening backlog</h2>",
        *(f"<h3>{heading}</h3>" + items(
            [f"{_h(b['title'])} — owner {_h(b['owner'])}"
             + (f"; {_h(b['evidence'])}" if b.get("evidence") else "") for b in c.get("backlog", {}).get(kind, [])],
            empty) for kind, heading, empty in _BACKLOG),
        f"<h2>Where the logs live</h2><p>{_h(h.get('logs_location'))}</p>",
        "<h2>Decision and next review</h2>",
        items([f"<b>Decision:</b> {decisions.OUTCOMES[d['outcome']]} (review {d['review_number']}, by {_h(d['decided_by'])})",
               f"<b>Accountable owner:</b> {_h(d['owner'])}", f"<b>Rationale:</b> {_h(d['rationale'])}",
               f"<b>Next review:</b> {d['next_review'] or 'none (stopped)'}"], "") if d
        else "<p>No decision recorded yet.</p>",
        "</body></html>",
    ]
    return "\n".join(x for x in parts if x)


def export_playbook(con: Connection, actor: Actor, pilot: Pilot, fmt: str) -> str:
    """The playbook as 'md' or 'html' text; checks the export right and audits the export."""
    if fmt not in ("md", "html"):
        raise InvalidChoice("The playbook is written as 'md' or 'html'.")
    with transaction(con):
        require(con, actor, "export", pilot.pilot_id)
        text = markdown(content(con, actor, pilot)) if fmt == "md" else html_page(content(con, actor, pilot))
        audit.record(con, actor, "export", f"pilot:{pilot.pilot_id}/playbook", {"format": fmt, "chars": len(text)})
    return text
