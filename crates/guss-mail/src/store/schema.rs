//! The mail store's tables.

use guss_sql::Schema;

pub(crate) static SCHEMA: Schema = Schema {
    file_name: "mail.sqlite",
    migration_lock: 7_267_817_366,
    tables: &[
        // A mailbox of one account (a person's or a shared one). `uid_next`
        // and `highest_modseq` are IMAP's counters, bumped in the same
        // transaction as the change they count.
        (
            "mail_mailboxes",
            "CREATE TABLE IF NOT EXISTS mail_mailboxes (
                tenant_id {uuid} NOT NULL, id {uuid} NOT NULL, account TEXT NOT NULL, name TEXT NOT NULL,
                role TEXT, uid_validity BIGINT NOT NULL, uid_next BIGINT NOT NULL,
                highest_modseq BIGINT NOT NULL, subscribed INTEGER NOT NULL, created_at BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, id))",
        ),
        // One message in one mailbox; the bytes live in the blob store under
        // `blob_key`, which copies of the message share.
        (
            "mail_messages",
            "CREATE TABLE IF NOT EXISTS mail_messages (
                tenant_id {uuid} NOT NULL, mailbox_id {uuid} NOT NULL, uid BIGINT NOT NULL,
                account TEXT NOT NULL, blob_key TEXT NOT NULL, size BIGINT NOT NULL,
                internal_date BIGINT NOT NULL, flags TEXT NOT NULL, modseq BIGINT NOT NULL,
                thread_id TEXT NOT NULL, message_id TEXT, subject TEXT, sender TEXT,
                PRIMARY KEY (tenant_id, mailbox_id, uid))",
        ),
        // Expunged UIDs with the modseq of their removal (QRESYNC's VANISHED).
        (
            "mail_expunged",
            "CREATE TABLE IF NOT EXISTS mail_expunged (
                tenant_id {uuid} NOT NULL, mailbox_id {uuid} NOT NULL, uid BIGINT NOT NULL,
                modseq BIGINT NOT NULL, PRIMARY KEY (tenant_id, mailbox_id, uid))",
        ),
        // Addresses that lead to an account besides the directory's: aliases
        // and the addresses of shared mailboxes.
        (
            "mail_addresses",
            "CREATE TABLE IF NOT EXISTS mail_addresses (
                tenant_id {uuid} NOT NULL, address TEXT NOT NULL, account TEXT NOT NULL,
                PRIMARY KEY (tenant_id, address))",
        ),
        // Shared accounts (`kanzlei@`), with a name people see.
        (
            "mail_shared",
            "CREATE TABLE IF NOT EXISTS mail_shared (
                tenant_id {uuid} NOT NULL, name TEXT NOT NULL, display_name TEXT NOT NULL,
                PRIMARY KEY (tenant_id, name))",
        ),
        // A domain's DKIM keys (PKCS#8), newest first when signing.
        (
            "mail_dkim_keys",
            "CREATE TABLE IF NOT EXISTS mail_dkim_keys (
                tenant_id {uuid} NOT NULL, domain TEXT NOT NULL, selector TEXT NOT NULL,
                algorithm TEXT NOT NULL, pkcs8 {bytes} NOT NULL, created_at BIGINT NOT NULL,
                retired_at BIGINT, PRIMARY KEY (tenant_id, domain, selector))",
        ),
        // The outbound queue: one row per message and recipient domain
        // batch. Rows are claimed with a lease so that several processes can
        // work the queue and a crashed one's claims expire.
        (
            "mail_queue",
            "CREATE TABLE IF NOT EXISTS mail_queue (
                tenant_id {uuid} NOT NULL, id {uuid} NOT NULL, origin TEXT NOT NULL,
                blob_key TEXT NOT NULL, sender TEXT NOT NULL, recipients TEXT NOT NULL,
                attempts INTEGER NOT NULL, next_attempt BIGINT NOT NULL, lease_until BIGINT NOT NULL,
                created_at BIGINT NOT NULL, last_error TEXT, dsn INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, id))",
        ),
    ],
    indexes: &[
        "CREATE UNIQUE INDEX IF NOT EXISTS mail_mailboxes_name ON mail_mailboxes (tenant_id, account, name)",
        "CREATE INDEX IF NOT EXISTS mail_messages_blob ON mail_messages (tenant_id, blob_key)",
        "CREATE INDEX IF NOT EXISTS mail_messages_msgid ON mail_messages (tenant_id, account, message_id)",
        "CREATE INDEX IF NOT EXISTS mail_messages_modseq ON mail_messages (tenant_id, mailbox_id, modseq)",
        "CREATE INDEX IF NOT EXISTS mail_queue_due ON mail_queue (tenant_id, next_attempt)",
    ],
};
