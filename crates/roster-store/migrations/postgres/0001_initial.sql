-- rosterbridge roster-store, PostgreSQL schema 1.
-- Timestamps are TIMESTAMPTZ; JSON is JSONB; text compares bytewise (COLLATE "C"), as in SQLite, so that both
-- backends sort alike; lock expiry is Unix milliseconds, like the SQLite schema.

-- Connections: reusable, named links to one tenancy. Non-secret settings are JSON; a secret is either stored
-- encrypted (secret_ciphertext, ChaCha20-Poly1305) or referenced by an environment variable's name (secret_env).
CREATE TABLE connections (
    id                TEXT COLLATE "C" PRIMARY KEY NOT NULL CHECK (id <> '' AND strpos(id, ':') = 0),
    name              TEXT COLLATE "C" NOT NULL,
    kind              TEXT COLLATE "C" NOT NULL,
    settings          JSONB NOT NULL DEFAULT '{}',
    secret_source     TEXT COLLATE "C" NOT NULL CHECK (secret_source IN ('none', 'stored', 'env')),
    secret_env        TEXT COLLATE "C",
    secret_ciphertext TEXT COLLATE "C",
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    CHECK ((secret_source = 'env') = (secret_env IS NOT NULL)),
    CHECK ((secret_source = 'stored') = (secret_ciphertext IS NOT NULL))
);

-- Refresh tokens of delegated sign-in, encrypted like connection secrets.
CREATE TABLE refresh_tokens (
    connection TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    ciphertext TEXT COLLATE "C" NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Connection groups: one organisation, one connection, the scopes to sync (JSON) and their roles.
CREATE TABLE connection_groups (
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL CHECK (id <> ''),
    name         TEXT COLLATE "C" NOT NULL,
    organisation TEXT COLLATE "C" NOT NULL,
    connection   TEXT COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE RESTRICT,
    scopes       JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX connection_groups_organisation ON connection_groups (organisation);
CREATE INDEX connection_groups_connection ON connection_groups (connection);

-- Change-feed positions (delta links) per connection and scope.
CREATE TABLE cursors (
    connection TEXT COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    scope_key  TEXT COLLATE "C" NOT NULL,
    cursor     TEXT COLLATE "C" NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (connection, scope_key)
);

-- Members per scope at an organisation's last applied run (the empty-scope guard).
CREATE TABLE scope_counts (
    organisation TEXT COLLATE "C" NOT NULL,
    scope        TEXT COLLATE "C" NOT NULL,
    members      BIGINT NOT NULL CHECK (members >= 0),
    PRIMARY KEY (organisation, scope)
);

-- Runs and their per-record errors.
CREATE TABLE runs (
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    organisation TEXT COLLATE "C" NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ NOT NULL,
    status       TEXT COLLATE "C" NOT NULL,
    planned      JSONB NOT NULL,
    applied      JSONB NOT NULL,
    hold_reasons JSONB NOT NULL,
    held_run     TEXT COLLATE "C",
    failure      TEXT COLLATE "C",
    error_count  BIGINT NOT NULL
);
CREATE INDEX runs_started ON runs (started_at DESC, id);
CREATE INDEX runs_organisation_started ON runs (organisation, started_at DESC, id);

CREATE TABLE run_errors (
    run_id      TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    external_id TEXT COLLATE "C" NOT NULL,
    operation   TEXT COLLATE "C" NOT NULL,
    code        TEXT COLLATE "C" NOT NULL,
    message     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- Runs held by the safety policy, with the plan they would have applied; approved_at is set on approval.
CREATE TABLE held_runs (
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    organisation TEXT COLLATE "C" NOT NULL,
    held_at      TIMESTAMPTZ NOT NULL,
    reasons      JSONB NOT NULL,
    plan         JSONB NOT NULL,
    approved_at  TIMESTAMPTZ
);
CREATE INDEX held_runs_organisation ON held_runs (organisation);

-- An approval waiting for an organisation's next run; taking it deletes it.
CREATE TABLE allowances (
    organisation TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    allowance    JSONB NOT NULL,
    held_run     TEXT COLLATE "C" NOT NULL,
    approved_at  TIMESTAMPTZ NOT NULL
);

-- The per-organisation single-flight lock: a row with an owner and an expiry.
CREATE TABLE org_locks (
    organisation  TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    owner         TEXT COLLATE "C" NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    acquired_at   TIMESTAMPTZ NOT NULL
);

-- The OneRoster feed: every record of every kind, its body without status and dateLastModified (JSON), and a
-- SHA-256 of that body so that dateLastModified moves only when a record really changes. `version` is the
-- roster version that last changed the record.
CREATE TABLE oneroster_records (
    kind               TEXT COLLATE "C" NOT NULL CHECK (kind IN ('org', 'academicSession', 'course', 'class', 'user',
                                                    'enrollment', 'demographics')),
    sourced_id         TEXT COLLATE "C" NOT NULL CHECK (sourced_id <> ''),
    status             TEXT COLLATE "C" NOT NULL CHECK (status IN ('active', 'tobedeleted')),
    date_last_modified TIMESTAMPTZ NOT NULL,
    content_hash       TEXT COLLATE "C" NOT NULL,
    body               JSONB NOT NULL,
    version            BIGINT NOT NULL,
    PRIMARY KEY (kind, sourced_id)
);
CREATE INDEX oneroster_records_version ON oneroster_records (version);

-- One row per committed import.
CREATE TABLE oneroster_imports (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    version     BIGINT NOT NULL UNIQUE,
    mode        TEXT COLLATE "C" NOT NULL,
    source      TEXT COLLATE "C",
    imported_at TIMESTAMPTZ NOT NULL,
    created     BIGINT NOT NULL,
    updated     BIGINT NOT NULL,
    unchanged   BIGINT NOT NULL,
    deleted     BIGINT NOT NULL,
    kinds       JSONB NOT NULL
);

-- The roster's version: bumped by every import, so that feed servers know when to reload.
CREATE TABLE roster_state (
    id      BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO roster_state (id, version) VALUES (1, 0);

-- OAuth clients of the feed; the secret is stored only as a hash (argon2, computed by the caller).
CREATE TABLE api_clients (
    client_id   TEXT COLLATE "C" PRIMARY KEY NOT NULL CHECK (client_id <> ''),
    secret_hash TEXT COLLATE "C" NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    rotated_at  TIMESTAMPTZ
);
