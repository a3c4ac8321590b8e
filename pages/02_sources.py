"""Sources: the pilot's profile, its logs (upload with a preview, batches, rejected rows), feeds and owners."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from readiness import pilots, store
from readiness.ingest import batches, sources, uploads
from readiness.ingest import load as ingest
from readiness.ingest.columns import KINDS, MappingError, parse_overrides
from readiness.security import access
from readiness.web import cache, login, navigation, widgets
from readiness.web.text import blank_text, md

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
    kind = st.radio("Kind", KINDS, horizontal=True)
    # a new key after a clean load empties the box: files left in it would be checked again as the
    # next kind ("Load 2 files as usage" with the feedback file among them)
    files = st.file_uploader("CSV / TSV, JSON Lines, JSON, Parquet, or .gz / .bz2 / .xz / .zst / .zip of one", accept_multiple_files=True,
                             key=f"uploads_{st.session_state.get('_rr_upload_round', 0)}")
    overrides_text = st.text_input("Column mapping overrides (optional)", placeholder="timestamp=created, user_id=Employee",
                                   help="canonical=source, comma-separated; join columns with +, e.g. timestamp=Date+Time")
    with st.expander("Time format, year, rows loaded before" + (", log levels" if kind == "exceptions" else "")):
        a, b = st.columns([3, 1])
        time_format = a.text_input(
            "Time format (optional)", placeholder="%d.%m.%Y %H:%M",
            help="How the time column writes its times, in strptime codes (%d day, %m month, %Y year, %H:%M "
                 "hours and minutes, %b month name, %z zone). Empty: ISO 8601, epoch seconds or milliseconds, "
                 "or a common layout such as 02.03.2026 09:15 or 03/14/2026 1:05 PM, recognised from the file.")
        year = b.number_input("Year (optional)", min_value=1970, max_value=2100, value=None, step=1,
                              help="For times written without a year, such as syslog's 'Jun 14 15:16:01'.")
        dedupe = st.checkbox("Skip rows already loaded from earlier files (cumulative exports)")
        all_levels = kind == "exceptions" and st.checkbox(
            "Load every line, whatever its level",
            help="By default an exception log's information lines (level TRACE, DEBUG, INFO, NOTICE and the like) "
                 "are counted and left out: they are not exceptions. Lines with no level or any other level load. "
                 "Ticked, information lines count as exceptions everywhere: in the rate, the failure modes and "
                 "the risk signals.")
    try:
        overrides = parse_overrides([x.strip() for x in overrides_text.split(",") if x.strip()])
    except MappingError as err:
        st.error(md(err))  # it quotes the columns as typed
        st.stop()
    opts = ingest.IngestOptions(overrides=overrides, time_format=time_format.strip() or None,
                                year=int(year) if year else None, dedupe_rows=dedupe, all_levels=all_levels)
    if files:
        found = cache.upload_previews(files, kind, opts, pilot.time_zone)
        all_rejected = [f for f in files if not isinstance(found[f.file_id], str) and found[f.file_id].every_row_rejected]
        ready = [f for f in files if not isinstance(found[f.file_id], str)
                 and not found[f.file_id].mapping.missing_required() and f not in all_rejected]
        first = next((f for f in files if f in ready), files[0])  # the preview: the first file that can load
        shown = found[first.file_id]
        if isinstance(shown, str):
            st.error(md(shown))
        else:
            st.markdown(f"**Preview of {md(first.name)}** · {md(shown.format)}"
                        + (f"  \n{md(shown.time_mode[:1].upper() + shown.time_mode[1:])}" if shown.time_mode else ""))
            st.dataframe(pd.DataFrame([{"column": m.canonical, "from": " + ".join(m.sources), "why": m.reason}
                                       for m in shown.mapping.columns]), hide_index=True, width="stretch",
                         column_config={"column": "Column", "from": "From the file", "why": "Why"})
            st.dataframe(blank_text(pd.DataFrame(shown.parsed or shown.rows)), hide_index=True, width="stretch")
            for problem in shown.problems:
                st.warning(md(problem))
        for f in (f for f in files if f is not first):  # the others: what stops them, or what the preview found
            other = found[f.file_id]
            if isinstance(other, str):
                st.error(md(other))
            elif other.mapping.missing_required():
                why = next((p for p in other.problems if "not found" in p),
                           "required column(s) not found: " + ", ".join(other.mapping.missing_required()))
                st.warning(md(f"{f.name}: {why}"))
            else:  # their rejects and zone notes are shown before the load too
                for problem in other.problems:
                    st.warning(md(f"{f.name}: {problem}"))
        for f in all_rejected:
            st.error(md(f"{f.name}: every one of the first {found[f.file_id].rows_checked:,} rows would be "
                           "rejected, so it is left out until the reason above is fixed (the mapping, or the "
                           "time format or year under 'Time format, year, ...')."))
        left_out = [f.name for f in files if f not in ready]
        label = f"Load {len(ready)} file{'s' if len(ready) != 1 else ''} as {kind}"
        if left_out and ready:
            st.caption("Left out, for the reason above: " + ", ".join(md(n) for n in left_out) + ".")
        elif not ready:
            st.caption("Nothing can load yet: do what the messages above say (a column in *Column mapping "
                       "overrides*, or the time format or year under *Time format, year, ...*), or choose other files.")
        if st.button(label if ready else "Load", type="primary", disabled=not ready):
            with st.status("Loading…", expanded=True) as status:
                done, results = widgets.run_action(lambda: uploads.ingest_uploads(
                    login.db(), pilot.name, kind, [(f.name, f) for f in ready], actor=actor, opts=opts))
                for r in results or []:
                    if r.error:  # Markdown: the file's name is escaped
                        st.error(md(r.summary()))
                    else:  # st.text keeps its note on a line of its own
                        st.text(r.summary())
                clean = done and not any(r.error for r in results or [])
                new = any(not r.duplicate for r in results or [])  # every file sent before: say nothing loaded
                status.update(label=("Loaded" if new else "Nothing new: already loaded") if clean else "Loaded with problems",
                              state="complete" if done else "error", expanded=True)
            if clean:  # the box is emptied on the next run; what was loaded stays listed here and in Batches
                st.session_state["_rr_upload_round"] = st.session_state.get("_rr_upload_round", 0) + 1

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
        "rows_skipped": count("Info lines", format="localized",
                              help="Exception logs: information lines (INFO, DEBUG, ...) counted and left out"),
        "actor": "Loaded by", "finished_at": st.column_config.DatetimeColumn("Finished (UTC)", format="YYYY-MM-DD HH:mm")})
    ids = [b["batch_id"] for b in loaded]
    pick = st.selectbox("Batch", ids, format_func=lambda i: next(f"{b['batch_id']} · {b['kind']} · {b['file_name']}"
                                                                 for b in loaded if b["batch_id"] == i))
    reveal = can_reveal and st.toggle("Show personal data in rejected rows (recorded in the audit log)")
    done, rejects = widgets.run_action(widgets.with_store(lambda con: batches.list_rejects(con, actor, pilot, pick, 200, reveal)))
    if done and rejects:
        st.markdown(f"**Rejected rows of batch {pick}**")
        st.dataframe(pd.DataFrame(rejects).drop(columns=["batch_id", "file_name"]), hide_index=True, width="stretch",
                     column_config={  # labelled in words, not with the raw column names
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
                if not sure:  # say why nothing happened
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
    except sources.SourceError as err:  # no feed root: say so instead of a form that is refused on submit
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
        frequency = st.text_input("How often", placeholder="e.g. weekly")  # "weekly" alone reads as filled in
        m_owner = st.text_input("Owner of the process", placeholder="e.g. Priya Shah")
        if st.form_submit_button("Set manual process"):
            widgets.run_action(widgets.with_store(lambda con: sources.set_manual(con, actor, pilot, m_kind, provider, what,
                                                                       frequency, m_owner)), "Saved.", refresh=True)
