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
    from readiness.audit import seal_unchained  # the chain needs the key file beside the store

    con.execute(_V3_AUTH)
    seal_unchained(con)


MIGRATIONS: list[tuple[int, str, object]] = [
    (1, "foundation: pilots, batches, logs, rejects, audit", _V1_FOUNDATION),
    (2, "evidence: failure modes, annotations, feedback sentiment, triage and themes", _V2_EVIDENCE),
    (3, "auth: users, grants, login sessions, login failures; audit hash chain", _v3_auth),
]
