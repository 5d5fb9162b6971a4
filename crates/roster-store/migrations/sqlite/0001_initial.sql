-- rosterbridge roster-store, SQLite schema 1.
-- Timestamps are ISO 8601 text in UTC; JSON is text; lock expiry is Unix milliseconds, so that it compares as a number.

-- Connections: reusable, named links to one tenancy. Non-secret settings are JSON; a secret is either stored
-- encrypted (secret_ciphertext, ChaCha20-Poly1305) or referenced by an environment variable's name (secret_env).
CREATE TABLE connections (
    id                TEXT PRIMARY KEY NOT NULL CHECK (id <> '' AND instr(id, ':') = 0),
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    settings          TEXT NOT NULL DEFAULT '{}',
    secret_source     TEXT NOT NULL CHECK (secret_source IN ('none', 'stored', 'env')),
    secret_env        TEXT,
    secret_ciphertext TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    CHECK ((secret_source = 'env') = (secret_env IS NOT NULL)),
    CHECK ((secret_source = 'stored') = (secret_ciphertext IS NOT NULL))
);

-- Refresh tokens of delegated sign-in, encrypted like connection secrets.
CREATE TABLE refresh_tokens (
    connection TEXT PRIMARY KEY NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    ciphertext TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Connection groups: one organisation, one connection, the scopes to sync (JSON) and their roles.
CREATE TABLE connection_groups (
    id           TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    name         TEXT NOT NULL,
    organisation TEXT NOT NULL,
    connection   TEXT NOT NULL REFERENCES connections (id) ON DELETE RESTRICT,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX connection_groups_organisation ON connection_groups (organisation);
CREATE INDEX connection_groups_connection ON connection_groups (connection);

-- Change-feed positions (delta links) per connection and scope.
CREATE TABLE cursors (
    connection TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    scope_key  TEXT NOT NULL,
    cursor     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (connection, scope_key)
);

-- Members per scope at an organisation's last applied run (the empty-scope guard).
CREATE TABLE scope_counts (
    organisation TEXT NOT NULL,
    scope        TEXT NOT NULL,
    members      INTEGER NOT NULL CHECK (members >= 0),
    PRIMARY KEY (organisation, scope)
);

-- Runs and their per-record errors.
CREATE TABLE runs (
    id           TEXT PRIMARY KEY NOT NULL,
    organisation TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT NOT NULL,
    status       TEXT NOT NULL,
    planned      TEXT NOT NULL,
    applied      TEXT NOT NULL,
    hold_reasons TEXT NOT NULL,
    held_run     TEXT,
    failure      TEXT,
    error_count  INTEGER NOT NULL
);
CREATE INDEX runs_started ON runs (started_at DESC, id);
CREATE INDEX runs_organisation_started ON runs (organisation, started_at DESC, id);

CREATE TABLE run_errors (
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    external_id TEXT NOT NULL,
    operation   TEXT NOT NULL,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- Runs held by the safety policy, with the plan they would have applied; approved_at is set on approval.
CREATE TABLE held_runs (
    id           TEXT PRIMARY KEY NOT NULL,
    organisation TEXT NOT NULL,
    held_at      TEXT NOT NULL,
    reasons      TEXT NOT NULL,
    plan         TEXT NOT NULL,
    approved_at  TEXT
);
CREATE INDEX held_runs_organisation ON held_runs (organisation);

-- An approval waiting for an organisation's next run; taking it deletes it.
CREATE TABLE allowances (
    organisation TEXT PRIMARY KEY NOT NULL,
    allowance    TEXT NOT NULL,
    held_run     TEXT NOT NULL,
    approved_at  TEXT NOT NULL
);

-- The per-organisation single-flight lock: a row with an owner and an expiry.
CREATE TABLE org_locks (
    organisation  TEXT PRIMARY KEY NOT NULL,
    owner         TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    acquired_at   TEXT NOT NULL
);

-- The OneRoster feed: every record of every kind, its body without status and dateLastModified (JSON), and a
-- SHA-256 of that body so that dateLastModified moves only when a record really changes. `version` is the
-- roster version that last changed the record.
CREATE TABLE oneroster_records (
    kind               TEXT NOT NULL CHECK (kind IN ('org', 'academicSession', 'course', 'class', 'user',
                                                    'enrollment', 'demographics')),
    sourced_id         TEXT NOT NULL CHECK (sourced_id <> ''),
    status             TEXT NOT NULL CHECK (status IN ('active', 'tobedeleted')),
    date_last_modified TEXT NOT NULL,
    content_hash       TEXT NOT NULL,
    body               TEXT NOT NULL,
    version            INTEGER NOT NULL,
    PRIMARY KEY (kind, sourced_id)
) WITHOUT ROWID;
CREATE INDEX oneroster_records_version ON oneroster_records (version);

-- One row per committed import.
CREATE TABLE oneroster_imports (
    id          TEXT PRIMARY KEY NOT NULL,
    version     INTEGER NOT NULL UNIQUE,
    mode        TEXT NOT NULL,
    source      TEXT,
    imported_at TEXT NOT NULL,
    created     INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    deleted     INTEGER NOT NULL,
    kinds       TEXT NOT NULL
);

-- The roster's version: bumped by every import, so that feed servers know when to reload.
CREATE TABLE roster_state (
    id      INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO roster_state (id, version) VALUES (1, 0);

-- OAuth clients of the feed; the secret is stored only as a hash (argon2, computed by the caller).
CREATE TABLE api_clients (
    client_id   TEXT PRIMARY KEY NOT NULL CHECK (client_id <> ''),
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    rotated_at  TEXT
);
