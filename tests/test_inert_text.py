"""User-typed and file-read text renders as plain text everywhere.

A pilot named ``Pwn ![t](http://127.0.0.1:8799/x.png)`` must not make the browser of everyone who opens
Portfolio, a review page or the Readout fetch that address. Here one pilot carries Markdown,
HTML, bare addresses, Streamlit directives and LaTeX in every field a person types or a file brings
(pilot name, capability, owner, risk, condition, decision, failure-mode note, hand-off, sources, file
name, feature, team, comment, message), and every page is run with it (AppTest). Every string that
Streamlit renders as Markdown is then read the way Streamlit 1.67's Markdown reads it (see
:func:`live_markup`): none may hold a live image, link, address, directive or formula from that text.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import ingest_one, make_pilot, page_file, write
from streamlit.testing.v1 import AppTest

from readiness import catalog, store
from readiness.ingest import sources, uploads
from readiness.review import annotations, conditions, decisions, handoff, readout, risks
from readiness.review.export import markdown_text
from readiness.security import users
from readiness.security.access import Actor, cli_actor

HOST = "127.0.0.1:8799"


def payload(host: str) -> str:
    """Markdown, HTML, bare addresses (of ``host``), Streamlit's icons and directives, an emoji and LaTeX."""
    return (f"Pwn ![t](http://{host}/i.png) [l](http://{host}/l) <img src=http://{host}/h.png> "
            f"<a href=http://{host}/a>a</a> http://{host}/bare www.pwn.example pwn@pwn.example :material/lock: "
            ":material_lock: :red[pwnred] :lock: $x^2$ **b**")


PAYLOAD = PILOT = payload(HOST)
# An uploaded file's name cannot hold '/': the same, without addresses that need one.
FILE_NAME = "Pwn ![t](i.png) <img src=h.png> www.pwn.example pwn@pwn.example :red[pwnred] $x^2$ .csv"
ADMIN = Actor("admin1", "admin")

# Read as Streamlit's Markdown reads the source: syntax first (backslash escapes respected) ...
LIVE_SYNTAX = ["![t]", "](http", "](i.png)", "<img", "<a href", "<http", ":material/lock:", ":red[pwnred", "$x^2$", "**b**"]
# ... then text-level rewrites on the text as parsed (escapes and entities resolved): GFM's bare
# address and e-mail autolinks, :material_x: icons, :emoji: shortcodes.
LIVE_TEXT = [f"http://{HOST}", "www.pwn.example", "pwn@pwn.example", ":material_lock:", ":lock:"]


def live_markup(source: str) -> list[str]:
    """What in ``source`` would render as live Markdown from the payload (empty: nothing)."""
    syntax = re.sub(r"\\[!-/:-@\[-`{-~]", "\0", source)  # an escaped character is no syntax
    text = html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", source))
    return [s for s in LIVE_SYNTAX if s in syntax] + [t for t in LIVE_TEXT if t in text]


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("inert")
    db = tmp / "store.duckdb"
    os.environ["READINESS_BCRYPT_ROUNDS"] = "4"
    load_hostile_pilot(db, tmp, HOST)
    old = os.environ.get("READINESS_DB")
    os.environ["READINESS_DB"] = str(db)
    yield db
    if old is None:
        os.environ.pop("READINESS_DB", None)
    else:
        os.environ["READINESS_DB"] = old


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def load_hostile_pilot(db: Path, tmp: Path, host: str) -> None:
    """A pilot named ``payload(host)``, with the payload in every field a person types or a file
    brings; the account admin1 (password "a long enough password")."""
    text = payload(host)
    make_pilot(db, text, owner=text, capability=text, sponsor=text)
    rows = "".join(f"2026-03-{1 + i % 28:02d}T10:{i % 60:02d}:00Z,u{i % 9},open,{_csv_cell(text)},"
                   f"{_csv_cell(text if i % 2 else 'Ops')}\n" for i in range(300))
    ingest_one(db, write(tmp / "u.csv", "ts,user,event,feature,team\n" + rows), pilot=text)
    comments = "".join(f"2026-03-{1 + i % 28:02d}T11:00:00Z,{1 + i % 5},{_csv_cell(text + ' too slow')}\n"
                       for i in range(40))
    ingest_one(db, write(tmp / "f.csv", "ts,rating,comment\n" + comments), kind="feedback", pilot=text)
    errors = "".join(f"2026-03-{1 + i % 28:02d}T12:00:00Z,{_csv_cell(text)},{_csv_cell(text)}\n"
                     for i in range(30))
    uploads.ingest_uploads(db, text, "exceptions", [(FILE_NAME, io.BytesIO(
        ("ts,message,error_type\n" + errors).encode()))], actor=cli_actor())
    with store.open_store(db) as con:
        users.add_user(con, cli_actor(), "admin1", "admin", "a long enough password")
        _review_with(con, catalog.get_pilot(con, text), host)


def _review_with(con, pilot, host: str) -> None:
    op, text = cli_actor(), payload(host)
    risks.add_risk(con, op, pilot, risk_class="operational_dependency", title=text, likelihood=5, impact=4,
                   owner=text, mitigation=text)
    risks.add_risk(con, op, pilot, risk_class="compliance", title=f"<a href=http://{host}/r>r</a>", likelihood=2,
                   impact=2, owner=text)  # short enough for the heat map's hover to hold it whole
    conditions.ensure_conditions(con, op, pilot)
    manual = [c for c in conditions.list_conditions(con, op, pilot) if not c["computed"]]
    conditions.set_condition(con, op, pilot, manual[0]["condition_id"], status="met", owner=text, evidence=text)
    conditions.request_waiver(con, op, pilot, manual[1]["condition_id"], reason=text,
                              expiry=date.today() + timedelta(days=30))
    handoff.set_handoff(con, op, pilot, operating_owner=text, support_path=text, how_used=text,
                        how_reviewed=text, how_changed=text, logs_location=text, delivery_work=text,
                        escalation=[{"who": text, "for": text, "when": text}])
    handoff.add_constraint(con, op, pilot, area="data", description=text, owner=text, mitigation=text)
    handoff.add_backlog_item(con, op, pilot, kind="operational", title=text, owner=text)
    sources.set_manual(con, op, pilot, "usage", text, text, text, text)

    annotations.annotate_mode(con, pilot, 1, status="known", owner=text, note=text, actor=op)
    decisions.record_decision(con, op, pilot, outcome="harden", rationale=text, owner=text,
                              next_review=date.today() + timedelta(days=30))


PAGES = ["pilots", "sources", "usage", "feedback", "failure_modes", "risks", "readiness", "handoff",
         "decision", "readout", "account", "admin_users", "audit_log"]


def _run(page: str, **state) -> AppTest:
    at = AppTest.from_file(page_file(page), default_timeout=120)
    at.session_state["_rr_actor"] = ADMIN
    at.session_state["_rr_pilot"] = PILOT
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    return at


def markdown_strings(at: AppTest) -> list[str]:
    """Every string the page gives Streamlit to render as Markdown: bodies, labels, help, metric
    values, radio and pills options, expander and tab labels, st.table cells and headers."""
    found: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if type(node).__name__ == "Table":
            table = node.value
            found.extend(str(x) for x in [*table.columns, *table.to_numpy().ravel()] if isinstance(x, str))
        elif proto is not None and hasattr(proto, "ListFields"):
            found.extend(_proto_markdown(proto))
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)

    walk(at._tree)
    return found


MARKDOWN_FIELDS = {"body", "label", "help", "delta", "delta_description", "content", "captions", "title"}
PLAIN_PROTOS = {"Text", "Json", "Code", "Html", "Exception"}  # shown as they are, not as Markdown


def _proto_markdown(msg) -> list[str]:
    out: list[str] = []
    plain = msg.DESCRIPTOR.name in PLAIN_PROTOS
    for field, value in msg.ListFields():
        values = list(value) if field.is_repeated else [value]
        if field.message_type is not None:
            out += [s for v in values if hasattr(v, "ListFields") for s in _proto_markdown(v)]
        elif field.type == field.TYPE_STRING and not plain and (
                field.name in MARKDOWN_FIELDS or (msg.DESCRIPTOR.name == "Radio" and field.name == "options")):
            out += values
    return out


def _assert_inert(at: AppTest, page: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    shown = markdown_strings(at)
    assert any("Pwn" in s for s in shown), page  # the payload is on the page
    live = {s: live_markup(s) for s in shown if live_markup(s)}
    assert not live, (page, live)
    for chart in (n for n in _nodes(at) if type(getattr(n, "proto", None)).__name__ == "PlotlyChart"):
        # plotly draws "<a href>" in its text as a link (and decodes entities)
        assert not [t for t in _strings(json.loads(chart.proto.spec)) if "<a href" in t or "<img" in t], page


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [s for v in items for s in _strings(v)]


def _nodes(at: AppTest):
    stack = [at._tree]
    while stack:
        node = stack.pop()
        yield node
        stack += list((getattr(node, "children", None) or {}).values())


@pytest.mark.parametrize("page", [p for p in PAGES if p not in ("account", "admin_users", "audit_log")])
def test_no_page_renders_user_or_file_text_as_markdown(hostile_db: Path, page: str) -> None:
    # Portfolio shows pilot names in its grid and picker (plain text); picked, one reaches Markdown
    _assert_inert(_run(page, **({"portfolio_pick": PILOT} if page == "pilots" else {})), page)


def test_the_portfolio_with_the_pilot_picked_and_a_refusal_naming_it(hostile_db: Path) -> None:
    at = _run("pilots", portfolio_pick=PILOT)  # "Review <name>" and the pills
    _assert_inert(at, "pilots")
    assert any(b.label.startswith("Review ") for b in at.button)
    at = _run("readiness")
    next(t for t in at.text_input if t.label == "Reason").input(PAYLOAD)
    next(b for b in at.button if b.label == "Change the risk tier").click().run()  # already its tier: refused
    assert any("already" in e.value for e in at.error)
    _assert_inert(at, "readiness")
    at = _run("admin_users")
    at.selectbox(key="grant_user").select("admin1")
    next(s for s in at.selectbox if s.label == "Pilot").select(PILOT)
    next(b for b in at.button if b.label == "Grant access").click().run()
    _assert_inert(at, "admin_users")


def test_plain_text_widgets_show_the_text_as_typed(hostile_db: Path) -> None:
    at = _run("sources")
    assert PILOT in at.selectbox(key="_w_pilot").options  # a select box does not read Markdown
    assert at.text_area[0].value == PAYLOAD


def test_the_exported_readout_and_playbook_carry_no_markup_from_user_text(hostile_db: Path) -> None:
    from readiness.review import playbook

    with store.open_store(hostile_db) as con:
        pilot = catalog.get_pilot(con, PILOT)
        page = readout.export_html(con, ADMIN, pilot)
        book = playbook.export_playbook(con, ADMIN, pilot, "html")
        text = playbook.export_playbook(con, ADMIN, pilot, "md")
    for exported in (page, book):
        assert "Pwn" in exported and "<img" not in exported and "<a " not in exported and f"http://{HOST}" in exported
    assert not live_markup(text) and "Pwn" in text


def _read_back(out: str) -> str:
    """The text a reader sees in Markdown ``out``: escapes and entities resolved, word joiners unseen."""
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", out)).replace("\u2060", "")


@pytest.mark.parametrize("text", [PAYLOAD, FILE_NAME, "1. item", "2) item", "# heading", "> quote", "- item", "+ item",
                                  "---", "===", "a | b", "`code`", "~~gone~~", "_it_", "x &amp; y &#60; <b>",
                                  "\\*not bold*", "line one\n- line two", "    indented", "s3://logs/a-b/ 10:30"])
def test_markdown_text_is_inert_and_reads_as_typed(text: str) -> None:
    for out, lines in ((markdown_text(text), " "), (markdown_text(text, breaks=True), "  \n")):
        assert not live_markup(out)
        assert _read_back(out) == text.replace("\n", lines)
        syntax = re.sub(r"\\[!-/:-@\[-`{-~]", "\0", out)
        assert not re.search(r"[\\`*_\[\]|~$<>]", syntax), out  # inline syntax: always escaped
        assert not re.search(r"^ {0,3}([#>+=-]|\d+[.)])", syntax.replace("  \n", "\n"), re.M), out  # block starts


def test_markdown_text_keeps_plain_words_plain() -> None:
    assert markdown_text("s3://logs/invoice-triage/ at 10:30, fin-ops") == "s3://logs/invoice-triage/ at 10:\u206030, fin-ops"
    assert markdown_text(None) == markdown_text("") == "—"
