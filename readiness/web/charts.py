"""Charts for the review pages: plotly figures whose titles state the finding, with one palette.

Plain Python (no Streamlit): each function takes an evidence result and returns
``(figure, caption)``; the caption says how the figure is computed. Titles are computed from the
same numbers the chart draws, so a title never claims what the chart does not show.

The palette is Okabe & Ito's (2008) colour-blind-safe set, used for every chart in the app;
sequential scales (heat maps) use ``cividis``, which reads the same with any colour vision.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
BLUE, ORANGE, GREEN, VERMILION, SKY, PURPLE = PALETTE[:6]
SEQUENTIAL = "cividis"
HINT_COLOURS = {"keep": GREEN, "watch": SKY, "fix": ORANGE, "drop": VERMILION}
LIFECYCLE_COLOURS = {"new": BLUE, "returning": GREEN, "resurrecting": SKY, "dormant": VERMILION}


def _style(fig: go.Figure, height: int = 300) -> go.Figure:
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=0, r=0, t=40, b=0), colorway=PALETTE,
                      font=dict(family="Source Sans Pro, Source Sans 3, sans-serif", size=13),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, title=None),
                      title_x=0,
                      title=dict(font=dict(size=16)))  # ui.chart shows the title as text, wrapped
    return fig


def _calendar_axis(fig: go.Figure, values: pd.Series, days: int = 1) -> go.Figure:
    """Keep a short time axis in whole days (or weeks): a tick on each one. Left to itself, plotly
    ticks a few days every 6 or 12 hours ("00:00 Mar 2, 06:00, 12:00 ..."), zooms a single date to
    milliseconds ("23:59:59.9995 ... 00:00:00.0005") and draws a lone bar as wide as the chart.
    From 14 days (weeks) on, its own ticks are whole days or coarser."""
    when = pd.to_datetime(pd.Series(values)).dropna()
    step = pd.Timedelta(days=days)
    if when.empty or when.max() - when.min() >= 13 * step:
        return fig
    pad = step if when.max() == when.min() else step / 2
    fig.update_xaxes(range=[when.min() - pad, when.max() + pad], tick0=when.min(), dtick=days * 86_400_000)
    if when.nunique() == 1:
        fig.update_traces(width=0.8 * days * 86_400_000, selector=dict(type="bar"))
    return fig


def _plain(text: Any) -> str:
    """Text from a file or a person as plotly shows it: as typed. Plotly reads tags in its text
    ("<a href>" becomes a link) and decodes entities, so the tags' characters go in as entities."""
    return html.escape(str(text), quote=False)


def _pct(x: float | None) -> str:
    return "—" if x is None or pd.isna(x) else f"{x:.0%}"


# ------------------------------------------------------------------------------------------
# Usage


def active_users(df: pd.DataFrame) -> tuple[go.Figure, str]:
    """DAU / WAU / MAU lines; the title gives a typical day and the last 30 days."""
    cols = [c for c in ("dau", "wau", "mau") if c in df.columns]
    long = df.melt(id_vars="day", value_vars=cols, var_name="measure", value_name="users")
    long["measure"] = long["measure"].map({"dau": "daily", "wau": "weekly (7 days)", "mau": "monthly (28 days)"})
    mean_dau = df.loc[df["dau"] > 0, "dau"].mean()  # as the headline: days with any use
    last_mau = int(df["mau"].iloc[-1]) if "mau" in df.columns else None
    title = f"About {mean_dau:.0f} people use it on a day with any use"
    if last_mau is not None:
        title += f"; {last_mau} in the last 28 days (stickiness {mean_dau / max(last_mau, 1):.0%})"
    fig = px.line(long, x="day", y="users", color="measure", title=title, markers=len(df) < 3,
                  color_discrete_sequence=[BLUE, ORANGE, GREEN], labels={"day": "", "users": "active users"})
    fig.update_yaxes(rangemode="tozero")
    _calendar_axis(fig, df["day"])
    caption = ("Distinct users with at least one event per pilot-local day (daily), and in the 7 and 28 days "
               "ending that day (weekly, monthly; only events inside the filters count). "
               "Stickiness = mean daily users (days with any use) ÷ the last monthly figure.")
    return _style(fig), caption


def retention(df: pd.DataFrame) -> tuple[go.Figure, str]:
    """Cohort heat map; the title gives the size-weighted share back after 1 and 4 weeks."""
    weeks = [c for c in df.columns if c.startswith("week_")]
    matrix = df.set_index(df["cohort"].astype(str) + " (" + df["size"].astype(str) + ")")[weeks]
    matrix.columns = [c.removeprefix("week_") for c in weeks]

    def back(col: str) -> float | None:
        if col not in df.columns:
            return None
        seen = df[df[col].notna()]
        return None if seen.empty else float((seen[col] * seen["size"]).sum() / seen["size"].sum() / 100)

    w1, w4 = back("week_1"), back("week_4")
    title = (f"{_pct(w1)} of new users come back the next week" if w1 is not None else "Too few weeks to see anyone return")
    if w4 is not None:
        title += f"; {_pct(w4)} are still active 4 weeks on"
    fig = px.imshow(matrix, text_auto=".0f", aspect="auto", color_continuous_scale=SEQUENTIAL, zmin=0, zmax=100,
                    labels={"x": "weeks after the first week", "y": "cohort (users)", "color": "% active"},
                    title=title)
    fig.update_xaxes(side="top", title_standoff=4)
    caption = ("Cohort = the pilot-local week of a user's first-ever event (size in brackets); each cell = % of the "
               "cohort with an event N weeks later. Headline shares are weighted by cohort size.")
    return _style(fig, height=max(260, 28 * len(matrix) + 110)), caption


def lifecycle(df: pd.DataFrame) -> tuple[go.Figure, str]:
    """Weekly new / returning / resurrecting above the axis, dormant below."""
    long = df.melt(id_vars="week", value_vars=["new", "returning", "resurrecting", "dormant"],
                   var_name="status", value_name="users")
    long.loc[long["status"] == "dormant", "users"] *= -1
    days = df["days"] if "days" in df.columns else pd.Series([7] * len(df), index=df.index)
    whole = df[days >= 7]
    # the headline reads the last whole week: a week the dates or the data cut short has fewer
    # users active and more "gone quiet" (a one-day week can show "44 gone quiet")
    last = whole.iloc[-1] if not whole.empty else df.iloc[-1]
    part = "" if not whole.empty or days.iloc[-1] >= 7 else f" ({int(days.iloc[-1])} of 7 days in view)"
    title = (f"Week of {last['week']}{part}: {int(last['new'])} new, {int(last['returning'])} returning, "
             f"{int(last['resurrecting'])} back after a break, {int(last['dormant'])} gone quiet")
    fig = px.bar(long, x="week", y="users", color="status", title=title, color_discrete_map=LIFECYCLE_COLOURS,
                 labels={"week": "", "users": "users"})
    fig.update_layout(barmode="relative")
    _calendar_axis(fig, df["week"], days=7)
    caption = ("Each pilot-local week: new = first-ever event that week; returning = active this week and the week "
               "before; back after a break (resurrecting) = seen before, not active the week before; gone quiet "
               "(dormant, below the line) = active the week before, not this week.")
    cut = [f"{r.week} ({int(d)} of 7 days)" for r, d in zip(df.itertuples(), days) if d < 7]
    if cut:
        short = {str(w)[:10] for w, d in zip(df["week"], days) if d < 7}
        for trace in fig.data:  # a short week's bars are drawn pale
            trace.marker.opacity = [0.35 if str(x)[:10] in short else 1.0 for x in trace.x]
        caption += (f" Drawn pale, cut short by the dates or by where the data starts or ends: the "
                    f"week{'s' * (len(cut) > 1)} of {', '.join(cut)}, so fewer users active and more gone quiet "
                    "there" + ("; the headline reads the last whole week." if not whole.empty else "."))
    return _style(fig), caption


def feature_adoption(df: pd.DataFrame) -> tuple[go.Figure, str]:
    """Share of users per feature, coloured by the keep / fix / drop hint."""
    counts = df["hint"].value_counts()
    title = "Features: " + ", ".join(f"{counts.get(h, 0)} to {h}" for h in ("keep", "watch", "fix", "drop")
                                     if counts.get(h, 0) or h != "watch")
    ordered = df.sort_values("share_of_users", ascending=True)
    ordered = ordered.assign(feature=ordered["feature"].map(_plain))  # a file's text
    fig = px.bar(ordered, x="share_of_users", y="feature", color="hint", orientation="h", title=title,
                 color_discrete_map=HINT_COLOURS, category_orders={"hint": ["keep", "watch", "fix", "drop"]},
                 hover_data={"repeat_rate": ":.0%", "success_rate": ":.0%", "users": True},
                 labels={"share_of_users": "share of users", "feature": "", "hint": "hint"})
    fig.update_xaxes(tickformat=".0%", range=[0, 1.03])  # room for the 100% tick and a full bar
    caption = ("Share of the pilot's users who used each feature. Hint from repeat use (its users coming back in "
               "another week) and task success: drop when few come back, fix when they come back but tasks often "
               "fail, keep when most come back, watch in between. The table gives each reason.")
    return _style(fig, height=max(220, 34 * len(df) + 100)), caption


# ------------------------------------------------------------------------------------------
# Feedback


def ratings(counts: dict[int, int], csat: float | None, mean: float | None) -> tuple[go.Figure, str]:
    df = pd.DataFrame({"stars": [int(k) for k in counts], "entries": list(counts.values())})
    df["group"] = df["stars"].map(lambda s: "4-5 (satisfied)" if s >= 4 else "1-3")
    title = f"{_pct(csat)} rate it 4 or 5 stars" + (f"; mean {mean:.1f} of 5" if mean is not None else "")
    fig = px.bar(df, x="stars", y="entries", color="group", title=title,
                 color_discrete_map={"4-5 (satisfied)": BLUE, "1-3": ORANGE}, labels={"stars": "stars (1-5)"})
    fig.update_xaxes(dtick=1)
    return _style(fig, 280), "Entries per star rating (1-5 scale). CSAT = share of ratings that are 4 or 5."


def ratings_of(summary: Any) -> tuple[go.Figure, str]:
    """:func:`ratings` of an analysis.feedback FeedbackSummary."""
    return ratings(summary.rating_counts, summary.csat, summary.mean_rating)


def negative_share(df: pd.DataFrame) -> tuple[go.Figure, str]:
    first, last = df["negative_share"].iloc[0], df["negative_share"].iloc[-1]
    verb = "up" if last > first + 0.02 else "down" if last < first - 0.02 else "about level"
    title = (f"Negative comments: {_pct(last)} in the last week, {verb} from {_pct(first)} in the first" if len(df) > 1
             else f"Negative comments: {_pct(last)} in the one week with comments")
    fig = px.line(df, x="week", y="negative_share", markers=True, title=title, color_discrete_sequence=[VERMILION],
                  hover_data={"comments": True}, labels={"week": "", "negative_share": "negative share"})
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    _calendar_axis(fig, df["week"], days=7)
    return _style(fig, 280), ("Per pilot-local week: share of comments whose VADER compound sentiment is ≤ -0.05.")


def triage_split(df: pd.DataFrame) -> tuple[go.Figure, str]:
    share_op = float(df.loc[df["operational"], "share"].sum())
    ordered = df.sort_values("comments")
    ordered = ordered.assign(kind=ordered["operational"].map({True: "operational requirement", False: "other"}))
    fig = px.bar(ordered, x="comments", y="triage", color="kind", orientation="h",
                 title=f"{share_op:.0%} of comments are operational requirements, kept apart from wishes",
                 color_discrete_map={"operational requirement": VERMILION, "other": BLUE},
                 labels={"triage": "", "comments": "comments", "kind": ""})
    caption = ("Each comment is triaged by keyword rules into reliability, speed, access, data or support "
               "(operational), a feature request, praise, or other; the reason is kept per comment.")
    return _style(fig, max(240, 30 * len(df) + 100)), caption


# ------------------------------------------------------------------------------------------
# Failure modes and risks


def exception_rate(df: pd.DataFrame) -> tuple[go.Figure, str]:
    """Exceptions per 1,000 usage events per day; the title compares the last 7 days with the first 7."""
    def rate(part: pd.DataFrame) -> float | None:
        events = part["events"].sum()
        return None if not events else 1000 * part["exceptions"].sum() / events

    # the days with usage only: exceptions years before the usage leave no usage in the first 7 days
    used = df[df["events"] > 0]
    first, last = rate(used.head(7)), rate(used.tail(7))
    if first is not None and len(used) >= 14:
        title = (f"{last:,.0f} exceptions per 1,000 events in the last 7 days with usage, against {first:,.0f} in "
                 "the first 7")
    elif first is not None:  # the first and last 7 days would overlap: one figure for all of them
        title = (f"{rate(used):,.0f} exceptions per 1,000 events over the "
                 + (f"{len(used)} days with usage" if len(used) > 1 else "one day with usage"))
    else:
        title = f"{int(df['exceptions'].sum()):,} exceptions; no usage events to compare them with"
    y = "per_1000_events" if first is not None else "exceptions"
    fig = px.bar(df, x="day", y=y, title=title, color_discrete_sequence=[VERMILION],
                 hover_data={"exceptions": True, "events": True},
                 labels={"day": "", "per_1000_events": "per 1,000 events", "exceptions": "exceptions"})
    _calendar_axis(fig, df["day"])
    caption = ("Exceptions per pilot-local day divided by that day's usage events, × 1,000." if first is not None
               else "Exceptions per pilot-local day: no usage events fall on these days, so there is no rate.")
    unmatched = int(df.loc[df["events"] == 0, "exceptions"].sum())
    if first is not None and unmatched:
        caption += f" {unmatched:,} exceptions fall on days without usage events and are not in the rate."
    return _style(fig, 260), caption


def sparkline(daily: list, days: int = 28) -> list[int]:
    """The last ``days`` daily counts of a failure mode's [day, count] list (for a sparkline column)."""
    return [int(c) for _, c in (daily or [])[-days:]]


def risk_heatmap(register: list[dict[str, Any]], high_from: int = 15, medium_from: int = 8) -> tuple[go.Figure, str]:
    """Likelihood × impact matrix: cells tinted by the severity their score gives, the number of open
    risks written in each cell, their titles in the hover."""
    open_risks = [r for r in register if r.get("status") == "open"]
    counts = [[0] * 5 for _ in range(5)]
    names: list[list[list[str]]] = [[[] for _ in range(5)] for _ in range(5)]
    for r in open_risks:
        counts[r["impact"] - 1][r["likelihood"] - 1] += 1
        names[r["impact"] - 1][r["likelihood"] - 1].append(f"#{r['risk_id']} {_plain(str(r['title'])[:60])}")
    level = [[2 if (i + 1) * (j + 1) >= high_from else 1 if (i + 1) * (j + 1) >= medium_from else 0
              for j in range(5)] for i in range(5)]
    tints = [[0, "#D6EAF8"], [0.33, "#D6EAF8"], [0.33, "#FBE3B8"], [0.66, "#FBE3B8"], [0.66, "#F3B89A"], [1, "#F3B89A"]]
    high = sum(1 for r in open_risks if r["likelihood"] * r["impact"] >= high_from)
    title = (f"{len(open_risks)} open risk{'s' * (len(open_risks) != 1)}, {high} in the high zone"
             if open_risks else "No open risks in the register")
    fig = go.Figure(go.Heatmap(
        z=level, x=[1, 2, 3, 4, 5], y=[1, 2, 3, 4, 5], colorscale=tints, zmin=0, zmax=2, showscale=False, xgap=2, ygap=2,
        text=[[str(v) if v else "" for v in row] for row in counts], texttemplate="%{text}",
        textfont=dict(size=20, color="#000000"),
        customdata=[["<br>".join(cell) or "none" for cell in row] for row in names],
        hovertemplate="likelihood %{x} × impact %{y}<br>%{customdata}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="likelihood (1-5)", yaxis_title="impact (1-5)")
    fig.update_xaxes(dtick=1, showgrid=False)
    fig.update_yaxes(dtick=1, showgrid=False)
    caption = (f"Open risks (not mitigated, accepted or dismissed) by likelihood and impact. Zones: high from a score "
               f"(likelihood × impact) of {high_from}, medium from {medium_from}, low below. Hover a cell for its risks.")
    return _style(fig, 340), caption


