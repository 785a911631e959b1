//! Cross-tenant access must always fail: through every getter of the store,
//! and on PostgreSQL also through raw SQL, where row-level security is the
//! second wall.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::Utc;
use guss_core::{DenyAll, GroupEntry, GroupId, MemoryEventSink, SystemClock};
use guss_identity::store::{IdentityStore as _, SqlStore, TenantRegistry as _};
use guss_identity::{Identity, RelyingParty};
use guss_testkit::{Backend, backend_tests};
use sqlx::{Connection as _, PgConnection};

backend_tests! {
    async fn another_tenants_data_is_invisible(db: TestDb) {
        let location = match db.backend() {
            Backend::Sqlite => db.dir().unwrap().join("identity").display().to_string(),
            Backend::Postgres => db.url().to_owned(),
        };
        let store = SqlStore::open(&location).await.unwrap();
        let identity = Identity::new(store.clone(), Arc::new(SystemClock), Arc::new(MemoryEventSink::new()), Arc::new(DenyAll));
        let rp = || RelyingParty::new("kanzlei.example", ["https://kanzlei.example"]).unwrap();
        let (a, link) = identity.create_tenant("A", rp(), "Anna", "anna@a.example".parse().unwrap()).await.unwrap();
        let (b, _) = identity.create_tenant("B", rp(), "Bea", "bea@b.example".parse().unwrap()).await.unwrap();
        let store_a = store.scoped(a.id).await.unwrap();
        let store_b = store.scoped(b.id).await.unwrap();
        let group = GroupEntry::new(a.id, GroupId::new(), "Team").with_email("team@a.example".parse().unwrap());
        store_a.insert_group(&group).await.unwrap();
        store_a.add_member(group.id, link.person).await.unwrap();

        // Tenant B's handle cannot name A's person, address, group or links.
        let anna = link.person;
        assert!(store_b.person(anna).await.unwrap().is_none());
        assert!(store_b.person_by_email(&"anna@a.example".parse().unwrap()).await.unwrap().is_none());
        assert!(store_b.people().await.unwrap().iter().all(|p| p.id != anna));
        assert!(store_b.group(group.id).await.unwrap().is_none());
        assert!(store_b.group_by_email(&"team@a.example".parse().unwrap()).await.unwrap().is_none());
        assert!(store_b.groups_of(anna).await.unwrap().is_empty());
        assert!(store_b.members_of(group.id).await.unwrap().is_empty());
        assert!(store_b.passkeys_of(anna).await.unwrap().is_empty());
        assert!(store_b.sessions_of(anna).await.unwrap().is_empty());
        assert!(store_b.app_passwords_of(anna).await.unwrap().is_empty());
        assert!(!store_b.revoke_enrollment(link.id, Utc::now()).await.unwrap());
        assert!(store_b.set_status(anna, guss_core::PersonStatus::Suspended).await.is_err());
        // ... and the same address may exist in both tenants.
        assert!(store_a.person_by_email(&"anna@a.example".parse().unwrap()).await.unwrap().is_some());
        let token = link.token.clone();
        let b_enrol = identity.start_enrollment(b.id, &token, "x", &guss_identity::Client::default()).await;
        assert!(matches!(b_enrol, Err(guss_identity::Error::NotFound { .. })), "a link works only in its tenant");

        if db.backend() == Backend::Postgres {
            // Raw SQL as the same role: without a declared tenant nothing is visible,
            // with B declared none of A's rows are, and writing A's rows as B fails.
            let mut conn = PgConnection::connect(db.url()).await.unwrap();
            let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
            assert_eq!(count("SELECT COUNT(*) FROM identity_persons").fetch_one(&mut conn).await.unwrap(), 0);
            sqlx::query("SELECT set_config('guss.tenant_id', $1, false)").bind(b.id.to_string()).execute(&mut conn).await.unwrap();
            let visible: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT tenant_id FROM identity_persons").fetch_all(&mut conn).await.unwrap();
            assert!(!visible.is_empty() && visible.iter().all(|t| t == b.id.as_uuid()));
            let smuggled = sqlx::query("INSERT INTO identity_groups (tenant_id, id, display_name) VALUES ($1, $2, 'x')")
                .bind(a.id.as_uuid())
                .bind(uuid::Uuid::now_v7())
                .execute(&mut conn)
                .await;
            assert!(smuggled.is_err(), "row-level security refuses rows of another tenant");
            let updated = sqlx::query("UPDATE identity_persons SET display_name = 'x' WHERE tenant_id = $1")
                .bind(a.id.as_uuid())
                .execute(&mut conn)
                .await
                .unwrap();
            assert_eq!(updated.rows_affected(), 0);
        } else {
            // One file per tenant: B's database holds no row of A at all.
            let file = db.dir().unwrap().join("identity/tenants").join(b.id.to_string()).join("identity.sqlite");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display())).await.unwrap();
            let foreign: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM identity_persons WHERE tenant_id != $1")
                .bind(b.id.as_uuid())
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(foreign, 0);
        }
    }
}
