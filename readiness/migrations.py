"""Versioned schema migrations, applied in order at start-up by :func:`readiness.store.migrate`.

Never edit a migration that has shipped; add a new one.
Times are TIMESTAMPTZ (stored as UTC instants). Log tables carry no indexes so that bulk
ingest stays at DuckDB's native speed; every row keeps its pilot, batch and source row.
"""

from __future__ import annotations

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
-- per-row work done when a batch lands (issue #3): failure mode of each exception, and per comment
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

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "foundation: pilots, batches, logs, rejects, audit", _V1_FOUNDATION),
    (2, "evidence: failure modes, annotations, feedback sentiment, triage and themes", _V2_EVIDENCE),
]
