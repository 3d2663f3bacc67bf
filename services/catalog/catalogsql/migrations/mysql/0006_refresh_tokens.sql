-- One row per refresh token of a browser session; only its SHA-256 is kept. The tokens of one sign-in share
-- a family: a refresh marks its token used and adds the family's next token, and a used token shown again
-- revokes the whole family (it was copied). role and started_at are the user's at sign-in: a later change of
-- password or role (users.updated_at) ends the session, as it revokes access tokens.
CREATE TABLE refresh_tokens (
    token_hash BINARY(32)  NOT NULL,
    family     CHAR(32)    NOT NULL,
    username   VARCHAR(64) NOT NULL,
    role       VARCHAR(16) NOT NULL,
    started_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6) NULL,
    revoked_at DATETIME(6) NULL,
    PRIMARY KEY (token_hash),
    KEY refresh_tokens_family (family),
    KEY refresh_tokens_expires_at (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
