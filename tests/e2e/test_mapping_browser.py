"""The column mapping step on Sources, in a real browser: fields filled from dropdowns of the file's
columns, the preview following each choice, the mapping kept with the batch and offered again for
the next file of the same shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_helpers import a_run, login, main_text, nav, snapshot_dir, start_app, wait_idle
from playwright.sync_api import expect

from readiness import store
from readiness.ingest import load as ingest
from readiness.security import users
from readiness.security.access import Actor

PW = "reviewer password for e2e"
OP = Actor("cli:e2e", "admin", cli=True)
PILOT = "Mapping pilot"
# Headers no synonym knows; one holds Markdown and HTML, which must show as typed
HEADER = "Zeitpunkt,Mitarbeiter,Vorgang,**Kostenstelle** <b>KST</b>"


def _file(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mapping")
    db = folder / "store.duckdb"
    seed = folder / "seed.csv"
    seed.write_text("ts,user,event\n2026-03-02T10:00:00Z,ann,open\n")
    ingest.ingest_files(db, PILOT, "usage", [seed], actor=OP, create=True)
    with store.open_store(db) as con:
        users.add_user(con, OP, "rex", "reviewer", PW)
        users.grant(con, OP, "rex", PILOT)
    proc, url = start_app({"READINESS_DB": str(db), "READINESS_BCRYPT_ROUNDS": "4",
                           "READINESS_PAGE_TIMES_LOG": str(folder / "page-times.tsv")})
    yield url, db
    proc.terminate()
    proc.wait(timeout=20)


def _pick(page, field: str, column: str) -> None:
    """Choose ``column`` in the dropdown of ``field`` (its label starts with the field's name)."""
    box = page.get_by_test_id("stMain").get_by_test_id("stSelectbox").filter(
        has=page.get_by_text(field + " (", exact=False))
    box.first.locator("input").click()
    page.keyboard.type(column)  # the dropdown filters its options as one types, as a keyboard user would
    page.keyboard.press("Enter")
    wait_idle(page)


def _screenshot_mapping_step(page, path: Path) -> None:
    """The mapping step from the upload box to the Load button, drawn whole in a tall window."""
    page.set_viewport_size({"width": 1300, "height": 3000})
    wait_idle(page)
    top = page.locator("input[type=file]").locator("xpath=../..").bounding_box()["y"]
    button = page.get_by_role("button", name="Load 1 file as usage").bounding_box()
    main = page.get_by_test_id("stMain").bounding_box()
    page.screenshot(path=str(path), clip={"x": main["x"], "y": top - 10, "width": main["width"],
                                          "height": button["y"] + button["height"] + 20 - top})
    page.set_viewport_size({"width": 1400, "height": 1000})


def _chosen(page, field: str) -> str:
    box = page.get_by_test_id("stMain").get_by_test_id("stSelectbox").filter(has=page.get_by_text(field + " (", exact=False))
    return box.first.locator("input").input_value()


def test_columns_are_chosen_from_dropdowns_and_offered_again_for_the_same_shape(browser, app) -> None:
    url, db = app
    folder = Path(db).parent
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    login(page, url, "rex", PW)
    page.get_by_text("Signed in as").first.wait_for(timeout=60_000)
    with a_run(page):  # the app idle before the click (the login's reruns done), and its run finished
        nav(page, "Sources").click()
    page.get_by_role("heading", name="Add logs").first.wait_for(timeout=60_000)
    week1 = _file(folder / "week1.csv", ["03.03.2026 09:00,anna,Rechnung prüfen,K1",
                                         "03.03.2026 09:05,ben,Rechnung buchen,K2",
                                         "03.03.2026 09:07,,Rechnung buchen,K2",
                                         "04.03.2026 14:30,anna,Rechnung prüfen,K1"])
    page.locator("input[type=file]").set_input_files(str(week1))
    page.get_by_text("Preview of week1.csv").first.wait_for(timeout=60_000)
    page.get_by_text("Which column holds each field").first.wait_for()
    # the times were found by their content; the user and the event by nothing: Load waits for them
    assert _chosen(page, "timestamp") == "Zeitpunkt"
    assert _chosen(page, "user_id") == "— choose a column —"
    assert page.get_by_role("button", name="Load", exact=True).is_disabled()
    text = main_text(page)
    assert "by content" in text and "**Kostenstelle** <b>KST</b>" in text  # the header as typed, not bold

    _pick(page, "user_id", "Mitarbeiter")
    page.get_by_text("your choice").first.wait_for(timeout=60_000)
    assert _chosen(page, "user_id") == "Mitarbeiter"
    assert page.get_by_role("button", name="Load", exact=True).is_disabled()  # event has no column yet
    expect(page.get_by_text("Rows that would be rejected")).to_have_count(0)
    _pick(page, "event", "Vorgang")
    # the preview follows at once: the rows as they would load, the row without a user rejected
    page.get_by_text("Rows that would be rejected").first.wait_for(timeout=60_000)
    expect(page.get_by_text("of the first 4: 3 load, 1 rejected").first).to_be_visible()
    assert "user_id: missing value" in main_text(page)
    load = page.get_by_role("button", name="Load 1 file as usage")
    expect(load).to_be_enabled(timeout=60_000)
    _screenshot_mapping_step(page, snapshot_dir() / "mapping.png")  # docs/mapping.png is a copy
    load.click()
    page.get_by_text("4 read, 3 loaded, 1 rejected").first.wait_for(timeout=60_000)
    with store.open_store(db) as con:
        batch_id, options = con.execute("SELECT batch_id, CAST(options AS VARCHAR) FROM ingest_batches "
                                        "WHERE file_name = 'week1.csv'").fetchone()
    assert json.loads(options)["mapping"] == {"timestamp": "Zeitpunkt", "user_id": "Mitarbeiter", "event": "Vorgang"}
    # the box is emptied for the next file; the batch is listed with the mapping it was loaded with
    expect(page.get_by_text("Preview of week1.csv")).to_have_count(0, timeout=60_000)
    page.get_by_text(f"Mapping of batch {batch_id}").first.wait_for(timeout=60_000)
    assert "user_id ← Mitarbeiter" in main_text(page)

    # the next week's export, same columns: the mapping is offered again, said as such, and it loads
    week2 = _file(folder / "week2.csv", ["10.03.2026 08:00,carla,Rechnung prüfen,K3",
                                         "10.03.2026 08:20,carla,Rechnung buchen,K3"])
    page.locator("input[type=file]").set_input_files(str(week2))
    page.get_by_text("Preview of week2.csv").first.wait_for(timeout=60_000)
    page.get_by_text(f"Same columns as week1.csv (batch {batch_id}): same mapping").first.wait_for(timeout=60_000)
    assert _chosen(page, "user_id") == "Mitarbeiter" and _chosen(page, "event") == "Vorgang"
    assert "as in week1.csv" in main_text(page)
    page.get_by_text("Preview of week2.csv").first.scroll_into_view_if_needed()
    page.screenshot(path=str(snapshot_dir() / "mapping-offered.png"))
    page.get_by_role("button", name="Load 1 file as usage").click()
    page.get_by_text("2 read, 2 loaded, 0 rejected").first.wait_for(timeout=60_000)
    page.close()
    with store.open_store(db) as con:
        users_loaded = con.execute("SELECT list(DISTINCT user_id ORDER BY user_id) FROM usage_events JOIN "
                                   "ingest_batches USING (batch_id) WHERE file_name LIKE 'week%'").fetchone()[0]
    assert users_loaded == ["anna", "ben", "carla"]
