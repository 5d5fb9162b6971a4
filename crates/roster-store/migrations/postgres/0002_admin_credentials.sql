-- rosterbridge roster-store, PostgreSQL schema 2: the admin web UI's sign-in.
-- One row per admin account; only an Argon2id PHC hash of the password is kept, never the password.
CREATE TABLE admin_credentials (
    name          TEXT COLLATE "C" PRIMARY KEY NOT NULL CHECK (name <> ''),
    password_hash TEXT COLLATE "C" NOT NULL CHECK (password_hash <> ''),
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
