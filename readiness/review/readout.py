"""The readout for a meeting: one screen's content as plain data, and as a self-contained HTML page.

What it holds: pilot and capability, the decision (or "pending"), four headline figures with
their trend (the last 28 days against the 28 before), the top three risks (open register risks and
high or medium signals not yet triaged, worst first), conditions met / total, owner, next review, whether the
figures are live or frozen, and the data's "as of" time. Personal data is never shown: free text
(rationale, risk titles, condition values) goes through :func:`readiness.security.privacy.mask`, and no
row-level evidence is included. The HTML page has its own styles (no external files, no
scripts) and prints on A4 / Letter.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from analysis import confidence, failure_modes, feedback, intervals, usage
from analysis.common import Empty, Filters
from analysis.intervals import Interval
from readiness.catalog import Pilot
from readiness.review import conditions, decisions, reviews, risks
from readiness.security import audit
from readiness.security.access import Actor, require
from readiness.security.privacy import mask
from readiness.store import Connection, transaction

WINDOW = "the 28 days before"  # what each headline change compares with


@dataclass(frozen=True)
class Figure:
    label: str
    value: str            # as shown, e.g. "54" or "58%"
    change: str | None    # against the 28 days before, e.g. "+12%" or "-4 pts"; None: nothing to compare
    direction: str        # "up" | "down" | "flat" | "none"
    good: bool | None     # whether the direction is good news (None: neither)
    against: str = WINDOW  # what the change compares with (WINDOW unless partly empty)
    range: str | None = None   # the value's interval, e.g. "55%–60%" (rates only)
    method: str | None = None  # how the interval was computed, for the caption

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _change(now: float | None, before: float | None, *, points: bool = False) -> tuple[str | None, str]:
    if now is None or before is None:
        return None, "none"
    if points:
        delta = (now - before) * 100
        text = f"{delta:+.0f} pts"
    else:
        if not before:
            return None, "none"
        delta = (now - before) / before * 100
        text = f"{delta:+.0f}%"
    direction = "flat" if abs(delta) < 1 else "up" if delta > 0 else "down"
    return text, direction


def headline(con: Connection, pilot: Pilot, filters: Filters | None = None) -> list[Figure]:
    """Users, events, CSAT and exceptions per 1,000 events over the last 28 days of data, each with its
    change against the 28 days before (the windows of analysis.usage.trend). Always the whole pilot:
    ``filters`` is accepted (and ignored) so that the app can cache it like any evidence function."""
    trend = usage.trend(con, pilot)
    if isinstance(trend, Empty):
        return [Figure(label, "—", None, "none", None) for label in
                ("Active users", "Events", "CSAT",
                 "Exceptions / 1k events")]
    recent = Filters(start=trend.recent_start, end=trend.last_day)
    prior = Filters(start=trend.prior_start, end=trend.recent_start - timedelta(days=1))
    out = []
    text, way = _change(trend.users_recent, trend.users_prior if trend.prior_complete else None)
    out.append(Figure("Active users", f"{trend.users_recent:,}", text, way, {"up": True, "down": False}.get(way)))
    text, way = _change(trend.events_recent, trend.events_prior if trend.prior_complete else None)
    out.append(Figure("Events", f"{trend.events_recent:,}", text, way, {"up": True, "down": False}.get(way)))

    def csat(f: Filters) -> float | None:
        s = feedback.feedback_summary(con, pilot, f)
        return None if isinstance(s, Empty) else s.csat

    def csat_range(f: Filters) -> Interval | None:
        s = feedback.feedback_summary(con, pilot, f)
        return None if isinstance(s, Empty) or s.csat is None else intervals.wilson(round(s.csat * s.rated), s.rated)

    # users and events are counts: against a partly empty earlier window they would only show growth,
    # so they are compared only with a whole one. CSAT and the exception rate are shares: they compare
    # with the days there are, and say how many (19 days of data are not "the 28 days before").
    against = WINDOW
    if not trend.prior_complete:
        t = usage.totals(con, pilot)
        first = trend.prior_start if isinstance(t, Empty) else max(t.first_day, trend.prior_start)
        against = f"the {(trend.recent_start - first).days} days before"
    now, before = csat(recent), csat(prior)
    text, way = _change(now, before, points=True)
    iv = csat_range(recent)
    out.append(Figure("CSAT", "—" if now is None else f"{now:.0%}", text, way,
                      {"up": True, "down": False}.get(way), against,
                      None if iv is None else f"{iv.low:.0%}–{iv.high:.0%}", None if iv is None else iv.method))

    def rate(f: Filters) -> float | None:
        df = failure_modes.exception_rate(con, pilot, f)
        if isinstance(df, Empty) or not df["events"].sum():
            return None
        return 1000 * float(df["exceptions"].sum()) / float(df["events"].sum())

    now, before = rate(recent), rate(prior)
    text, way = _change(now, before)
    fig = confidence.exception_rate(con, pilot, recent) if now is not None else None
    iv = None if fig is None else intervals.scaled(fig.interval, now / fig.interval.value if fig.interval.value
                                                   else 1.0, now)
    out.append(Figure("Exceptions / 1k events", "—" if now is None else f"{now:,.0f}", text, way,
                      {"up": False, "down": True}.get(way), against,
                      None if iv is None else f"{iv.low:,.0f}–{iv.high:,.0f}", None if iv is None else iv.method))
    return out


def ranges_note(figures: list[dict[str, Any]]) -> str:
    """The caption naming how the readout's ranges were computed (empty when none is shown)."""
    said = [f"{f['label']}: {f['method']}" for f in figures if f.get("range")]
    return f"Ranges are {intervals.level_default():.0%} intervals ({'; '.join(said)})." if said else ""


def content(con: Connection, actor: Actor, pilot: Pilot, signals: list[dict[str, Any]] | None = None,
            as_of: str | None = None, figures: list[Figure] | None = None,
            conds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the readout shows, masked, as plain data (checked for read access).

    ``signals`` are the pilot's computed risk signals (the app has them cached); the untriaged high
    or medium ones compete with the open register risks for the top three. ``figures``:
    :func:`headline`'s result, and ``conds`` the current review's conditions
    (conditions.list_conditions), when the caller has them cached.
    """
    require(con, actor, "read_pilot", pilot.pilot_id)
    current = reviews.current_decision(con, pilot)
    conds = conditions.list_conditions(con, actor, pilot) if conds is None else conds
    register = risks.list_risks(con, actor, pilot)
    top = _top_three(register, risks.untriaged(con, pilot.pilot_id, signals, ("high", "medium")))
    top_risks = [r for kind, r in top if kind == "risk"]
    top_signals = [s for kind, s in top if kind == "signal"]
    if as_of is None:
        last = con.execute("SELECT max(last_ts) FROM ingest_batches WHERE pilot_id = ?", [pilot.pilot_id]).fetchone()[0]
        as_of = last.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if last else None
    return {
        "pilot": pilot.name, "capability": mask(pilot.capability), "owner": pilot.owner, "risk_tier": pilot.risk_tier,
        "decision": None if current is None else {
            "decision_id": current["decision_id"],
            "outcome": decisions.OUTCOMES[current["outcome"]], "rationale": mask(current["rationale"]),
            "owner": current["owner"], "next_review": current["next_review"], "review_number": current["review_number"],
            "decided_by": current["decided_by"], "decided_at": current["decided_at"]},
        "figures": (shown := [f.to_dict() for f in (figures if figures is not None else headline(con, pilot))]),
        "ranges_note": ranges_note(shown),
        "risks": [{"severity": r["severity"], "title": mask(r["title"]), "owner": r["owner"],
                   "risk_class": r["risk_class"]} for r in top_risks],
        "signals": [{"severity": s["severity"], "finding": mask(s["finding"]), "class": s["class"]}
                    for s in top_signals],
        # the same three, worst first, as the page and the HTML list them
        "top": [{"kind": kind, "severity": x["severity"], "text": mask(x["title"] if kind == "risk" else x["finding"]),
                 "owner": x["owner"] if kind == "risk" else None} for kind, x in top],
        "conditions": [{"title": c["title"], "status": c["status"], "required": c["required"],
                        "live_value": mask(conditions.live_text(c))} for c in conds],
        "conditions_met": sum(1 for c in conds if c["status"] in ("met", "waived")),  # undecided is not met
        "data_as_of": as_of,
        "frozen_note": ("Figures are live: the data as loaded now. The decision froze its own copy on "
                        f"{current['decided_at']:%Y-%m-%d}." if current else "Figures are live: the data as loaded now."),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


_RANK = {"high": 0, "medium": 1, "low": 2}


def _top_three(register: list[dict[str, Any]], untriaged: list[dict[str, Any]]) -> list[tuple[str, dict]]:
    """The three worst of the open register risks and the untriaged signals, worst first: by
    severity, then register risks (by score) before signals. Returns ("risk" | "signal", item) pairs.

    An open register risk never hides a worse untriaged signal: after one medium signal is taken
    in, the high ones still waiting stay on the readout, the worst news in the room."""
    items = [(_RANK.get(r["severity"], 3), 0, -(r["score"] or 0), i, "risk", r)
             for i, r in enumerate(register) if r["status"] == "open"]
    items += [(_RANK.get(s["severity"], 3), 1, 0, i, "signal", s) for i, s in enumerate(untriaged)]
    return [(t[4], t[5]) for t in sorted(items, key=lambda t: t[:4])[:3]]


def _h(text: Any) -> str:
    return "—" if text is None or text == "" else html.escape(str(text))


_CSS = """
*{box-sizing:border-box}body{font-family:"Source Sans 3","Source Sans Pro",system-ui,sans-serif;color:#1f2328;
margin:0 auto;max-width:70rem;padding:2rem;font-size:20px;line-height:1.4}
h1{font-size:2.4rem;margin:0 0 .2rem}h2{font-size:1.3rem;margin:1.6rem 0 .6rem;color:#444}
.sub{color:#555;margin:0 0 1.2rem}.decision{font-size:2rem;font-weight:700;margin:.4rem 0}
.decision.pending{color:#8a6100}.why{border-left:4px solid #0072B2;padding:.2rem 0 .2rem 1rem;margin:.6rem 0}
.grid{display:grid;grid-template-columns:repeat(4,1fr);gap:1rem}.fig{border:1px solid #ddd;border-radius:8px;padding:.8rem}
.fig .label{font-size:.85rem;color:#555}.fig .value{font-size:2.2rem;font-weight:700}
.fig .chg{font-size:.85rem}.fig .range{font-size:1.1rem;color:#444}.good{color:#007a5a}.bad{color:#b03a00}.cols{display:grid;grid-template-columns:1fr 1fr;gap:2rem}
ul{padding-left:1.2rem;margin:0}li{margin:.3rem 0}.note{font-size:.8rem;color:#555;margin-top:1.6rem}
@media print{body{font-size:14pt;padding:0;max-width:none}.fig{break-inside:avoid}@page{margin:1.5cm}}
"""


def html_page(c: dict[str, Any]) -> str:
    """The readout as one self-contained HTML file (inline styles, no scripts, no external requests)."""
    d = c["decision"]
    arrows = {"up": "▲", "down": "▼", "flat": "▶", "none": ""}
    figs = "".join(
        f"<div class='fig'><div class='label'>{_h(f['label'])}</div><div class='value'>{_h(f['value'])}</div>"
        + (f"<div class='range'>{_h(f['range'])}</div>" if f.get("range") else "") +
        f"<div class='chg {'good' if f['good'] else 'bad' if f['good'] is False else ''}'>"
        f"{arrows[f['direction']]} {_h(f['change'] + ' vs ' + f.get('against', WINDOW) if f['change'] else 'no earlier period')}"
        "</div></div>"
        for f in c["figures"])
    risks_html = "".join(
        f"<li><b>{_h(t['severity'])}</b> {_h(t['text'])} — {_h(t['owner'] or 'no owner')}</li>" if t["kind"] == "risk"
        else f"<li><b>{_h(t['severity'])}</b> {_h(t['text'])} <i>(signal, not yet in the register)</i></li>"
        for t in c["top"])
    marks = {"met": "✔", "waived": "◷", "undecided": "?"}
    conds = "".join(f"<li>{marks.get(x['status'], '✘')} {_h(x['title'])}"
                    + (f" — <i>{_h(x['live_value'])}</i>" if x["live_value"] else "") + "</li>" for x in c["conditions"])
    if d:
        decision = (f"<div class='decision'>Decision: {_h(d['outcome'])}</div><div class='why'>{_h(d['rationale'])}</div>"
                    f"<p>Accountable owner <b>{_h(d['owner'])}</b> · next review <b>{_h(d['next_review'] or '— (stopped)')}</b>"
                    f" · decided by {_h(d['decided_by'])} on {d['decided_at']:%Y-%m-%d} (review {d['review_number']})</p>")
    else:
        decision = "<div class='decision pending'>Decision: pending</div>"
    return "\n".join([
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Readout: {_h(c['pilot'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_h(c['pilot'])}</h1>",
        f"<p class='sub'>{_h(c['capability'])} · pilot owner {_h(c['owner'])} · {_h(c['risk_tier'])} risk · "
        f"data as of {_h(c['data_as_of'])}</p>",
        decision,
        f"<h2>Headline figures: the last 28 days</h2><div class='grid'>{figs}</div>"
        f"<p class='note'>{_h(c['frozen_note'])} {_h(c.get('ranges_note') or '')}</p>",
        "<div class='cols'><div><h2>Top risks</h2>" + (f"<ul>{risks_html}</ul>" if risks_html else "<p>None open.</p>")
        + "</div>",
        (f"<div><h2>Conditions: {c['conditions_met']} of {len(c['conditions'])} met or waived</h2>" if c["conditions"]
         else "<div><h2>Conditions</h2>")
        + (f"<ul>{conds}</ul>" if conds else "<p>Not opened yet.</p>") + "</div></div>",
        f"<p class='note'>Generated {_h(c['generated_at'])} by Readiness Review. No personal data is shown.</p>",
        "</body></html>",
    ])


def export_html(con: Connection, actor: Actor, pilot: Pilot,
                signals: list[dict[str, Any]] | None = None, figures: list[Figure] | None = None) -> str:
    """The readout page as a download: checks the export right and audits the export."""
    with transaction(con):
        require(con, actor, "export", pilot.pilot_id)
        page = html_page(content(con, actor, pilot, signals, figures=figures))
        audit.record(con, actor, "export", f"pilot:{pilot.pilot_id}/readout", {"format": "html", "chars": len(page)})
    return page
