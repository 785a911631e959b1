//! The calendar store's tables.

use guss_sql::Schema;

pub(crate) static SCHEMA: Schema = Schema {
    file_name: "calendar.sqlite",
    migration_lock: 7_267_817_365,
    tables: &[
        // A calendar (or a schedule inbox) of one owner; `seq` counts its changes.
        (
            "cal_collections",
            "CREATE TABLE IF NOT EXISTS cal_collections (
                tenant_id {uuid} NOT NULL, id {uuid} NOT NULL, owner TEXT NOT NULL, slug TEXT NOT NULL,
                kind INTEGER NOT NULL, display_name TEXT, description TEXT, color TEXT, timezone TEXT,
                components TEXT NOT NULL, seq BIGINT NOT NULL, created_at BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, id))",
        ),
        (
            "cal_collection_props",
            "CREATE TABLE IF NOT EXISTS cal_collection_props (
                tenant_id {uuid} NOT NULL, collection_id {uuid} NOT NULL, namespace TEXT NOT NULL,
                local TEXT NOT NULL, value TEXT NOT NULL,
                PRIMARY KEY (tenant_id, collection_id, namespace, local))",
        ),
        // One calendar object resource: its text and what queries filter on.
        (
            "cal_objects",
            "CREATE TABLE IF NOT EXISTS cal_objects (
                tenant_id {uuid} NOT NULL, collection_id {uuid} NOT NULL, name TEXT NOT NULL,
                uid TEXT NOT NULL, etag TEXT NOT NULL, component TEXT NOT NULL, ics TEXT NOT NULL,
                first_start BIGINT, last_end BIGINT, modified_at BIGINT NOT NULL, schedule_tag TEXT,
                PRIMARY KEY (tenant_id, collection_id, name))",
        ),
        // The change log: sync tokens, deletions kept.
        (
            "cal_changes",
            "CREATE TABLE IF NOT EXISTS cal_changes (
                tenant_id {uuid} NOT NULL, collection_id {uuid} NOT NULL, seq BIGINT NOT NULL,
                name TEXT NOT NULL, removed INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, collection_id, seq, name))",
        ),
        (
            "cal_shares",
            "CREATE TABLE IF NOT EXISTS cal_shares (
                tenant_id {uuid} NOT NULL, collection_id {uuid} NOT NULL, grantee TEXT NOT NULL,
                writable INTEGER NOT NULL, PRIMARY KEY (tenant_id, collection_id, grantee))",
        ),
    ],
    indexes: &[
        "CREATE UNIQUE INDEX IF NOT EXISTS cal_collections_slug ON cal_collections (tenant_id, owner, slug)",
        "CREATE UNIQUE INDEX IF NOT EXISTS cal_objects_uid ON cal_objects (tenant_id, collection_id, uid)",
        "CREATE INDEX IF NOT EXISTS cal_objects_range ON cal_objects (tenant_id, collection_id, first_start)",
        "CREATE INDEX IF NOT EXISTS cal_shares_grantee ON cal_shares (tenant_id, grantee)",
    ],
};
