//! The file store's tables. Time in the tree is counted in change
//! sequence numbers (`seq`, one per tenant and transaction), so that "the
//! tree as it was" is exact even when two changes share a clock tick;
//! `storage_changes` maps them to wall-clock time.

use guss_sql::Schema;

pub(crate) static SCHEMA: Schema = Schema {
    file_name: "storage.sqlite",
    migration_lock: 7_267_817_364,
    tables: &[
        // One row per tenant: its wrapped data key, the change counter, the
        // tripwire freeze and the quota.
        (
            "storage_tenant",
            "CREATE TABLE IF NOT EXISTS storage_tenant (
                tenant_id {uuid} NOT NULL PRIMARY KEY, wrapped_key {bytes} NOT NULL,
                seq BIGINT NOT NULL, stored_bytes BIGINT NOT NULL, quota_bytes BIGINT,
                frozen_at BIGINT, frozen_reason TEXT)",
        ),
        // Static facts of a file or folder.
        (
            "storage_nodes",
            "CREATE TABLE IF NOT EXISTS storage_nodes (
                tenant_id {uuid} NOT NULL, node_id {uuid} NOT NULL, kind INTEGER NOT NULL,
                created_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, node_id))",
        ),
        // Where a node was, from seq to seq: the open row (to_seq NULL) is now.
        (
            "storage_entries",
            "CREATE TABLE IF NOT EXISTS storage_entries (
                tenant_id {uuid} NOT NULL, node_id {uuid} NOT NULL, parent_id {uuid} NOT NULL,
                name TEXT NOT NULL, from_seq BIGINT NOT NULL, to_seq BIGINT,
                PRIMARY KEY (tenant_id, node_id, from_seq))",
        ),
        (
            "storage_versions",
            "CREATE TABLE IF NOT EXISTS storage_versions (
                tenant_id {uuid} NOT NULL, version_id {uuid} NOT NULL, node_id {uuid} NOT NULL,
                seq BIGINT NOT NULL, written_at BIGINT NOT NULL, author TEXT NOT NULL,
                size BIGINT NOT NULL, content_type TEXT, PRIMARY KEY (tenant_id, version_id))",
        ),
        (
            "storage_version_chunks",
            "CREATE TABLE IF NOT EXISTS storage_version_chunks (
                tenant_id {uuid} NOT NULL, version_id {uuid} NOT NULL, pos INTEGER NOT NULL,
                chunk_id {bytes} NOT NULL, length BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, version_id, pos))",
        ),
        // A chunk's blob is `<tenant>/chunks/<id>.<generation>`: a chunk
        // collected and written again gets a new generation, so collection
        // never deletes a blob a writer is about to reference.
        (
            "storage_chunks",
            "CREATE TABLE IF NOT EXISTS storage_chunks (
                tenant_id {uuid} NOT NULL, chunk_id {bytes} NOT NULL, generation {uuid} NOT NULL,
                plain_size BIGINT NOT NULL, stored INTEGER NOT NULL, touched_at BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, chunk_id))",
        ),
        (
            "storage_props",
            "CREATE TABLE IF NOT EXISTS storage_props (
                tenant_id {uuid} NOT NULL, node_id {uuid} NOT NULL, namespace TEXT NOT NULL,
                local TEXT NOT NULL, value TEXT NOT NULL,
                PRIMARY KEY (tenant_id, node_id, namespace, local))",
        ),
        (
            "storage_locks",
            "CREATE TABLE IF NOT EXISTS storage_locks (
                tenant_id {uuid} NOT NULL, token TEXT NOT NULL, root TEXT NOT NULL,
                depth_infinity INTEGER NOT NULL, exclusive INTEGER NOT NULL, owner TEXT,
                principal TEXT NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, token))",
        ),
        // The change log: sync-collection reads it, and it maps seq to time.
        (
            "storage_changes",
            "CREATE TABLE IF NOT EXISTS storage_changes (
                tenant_id {uuid} NOT NULL, seq BIGINT NOT NULL, at BIGINT NOT NULL,
                parent_id {uuid} NOT NULL, name TEXT NOT NULL, removed INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, seq, parent_id, name))",
        ),
        (
            "storage_trash",
            "CREATE TABLE IF NOT EXISTS storage_trash (
                tenant_id {uuid} NOT NULL, trash_id {uuid} NOT NULL, node_id {uuid} NOT NULL,
                parent_id {uuid} NOT NULL, name TEXT NOT NULL, original_path TEXT NOT NULL,
                deleted_seq BIGINT NOT NULL, deleted_at BIGINT NOT NULL, deleted_by TEXT NOT NULL,
                PRIMARY KEY (tenant_id, trash_id))",
        ),
        (
            "storage_holds",
            "CREATE TABLE IF NOT EXISTS storage_holds (
                tenant_id {uuid} NOT NULL, node_id {uuid} NOT NULL, reason TEXT NOT NULL,
                until_at BIGINT, PRIMARY KEY (tenant_id, node_id))",
        ),
        (
            "storage_share_links",
            "CREATE TABLE IF NOT EXISTS storage_share_links (
                tenant_id {uuid} NOT NULL, link_id {uuid} NOT NULL, token_hash {bytes} NOT NULL,
                node_id {uuid} NOT NULL, mode INTEGER NOT NULL, expires_at BIGINT,
                code_hash {bytes}, max_downloads BIGINT, downloads BIGINT NOT NULL,
                created_by TEXT NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT,
                PRIMARY KEY (tenant_id, link_id))",
        ),
    ],
    indexes: &[
        "CREATE UNIQUE INDEX IF NOT EXISTS storage_entries_name ON storage_entries (tenant_id, parent_id, name) WHERE to_seq IS NULL",
        "CREATE INDEX IF NOT EXISTS storage_entries_now ON storage_entries (tenant_id, node_id) WHERE to_seq IS NULL",
        "CREATE INDEX IF NOT EXISTS storage_entries_parent ON storage_entries (tenant_id, parent_id, from_seq)",
        "CREATE INDEX IF NOT EXISTS storage_versions_node ON storage_versions (tenant_id, node_id, seq)",
        "CREATE INDEX IF NOT EXISTS storage_version_chunks_chunk ON storage_version_chunks (tenant_id, chunk_id)",
        "CREATE INDEX IF NOT EXISTS storage_chunks_touched ON storage_chunks (tenant_id, touched_at)",
        "CREATE INDEX IF NOT EXISTS storage_changes_parent ON storage_changes (tenant_id, parent_id, seq)",
        "CREATE INDEX IF NOT EXISTS storage_changes_at ON storage_changes (tenant_id, at)",
        "CREATE UNIQUE INDEX IF NOT EXISTS storage_share_links_token ON storage_share_links (tenant_id, token_hash)",
    ],
};
