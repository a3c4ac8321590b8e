"""Command line: ``python -m readiness <command>``, a thin layer over the library.

The command line is an operator's tool: whoever can run it on the store's machine acts with
admin rights, and its writes are audited as ``cli:<os user>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from readiness import backup, catalog, keys, pilots, settings, store
from readiness.errors import ReadinessError
from readiness.ingest import batches, sources
from readiness.ingest import load as ingest
from readiness.ingest.columns import KINDS, parse_overrides
from readiness.review import asof, decisions, export, playbook
from readiness.security import access, audit, users
from readiness.security.access import cli_actor
from readiness.store import StoreBusy

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and v != v):  # pandas writes a missing text as NaN
            return ""
        if isinstance(v, datetime) and v.tzinfo is not None:
            v = v.astimezone(UTC)
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        text = str(v).replace("\n", "\\n")
        return text if len(text) <= 60 else text[:57] + "..."
    grid = [list(columns)] + [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in grid) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in grid]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cmd_ingest(args: argparse.Namespace) -> int:
    opts = ingest.IngestOptions(parse_overrides(args.map), args.time_format, args.year, args.dedupe_rows,
                                args.all_levels, args.log_format)
    results = ingest.ingest_files(args.db, args.pilot, args.kind, args.files, actor=cli_actor(),
                                  opts=opts, create=args.create)
    return _report_files(results, args.json)


def _report_files(results: list[ingest.IngestResult], as_json: bool, with_kind: bool = False) -> int:
    """Print one line (or JSON object) per file; EXIT_USAGE when a file did not load."""
    for r in results:
        if as_json:
            print(json.dumps({"kind": r.kind, **r.as_json()} if with_kind else r.as_json()))
        else:
            prefix = f"{r.kind}: " if with_kind else ""
            print(prefix + r.summary(), file=sys.stderr if r.error else sys.stdout)
    bad = [r.file for r in results if r.error]
    if bad and not as_json:
        rest = ("Nothing was loaded." if len(bad) == len(results) else
                "The others were loaded (or were duplicates), each as its own batch.")
        print(f"\n{len(bad)} of {len(results)} file(s) not loaded: {', '.join(bad)}. {rest}", file=sys.stderr)
    return EXIT_USAGE if bad else EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    results = sources.sync(args.db, cli_actor(), args.pilot)
    if not results and not args.json:
        print(f"No files in the feeds of {args.pilot} yet.")
    return _report_files(results, args.json, with_kind=True)


def cmd_sources(args: argparse.Namespace) -> int:
    actor = cli_actor()
    with store.open_store(args.db) as con:
        pilot = pilots.pilot_for(con, actor, args.pilot)
        if args.feed_folder is not None:
            folder = sources.set_feed_folder(con, actor, pilot, args.feed_folder)
            print(f"The feeds of {pilot.name} must now lie under {folder}/ in the feed root." if folder else
                  f"{pilot.name} has no feed folder now: only admins set and sync its feeds.")
        if args.feed:
            files = sources.set_feed(con, actor, pilot, args.feed[0], args.feed[1])
            print(f"{args.feed[0]} of {pilot.name} is now fed from {args.feed[1]} "
                  f"({len(files):,} file(s) there now); load them with: python -m readiness sync --pilot {pilot.name!r}")
        elif args.manual:
            sources.set_manual(con, actor, pilot, args.manual, args.provider, args.what, args.frequency, args.owner)
            print(f"{args.manual} of {pilot.name}: manual source process recorded.")
        rows = sources.list_sources(con, actor, pilot)
    if args.json:
        print(json.dumps(rows, default=str, indent=2))
    elif not (args.feed or args.manual or args.feed_folder is not None):
        print(_table([{**r, "mode": r["mode"] or "MISSING"} for r in rows],
                     ["kind", "mode", "pattern", "provider", "what", "frequency", "owner", "last_sync_at"]))
        if rows and rows[0]["feed_folder"]:
            print(f"\nFeed folder: {rows[0]['feed_folder']}/ (every feed of this pilot must lie under it)")
    return EXIT_OK


def cmd_preview(args: argparse.Namespace) -> int:
    opts = ingest.IngestOptions(parse_overrides(args.map), args.time_format, args.year, all_levels=args.all_levels,
                                log_format=args.log_format, time_zone=args.time_zone)
    tz = args.time_zone
    if args.pilot:
        with store.open_store(args.db) as con:
            tz = pilots.pilot_for(con, cli_actor(), args.pilot).time_zone
    p = ingest.preview(args.file, args.kind, opts, time_zone=tz or "UTC")
    if args.json:
        print(json.dumps(p.as_dict(), default=str, indent=2))
        return EXIT_OK
    print(f"{p.file}: {p.format}; {len(p.columns)} columns: {', '.join(p.columns)}")
    print(f"\nMapping for {p.kind}:")
    print(_table([{"canonical": c.canonical, "from": " + ".join(c.sources), "why": c.reason}
                  for c in p.mapping.columns], ["canonical", "from", "why"]))
    if p.mapping.unmapped:
        print(f"Kept in attributes: {', '.join(p.mapping.unmapped)}")
    if p.time_mode:
        print(f"Times: {p.time_mode}")
    if p.parsed:
        print("\nFirst rows as they would load (times in UTC):")
        cols = ["row"] + [c.canonical for c in p.mapping.columns] + ["problem"]
        print(_table(p.parsed, cols))
    print("\nProblems:" if p.problems else "\nNo problems found in the first rows.")
    for problem in p.problems:
        print(f"  - {problem}")
    return EXIT_USAGE if p.mapping.missing_required() else EXIT_OK


def cmd_batches(args: argparse.Namespace) -> int:
    action = args.action or []
    if action[:1] == ["delete"]:
        if len(action) != 2 or not action[1].isdigit():
            print("usage: python -m readiness batches delete ID", file=sys.stderr)
            return EXIT_USAGE
        with store.open_store(args.db) as con:
            info = batches.delete_batch(con, int(action[1]), cli_actor())
        print(f"Deleted batch {info['batch_id']} ({info['kind']}, {info['file']}) of pilot {info['pilot']}: "
              f"{info['rows_deleted']:,} rows and {info['rejects_deleted']:,} rejected rows removed.")
        if info["kept_for_decisions"]:
            print("Its rows stay readable for the figures as decided of decision(s) "
                  + ", ".join(map(str, info["kept_for_decisions"])) + " (summary --decision ID).")
        return EXIT_OK
    if action or not args.pilot:
        print("usage: python -m readiness batches --pilot NAME | batches delete ID", file=sys.stderr)
        return EXIT_USAGE
    with store.open_store(args.db) as con:
        actor = cli_actor()
        rows = batches.list_batches(con, actor, pilots.pilot_for(con, actor, args.pilot))
    if args.json:
        print(json.dumps(rows, default=str, indent=2))
    else:
        print(_table(rows, ["batch_id", "kind", "file_name", "format", "rows_read", "rows_loaded",
                            "rows_rejected", "rows_duplicate", "rows_skipped", "actor", "finished_at"]) if rows
              else f"No batches for {args.pilot} yet.")
    return EXIT_OK


def cmd_rejects(args: argparse.Namespace) -> int:
    with store.open_store(args.db) as con:
        actor = cli_actor()
        rows = batches.list_rejects(con, actor, pilots.pilot_for(con, actor, args.pilot), args.batch, args.limit,
                                    reveal=args.reveal)
    if args.json:
        print(json.dumps(rows, default=str, indent=2))
    else:
        print(_table(rows, ["batch_id", "file_name", "row", "line", "column", "reason", "raw"]) if rows
              else "No rejected rows.")
    return EXIT_OK


def cmd_pilots(args: argparse.Namespace) -> int:
    with store.open_store(args.db) as con:
        rows = pilots.list_pilots(con, cli_actor())
    if args.json:
        print(json.dumps(rows, default=str, indent=2))
    else:
        print(_table(rows, ["name", "risk_tier", "time_zone", "usage_rows", "feedback_rows",
                            "exception_rows", "batches", "rejected_rows", "last_ingest"]) if rows
              else "No pilots yet. Load one with: python -m readiness ingest --pilot NAME --create ...")
    return EXIT_OK


def cmd_figures(args: argparse.Namespace) -> int:
    from readiness.review import figures  # the signals behind it load pandas: not for --help

    with store.open_store(args.db) as con:
        done = figures.refresh_stale(con)
    print(f"Recomputed the stored figures of {len(done):,} pilot{'s' * (len(done) != 1)}." if done
          else "Every pilot's stored figures are current.")
    return EXIT_OK


def _summary_as_decided(args: argparse.Namespace) -> int:
    actor = cli_actor()
    with store.open_store(args.db) as con:
        result = asof.decided_figures(con, actor, pilots.pilot_for(con, actor, args.pilot), args.decision)
    figures = result["figures"]
    if args.json:
        print(json.dumps(figures, default=str))
    else:
        print(f"as decided: decision {result['decision_id']} ({result['outcome']}, {result['decided_at']}), "
              f"from {len(result['batches'])} batch(es): {', '.join(map(str, result['batches'])) or 'none'}")
        for section in ("usage", "feedback", "exceptions"):
            print(f"{section}:")
            for key, value in figures[section].items():
                print(f"  {key:26s} {'' if value is None else value}")
    if result["matches"]:
        print("Equals the evidence frozen with the decision.", file=sys.stderr)
        return EXIT_OK
    print("Differs from the evidence frozen with the decision in: " + ", ".join(result["differences"][:20])
          + (" (the pilot's time zone, success values or confidence level may have changed since)"),
          file=sys.stderr)
    return EXIT_FAILED


def cmd_summary(args: argparse.Namespace) -> int:
    from analysis.summary import summary  # loads pandas: imported when used, so the command line starts without it

    if args.decision is not None:
        return _summary_as_decided(args)
    with store.open_store(args.db) as con:
        figures = summary(con, pilots.pilot_for(con, cli_actor(), args.pilot))
    if args.json:
        print(json.dumps(figures, default=str))
        return EXIT_OK
    for section in ("usage", "feedback", "exceptions"):
        print(f"{section}:")
        for key, value in figures[section].items():
            print(f"  {key:26s} {'' if value is None else value}")
    print(f"data as of: {figures['data_as_of'] or '(no data)'}")
    for section, why in figures["notes"].items():
        print(f"note ({section}): {why}")
    return EXIT_OK


def cmd_failure_modes(args: argparse.Namespace) -> int:

    from analysis import failure_modes  # loads pandas: imported when used, so the command line starts without it
    from analysis.common import Empty  # loads pandas: imported when used, so the command line starts without it

    with store.open_store(args.db) as con:
        pilot = pilots.pilot_for(con, cli_actor(), args.pilot)
        modes = failure_modes.failure_modes(con, pilot)
        rows = failure_modes.assignments(con, pilot) if args.assignments else []
    if args.assignments:
        with open(args.assignments, "w", newline="", encoding="utf-8") as f:
            cols = ["batch_id", "row", "failure_mode"]
            export.write_csv(f, (dict(zip(cols, r)) for r in rows), cols)
        print(f"Wrote {len(rows):,} assignments to {args.assignments}", file=sys.stderr)
    if isinstance(modes, Empty):
        print(modes.reason)
        return EXIT_OK
    if args.json:
        print(modes.to_json(orient="records", date_format="iso"))
    else:
        shown = modes.assign(share=(modes["share"] * 100).round(1))
        print(_table(shown.to_dict("records"), ["mode_id", "count", "users", "share", "trend", "error_type",
                                                "template", "status"]))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from readiness import demo  # here: its generator's imports cost half a second for every other command

    for r in demo.load_demo(args.db, cli_actor()):
        print(r.summary())
    with store.open_store(args.db) as con:
        admin_pw = users.ensure_admin(con, cli_actor())
        accounts = demo.demo_accounts(con, cli_actor())
    _print_passwords(([("admin", "admin", admin_pw)] if admin_pw else []) + accounts)
    return EXIT_OK


def _print_passwords(accounts: list[tuple[str, str, str]]) -> None:
    if not accounts:
        return
    print("\nNew accounts (passwords are shown once; change them with `users reset-password`):")
    for name, role, password in accounts:
        print(f"  {name:<16} {role:<9} {password}")


def cmd_users(args: argparse.Namespace) -> int:
    actor = cli_actor()
    with store.open_store(args.db) as con:
        action = args.action
        if action == "list":
            rows = users.list_users(con, actor)
            if args.json:
                print(json.dumps(rows, default=str, indent=2))
            else:
                print(_table(rows, ["username", "display_name", "role", "active", "pilots", "open_sessions",
                                    "password_changed_at"]) if rows else "No users yet.")
            return EXIT_OK
        if not args.name:
            print(f"usage: python -m readiness users {action} NAME ...", file=sys.stderr)
            return EXIT_USAGE
        if action == "add":
            if not args.role:
                print("usage: python -m readiness users add NAME --role ROLE [--password PW]", file=sys.stderr)
                return EXIT_USAGE
            password = args.password or users.random_password()
            user = users.add_user(con, actor, args.name, args.role, password, args.display_name, args.email)
            print(f"Added {user.username} ({user.role}).")
            if not args.password:
                _print_passwords([(user.username, user.role, password)])
        elif action == "remove":
            users.remove_user(con, actor, args.name)
            print(f"Removed {args.name}; their sessions are ended.")
        elif action == "set-role":
            if not args.role:
                print("usage: python -m readiness users set-role NAME --role ROLE", file=sys.stderr)
                return EXIT_USAGE
            users.set_role(con, actor, args.name, args.role)
            print(f"{args.name} is now a {args.role}; their open sessions are ended.")
        elif action == "reset-password":
            password = args.password or users.random_password()
            users.reset_password(con, actor, args.name, password)
            print(f"Password of {args.name} changed; their open sessions are ended.")
            if not args.password:
                _print_passwords([(args.name, "", password)])
        elif action in ("grant", "revoke"):
            if not args.pilot:
                print(f"usage: python -m readiness users {action} NAME --pilot PILOT", file=sys.stderr)
                return EXIT_USAGE
            fn = users.grant if action == "grant" else users.revoke
            changed = fn(con, actor, args.name, args.pilot)
            verb = "granted" if action == "grant" else "revoked"
            print(f"{args.pilot!r} {verb} for {args.name}." if changed else f"Nothing to do: {args.name} "
                  f"{'already has' if action == 'grant' else 'has no grant on'} {args.pilot!r}.")
    return EXIT_OK


def cmd_signals(args: argparse.Namespace) -> int:
    from readiness.review import signals  # loads pandas: imported when used, so the command line starts without it

    actor = cli_actor()
    with store.open_store(args.db) as con:
        found = signals.compute_signals(con, actor, pilots.pilot_for(con, actor, args.pilot))
    if args.json:
        print(json.dumps([s.to_dict() for s in found], default=str, indent=2))
        return EXIT_OK
    if not found:
        print(f"No risk signals for {args.pilot}.")
        return EXIT_OK
    for s in found:
        d = s.to_dict()
        print(f"{d['severity'].upper():<7}{d['class']:<24}{d['finding']}\n{'':<31}[{d['key']}]")
    return EXIT_OK


def cmd_suggest(args: argparse.Namespace) -> int:
    actor = cli_actor()
    with store.open_store(args.db) as con:
        s = decisions.current_suggestion(con, actor, pilots.pilot_for(con, actor, args.pilot))
    if args.json:
        print(json.dumps(s.to_dict(), default=str, indent=2))
        return EXIT_OK
    print(f"Suggested: {decisions.SUGGESTIONS[s.outcome]}")
    for r in s.reasons:
        print(f"  - {r}")
    return EXIT_OK


def cmd_decide(args: argparse.Namespace) -> int:
    actor = cli_actor()
    try:
        next_review = date.fromisoformat(args.next_review) if args.next_review else None
    except ValueError:
        print(f"error: --next-review must be a date like 2027-01-31, not {args.next_review!r}", file=sys.stderr)
        return EXIT_USAGE
    with store.open_store(args.db) as con:
        pilot = pilots.pilot_for(con, actor, args.pilot)
        d = decisions.record_decision(con, actor, pilot, outcome=args.outcome, rationale=args.rationale,
                                      owner=args.owner, next_review=next_review, receiver=args.receiver,
                                      against_evidence=args.against_evidence)
    label = decisions.OUTCOMES[d["outcome"]]
    print(f"Recorded decision {d['decision_id']} for {pilot.name} (review {d['review_number']}): {label}, "
          f"owner {d['owner']}" + (f", next review {d['next_review']}" if d["next_review"] else "") +
          (f"; superseding decision {d['supersedes']}" if d["supersedes"] else "") + ".")
    print(f"Suggested by the evidence: {decisions.SUGGESTIONS[d['suggested_outcome']]} — "
          + "; ".join(json.loads(d["suggested_reasons"])))
    if d["outcome"] == "handoff":
        print(f"Pending acceptance by {d['receiver']}.")
    if d["winddown"]:
        print("Wind-down checklist:")
        for step in json.loads(d["winddown"]):
            print(f"  [ ] {step['step']}")
    return EXIT_OK


def cmd_decisions(args: argparse.Namespace) -> int:
    actor = cli_actor()
    with store.open_store(args.db) as con:
        rows = decisions.list_decisions(con, actor, pilots.pilot_for(con, actor, args.pilot))
    if args.json:
        print(json.dumps(rows, default=str, indent=2))
    else:
        print(_table(rows, ["decision_id", "review_number", "outcome", "status", "handoff", "owner", "next_review",
                            "decided_by", "decided_at", "rationale"]) if rows else f"No decisions for {args.pilot} yet.")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    actor = cli_actor()
    if args.what == "playbook":
        if not args.pilot:
            print("usage: python -m readiness export playbook --pilot NAME --out FILE.md|FILE.html", file=sys.stderr)
            return EXIT_USAGE
        fmt = "html" if str(args.out).lower().endswith((".html", ".htm")) else "md"
        with store.open_store(args.db) as con:
            text = playbook.export_playbook(con, actor, pilots.pilot_for(con, actor, args.pilot), fmt)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"Wrote the operating playbook of {args.pilot} ({fmt}) to {args.out}.")
        return EXIT_OK
    with store.open_store(args.db) as con:
        chosen = ([pilots.pilot_for(con, actor, args.pilot)] if args.pilot else
                  [catalog.get_pilot(con, p["name"]) for p in pilots.list_pilots(con, actor)])
        data, n = export.audited_csv(con, actor, args.what, chosen, str(args.out))
    with open(args.out, "wb") as f:
        f.write(data)
    print(f"Wrote {n:,} {args.what} rows to {args.out}.")
    return EXIT_OK


def _anchor(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` as ``audit head`` printed it (kept elsewhere) -> (seq, hash)."""
    seq, _, digest = text.partition(":")
    if not seq.strip().isdigit() or len(digest.strip()) != 64:
        raise argparse.ArgumentTypeError("give an anchor as SEQ:HASH, e.g. 812:3f9c... (the 64-character hash)")
    return int(seq), digest.strip().lower()


def _audit_verify(con: Any, args: argparse.Namespace) -> int:
    result = audit.verify(con, dict(args.anchor or []))
    if args.json:
        print(json.dumps(result.__dict__))
    else:
        print(result.message)
        for w in result.warnings:
            print(f"warning: {w}")
    return EXIT_OK if result.ok else EXIT_FAILED


def _audit_head(con: Any, args: argparse.Namespace) -> int:
    try:
        info = audit.write_head(con, cli_actor()) if args.write else audit.head(con)
    except audit.AuditKeyMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(info, indent=None if args.json else 2))
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    with store.open_store(args.db) as con:
        access.require(con, cli_actor(), "verify_audit")
        if args.action == "verify":
            return _audit_verify(con, args)
        if args.action == "head":
            return _audit_head(con, args)
        rows = audit.search(con, actor=args.actor, action=args.only, text=args.text, limit=args.limit)
    if args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            export.write_csv(f, rows, ["seq", "ts", "actor", "role", "action", "object", "details"])
        print(f"Wrote {len(rows):,} audit records to {args.out}.")
    elif args.json:
        print(json.dumps(rows, default=str, indent=2))
    else:
        print(_table(rows, ["seq", "ts", "actor", "role", "action", "object", "details"]))
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    with store.open_store(args.db) as con:  # opening brings the schema up to this release
        version = store.schema_version(con)
        where = (f"records in PostgreSQL ({store.postgres.where(settings.get('database_url'))}), telemetry files in "
                 f"{settings.get('lake_data_path')}" if store.organisation(con) else f"the store file {store.file_of(con)}")
    print(f"Schema version {version}: {where}.")
    return EXIT_OK


def cmd_maintain(args: argparse.Namespace) -> int:
    done = batches.maintain(args.db, cli_actor(), compact_above=args.compact_above)
    if args.json:
        print(json.dumps(done))
    else:
        print(f"Removed {done['files_removed']:,} Parquet file(s) and {done['work_folders_removed']:,} work folder(s) "
              "left by ingests that stopped before their batch landed.")
        if done.get("lake_rows_removed"):
            print(f"Removed {done['lake_rows_removed']:,} lake row(s) of batches that are no longer listed.")
        for m in done["merged"]:
            if m["table"] == "lake":  # the organisation deployment's DuckLake lake
                print(f"Lake: {m['lake_files']:,} data file(s) after merging; {m['snapshots_expired']:,} "
                      f"snapshot(s) expired, {m['snapshots_pinned']:,} kept for decisions; "
                      f"{m['lake_files_deleted']:,} file(s) deleted.")
                continue
            print(f"Merged {m['files_merged']:,} files of {m['pilot']}'s {m['table']} ({m['batches']:,} batches, "
                  f"{m['rows']:,} rows) into one.")
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    m = backup.backup(args.db, args.out, cli_actor())
    rows = sum(m["tables"].values())
    size = sum(f["bytes"] for f in m["files"].values())
    print(f"Backed up {m['source']} to {args.out}: schema version {m['schema_version']}, {len(m['tables'])} tables, "
          f"{rows:,} rows, audit head {m['audit_head']['seq']}, {size / 1e6:.1f} MB.")
    print("The folder holds the audit key: keep it as private as the store.")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    r = backup.restore(args.db, args.src, cli_actor(), force=args.force)
    m = r.manifest
    if r.aside:
        print(f"Moved the previous store, its audit key and head aside to {r.aside} (restorable like a backup).")
    print(f"Restored the backup of {m['created_at']} (schema version {m['schema_version']}, "
          f"audit head {m['audit_head']['seq']}) from {args.src} to {settings.db_path(args.db)}.")
    if r.sessions_ended:
        print(f"Ended the {r.sessions_ended:,} login session(s) open in the backup: everyone logs in again.")
    if r.migrations_applied:
        print(f"Applied migrations {', '.join(map(str, r.migrations_applied))} to bring it up to this release.")
    print(f"audit verify: {r.verification.message}")
    for w in r.verification.warnings:
        print(f"warning: {w}")
    return EXIT_OK if r.verification.ok else EXIT_FAILED


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the app (`streamlit run app.py`) as one replica: the secrets file's cookie_secret goes
    to Streamlit as its server.cookieSecret, through the environment (not the command line, which
    every user of the machine can read)."""
    shared = keys.shared_secrets()  # a secrets file that cannot be used stops here, not in a page
    env = dict(os.environ)
    if args.db:
        env["READINESS_DB"] = str(settings.db_path(args.db).resolve())
    if shared:
        env["STREAMLIT_SERVER_COOKIE_SECRET"] = shared["cookie_secret"]
    argv = [sys.executable, "-m", "streamlit", "run", str(settings.PROJECT_ROOT / "app.py"),
            "--server.headless=true", f"--server.port={args.port}", f"--server.address={args.address}",
            "--browser.gatherUsageStats=false", *args.streamlit[args.streamlit[:1] == ["--"]:]]
    os.chdir(settings.PROJECT_ROOT)  # Streamlit reads .streamlit/config.toml from here
    sys.stdout.flush()
    os.execve(sys.executable, argv, env)
    return EXIT_OK  # not reached: the process is Streamlit's now


def cmd_secrets(args: argparse.Namespace) -> int:
    db = settings.db_path(args.db)
    kept = {"cookie_key": keys.load(settings.sidecar(db, "cookie_key_file", ".cookie-key")),
            "audit_key": keys.load(settings.sidecar(db, "audit_key_file", ".audit-key"))}
    text = keys.new_secrets(kept)
    try:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ReadinessError(f"{args.out} already exists; secrets files are never overwritten.",
                             "Choose a new file name.") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    taken = [n for n, v in kept.items() if v]
    print(f"Wrote {args.out} (mode 0600) with {', '.join(keys.SHARED_SECRETS)}"
          + (f"; {' and '.join(taken)} taken over from beside {db}, so logins and the audit log carry on"
             if taken else "") + ".")
    print("Give every replica READINESS_SECRETS_FILE pointing at it (or a copy), and keep it with your backups.")
    return EXIT_OK


# What an argument means, for the arguments whose help is not written where they are added.
ARGUMENT_HELP = {
    "pilot": "the pilot, by name",
    "kind": "the kind of log",
    "files": "the files to load",
    "file": "the file to read",
    "json": "print JSON instead of a table",
    "limit": "at most this many rows",
    "batch": "only this batch",
    "out": "the file to write",
    "what": "what to export",
    "action": "what to do",
    "name": "the account's user name",
    "role": "the account's role",
    "display_name": "the name shown for the account",
    "email": "the account's email address",
    "actor": "list: only this actor's records",
    "rationale": "why, in the reviewer's words (recorded with the decision)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m readiness",
        description="Readiness Review: load pilot logs and inspect the store. Writes are audited as cli:<os user>.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func, help_text: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=f"{help_text}\n\nExample: {example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--db", metavar="PATH", help="store file (default: the organisation deployment when "
                       "READINESS_DATABASE_URL is set, else READINESS_DB or data/readiness.duckdb)")
        p.set_defaults(func=func)
        return p

    def time_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--map", action="append", metavar="CANONICAL=SOURCE",
                       help="map a column by hand; SOURCE may join columns with + (timestamp=Date+Time); "
                            "empty SOURCE leaves it unmapped")
        p.add_argument("--time-format", metavar="FMT", help="strptime format of the times, e.g. '%%d/%%m/%%Y %%H:%%M'")
        p.add_argument("--year", type=int, help="year of syslog-style times that have none ('Jun 14 15:16:01')")
        p.add_argument("--all-levels", action="store_true",
                       help="exceptions: load every line; by default lines whose level is TRACE, DEBUG, INFO, "
                            "NOTICE (and the like) are counted as left out, not loaded as exceptions; web access "
                            "logs: load requests for static files too; feedback: load partial (not submitted) "
                            "survey responses too")
        p.add_argument("--log-format", metavar="LAYOUT",
                       help="an application log's line layout in the Loghub convention, for one nothing recognises, "
                            "e.g. '<Date> <Time> <Level> <Component>: <Content>'")

    p = add("ingest", cmd_ingest, "Load log files into a pilot, one atomic batch per file.",
            "python -m readiness ingest --pilot 'Invoice triage assistant' --kind usage usage.csv.gz")
    p.add_argument("--pilot", required=True)
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--create", action="store_true", help="create the pilot if it does not exist")
    time_options(p)
    p.add_argument("--dedupe-rows", action="store_true",
                   help="skip rows identical to rows of earlier batches (cumulative exports)")
    p.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = add("sync", cmd_sync, "Re-read the pilot's feeds: load new files (one atomic batch each), skip files "
            "already loaded.", "python -m readiness sync --pilot 'Invoice triage assistant'")
    p.add_argument("--pilot", required=True)
    p.add_argument("--json", action="store_true", help="one JSON object per file, one per line")

    p = add("sources", cmd_sources, "List a pilot's sources per log kind, or set one: a feed (folder or glob under "
            "READINESS_FEED_ROOT) or a manual source process.",
            "python -m readiness sources --pilot 'Invoice triage assistant' --feed usage 'erp-exports/usage-*.csv.gz'")
    p.add_argument("--pilot", required=True)
    how = p.add_mutually_exclusive_group()
    how.add_argument("--feed", nargs=2, metavar=("KIND", "PATTERN"),
                     help="read KIND from a folder or glob under the feed root")
    how.add_argument("--manual", metavar="KIND", help="KIND comes by a manual process (give the four fields below)")
    p.add_argument("--provider", help="manual: who provides the file")
    p.add_argument("--what", help="manual: what they provide")
    p.add_argument("--frequency", help="manual: how often, e.g. weekly")
    p.add_argument("--owner", help="manual: who owns the process")
    p.add_argument("--feed-folder", metavar="FOLDER",
                   help="assign the folder under the feed root this pilot's feeds must lie in ('' takes it away; "
                        "until one is assigned, only admins set and sync the pilot's feeds)")
    p.add_argument("--json", action="store_true")

    p = add("preview", cmd_preview, "Show how a file would load (format, mapping, first rows, problems); loads nothing.",
            "python -m readiness preview --kind exceptions errors.jsonl")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--pilot", help="read zone-less times in this pilot's time zone")
    p.add_argument("--time-zone", help="read zone-less times in this zone (default UTC)")
    time_options(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("file", metavar="FILE")

    p = add("batches", cmd_batches, "List a pilot's batches, or delete one with its rows and rejects.",
            "python -m readiness batches --pilot 'Invoice triage assistant'   |   python -m readiness batches delete 7")
    p.add_argument("action", nargs="*", help="'delete ID' to remove a batch")
    p.add_argument("--pilot")
    p.add_argument("--json", action="store_true")

    p = add("rejects", cmd_rejects, "List rejected rows with row, line, column and reason.",
            "python -m readiness rejects --pilot 'Invoice triage assistant' --batch 3")
    p.add_argument("--pilot", required=True)
    p.add_argument("--batch", type=int)
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--reveal", action="store_true", help="show personal data unmasked (audited)")
    p.add_argument("--json", action="store_true")

    p = add("pilots", cmd_pilots, "List pilots with their row counts per log kind.", "python -m readiness pilots")
    p.add_argument("--json", action="store_true")

    add("figures", cmd_figures, "Recompute the pilots' stored figures (risk signals, conditions, Portfolio line) that "
        "are missing or out of date, e.g. after an upgrade, so that Portfolio's first view need not.",
        "python -m readiness figures")

    p = add("summary", cmd_summary, "Headline figures of a pilot's usage, feedback and exceptions.",
            "python -m readiness summary --pilot 'Invoice triage assistant' --json")
    p.add_argument("--pilot", required=True)
    p.add_argument("--json", action="store_true", help="one nested JSON object")
    p.add_argument("--decision", type=int, metavar="ID",
                   help="the figures as of that decision: from the batches its evidence was read from")

    p = add("failure-modes", cmd_failure_modes, "List a pilot's failure modes (grouped exceptions).",
            "python -m readiness failure-modes --pilot 'Invoice triage assistant' --assignments modes.csv")
    p.add_argument("--pilot", required=True)
    p.add_argument("--assignments", metavar="OUT.csv", help="write batch_id,row,failure_mode for every exception")
    p.add_argument("--json", action="store_true")

    add("demo", cmd_demo, "Create the demo pilot (Invoice triage assistant), load its generated logs, and "
        "create one account per role (passwords printed once).", "python -m readiness demo --db /tmp/demo.duckdb")

    p = add("signals", cmd_signals, "Risk signals computed from the pilot's logs (data, customer impact, "
            "compliance, operational dependency).", "python -m readiness signals --pilot 'Invoice triage assistant'")
    p.add_argument("--pilot", required=True)
    p.add_argument("--json", action="store_true")

    p = add("suggest", cmd_suggest, "The outcome the evidence suggests, its reasons, and each criterion judged on "
            "its interval (met, not met, or undecided with the more data it needs).",
            "python -m readiness suggest --pilot 'Invoice triage assistant' --json")
    p.add_argument("--pilot", required=True)
    p.add_argument("--json", action="store_true", help="outcome, reasons and criteria as one JSON object")

    p = add("decide", cmd_decide, "Record the review's decision (recording again supersedes it).",
            "python -m readiness decide --pilot 'Invoice triage assistant' --outcome harden "
            "--rationale 'Timeouts to the ERP' --owner 'Tom Brennan' --next-review 2027-01-15")
    p.add_argument("--pilot", required=True)
    p.add_argument("--outcome", required=True, metavar="OUTCOME",
                   help="operate | harden | handoff | reframe | stop")
    p.add_argument("--rationale", required=True)
    p.add_argument("--owner", required=True, help="accountable owner")
    p.add_argument("--next-review", metavar="YYYY-MM-DD", help="the next readout (required unless stop)")
    p.add_argument("--receiver", help="hand-off: the receiving owner's user name (they must accept)")
    p.add_argument("--against-evidence", action="store_true",
                   help="operate although the evidence suggests another outcome (recorded with the suggestion)")

    p = add("decisions", cmd_decisions, "List a pilot's decisions (current and superseded).",
            "python -m readiness decisions --pilot 'Invoice triage assistant'")
    p.add_argument("--pilot", required=True)
    p.add_argument("--json", action="store_true")

    p = add("export", cmd_export, "Write decision summaries or the risk register as a spreadsheet-safe CSV, "
            "or the operating playbook as Markdown or HTML.",
            "python -m readiness export decisions --out decisions.csv [--pilot NAME]")
    p.add_argument("what", choices=["decisions", "risks", "playbook"])
    p.add_argument("--out", required=True, metavar="FILE.csv")
    p.add_argument("--pilot")

    p = add("users", cmd_users, "Manage accounts, roles and per-pilot grants.",
            "python -m readiness users add maria --role reviewer --password '...'   |   "
            "python -m readiness users grant maria --pilot 'Invoice triage assistant'")
    p.add_argument("action", choices=["add", "remove", "set-role", "reset-password", "grant", "revoke", "list"])
    p.add_argument("name", nargs="?")
    p.add_argument("--role", choices=access.ROLES)
    p.add_argument("--password", help="at least 12 characters; omit to generate one (printed once)")
    p.add_argument("--pilot")
    p.add_argument("--display-name")
    p.add_argument("--email")
    p.add_argument("--json", action="store_true")

    p = add("audit", cmd_audit, "Verify the audit log's hash chain, print its head, or list records.",
            "python -m readiness audit verify   |   python -m readiness audit head   |   "
            "python -m readiness audit list --action ingest --out audit.csv")
    p.add_argument("action", choices=["verify", "head", "list"])
    p.add_argument("--write", action="store_true",
                   help="head: sign the newest record as the head (after checking the log; audited)")
    p.add_argument("--anchor", type=_anchor, action="append", metavar="SEQ:HASH",
                   help="verify: also check against a head kept elsewhere (repeatable)")
    p.add_argument("--actor")
    p.add_argument("--action", dest="only", metavar="ACTION", help="list: only this action")
    p.add_argument("--text", help="list: object or details containing this text")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--out", metavar="OUT.csv", help="list: write a spreadsheet-safe CSV")
    p.add_argument("--json", action="store_true")

    p = add("migrate", cmd_migrate, "Bring the store up to this release's schema (every command and the app do "
            "it when they open the store; this does only that) and say which deployment it is.",
            "READINESS_DATABASE_URL=postgresql://readiness@db/readiness READINESS_LAKE_DATA_PATH=/srv/lake "
            "python -m readiness migrate")

    p = add("maintain", cmd_maintain, "Remove what ingests that stopped before their batch landed left "
            "(unlisted Parquet files beside the store, work folders), and merge each pilot's small Parquet files "
            "into one per table; safe while the app and other ingests run.",
            "python -m readiness maintain")
    p.add_argument("--compact-above", type=int, default=batches.COMPACT_ABOVE, metavar="N",
                   help=f"merge a pilot's files of a table when it has more than N (default {batches.COMPACT_ABOVE})")
    p.add_argument("--json", action="store_true")

    p = add("backup", cmd_backup, "Copy the store, its audit key and head into a new folder with a manifest "
            "(safe while the app runs: it waits its turn for the store, like any command).",
            "python -m readiness backup --out backups/2026-07-06")
    p.add_argument("--out", required=True, metavar="DIR", help="a new (or empty) folder")

    p = add("restore", cmd_restore, "Put a backup in place of the store (checked against its manifest), apply "
            "migrations, and verify the audit log.",
            "python -m readiness restore --from backups/2026-07-06 --force")
    p.add_argument("--from", dest="src", required=True, metavar="DIR", help="a folder written by backup")
    p.add_argument("--force", action="store_true",
                   help="replace an existing store; it is first moved aside to <store>.before-restore-<UTC time>")

    p = add("serve", cmd_serve, "Run the app as one replica (streamlit run app.py on --port) with the shared "
            "secrets of READINESS_SECRETS_FILE: start one per port behind the load balancer (deploy/).",
            "python -m readiness serve --port 8501")
    p.add_argument("--port", type=int, default=8501, help="the port this replica listens on")
    p.add_argument("--address", default="127.0.0.1", help="the address it listens on (the load balancer's side)")
    p.add_argument("streamlit", nargs=argparse.REMAINDER, metavar="...",
                   help="further options for streamlit run, after --")

    p = add("secrets", cmd_secrets, "Write a new secrets file for replicas (READINESS_SECRETS_FILE): random "
            "cookie_secret, cookie_key and audit_key, taking over the keys already beside the store.",
            "python -m readiness secrets --out /etc/readiness/secrets.toml")
    p.add_argument("--out", required=True, metavar="FILE", help="the new file (mode 0600); never overwritten")
    for sub_parser in sub.choices.values():
        for action in sub_parser._actions:
            if action.help is None and action.dest in ARGUMENT_HELP:
                action.help = ARGUMENT_HELP[action.dest]
    return parser


# Commands that change a pilot's logs or records: afterwards the pilots' stored figures and kept
# evidence they made stale are recomputed (readiness.review.figures.keep_up, evidence.keep_up), so
# Portfolio and the review pages find them current.
KEEPS_FIGURES = ("ingest", "sync", "sources", "batches", "decide", "demo")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        if args.command in KEEPS_FIGURES:
            from readiness.review import evidence, figures  # they load pandas: not for --help

            with store.open_store(args.db) as con:
                evidence.keep_up(con)  # first: the figures judge the exception rate on it
                figures.keep_up(con)
        return code
    except StoreBusy as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BUSY
    except BrokenPipeError:  # e.g. `... | head`: the reader has gone, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except ReadinessError as err:  # what the operator should read; anything else is a bug
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:  # an operator gets one line; READINESS_DEBUG=1 shows the traceback
        if os.environ.get("READINESS_DEBUG"):
            raise
        print(f"error: {type(err).__name__}: {err} (set READINESS_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_FAILED
