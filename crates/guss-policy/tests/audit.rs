//! The audit log on SQLite and PostgreSQL: appends chain, checkpoints sign,
//! tampering with the stored rows is detected, whatever the tampering, and
//! searches find entries by kind, actor and time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use guss_core::{
    Event, EventSink as _, EventSource, EventType, PersonId, Principal, SystemClock, TenantId,
};
use guss_policy::audit::{AuditLog, AuditSearch, Tamper};
use guss_policy::store::SqlPolicyStore;
use guss_testkit::{Backend, TestDb, backend_tests};
use sqlx::{Connection as _, Executor as _};

async fn log(db: &TestDb) -> AuditLog<SqlPolicyStore> {
    let location = match db.backend() {
        Backend::Sqlite => db.dir().unwrap().join("audit").display().to_string(),
        Backend::Postgres => db.url().to_owned(),
    };
    let store = SqlPolicyStore::open(&location).await.unwrap();
    AuditLog::new(
        store,
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        Arc::new(SystemClock),
    )
    .with_checkpoint_every(5)
}

async fn fill(log: &AuditLog<SqlPolicyStore>, tenant: TenantId, n: usize) {
    for i in 0..n {
        let event = Event::builder(
            tenant,
            EventSource::from_static("guss-test"),
            EventType::from_static("guss.test.happened"),
        )
        .data(serde_json::json!({ "n": i }))
        .build(&SystemClock);
        log.emit(event).await.unwrap();
    }
}

/// Appends one event of `kind` by `actor`.
async fn act(
    log: &AuditLog<SqlPolicyStore>,
    tenant: TenantId,
    kind: &'static str,
    actor: Option<&Principal>,
) {
    let mut event = Event::builder(
        tenant,
        EventSource::from_static("guss-test"),
        EventType::new(kind).unwrap(),
    );
    if let Some(actor) = actor {
        event = event.actor(actor);
    }
    log.emit(event.build(&SystemClock)).await.unwrap();
}

/// The positions a search finds.
async fn found(log: &AuditLog<SqlPolicyStore>, tenant: TenantId, search: AuditSearch) -> Vec<u64> {
    let search = AuditSearch {
        limit: 100,
        ..search
    };
    log.search(tenant, &search)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect()
}

/// Runs raw SQL against the stored log, as someone with database access would.
async fn tamper(db: &TestDb, tenant: TenantId, sql: &str) {
    match db.backend() {
        Backend::Sqlite => {
            let file = db
                .dir()
                .unwrap()
                .join("audit/tenants")
                .join(tenant.to_string())
                .join("policy.sqlite");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                .await
                .unwrap();
            conn.execute(sqlx::AssertSqlSafe(sql.to_owned()))
                .await
                .unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            conn.execute(sqlx::AssertSqlSafe(format!(
                "SELECT set_config('guss.tenant_id', '{tenant}', false)"
            )))
            .await
            .unwrap();
            conn.execute(sqlx::AssertSqlSafe(sql.to_owned()))
                .await
                .unwrap();
        }
    }
}

backend_tests! {
    async fn appends_chain_and_checkpoint(db: TestDb) {
        let log = log(&db).await;
        let (a, b) = (TenantId::new(), TenantId::new());
        fill(&log, a, 12).await;
        fill(&log, b, 3).await;
        let (entries, checkpoints) = log.export(a).await.unwrap();
        assert_eq!(entries.len(), 12);
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=12).collect::<Vec<_>>());
        assert_eq!(checkpoints.iter().map(|c| c.seq).collect::<Vec<_>>(), [5, 10]);
        assert_eq!(log.verify(a).await.unwrap(), Ok(()));
        assert_eq!(log.verify(b).await.unwrap(), Ok(()));
        // Each tenant has its own chain.
        assert_eq!(log.export(b).await.unwrap().0.len(), 3);
        let last = log.checkpoint(a).await.unwrap().unwrap();
        assert_eq!(last.seq, 12);
        assert!(last.is_signed_by(&log.verifying_key()));
    }

    async fn concurrent_appends_get_consecutive_positions(db: TestDb) {
        let log = Arc::new(log(&db).await);
        let tenant = TenantId::new();
        // More appenders than the pool has connections, so they queue.
        let tasks: Vec<_> = (0..16).map(|_| {
            let log = log.clone();
            tokio::spawn(async move { fill(&log, tenant, 10).await })
        }).collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(log.export(tenant).await.unwrap().0.len(), 160);
        assert_eq!(log.verify(tenant).await.unwrap(), Ok(()));
    }

    async fn altering_a_stored_entry_is_detected(db: TestDb) {
        let log = log(&db).await;
        let tenant = TenantId::new();
        fill(&log, tenant, 8).await;
        tamper(&db, tenant, "UPDATE policy_audit SET event = replace(event, '\"n\":3', '\"n\":4') WHERE seq = 4").await;
        assert_eq!(log.verify(tenant).await.unwrap(), Err(Tamper::Altered { seq: 4 }));
    }

    async fn deleting_a_stored_entry_is_detected(db: TestDb) {
        let log = log(&db).await;
        let tenant = TenantId::new();
        fill(&log, tenant, 8).await;
        tamper(&db, tenant, "DELETE FROM policy_audit WHERE seq = 6").await;
        assert!(matches!(log.verify(tenant).await.unwrap(), Err(Tamper::Sequence { expected: 6, found: 7 })));
    }

    async fn truncating_the_tail_is_detected_by_a_checkpoint(db: TestDb) {
        let log = log(&db).await;
        let tenant = TenantId::new();
        fill(&log, tenant, 8).await;
        log.checkpoint(tenant).await.unwrap();
        tamper(&db, tenant, "DELETE FROM policy_audit WHERE seq >= 7").await;
        assert_eq!(log.verify(tenant).await.unwrap(), Err(Tamper::CheckpointMismatch { seq: 8 }));
    }

    async fn inserting_and_reordering_are_detected(db: TestDb) {
        let log = log(&db).await;
        let tenant = TenantId::new();
        fill(&log, tenant, 8).await;
        // Reorder: swap the contents of positions 2 and 3.
        tamper(&db, tenant, "UPDATE policy_audit SET seq = 100 WHERE seq = 2").await;
        tamper(&db, tenant, "UPDATE policy_audit SET seq = 2 WHERE seq = 3").await;
        tamper(&db, tenant, "UPDATE policy_audit SET seq = 3 WHERE seq = 100").await;
        assert!(log.verify(tenant).await.unwrap().is_err());

        let other = TenantId::new();
        fill(&log, other, 4).await;
        // Insert: shift the tail and copy an entry into the gap.
        tamper(&db, other, "UPDATE policy_audit SET seq = seq + 10 WHERE seq >= 3").await;
        tamper(&db, other, "UPDATE policy_audit SET seq = seq - 9 WHERE seq >= 13").await;
        tamper(&db, other, "INSERT INTO policy_audit SELECT tenant_id, 3, time, event, prev_hash, hash FROM policy_audit WHERE seq = 2").await;
        assert!(log.verify(other).await.unwrap().is_err());
    }

    async fn searches_find_entries_by_kind_actor_and_time_newest_first(db: TestDb) {
        let log = log(&db).await;
        let tenant = TenantId::new();
        let (anna, ben) = (PersonId::new(), PersonId::new());
        let as_anna = Principal::Person { tenant, person: anna };
        let ben_for_anna = Principal::Deputy { tenant, deputy: ben, represented: anna };
        let as_ben = Principal::Person { tenant, person: ben };
        act(&log, tenant, "guss.identity.sign_in.succeeded", Some(&as_anna)).await; // 1
        act(&log, tenant, "guss.storage.file.created", Some(&as_anna)).await; // 2
        act(&log, tenant, "guss.storage.share_link.opened", None).await; // 3
        act(&log, tenant, "guss.mail.delegated.access", Some(&ben_for_anna)).await; // 4
        let later = chrono::Utc::now();
        act(&log, tenant, "guss.storage.file.created", Some(&as_ben)).await; // 5
        act(&log, tenant, "guss.storage.share_link.refused", None).await; // 6
        // Another organisation's entries are never found.
        act(&log, TenantId::new(), "guss.storage.file.created", Some(&as_anna)).await;

        assert_eq!(found(&log, tenant, AuditSearch::default()).await, [6, 5, 4, 3, 2, 1]);
        let kinds = vec!["guss.storage.share_link.opened".to_owned(), "guss.storage.share_link.refused".to_owned()];
        assert_eq!(found(&log, tenant, AuditSearch { kinds, ..AuditSearch::default() }).await, [6, 3]);
        let contains = |text: &str| AuditSearch { kind_contains: Some(text.into()), ..AuditSearch::default() };
        assert_eq!(found(&log, tenant, contains("file.")).await, [5, 2]);
        // The text is taken literally: no wildcards.
        assert_eq!(found(&log, tenant, contains("file%")).await, Vec::<u64>::new());
        assert_eq!(found(&log, tenant, contains("_")).await, [6, 3, 1]);
        assert_eq!(found(&log, tenant, contains("!")).await, Vec::<u64>::new());
        assert_eq!(found(&log, tenant, contains("\\")).await, Vec::<u64>::new());
        // In any case, on both databases.
        assert_eq!(found(&log, tenant, contains("FILE.")).await, [5, 2]);
        let upper = AuditSearch { actor_contains: Some(anna.to_string().to_uppercase()), ..AuditSearch::default() };
        assert_eq!(found(&log, tenant, upper).await, [4, 2, 1]);
        // A person's id finds what they did and what a deputy did for them.
        let by = |person: PersonId| AuditSearch { actor_contains: Some(person.to_string()), ..AuditSearch::default() };
        assert_eq!(found(&log, tenant, by(anna)).await, [4, 2, 1]);
        assert_eq!(found(&log, tenant, by(ben)).await, [5, 4]);
        let since = AuditSearch { from: Some(later), ..AuditSearch::default() };
        assert_eq!(found(&log, tenant, since).await, [6, 5]);
        let until = AuditSearch { until: Some(later), ..by(ben) };
        assert_eq!(found(&log, tenant, until).await, [4]);
        // Pages: the newest two, then the two before them.
        let page = AuditSearch { limit: 2, ..AuditSearch::default() };
        let first: Vec<u64> = log.search(tenant, &page).await.unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(first, [6, 5]);
        let next = AuditSearch { before: Some(5), limit: 2, ..AuditSearch::default() };
        assert_eq!(log.search(tenant, &next).await.unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 3]);
        assert_eq!(log.latest(tenant).await.unwrap().unwrap().seq, 6);
        assert!(log.latest(TenantId::new()).await.unwrap().is_none());
    }

    async fn entries_written_before_the_search_keys_are_found(db: TestDb) {
        let log = log(&db).await;
        let tenant = TenantId::new();
        fill(&log, tenant, 1205).await;
        act(&log, tenant, "guss.storage.file.created", None).await;
        // As if the log had been written before the keys table existed.
        tamper(&db, tenant, "DELETE FROM policy_audit_keys").await;
        tamper(&db, tenant, "DELETE FROM policy_audit_keyed").await;
        let search = AuditSearch { kind_contains: Some("test.happened".into()), before: Some(4), limit: 10, ..AuditSearch::default() };
        assert_eq!(log.search(tenant, &search).await.unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2, 1]);
        let created = AuditSearch { kind_contains: Some("file.created".into()), limit: 10, ..AuditSearch::default() };
        assert_eq!(log.search(tenant, &created).await.unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), [1206]);
        // New entries are found together with the earlier ones.
        act(&log, tenant, "guss.storage.file.created", None).await;
        assert_eq!(log.search(tenant, &created).await.unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), [1207, 1206]);
        assert_eq!(log.verify(tenant).await.unwrap(), Ok(()));
        // Verifying reads a page at a time: the second page is checked too.
        tamper(&db, tenant, "UPDATE policy_audit SET event = 'x' WHERE seq = 1100").await;
        assert_eq!(log.verify(tenant).await.unwrap(), Err(Tamper::Altered { seq: 1100 }));
    }

    async fn altered_search_keys_are_detected_and_removed_ones_restored(db: TestDb) {
        let log = log(&db).await;
        let tenant = TenantId::new();
        let anna = Principal::Person { tenant, person: PersonId::new() };
        for _ in 0..3 {
            act(&log, tenant, "guss.identity.sign_in.succeeded", Some(&anna)).await;
        }
        let sign_ins = AuditSearch { kind_contains: Some("sign_in".into()), ..AuditSearch::default() };
        assert_eq!(found(&log, tenant, sign_ins.clone()).await, [3, 2, 1]);
        // Someone removes what entry 2 is found by: the log itself still
        // shows it, and verifying gives its keys back.
        tamper(&db, tenant, "DELETE FROM policy_audit_keys WHERE seq = 2").await;
        assert_eq!(found(&log, tenant, AuditSearch::default()).await, [3, 2, 1]);
        assert_eq!(log.latest(tenant).await.unwrap().unwrap().seq, 3);
        assert_eq!(found(&log, tenant, sign_ins.clone()).await, [3, 1]);
        assert_eq!(log.verify(tenant).await.unwrap(), Ok(()));
        assert_eq!(found(&log, tenant, sign_ins.clone()).await, [3, 2, 1]);
        // Someone files entry 3 under another kind: verifying says so.
        tamper(&db, tenant, "UPDATE policy_audit_keys SET kind = 'guss.test.nothing' WHERE seq = 3").await;
        assert_eq!(found(&log, tenant, sign_ins).await, [2, 1]);
        assert_eq!(log.verify(tenant).await.unwrap(), Err(Tamper::SearchKeys { seq: 3 }));
    }
}
