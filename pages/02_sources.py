"""Sources: the pilot's profile, its logs (upload with a preview, batches, rejected rows), feeds and owners."""

from __future__ import annotations

from functools import partial
from zoneinfo import available_timezones

import pandas as pd
import streamlit as st

from readiness import pilots, store
from readiness.ingest import batches, column_choices, sources, uploads
from readiness.ingest import load as ingest
from readiness.ingest.column_choices import DETECTED, OTHER, TIME_LAYOUTS
from readiness.ingest.columns import KINDS
from readiness.security import access
from readiness.web import login, navigation, widgets
from readiness.web.text import blank_text, md

_STEPS = "_rr_mapping_steps"        # per upload and kind: the choices made on its mapping step
_PREVIEWS = "_rr_mapping_previews"  # previews by upload, kind, options and zone: a rerun reads none again
_LOADED = "_rr_uploads_loaded"      # what the last clean load said, shown once the box is emptied
_PREVIEWS_KEPT = 40                 # previews kept per session (each holds a few rows of its file)


def _keep_only(files: list) -> None:
    """Forget the choices and previews of uploads no longer in the box."""
    ids = {f.file_id for f in files}
    for name in (_STEPS, _PREVIEWS):
        kept = st.session_state.setdefault(name, {})
        for key in [k for k in kept if k[0] not in ids]:
            del kept[key]


def _preview(f, kind: str, opts: ingest.IngestOptions, zone: str):
    """The upload's preview with these options (readiness.ingest.load.Preview), or why it cannot load."""
    kept = st.session_state.setdefault(_PREVIEWS, {})
    key = (f.file_id, kind, repr(opts), zone)
    if key not in kept:
        try:
            kept[key] = uploads.preview_upload(login.db(), f.name, f, kind, opts, time_zone=zone)
        except ingest.UnusableFile as err:  # the message names the file as uploaded
            kept[key] = str(err)
        finally:
            f.seek(0)
        while len(kept) > _PREVIEWS_KEPT:  # the oldest first: back and forth between two choices stays quick
            del kept[next(iter(kept))]
    return kept[key]


def _step_state(f, kind: str) -> dict:
    return st.session_state.setdefault(_STEPS, {}).setdefault(
        (f.file_id, kind), {"choices": {}, "touched": set(), "looked": False, "offered": None, "layout": DETECTED, "typed": "",
                            "year": None, "zone": None})


def _chosen(state: dict, field: str, key: str) -> None:
    """A field's dropdown changed: that choice wins over the proposal from now on."""
    state["choices"][field] = st.session_state[key]
    state["touched"].add(field)


def _set(state: dict, name: str, key: str) -> None:
    """A time widget changed: keep its value with the upload's choices."""
    state[name] = st.session_state[key]


def _widget(state: dict, name: str, key: str) -> dict:
    """Keyword arguments of a widget that shows, and on a change keeps, ``state[name]``."""
    st.session_state[key] = state[name]  # set before the widget is drawn: its value this run
    return {"key": key, "on_change": _set, "args": (state, name, key)}


def _time_options(state: dict) -> tuple[str | None, int | None, str | None]:
    """(time format, year, zone) as chosen for the upload; None where left as recognised."""
    layout, typed = state["layout"], (state["typed"] or "").strip()
    fmt = layout if layout not in (DETECTED, OTHER) else typed if layout == OTHER and typed else None
    return fmt, int(state["year"]) if state["year"] else None, state["zone"]


def _mapping_step(f, kind: str, who, pilot, dedupe: bool, all_levels: bool) -> tuple[ingest.IngestOptions, list[str]]:
    """One upload's mapping step: what was recognised, a dropdown per field, the time reading and the
    preview as it would load. Returns the options to load it with and what stops it loading ([]: nothing)."""
    state, key = _step_state(f, kind), f"_rr_map_{f.file_id}_{kind}"

    def options() -> ingest.IngestOptions:
        fmt, year, zone = _time_options(state)
        return ingest.IngestOptions(overrides=column_choices.choices_as_overrides(state["choices"], kind),
                                    time_format=fmt, year=year, dedupe_rows=dedupe, all_levels=all_levels,
                                    time_zone=zone if zone not in (None, pilot.time_zone) else None)

    opts = options()
    found = _preview(f, kind, opts, opts.time_zone or pilot.time_zone)
    if isinstance(found, str):
        st.error(md(found))
        return opts, [found]
    if not state["looked"]:  # a file of the same shape loaded before: its mapping is offered again
        state["looked"] = True
        done, past = widgets.run_action(widgets.with_store(lambda con: column_choices.mapping_of_same_shape(
            con, who, pilot, kind, found.columns)))
        if done and past:
            state["choices"] = dict(past.mapping)
            state["offered"] = (past.file_name, past.batch_id)
            state.update(layout=column_choices.time_choice(past.time_format), typed=past.time_format or "",
                         year=past.year, zone=past.time_zone)
            opts = options()
            found = _preview(f, kind, opts, opts.time_zone or pilot.time_zone)
            if not isinstance(found, str) and found.every_row_rejected and past.time_format:
                state.update(layout=DETECTED, typed="")  # that file's time format does not read this one
                opts = options()
                found = _preview(f, kind, opts, opts.time_zone or pilot.time_zone)
            if isinstance(found, str):
                st.error(md(found))
                return opts, [found]
    st.markdown(f"**Preview of {md(f.name)}** · read as {md(found.format)}")
    if state["offered"]:
        name, batch_id = state["offered"]
        st.info(f"Same columns as {md(name)} (batch {batch_id}): same mapping, selected below. "
                "Change any field to choose otherwise.", icon=":material/content_copy:")
    _draw_mapping(found, state, key)
    _draw_time_reading(found, state, key, pilot.time_zone, opts)
    if found.line_records:
        _draw_line_records(found)
    _draw_rows(found)
    blockers = column_choices.load_blockers(found)
    for problem in found.problems:
        st.warning(md(f"{f.name}: {problem}"))
    if found.every_row_rejected:
        st.error(md(f"{f.name}: every one of the first {found.rows_checked:,} rows would be rejected, so it is "
                       "left out until the reason above is fixed (a column in the mapping table, or the time "
                       "format or year)."))
    return opts, blockers


def _draw_mapping(found, state: dict, key: str) -> None:
    """The mapping table: a dropdown of the file's columns per field and how its column was proposed;
    required fields one to a line, optional ones three to a line."""
    st.markdown("**Which column holds each field** · required fields first; the preview below follows each choice")
    offered = state["offered"][0] if state["offered"] else None
    rows = column_choices.field_choices(found.mapping, found.columns, offered, state["touched"])
    for row in (r for r in rows if r.required):
        pick, why = st.columns([2, 3], vertical_alignment="bottom")
        _field_dropdown(pick, row, found.columns, state, key)
        if not row.chosen:
            why.markdown(f"**{md(row.how)}** · choose the column that holds it")
        else:
            why.markdown(f"**{md(row.how)}**" + (f" · {md(row.reason)}" if row.reason else ""))
    optional = [r for r in rows if not r.required]
    for start in range(0, len(optional), 3):
        for place, row in zip(st.columns(3), optional[start:start + 3]):
            _field_dropdown(place, row, found.columns, state, key)
            place.caption(md(f"{row.how}: {row.reason}" if row.reason else row.how))
    if found.mapping.unmapped:
        st.caption("Kept in each row's attributes (no field): " + ", ".join(md(c) for c in found.mapping.unmapped))


def _field_dropdown(place, row, columns: list[str], state: dict, key: str) -> None:
    widget = f"{key}_{row.field}"
    st.session_state[widget] = row.chosen  # what the preview was made with, after any change
    place.selectbox(f"{row.field} ({row.need})", row.options, key=widget, on_change=_chosen,
                    args=(state, row.field, widget),
                    format_func=partial(column_choices.option_label, columns=columns, required=row.required))


def _draw_time_reading(found, state: dict, key: str, pilot_zone: str, opts: ingest.IngestOptions) -> None:
    """How times are read: the layouts to choose, a year, a zone, and the reading in use with examples."""
    if found.mapping.get("timestamp") is None:
        return
    st.markdown("**How times are read**")
    detected = column_choices.detected_layout(found)
    layout, zone, year = st.columns([3, 2, 1])
    choice = layout.selectbox("Time format", [DETECTED, *TIME_LAYOUTS, OTHER], **_widget(state, "layout", f"{key}_layout"),
                              format_func=partial(column_choices.layout_label, detected=detected),
                              help="How the time column writes its times. 'As recognised' is what the file's "
                                   "values were read as: ISO 8601, epoch seconds or a common layout.")
    zones = [pilot_zone, *sorted(z for z in available_timezones() if z != pilot_zone)]
    if state["zone"] is None:
        state["zone"] = pilot_zone
    zone.selectbox("Zone of times written without one", zones, **_widget(state, "zone", f"{key}_zone"),
                   help="Times that carry their zone (Z, +01:00) keep it. By default the others are read in the "
                        "pilot's zone, set in the pilot profile.")
    year.number_input("Year", min_value=1970, max_value=2100, step=1, **_widget(state, "year", f"{key}_year"),
                      help="For times written without a year, such as syslog's 'Jun 14 15:16:01'.")
    raw = column_choices.raw_times(found)
    if choice == OTHER:
        typed, live = st.columns([3, 3])
        fmt = typed.text_input("Time format (strptime codes)", **_widget(state, "typed", f"{key}_typed"),
                               placeholder="%d.%m.%Y %H:%M",
                               help="%d day, %m month, %Y year, %H:%M hours and minutes, %b month name, %z zone; "
                                    "press Enter to read the file with it")
        for text, read in column_choices.read_with(fmt, raw) if fmt else []:
            live.caption(f"{md(text)} → {md(read)}")
    examples = column_choices.example_times(found, opts.time_zone or pilot_zone)
    st.caption(f"In use: {md(found.time_mode or 'not chosen yet')}" + (" · the first times:" if examples else ""))
    if examples:
        st.dataframe(pd.DataFrame(examples, columns=["As written", "Read as"]), hide_index=True, width="stretch")


def _draw_line_records(found) -> None:
    """A line log's first records beside their raw lines; the lines not read are among the rejects."""
    st.markdown("**Lines as read** · the first records, beside their raw lines")
    st.dataframe(pd.DataFrame([{"line": r["line"], "raw": r["raw"],
                                "read": " · ".join(f"{k}: {v}" for k, v in r["read"].items())} for r in found.line_records]),
                 hide_index=True, width="stretch", column_config={
                     "line": st.column_config.NumberColumn("Line"), "raw": st.column_config.TextColumn("As written", width="large"),
                     "read": st.column_config.TextColumn("Read as", width="large")})


def _draw_rows(found) -> None:
    """The first rows as they would load, and the rows that would be rejected with why."""
    st.markdown(f"**First rows as they would load** · of the first {found.rows_checked:,}: "
                f"{found.rows_checked - found.rows_rejected - found.rows_informational:,} load, "
                f"{found.rows_rejected:,} rejected")
    st.dataframe(blank_text(pd.DataFrame(found.parsed or found.rows)), hide_index=True, width="stretch")
    if found.rejected_rows:
        st.markdown("**Rows that would be rejected** · and why")
        rejects = pd.DataFrame(found.rejected_rows)
        rejects = rejects.drop(columns=["line"]) if rejects["line"].isna().all() else rejects  # CSV: rows, not lines
        st.dataframe(blank_text(rejects), hide_index=True, width="stretch", column_config={
            "row": st.column_config.NumberColumn("Row"), "line": st.column_config.NumberColumn("Line"),
            "column": "Column", "reason": st.column_config.TextColumn("Why", width="large"),
            "raw": st.column_config.TextColumn("As read", width="large")})


actor, pilot, version = navigation.pick_pilot()

st.title("Sources")
st.caption(f"{md(pilot.name)} · where the evidence comes from: the pilot's profile, the logs loaded (and what was "
           "rejected, row by row), and who provides each kind of log.")

with store.open_store(login.db()) as con:
    can_ingest = access.allowed(con, actor, "ingest", pilot.pilot_id)
    can_edit = access.allowed(con, actor, "edit_pilot", pilot.pilot_id)
    can_delete = access.allowed(con, actor, "delete_batch", pilot.pilot_id)
    can_reveal = access.allowed(con, actor, "reveal_personal_data", pilot.pilot_id)

with st.expander("Pilot profile", expanded=False), st.form("profile"):
    a, b, c = st.columns(3)
    capability = st.text_area("Capability", value=pilot.capability or "", disabled=not can_edit)
    sponsor = a.text_input("Sponsor", value=pilot.sponsor or "", disabled=not can_edit)
    owner = b.text_input("Pilot owner", value=pilot.owner or "", disabled=not can_edit)
    tz = c.text_input("Time zone (IANA)", value=pilot.time_zone, disabled=not can_edit)
    d, e, f = st.columns(3)
    validated_by = d.text_input("Validated by (users)", value=pilot.validated_by or "", disabled=not can_edit)
    method = e.text_input("How", value=pilot.validation_method or "", disabled=not can_edit)
    result = f.text_input("Result", value=pilot.validation_result or "", disabled=not can_edit)
    st.caption(f"Risk tier: {pilot.risk_tier} (changed on the Readiness page; lowering it needs a second person).")
    if st.form_submit_button("Save profile", disabled=not can_edit):
        widgets.run_action(widgets.with_store(lambda con: pilots.update_pilot(
            con, actor, pilot, capability=capability or None, sponsor=sponsor or None, owner=owner or None,
            time_zone=tz, validated_by=validated_by or None, validation_method=method or None,
            validation_result=result or None)), "Saved.", refresh=True)

if can_ingest:
    st.subheader("Add logs")
    if loaded := st.session_state.pop(_LOADED, None):  # the files just loaded, before the box was emptied
        with st.status(loaded[0], state="complete", expanded=True):
            for line in loaded[1]:
                st.text(line)
    kind = st.radio("Kind", KINDS, horizontal=True)
    # a new key after a clean load empties the box: the loaded files stayed in it and were checked again
    # as the next kind ("Load 2 files as usage" with the feedback file among them)
    files = st.file_uploader("CSV / TSV, Excel (.xlsx), JSON Lines, JSON, Parquet, web access or application logs, "
                             "or .gz / .bz2 / .xz / .zst / .zip of one", accept_multiple_files=True,
                             key=f"uploads_{st.session_state.get('_rr_upload_round', 0)}")
    with st.expander("Rows loaded before" + (", log levels" if kind == "exceptions" else "")):
        dedupe = st.checkbox("Skip rows already loaded from earlier files (cumulative exports)")
        all_levels = kind == "exceptions" and st.checkbox(
            "Load every line, whatever its level",
            help="By default an exception log's information lines (level TRACE, DEBUG, INFO, NOTICE and the like) "
                 "are counted and left out: they are not exceptions. Lines with no level or any other level load. "
                 "Ticked, information lines count as exceptions everywhere: in the rate, the failure modes and "
                 "the risk signals.")
    if files:
        _keep_only(files)
        steps = {}
        for f in files:
            with st.container(border=True):
                steps[f.file_id] = _mapping_step(f, kind, actor, pilot, dedupe, all_levels)
        ready = [f for f in files if steps[f.file_id][1] == []]
        left_out = [f.name for f in files if f not in ready]
        label = f"Load {len(ready)} file{'s' if len(ready) != 1 else ''} as {kind}"
        if left_out and ready:
            st.caption("Left out, for the reason above: " + ", ".join(md(n) for n in left_out) + ".")
        elif not ready:
            st.caption("Nothing can load yet: choose a column for every required field, and a time format that "
                       "reads the times, until the preview shows rows that load.")
        if st.button(label if ready else "Load", type="primary", disabled=not ready):
            with st.status("Loading…", expanded=True) as status:
                done, results = widgets.run_action(lambda: [  # each file with its own mapping and time reading
                    r for f in ready for r in uploads.ingest_uploads(login.db(), pilot.name, kind, [(f.name, f)],
                                                                     actor=actor, opts=steps[f.file_id][0])])
                for r in results or []:
                    if r.error:  # Markdown: the file's name is escaped
                        st.error(md(r.summary()))
                    else:  # st.text keeps its note on a line of its own
                        st.text(r.summary())
                clean = done and not any(r.error for r in results or [])
                new = any(not r.duplicate for r in results or [])  # every file sent before: say nothing loaded
                status.update(label=("Loaded" if new else "Nothing new: already loaded") if clean else "Loaded with problems",
                              state="complete" if done else "error", expanded=True)
            if clean:  # the box is emptied at once, ready for the next file; what was loaded is said again
                st.session_state["_rr_upload_round"] = st.session_state.get("_rr_upload_round", 0) + 1
                st.session_state[_LOADED] = ("Loaded" if new else "Nothing new: already loaded",
                                             [r.summary() for r in results])
                st.rerun()

st.subheader("Batches")
with store.open_store(login.db()) as con:
    loaded = batches.list_batches(con, actor, pilot)  # after any load above, so it is current
if not loaded:
    st.info("Nothing loaded yet for this pilot: add usage, feedback and exception logs above "
            "(or with `python -m readiness ingest`).")
else:
    table = pd.DataFrame(loaded)[["batch_id", "kind", "file_name", "format", "rows_read", "rows_loaded",
                                  "rows_rejected", "rows_duplicate", "rows_skipped", "actor", "finished_at"]]
    count = st.column_config.NumberColumn
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "batch_id": "Batch", "kind": "Kind", "file_name": "File", "format": "Format",
        "rows_read": count("Rows read", format="localized"), "rows_loaded": count("Loaded", format="localized"),
        "rows_rejected": count("Rejected", format="localized"),
        "rows_duplicate": count("Duplicate", format="localized", help="Rows skipped as already loaded (--dedupe-rows)"),
        "rows_skipped": count("Left out", format="localized",
                              help="Counted, not loaded: an exception log's information lines (INFO, DEBUG, ...), "
                                   "an access log's requests for static files, a survey's partial responses, a chat "
                                   "export's channel events and bot messages"),
        "actor": "Loaded by", "finished_at": st.column_config.DatetimeColumn("Finished (UTC)", format="YYYY-MM-DD HH:mm")})
    ids = [b["batch_id"] for b in loaded]
    pick = st.selectbox("Batch", ids, format_func=lambda i: next(f"{b['batch_id']} · {b['kind']} · {b['file_name']}"
                                                                 for b in loaded if b["batch_id"] == i))
    done, used = widgets.run_action(widgets.with_store(lambda con: column_choices.batch_mapping(con, actor, pilot, pick)))
    if done and used:
        st.caption(f"Mapping of batch {pick}: " + "; ".join(f"{k} ← {md(v)}" for k, v in used.items()))
    reveal = can_reveal and st.toggle("Show personal data in rejected rows (recorded in the audit log)")
    done, rejects = widgets.run_action(widgets.with_store(lambda con: batches.list_rejects(con, actor, pilot, pick, 200, reveal)))
    if done and rejects:
        st.markdown(f"**Rejected rows of batch {pick}**")
        st.dataframe(pd.DataFrame(rejects).drop(columns=["batch_id", "file_name"]), hide_index=True, width="stretch",
                     column_config={  # raw names and "None" cells before
                         "row": st.column_config.NumberColumn("Row", help="The row's number in the file (header not counted)"),
                         "line": st.column_config.NumberColumn("Line", help="The physical line, where it differs from the row"),
                         "column": "Column", "reason": st.column_config.TextColumn("Why", width="large"),
                         "raw": st.column_config.TextColumn("As read", width="large")})
    elif done:
        st.caption(f"Batch {pick} has no rejected rows.")
    if can_delete:
        with st.form("delete_batch"):
            sure = st.checkbox(f"Yes, delete batch {pick} with its rows")
            if st.form_submit_button("Delete batch"):
                if not sure:  # it did nothing and said nothing
                    st.warning(f"Nothing deleted: tick 'Yes, delete batch {pick} with its rows' first.")
                else:
                    widgets.run_action(widgets.with_store(lambda con: batches.delete_batch(con, pick, actor)),
                                  f"Deleted batch {pick}.", refresh=True)

st.subheader("Who keeps each log coming")
st.caption("Per log kind: a feed (a folder or glob under the admins' feed root, re-read by "
           "`python -m readiness sync --pilot NAME`) or a manual source process with an owner.")
with store.open_store(login.db()) as con:
    current_sources = sources.list_sources(con, actor, pilot)
kept = pd.DataFrame(current_sources, columns=["kind", "mode", "pattern", "provider", "what", "frequency", "owner",
                                             "last_sync_at"])
kept["mode"] = kept["mode"].map({"feed": "feed", "manual": "manual process"}).fillna("none yet")
st.dataframe(blank_text(kept, ["pattern", "provider", "what", "frequency", "owner"]), hide_index=True, width="stretch", column_config={
    "kind": "Kind", "mode": "Source", "pattern": "Feed (folder or glob)", "provider": "Provided by",
    "what": "What", "frequency": "How often", "owner": "Process owner",
    "last_sync_at": st.column_config.DatetimeColumn("Last sync (UTC)", format="YYYY-MM-DD HH:mm")})
if can_ingest:
    feed_col, manual_col = st.columns(2)
    try:
        root = sources.feed_root()
    except sources.SourceError as err:  # the form was offered, then refused on submit
        root = None
        feed_col.markdown("**A feed** · files the app re-reads")
        feed_col.info(md(err))
    folder = current_sources[0]["feed_folder"]  # the pilot's, on every row
    if root is not None and actor.is_admin:
        # each pilot's feeds lie in a folder an admin assigns: one team cannot feed from another's
        with feed_col.form("feed_folder"):
            st.markdown("**Feed folder** · where this pilot's feeds may lie (admins)")
            new_folder = st.text_input("Folder under the feed root", value=folder or "", placeholder="team-a")
            if st.form_submit_button("Assign folder"):
                widgets.run_action(widgets.with_store(lambda con: sources.set_feed_folder(con, actor, pilot, new_folder)),
                              "Feed folder assigned.", refresh=True)
    if root is not None and folder is None and not actor.is_admin:
        feed_col.markdown("**A feed** · files the app re-reads")
        feed_col.info("No feed folder is assigned to this pilot yet: an admin assigns one on this page, then "
                      "feeds can be set inside it.")
    elif root is not None:
        with feed_col.form("feed"):
            st.markdown("**A feed** · files the app re-reads"
                        + (f" · inside {md(folder)}" if folder not in (None, ".") else ""))
            f_kind = st.selectbox("Kind", KINDS, key="feed_kind")
            hint = f"{folder}/usage-*.csv.gz" if folder not in (None, ".") else "erp-exports/usage-*.csv.gz"
            pattern = st.text_input("Folder or glob under the feed root", placeholder=hint)
            if st.form_submit_button("Set feed"):
                widgets.run_action(widgets.with_store(lambda con: sources.set_feed(con, actor, pilot, f_kind, pattern)),
                              "Feed set.", refresh=True)
    with manual_col.form("manual"):
        st.markdown("**A manual source process** · someone sends the files")
        m_kind = st.selectbox("Kind", KINDS, key="manual_kind")
        provider = st.text_input("Who provides it", placeholder="e.g. the ERP team")
        what = st.text_input("What they provide", placeholder="e.g. the weekly usage export")
        frequency = st.text_input("How often", placeholder="e.g. weekly")  # "weekly" alone read as filled in
        m_owner = st.text_input("Owner of the process", placeholder="e.g. Priya Shah")
        if st.form_submit_button("Set manual process"):
            widgets.run_action(widgets.with_store(lambda con: sources.set_manual(con, actor, pilot, m_kind, provider, what,
                                                                       frequency, m_owner)), "Saved.", refresh=True)
