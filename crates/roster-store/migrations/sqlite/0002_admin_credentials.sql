-- rosterbridge roster-store, SQLite schema 2: the admin web UI's sign-in.
-- One row per admin account; only an Argon2id PHC hash of the password is kept, never the password.
CREATE TABLE admin_credentials (
    name          TEXT PRIMARY KEY NOT NULL CHECK (name <> ''),
    password_hash TEXT NOT NULL CHECK (password_hash <> ''),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
