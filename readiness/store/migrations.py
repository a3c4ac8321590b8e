"""Versioned schema migrations, applied in order at start-up by :func:`migrate`.

Never edit a migration that has shipped; add a new one.
Times are TIMESTAMPTZ (stored as UTC instants). Log tables carry no indexes so that bulk
ingest stays at DuckDB's native speed; every row keeps its pilot, batch and source row.
"""

from __future__ import annotations

from readiness.store.chain import seal_unchained
from readiness.store.lake import MERGED_FILES as _V14_MERGED_FILES
from readiness.store.lake import MIGRATION as _V12_LAKE
from readiness.store.transactions import Connection, transaction

_V1_FOUNDATION = """
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL);
CREATE SEQUENCE pilot_id_seq START 1;
CREATE SEQUENCE batch_id_seq START 1;
CREATE SEQUENCE audit_seq START 1;

CREATE TABLE pilots (
    pilot_id          INTEGER PRIMARY KEY DEFAULT nextval('pilot_id_seq'),
    name              VARCHAR NOT NULL UNIQUE,
    capability        VARCHAR,
    sponsor           VARCHAR,
    owner             VARCHAR,
    start_date        DATE,
    end_date          DATE,
    risk_tier         VARCHAR NOT NULL DEFAULT 'medium' CHECK (risk_tier IN ('low', 'medium', 'high')),
    time_zone         VARCHAR NOT NULL DEFAULT 'UTC',
    work_days         VARCHAR NOT NULL DEFAULT 'Mon-Fri',
    work_start        TIME NOT NULL DEFAULT TIME '09:00',
    work_end          TIME NOT NULL DEFAULT TIME '17:00',
    validated_by      VARCHAR,
    validated_on      DATE,
    validation_method VARCHAR,
    validation_result VARCHAR,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by        VARCHAR
);

CREATE TABLE ingest_batches (
    batch_id       BIGINT PRIMARY KEY,
    pilot_id       INTEGER NOT NULL,
    kind           VARCHAR NOT NULL CHECK (kind IN ('usage', 'feedback', 'exceptions')),
    file_name      VARCHAR NOT NULL,
    file_size      BIGINT NOT NULL,
    sha256         VARCHAR NOT NULL,
    format         VARCHAR NOT NULL,
    options        JSON,
    actor          VARCHAR NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ NOT NULL,
    rows_read      BIGINT NOT NULL,
    rows_loaded    BIGINT NOT NULL,
    rows_rejected  BIGINT NOT NULL,
    rows_duplicate BIGINT NOT NULL,
    zoneless_rows  BIGINT NOT NULL DEFAULT 0,
    first_ts       TIMESTAMPTZ,
    last_ts        TIMESTAMPTZ,
    UNIQUE (pilot_id, kind, sha256)
);

CREATE TABLE usage_events (
    pilot_id    INTEGER NOT NULL,
    batch_id    BIGINT NOT NULL,
    src_row     BIGINT NOT NULL,
    ts          TIMESTAMPTZ NOT NULL,
    user_id     VARCHAR,
    event       VARCHAR,
    session_id  VARCHAR,
    feature     VARCHAR,
    duration_ms DOUBLE,
    outcome     VARCHAR,
    team        VARCHAR,
    attributes  JSON
);

CREATE TABLE feedback (
    pilot_id   INTEGER NOT NULL,
    batch_id   BIGINT NOT NULL,
    src_row    BIGINT NOT NULL,
    ts         TIMESTAMPTZ NOT NULL,
    rating     DOUBLE,
    score      DOUBLE,
    comment    VARCHAR,
    user_id    VARCHAR,
    channel    VARCHAR,
    category   VARCHAR,
    attributes JSON
);

CREATE TABLE exceptions (
    pilot_id    INTEGER NOT NULL,
    batch_id    BIGINT NOT NULL,
    src_row     BIGINT NOT NULL,
    ts          TIMESTAMPTZ NOT NULL,
    message     VARCHAR,
    user_id     VARCHAR,
    session_id  VARCHAR,
    error_type  VARCHAR,
    stack_trace VARCHAR,
    level       VARCHAR,
    component   VARCHAR,
    attributes  JSON
);

CREATE TABLE ingest_rejects (
    batch_id    BIGINT NOT NULL,
    pilot_id    INTEGER NOT NULL,
    src_row     BIGINT,
    line_no     BIGINT,
    column_name VARCHAR,
    reason      VARCHAR NOT NULL,
    raw         VARCHAR
);

CREATE TABLE audit_log (
    seq     BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'),
    ts      TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor   VARCHAR NOT NULL,
    role    VARCHAR,
    action  VARCHAR NOT NULL,
    object  VARCHAR,
    details JSON
);
"""

_V2_EVIDENCE = """
-- per-row work done when a batch lands: failure mode of each exception, and per comment
-- sentiment, triage and personal-data flags; themes are recomputed per pilot when feedback changes
ALTER TABLE exceptions ADD COLUMN failure_mode INTEGER;
ALTER TABLE exceptions ADD COLUMN personal_data BOOLEAN;
ALTER TABLE feedback ADD COLUMN sentiment DOUBLE;
ALTER TABLE feedback ADD COLUMN triage VARCHAR;
ALTER TABLE feedback ADD COLUMN triage_reason VARCHAR;
ALTER TABLE feedback ADD COLUMN theme_id INTEGER;
ALTER TABLE feedback ADD COLUMN personal_data BOOLEAN;

CREATE TABLE failure_modes (
    pilot_id    INTEGER NOT NULL,
    mode_id     INTEGER NOT NULL,          -- stable per pilot: new batches never renumber modes
    fingerprint VARCHAR NOT NULL,          -- error type + masked template + top in-app frames
    error_type  VARCHAR,
    template    VARCHAR NOT NULL,
    frames      VARCHAR,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (pilot_id, mode_id),
    UNIQUE (pilot_id, fingerprint)
);

CREATE TABLE failure_mode_notes (
    pilot_id   INTEGER NOT NULL,
    mode_id    INTEGER NOT NULL,
    status     VARCHAR NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'known', 'mitigated', 'accepted')),
    owner      VARCHAR,
    note       VARCHAR,
    updated_by VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (pilot_id, mode_id)
);

CREATE TABLE feedback_themes (
    pilot_id       INTEGER NOT NULL,
    theme_id       INTEGER NOT NULL,
    label          VARCHAR NOT NULL,
    top_terms      VARCHAR[],
    size           INTEGER NOT NULL,
    mean_sentiment DOUBLE,
    mean_rating    DOUBLE,
    examples       VARCHAR[],
    computed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (pilot_id, theme_id)
);
"""

_V3_AUTH = """
CREATE TABLE users (
    username            VARCHAR PRIMARY KEY,
    display_name        VARCHAR NOT NULL,
    email               VARCHAR,
    role                VARCHAR NOT NULL CHECK (role IN ('admin', 'reviewer', 'lead', 'viewer')),
    password_hash       VARCHAR NOT NULL,
    active              BOOLEAN NOT NULL DEFAULT true,
    created_at          TIMESTAMPTZ NOT NULL,
    created_by          VARCHAR NOT NULL,
    password_changed_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE grants (
    username   VARCHAR NOT NULL,
    pilot_id   INTEGER NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL,
    granted_by VARCHAR NOT NULL,
    PRIMARY KEY (username, pilot_id)
);
-- One row per login session: the cookie's token is only valid while its row is open.
CREATE TABLE auth_sessions (
    session_id VARCHAR PRIMARY KEY,          -- sha256 of the signed cookie token
    username   VARCHAR NOT NULL,
    client     VARCHAR,
    started_at TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ,
    end_reason VARCHAR
);
CREATE TABLE login_failures (
    username VARCHAR NOT NULL,
    client   VARCHAR,
    ts       TIMESTAMPTZ NOT NULL
);
ALTER TABLE audit_log ADD COLUMN prev_hash VARCHAR;
ALTER TABLE audit_log ADD COLUMN hash VARCHAR;
"""


def _v3_auth(con) -> None:
    con.execute(_V3_AUTH)
    seal_unchained(con)


_V4_USAGE_ROLLUP = """
-- usage rollup (see analysis/usage_rollup.py): per-batch aggregates of usage_events by the pilot's
-- local calendar day, maintained at ingest and batch deletion, so that usage evidence never scans
-- the raw events. Rows keep their batch so that deleting a batch deletes exactly its aggregates.
-- Finest grain: every segment the usage filters offer (team, feature, user_group as loaded, not trimmed).
CREATE TABLE usage_by_segment (
    pilot_id   INTEGER NOT NULL,
    batch_id   BIGINT NOT NULL,
    day        DATE NOT NULL,           -- pilot-local calendar day
    user_id    VARCHAR NOT NULL,        -- events without a user are not evidence of use
    session_id VARCHAR,                 -- trimmed; NULL when missing or blank
    team       VARCHAR,
    feature    VARCHAR,
    user_group VARCHAR,                 -- attributes->>'user_group'
    events     BIGINT NOT NULL,
    outcomes   BIGINT NOT NULL,         -- events with a non-blank outcome
    successes  BIGINT NOT NULL          -- of those, outcomes that count as success
);
-- Coarser grains for unsegmented questions (most of them): derived from usage_by_segment.
CREATE TABLE usage_by_session (
    pilot_id     INTEGER NOT NULL,
    batch_id     BIGINT NOT NULL,
    day          DATE NOT NULL,
    user_id      VARCHAR NOT NULL,
    session_id   VARCHAR,
    events       BIGINT NOT NULL,
    outcomes     BIGINT NOT NULL,
    successes    BIGINT NOT NULL,
    with_team    BIGINT NOT NULL,       -- events with a non-blank team
    with_feature BIGINT NOT NULL        -- events with a non-blank feature
);
CREATE TABLE usage_by_feature (
    pilot_id  INTEGER NOT NULL,
    batch_id  BIGINT NOT NULL,
    day       DATE NOT NULL,
    user_id   VARCHAR NOT NULL,
    feature   VARCHAR,                  -- trimmed; NULL when missing or blank
    events    BIGINT NOT NULL,
    outcomes  BIGINT NOT NULL,
    successes BIGINT NOT NULL
);
CREATE TABLE usage_by_team (
    pilot_id INTEGER NOT NULL,
    batch_id BIGINT NOT NULL,
    day      DATE NOT NULL,
    team     VARCHAR,                   -- trimmed; NULL when missing or blank
    events   BIGINT NOT NULL
);
-- The time zone the pilot's rollup was built in: evidence reads the rollup only when it is the
-- pilot's current zone (else it scans the events), and the next ingest rebuilds it.
CREATE TABLE usage_rollup_state (
    pilot_id  INTEGER NOT NULL,
    time_zone VARCHAR NOT NULL,
    built_at  TIMESTAMPTZ NOT NULL
);

-- Backfill from the events already loaded (ICU local days: equal to the app's offset lookup).
INSERT INTO usage_by_segment
SELECT e.pilot_id, e.batch_id, CAST(timezone(p.time_zone, e.ts) AS DATE), e.user_id,
       NULLIF(trim(e.session_id), ''), e.team, e.feature, e.attributes->>'user_group',
       count(*), count(NULLIF(trim(e.outcome), '')),
       count(*) FILTER (WHERE lower(NULLIF(trim(e.outcome), '')) IN ('success', 'ok', 'succeeded', 'completed', 'true', '1'))
FROM usage_events e JOIN pilots p USING (pilot_id)
WHERE e.user_id IS NOT NULL
GROUP BY ALL;
INSERT INTO usage_by_session
SELECT pilot_id, batch_id, day, user_id, session_id, sum(events), sum(outcomes), sum(successes),
       coalesce(sum(events) FILTER (WHERE NULLIF(trim(team), '') IS NOT NULL), 0),
       coalesce(sum(events) FILTER (WHERE NULLIF(trim(feature), '') IS NOT NULL), 0)
FROM usage_by_segment GROUP BY ALL;
INSERT INTO usage_by_feature
SELECT pilot_id, batch_id, day, user_id, NULLIF(trim(feature), ''), sum(events), sum(outcomes), sum(successes)
FROM usage_by_segment GROUP BY ALL;
INSERT INTO usage_by_team
SELECT pilot_id, batch_id, day, NULLIF(trim(team), ''), sum(events) FROM usage_by_segment GROUP BY ALL;
INSERT INTO usage_rollup_state SELECT pilot_id, time_zone, now() FROM pilots;
"""

_V5_REVIEWS = """
CREATE SEQUENCE review_id_seq START 1;
CREATE SEQUENCE decision_id_seq START 1;
-- One review cycle of a pilot; the next opens from the current decision of the one before.
CREATE TABLE reviews (
    review_id            INTEGER PRIMARY KEY DEFAULT nextval('review_id_seq'),
    pilot_id             INTEGER NOT NULL,
    number               INTEGER NOT NULL,
    opened_at            TIMESTAMPTZ NOT NULL,
    opened_by            VARCHAR NOT NULL,
    previous_decision_id INTEGER,
    UNIQUE (pilot_id, number)
);
-- Append-only: recording again within a review adds a row that supersedes the current one.
CREATE TABLE decisions (
    decision_id       INTEGER PRIMARY KEY DEFAULT nextval('decision_id_seq'),
    review_id         INTEGER NOT NULL,
    pilot_id          INTEGER NOT NULL,
    supersedes        INTEGER,
    outcome           VARCHAR NOT NULL CHECK (outcome IN ('operate', 'harden', 'handoff', 'reframe', 'stop')),
    rationale         VARCHAR NOT NULL,
    owner             VARCHAR NOT NULL,
    next_review       DATE,
    receiver          VARCHAR,
    conditions        JSON,
    winddown          JSON,
    suggested_outcome VARCHAR,
    suggested_reasons JSON,
    snapshot          JSON NOT NULL,
    decided_by        VARCHAR NOT NULL,
    decided_at        TIMESTAMPTZ NOT NULL
);
CREATE TABLE handoff_acceptances (
    decision_id INTEGER PRIMARY KEY,
    accepted_by VARCHAR NOT NULL,
    accepted_at TIMESTAMPTZ NOT NULL,
    note        VARCHAR
);
"""

_V6_CONDITIONS = """
CREATE SEQUENCE condition_id_seq START 1;
CREATE SEQUENCE approval_id_seq START 1;
-- What must be true before broader use, per review (template in readiness/conditions.py).
CREATE TABLE conditions (
    condition_id  INTEGER PRIMARY KEY DEFAULT nextval('condition_id_seq'),
    review_id     INTEGER NOT NULL,
    pilot_id      INTEGER NOT NULL,
    area          VARCHAR NOT NULL,
    title         VARCHAR NOT NULL,
    required      BOOLEAN NOT NULL,
    computed      VARCHAR,
    status        VARCHAR NOT NULL CHECK (status IN ('met', 'not met', 'waived')),
    owner         VARCHAR,
    evidence      VARCHAR,
    waiver_reason VARCHAR,
    waiver_expiry DATE,
    requested_on  DATE,
    updated_by    VARCHAR NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (review_id, area)
);
-- Four eyes: a waiver or a lower risk tier waits here until someone else approves it.
CREATE TABLE approvals (
    approval_id  INTEGER PRIMARY KEY DEFAULT nextval('approval_id_seq'),
    pilot_id     INTEGER NOT NULL,
    kind         VARCHAR NOT NULL CHECK (kind IN ('waiver', 'tier')),
    object_id    INTEGER NOT NULL,
    payload      JSON NOT NULL,
    requested_by VARCHAR NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    decided_by   VARCHAR,
    decided_at   TIMESTAMPTZ,
    approved     BOOLEAN,
    note         VARCHAR
);
"""

_V7_RISKS = """
CREATE SEQUENCE risk_id_seq START 1;
CREATE TABLE risks (
    risk_id        INTEGER PRIMARY KEY DEFAULT nextval('risk_id_seq'),
    pilot_id       INTEGER NOT NULL,
    signal_key     VARCHAR,             -- NULL for a manual risk
    risk_class     VARCHAR NOT NULL CHECK (risk_class IN ('data', 'customer_impact', 'compliance', 'operational_dependency')),
    title          VARCHAR NOT NULL,
    likelihood     INTEGER CHECK (likelihood BETWEEN 1 AND 5),
    impact         INTEGER CHECK (impact BETWEEN 1 AND 5),
    owner          VARCHAR,
    mitigation     VARCHAR,
    due            DATE,
    status         VARCHAR NOT NULL CHECK (status IN ('open', 'mitigated', 'accepted', 'dismissed')),
    dismiss_reason VARCHAR,
    created_by     VARCHAR NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_by     VARCHAR NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE TABLE risk_history (
    risk_id    INTEGER NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    changed_by VARCHAR NOT NULL,
    before     JSON,
    after      JSON
);
"""

_V8_HANDOFF = """
CREATE SEQUENCE constraint_id_seq START 1;
CREATE SEQUENCE backlog_id_seq START 1;
-- How the capability is run once handed over (one row per pilot; edits audited with before/after).
CREATE TABLE handoffs (
    pilot_id        INTEGER PRIMARY KEY,
    operating_owner VARCHAR,
    support_path    VARCHAR,
    escalation      JSON,      -- [{"who": .., "for": .., "when": ..}]
    how_used        VARCHAR,
    how_reviewed    VARCHAR,
    how_changed     VARCHAR,
    logs_location   VARCHAR,
    delivery_work   VARCHAR,
    updated_by      VARCHAR NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE TABLE constraints (
    constraint_id INTEGER PRIMARY KEY DEFAULT nextval('constraint_id_seq'),
    pilot_id      INTEGER NOT NULL,
    area          VARCHAR NOT NULL CHECK (area IN ('data', 'security', 'integration', 'ownership')),
    description   VARCHAR NOT NULL,
    owner         VARCHAR,
    mitigation    VARCHAR,
    status        VARCHAR NOT NULL CHECK (status IN ('open', 'resolved')),
    updated_by    VARCHAR NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
-- Hardening backlog: operational requirements kept apart from feature requests.
CREATE TABLE backlog (
    item_id    INTEGER PRIMARY KEY DEFAULT nextval('backlog_id_seq'),
    pilot_id   INTEGER NOT NULL,
    kind       VARCHAR NOT NULL CHECK (kind IN ('operational', 'feature')),
    title      VARCHAR NOT NULL,
    source     VARCHAR NOT NULL,   -- 'feedback:<class>', 'failure_mode:<id>' or 'manual'
    evidence   VARCHAR,
    owner      VARCHAR,
    status     VARCHAR NOT NULL CHECK (status IN ('open', 'done', 'dropped')),
    updated_by VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (pilot_id, source)
);
"""

_V9_SOURCES = """
CREATE SEQUENCE source_id_seq START 1;
-- Where a pilot's logs come from, per log kind: a feed (a folder or glob under the admins'
-- feed_root, re-read by `sync`) or a manual source process (who provides what, how often, owner).
CREATE TABLE sources (
    source_id         INTEGER PRIMARY KEY DEFAULT nextval('source_id_seq'),
    pilot_id          INTEGER NOT NULL,
    kind              VARCHAR NOT NULL CHECK (kind IN ('usage', 'feedback', 'exceptions')),
    mode              VARCHAR NOT NULL CHECK (mode IN ('feed', 'manual')),
    pattern           VARCHAR,          -- feed: folder or glob relative to feed_root
    provider          VARCHAR,          -- manual: who provides the file
    what              VARCHAR,          -- manual: what they provide
    frequency         VARCHAR,          -- manual: how often, e.g. 'weekly'
    owner             VARCHAR,          -- manual: who answers for the process
    created_by        VARCHAR NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_by        VARCHAR NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    last_sync_at      TIMESTAMPTZ,
    last_sync_summary JSON,
    UNIQUE (pilot_id, kind),
    CHECK (mode = 'manual' OR pattern IS NOT NULL),
    CHECK (mode = 'feed' OR owner IS NOT NULL)
);
"""

_V10_SKIPPED_LINES = """
-- An exception log's information lines (INFO, DEBUG, ...) are counted per batch, not loaded:
-- rows_read = rows_loaded + rows_rejected + rows_duplicate + rows_skipped.
ALTER TABLE ingest_batches ADD COLUMN rows_skipped BIGINT DEFAULT 0;
"""

_V11_FEED_FOLDERS = """
-- Each pilot's feeds live under one folder of the feed root, assigned by an admin: a
-- feed pattern must resolve inside it, so a pilot's feed cannot read another team's files. A pilot
-- without one has feeds set and synced by admins only.
CREATE TABLE feed_folders (
    pilot_id    INTEGER PRIMARY KEY,
    folder      VARCHAR NOT NULL,       -- relative to feed_root ('.' for the whole root)
    assigned_by VARCHAR NOT NULL,
    assigned_at TIMESTAMPTZ NOT NULL
);
"""

_V13_PILOT_FIGURES = """
-- Each pilot's figures as computed at one data version (readiness.review.figures): Portfolio reads
-- them all in one query instead of computing signals, conditions and flags per pilot per view. A row
-- whose data_version is not the pilot's current one, or past fresh_until, is recomputed on read.
-- What depends on the day (an overdue review or risk, an expired waiver) is not stored: the query
-- evaluates it against the day it is given.
CREATE TABLE pilot_figures (
    pilot_id         INTEGER PRIMARY KEY,
    data_version     VARCHAR NOT NULL,
    computed_on      DATE NOT NULL,       -- the day the figures were computed for
    fresh_until      DATE,                -- the first day a waiver's expiry changes them (NULL: none)
    decision         VARCHAR NOT NULL,    -- the current decision's outcome as shown, or 'in review'
    next_review      DATE,
    open_high_risks  INTEGER NOT NULL,
    untriaged_high   INTEGER NOT NULL,    -- high risk signals neither in the register nor dismissed
    conditions_set   INTEGER NOT NULL,    -- current review's conditions met, not counting waivers
    conditions_total INTEGER NOT NULL,
    flags            JSON NOT NULL,       -- between-review flags that do not depend on the day
    signals          JSON NOT NULL,       -- the risk signals, most severe first
    conditions       JSON NOT NULL,       -- the current review's conditions (area, status, live value)
    computed_at      TIMESTAMPTZ NOT NULL
);
"""

_V15_EVIDENCE_KEPT = """
-- A pilot's evidence as the review pages show it without a date or segment filter, kept with the
-- data version it was computed at (readiness.review.evidence): a page read after a server start
-- reads it instead of computing it again. One row per pilot and evidence function; a row computed
-- at another version or context than the pilot's current one is computed again, never shown.
CREATE TABLE evidence_kept (
    pilot_id     INTEGER NOT NULL,
    name         VARCHAR NOT NULL,     -- the evidence function, module.name
    data_version VARCHAR NOT NULL,     -- the pilot's data version (or its logs' part) it was computed at
    context      VARCHAR NOT NULL,     -- what else the result depends on: time zone, level, code
    payload      BLOB NOT NULL,        -- the result, pickled (read back through a restricted unpickler)
    computed_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (pilot_id, name)
);
"""

# The outcome words that count as success since migration 16 (analysis.usage.SUCCESS_VALUES)
_V16_NEW_SUCCESS = ("successful", "complete", "done", "passed", "erfolg", "erfolgreich", "succès", "succes",
                    "réussi", "reussi", "éxito", "exito", "exitoso", "correcto", "geslaagd", "gelukt", "succesvol")
_V16_PILOTS = ("SELECT DISTINCT pilot_id FROM usage_events WHERE lower(trim(outcome)) IN ("
               + ", ".join(f"'{w}'" for w in _V16_NEW_SUCCESS) + ")")
_V16_SUCCESS_WORDS = f"""
-- More outcome words count as success: a pilot whose events hold one has its rollup rebuilt by its
-- next usage ingest (until then its figures read the raw events) and its kept figures computed again.
DELETE FROM usage_rollup_state WHERE pilot_id IN ({_V16_PILOTS});
DELETE FROM evidence_kept WHERE pilot_id IN ({_V16_PILOTS});
DELETE FROM pilot_figures WHERE pilot_id IN ({_V16_PILOTS});
"""

_V17_LAKE_EVIDENCE = f"""
-- Feedback, exceptions and rejects are lake tables like the usage events: each batch's rows are
-- immutable (a Parquet file per batch beside the store; the organisation's DuckLake lake), their
-- per-row evidence (sentiment, triage, failure mode, personal data) computed before they land.
-- A comment's theme changes whenever the pilot's feedback does: it is kept apart, per row.
CREATE TABLE feedback_theme_rows (
    pilot_id INTEGER NOT NULL,
    batch_id BIGINT NOT NULL,
    src_row  BIGINT NOT NULL,
    theme_id INTEGER NOT NULL
);
INSERT INTO feedback_theme_rows SELECT pilot_id, batch_id, src_row, theme_id FROM feedback WHERE theme_id IS NOT NULL;
ALTER TABLE feedback DROP COLUMN theme_id;
{"".join(f"ALTER TABLE {t} RENAME TO {t}_local; CREATE VIEW {t} AS SELECT * FROM {t}_local;"
         for t in ("feedback", "exceptions", "ingest_rejects"))}
"""

MIGRATIONS: list[tuple[int, str, object]] = [
    (1, "foundation: pilots, batches, logs, rejects, audit", _V1_FOUNDATION),
    (2, "evidence: failure modes, annotations, feedback sentiment, triage and themes", _V2_EVIDENCE),
    (3, "auth: users, grants, login sessions, login failures; audit hash chain", _v3_auth),
    (4, "usage rollup: per-pilot daily usage aggregates by segment, session, feature and team", _V4_USAGE_ROLLUP),
    (5, "reviews and decisions (append-only, supersede), hand-off acceptances", _V5_REVIEWS),
    (6, "readiness conditions per review; four-eyes approvals", _V6_CONDITIONS),
    (7, "risk register with history", _V7_RISKS),
    (8, "hand-off, constraints register, hardening backlog", _V8_HANDOFF),
    (9, "sources: feeds and manual source processes", _V9_SOURCES),
    (10, "ingest batches count the information lines left out of exception logs", _V10_SKIPPED_LINES),
    (11, "feed folders: the folder under the feed root each pilot's feeds must stay in", _V11_FEED_FOLDERS),
    (12, "lake: usage events and rollup as views over local tables and per-batch Parquet files", _V12_LAKE),
    (13, "pilot figures: each pilot's signals, conditions and portfolio line at a data version", _V13_PILOT_FIGURES),
    (14, "lake: a merged Parquet file holds several batches (one lake_files row per batch and file)", _V14_MERGED_FILES),
    (15, "evidence kept: each pilot's unfiltered page evidence at a data version", _V15_EVIDENCE_KEPT),
    (16, "usage outcomes: more success words; rollups rebuilt, kept figures computed again", _V16_SUCCESS_WORDS),
    (17, "lake: feedback, exceptions and rejects as lake tables; comments' themes kept per row", _V17_LAKE_EVIDENCE),
]


def schema_version(con: Connection) -> int:
    """Return the highest applied migration, 0 for an empty file."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations' "
        "AND table_catalog = current_database()"
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def migrate(con: Connection) -> list[int]:
    """Apply every migration not yet recorded in the file, in list order, each in its own transaction.

    Returns the versions applied. Versions are checked one by one, not against the highest applied,
    so that a version added to the list later than a higher one (a reserved number landing from
    another branch) is still applied. Safe when two processes start at once: the file lock lets one
    in at a time, and each migration re-checks inside its transaction.
    """
    applied = []
    for version, name, step in MIGRATIONS:
        with transaction(con):
            if version in _applied_versions(con):
                continue
            if callable(step):
                step(con)
            else:
                con.execute(step)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name]
            )
            applied.append(version)
    return applied


def _applied_versions(con: Connection) -> set[int]:
    if not schema_version(con):
        return set()
    return {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
