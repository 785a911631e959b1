//! The schema, written once for both engines: `{uuid}` and `{bytes}` stand
//! for the column types that differ. Times are Unix microseconds (BIGINT),
//! which compare correctly in both.

/// Tables of the tenant registry (no tenant scoping: they map to tenants).
pub(crate) const REGISTRY: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS identity_tenants (
        id {uuid} PRIMARY KEY,
        name TEXT NOT NULL,
        rp_id TEXT NOT NULL,
        rp_origins TEXT NOT NULL,
        created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS identity_domains (
        domain TEXT PRIMARY KEY,
        tenant_id {uuid} NOT NULL)",
];

/// Tables holding one tenant's data: every row carries its `tenant_id`.
pub(crate) const TENANT_TABLES: &[(&str, &str)] = &[
    (
        "identity_persons",
        "CREATE TABLE IF NOT EXISTS identity_persons (
        tenant_id {uuid} NOT NULL,
        id {uuid} NOT NULL,
        display_name TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, id))",
    ),
    (
        "identity_emails",
        "CREATE TABLE IF NOT EXISTS identity_emails (
        tenant_id {uuid} NOT NULL,
        address TEXT NOT NULL,
        person_id {uuid},
        group_id {uuid},
        position INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, address))",
    ),
    (
        "identity_roles",
        "CREATE TABLE IF NOT EXISTS identity_roles (
        tenant_id {uuid} NOT NULL,
        person_id {uuid} NOT NULL,
        role TEXT NOT NULL,
        granted_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, person_id, role))",
    ),
    (
        "identity_groups",
        "CREATE TABLE IF NOT EXISTS identity_groups (
        tenant_id {uuid} NOT NULL,
        id {uuid} NOT NULL,
        display_name TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id))",
    ),
    (
        "identity_members",
        "CREATE TABLE IF NOT EXISTS identity_members (
        tenant_id {uuid} NOT NULL,
        group_id {uuid} NOT NULL,
        person_id {uuid} NOT NULL,
        PRIMARY KEY (tenant_id, group_id, person_id))",
    ),
    (
        "identity_passkeys",
        "CREATE TABLE IF NOT EXISTS identity_passkeys (
        tenant_id {uuid} NOT NULL,
        id {uuid} NOT NULL,
        person_id {uuid} NOT NULL,
        credential_id {bytes} NOT NULL,
        label TEXT NOT NULL,
        passkey TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, credential_id))",
    ),
    (
        "identity_ceremonies",
        "CREATE TABLE IF NOT EXISTS identity_ceremonies (
        tenant_id {uuid} NOT NULL,
        id_hash {bytes} NOT NULL,
        ceremony TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, id_hash))",
    ),
    (
        "identity_sessions",
        "CREATE TABLE IF NOT EXISTS identity_sessions (
        tenant_id {uuid} NOT NULL,
        id {uuid} NOT NULL,
        token_hash {bytes} NOT NULL,
        person_id {uuid} NOT NULL,
        method TEXT NOT NULL,
        label TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        step_up_at BIGINT,
        step_up_method TEXT,
        revoked_at BIGINT,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, token_hash))",
    ),
    (
        "identity_app_passwords",
        "CREATE TABLE IF NOT EXISTS identity_app_passwords (
        tenant_id {uuid} NOT NULL,
        id {uuid} NOT NULL,
        person_id {uuid} NOT NULL,
        label TEXT NOT NULL,
        scopes TEXT NOT NULL,
        lookup TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        revoked_at BIGINT,
        PRIMARY KEY (tenant_id, id))",
    ),
    (
        "identity_enrollments",
        "CREATE TABLE IF NOT EXISTS identity_enrollments (
        tenant_id {uuid} NOT NULL,
        id {uuid} NOT NULL,
        token_hash {bytes} NOT NULL,
        kind TEXT NOT NULL,
        person_id {uuid} NOT NULL,
        email TEXT NOT NULL,
        created_by {uuid},
        created_at BIGINT NOT NULL,
        not_before BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT,
        revoked_at BIGINT,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, token_hash))",
    ),
    (
        "identity_quorum",
        "CREATE TABLE IF NOT EXISTS identity_quorum (
        tenant_id {uuid} NOT NULL PRIMARY KEY,
        threshold INTEGER NOT NULL,
        trustees TEXT NOT NULL,
        secret_hash {bytes} NOT NULL,
        created_at BIGINT NOT NULL,
        used_at BIGINT)",
    ),
    (
        "identity_break_glass",
        "CREATE TABLE IF NOT EXISTS identity_break_glass (
        tenant_id {uuid} NOT NULL,
        id {uuid} NOT NULL,
        email TEXT NOT NULL,
        display_name TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        not_before BIGINT NOT NULL,
        vetoed_at BIGINT,
        vetoed_by {uuid},
        completed_at BIGINT,
        PRIMARY KEY (tenant_id, id))",
    ),
    (
        "identity_failures",
        "CREATE TABLE IF NOT EXISTS identity_failures (
        tenant_id {uuid} NOT NULL,
        key TEXT NOT NULL,
        at BIGINT NOT NULL)",
    ),
];

/// Indexes for the lookups the store makes.
pub(crate) const INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS identity_passkeys_person ON identity_passkeys (tenant_id, person_id)",
    "CREATE INDEX IF NOT EXISTS identity_sessions_person ON identity_sessions (tenant_id, person_id)",
    "CREATE INDEX IF NOT EXISTS identity_app_passwords_lookup ON identity_app_passwords (tenant_id, person_id, lookup)",
    "CREATE INDEX IF NOT EXISTS identity_failures_key ON identity_failures (tenant_id, key, at)",
    "CREATE INDEX IF NOT EXISTS identity_ceremonies_expiry ON identity_ceremonies (tenant_id, expires_at)",
];

/// Fills in the engine's column types.
pub(crate) fn render(ddl: &str, uuid: &str, bytes: &str) -> String {
    ddl.replace("{uuid}", uuid).replace("{bytes}", bytes)
}
