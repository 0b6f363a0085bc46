-- Access tokens of the HTTP API (SPEC §5, §9). A token is shown once, at creation; only its
-- SHA-256 is stored. Tokens are 256 random bits, so a fast hash is enough: nobody can guess
-- one from its hash, and there is no password to stretch.
CREATE TABLE folio_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    role          text NOT NULL CHECK (role IN ('reader', 'annotator', 'editor', 'admin')),
    token_sha256  bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

-- A name belongs to one live token at a time; revoked tokens stay for the record.
CREATE UNIQUE INDEX folio_tokens_live_name ON folio_tokens (name) WHERE revoked_at IS NULL;

COMMENT ON TABLE folio_tokens IS 'API tokens: SHA-256 of each token, its name and role (migration 0005).';

-- The server only looks tokens up; the admin commands (`folio tokens`) write them.
GRANT SELECT ON folio_tokens TO folio_service;
