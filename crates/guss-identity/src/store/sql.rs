//! The one SQL implementation of the identity store, for both engines.
//!
//! Each method's SQL is written once; the `write_tx!`/`read_tx!` macros expand the
//! body for each compiled-in engine, so that every query runs with that
//! engine's native types. On PostgreSQL every transaction first declares its
//! tenant, which row-level security checks on every row.

#[cfg(feature = "sqlite")]
use std::collections::HashMap;
use std::sync::Arc;
#[cfg(feature = "sqlite")]
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guss_core::{EmailAddress, GroupEntry, GroupId, PersonId, PersonStatus, Scope, TenantId};
use uuid::Uuid;

use super::{
    BreakGlassInfo, Ceremony, Enrollment, EnrollmentKind, IdentityStore, Quorum, StoredAppPassword,
    StoredPasskey, StoredSession, TenantRegistry,
};
use crate::model::{AppPasswordInfo, AuthMethod, Person, RelyingParty, Role, SessionInfo, Tenant};
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub(super) enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// The shared database, and the tenant's queue in this process.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool, guss_sql::Queue),
}

/// Runs `$body` in a write transaction on the store's engine, with `$tx` as
/// the executor. An early return (`?`) rolls back.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:block) => {
        match &$store.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                // IMMEDIATE takes the write lock up front: no upgrade deadlocks.
                let mut $tx = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(Error::backend)?;
                let out = $body;
                $tx.commit().await.map_err(Error::backend)?;
                out
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool, queue) => {
                let _turn = queue.wait().await.map_err(Error::backend)?;
                let mut $tx = pool.begin().await.map_err(Error::backend)?;
                super::postgres::enter_tenant(&mut $tx, $store.tenant, true).await?;
                let out = $body;
                $tx.commit().await.map_err(Error::backend)?;
                out
            }
        }
    };
}

/// Like `write_tx!`, for reads: no write lock on SQLite.
macro_rules! read_tx {
    ($store:expr, |$tx:ident| $body:block) => {
        match &$store.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                let mut $tx = pool.acquire().await.map_err(Error::backend)?;
                $body
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool, _) => {
                let mut $tx = pool.begin().await.map_err(Error::backend)?;
                super::postgres::enter_tenant(&mut $tx, $store.tenant, false).await?;
                let out = $body;
                $tx.commit().await.map_err(Error::backend)?;
                out
            }
        }
    };
}

/// Inserts a passkey row on `$tx`; shared by adding a passkey and enrolment.
macro_rules! insert_passkey {
    ($tx:expr, $tenant:expr, $passkey:expr, $data:expr) => {{
        let passkey: &StoredPasskey = $passkey;
        db(sqlx::query(
            "INSERT INTO identity_passkeys (tenant_id, id, person_id, credential_id, label, passkey, created_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($tenant)
        .bind(passkey.info.id)
        .bind(passkey.info.person.as_uuid())
        .bind(&passkey.credential_id)
        .bind(&passkey.info.label)
        .bind($data)
        .bind(micros(passkey.info.created_at))
        .bind(passkey.info.last_used_at.map(micros))
        .execute($tx)
        .await)
        .map_err(|e| match e {
            Error::Conflict { .. } => Error::conflict("passkey already registered"),
            other => other,
        })?;
    }};
}

/// Inserts a session row on `$tx`; shared by sign-in and enrolment.
macro_rules! insert_session {
    ($tx:expr, $tenant:expr, $token_hash:expr, $session:expr) => {{
        let session: &SessionInfo = $session;
        db(sqlx::query(
            "INSERT INTO identity_sessions
             (tenant_id, id, token_hash, person_id, method, label, created_at, last_seen_at, expires_at, step_up_at, step_up_method)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind($tenant)
        .bind(session.id)
        .bind($token_hash)
        .bind(session.person.as_uuid())
        .bind(session.method.as_str())
        .bind(&session.label)
        .bind(micros(session.created_at))
        .bind(micros(session.last_seen_at))
        .bind(micros(session.expires_at))
        .bind(session.step_up.map(|(at, _)| micros(at)))
        .bind(session.step_up.map(|(_, m)| m.as_str()))
        .execute($tx)
        .await)?;
    }};
}

pub(super) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(super) fn time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

fn db<T>(result: std::result::Result<T, sqlx::Error>) -> Result<T> {
    result.map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::conflict("already exists"),
        _ => Error::backend(e),
    })
}

fn json<T: serde::de::DeserializeOwned>(text: &str, what: &'static str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::invalid(what, e.to_string()))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::invalid("stored value", e.to_string()))
}

fn status_str(status: PersonStatus) -> &'static str {
    match status {
        PersonStatus::Active => "active",
        PersonStatus::Suspended => "suspended",
        PersonStatus::Departed => "departed",
    }
}

fn parse_status(text: &str) -> PersonStatus {
    match text {
        "suspended" => PersonStatus::Suspended,
        "departed" => PersonStatus::Departed,
        _ => PersonStatus::Active,
    }
}

/// The identity store on SQLite or PostgreSQL.
///
/// ```no_run
/// use guss_identity::store::{SqlStore, TenantRegistry};
///
/// # async fn run() -> guss_identity::Result<()> {
/// // Embedded default: a directory with one SQLite file per tenant.
/// let store = SqlStore::open("./guss-data/identity").await?;
/// // Scale-out: PostgreSQL.
/// let store = SqlStore::open("postgres://guss@db.internal/guss").await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SqlStore {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) enum Inner {
    #[cfg(feature = "sqlite")]
    Sqlite {
        dir: std::path::PathBuf,
        registry: sqlx::SqlitePool,
        tenants: Mutex<HashMap<TenantId, sqlx::SqlitePool>>,
    },
    #[cfg(feature = "postgres")]
    Postgres {
        pool: sqlx::PgPool,
        queues: guss_sql::Queues,
    },
}

impl SqlStore {
    /// Opens (creating if needed) the store at `location`: a `postgres://` or
    /// `postgresql://` URL, or a directory for SQLite.
    pub async fn open(location: &str) -> Result<Self> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return super::postgres::open(location).await;
            #[cfg(not(feature = "postgres"))]
            return Err(Error::invalid(
                "store",
                "this build has no PostgreSQL support (feature `postgres`)",
            ));
        }
        #[cfg(feature = "sqlite")]
        return super::sqlite::open(std::path::Path::new(location)).await;
        #[cfg(not(feature = "sqlite"))]
        Err(Error::invalid(
            "store",
            "this build has no SQLite support (feature `sqlite`)",
        ))
    }

    /// The registry, for what concerns `tenant`.
    fn registry(&self, tenant: TenantId) -> Registry {
        let pool = match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite { registry, .. } => Pool::Sqlite(registry.clone()),
            #[cfg(feature = "postgres")]
            Inner::Postgres { pool, queues } => Pool::Postgres(pool.clone(), queues.of(tenant)),
        };
        Registry { pool, tenant }
    }
}

/// Registry queries run outside any tenant.
struct Registry {
    pool: Pool,
    /// Declared to row-level security on PostgreSQL (the registry tables have none).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    tenant: TenantId,
}

#[async_trait]
impl TenantRegistry for SqlStore {
    type Scoped = SqlTenantStore;

    async fn create_tenant(&self, tenant: &Tenant) -> Result<()> {
        let origins = to_json(&tenant.relying_party.origins)?;
        let registry = self.registry(tenant.id);
        write_tx!(registry, |tx| {
            db(sqlx::query(
                "INSERT INTO identity_tenants (id, name, rp_id, rp_origins, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tenant.id.as_uuid())
            .bind(&tenant.name)
            .bind(&tenant.relying_party.id)
            .bind(&origins)
            .bind(micros(tenant.created_at))
            .execute(&mut *tx)
            .await)?;
        });
        // Create the tenant's database now, so that a broken disk shows at once.
        self.scoped(tenant.id).await.map(drop)
    }

    async fn tenant(&self, id: TenantId) -> Result<Option<Tenant>> {
        Ok(self.tenants().await?.into_iter().find(|t| t.id == id))
    }

    async fn tenants(&self) -> Result<Vec<Tenant>> {
        let registry = self.registry(TenantId::from_uuid(Uuid::nil()));
        let rows: Vec<(Uuid, String, String, String, i64)> = read_tx!(registry, |tx| {
            db(sqlx::query_as("SELECT id, name, rp_id, rp_origins, created_at FROM identity_tenants ORDER BY created_at")
                .fetch_all(&mut *tx)
                .await)?
        });
        rows.into_iter()
            .map(|(id, name, rp_id, origins, created_at)| {
                Ok(Tenant {
                    id: TenantId::from_uuid(id),
                    name,
                    relying_party: RelyingParty {
                        id: rp_id,
                        origins: json(&origins, "relying party origins")?,
                    },
                    created_at: time(created_at),
                })
            })
            .collect()
    }

    async fn set_relying_party(
        &self,
        tenant: TenantId,
        relying_party: &RelyingParty,
    ) -> Result<()> {
        let origins = to_json(&relying_party.origins)?;
        let registry = self.registry(tenant);
        let changed = write_tx!(registry, |tx| {
            db(sqlx::query(
                "UPDATE identity_tenants SET rp_id = $2, rp_origins = $3 WHERE id = $1",
            )
            .bind(tenant.as_uuid())
            .bind(&relying_party.id)
            .bind(&origins)
            .execute(&mut *tx)
            .await)?
            .rows_affected()
        });
        if changed == 0 {
            return Err(Error::not_found("organisation"));
        }
        Ok(())
    }

    async fn add_domain(&self, tenant: TenantId, domain: &str) -> Result<()> {
        let registry = self.registry(tenant);
        write_tx!(registry, |tx| {
            db(
                sqlx::query("INSERT INTO identity_domains (domain, tenant_id) VALUES ($1, $2)")
                    .bind(domain.to_ascii_lowercase())
                    .bind(tenant.as_uuid())
                    .execute(&mut *tx)
                    .await,
            )?;
        });
        Ok(())
    }

    async fn tenant_for_domain(&self, domain: &str) -> Result<Option<TenantId>> {
        let registry = self.registry(TenantId::from_uuid(Uuid::nil()));
        let row: Option<(Uuid,)> = read_tx!(registry, |tx| {
            db(
                sqlx::query_as("SELECT tenant_id FROM identity_domains WHERE domain = $1")
                    .bind(domain.to_ascii_lowercase())
                    .fetch_optional(&mut *tx)
                    .await,
            )?
        });
        Ok(row.map(|(id,)| TenantId::from_uuid(id)))
    }

    async fn scoped(&self, tenant: TenantId) -> Result<SqlTenantStore> {
        let pool = match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite { dir, tenants, .. } => {
                let existing = tenants
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&tenant)
                    .cloned();
                let pool = match existing {
                    Some(pool) => pool,
                    None => {
                        let pool = super::sqlite::open_tenant(dir, tenant).await?;
                        tenants
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .entry(tenant)
                            .or_insert(pool)
                            .clone()
                    }
                };
                Pool::Sqlite(pool)
            }
            #[cfg(feature = "postgres")]
            Inner::Postgres { pool, queues } => Pool::Postgres(pool.clone(), queues.of(tenant)),
        };
        Ok(SqlTenantStore { tenant, pool })
    }
}

/// One tenant's identity data in SQL; see [`IdentityStore`].
#[derive(Clone, Debug)]
pub struct SqlTenantStore {
    tenant: TenantId,
    pool: Pool,
}

type PasskeyRow = (Uuid, Uuid, Vec<u8>, String, String, i64, Option<i64>);
const PASSKEY_COLUMNS: &str =
    "id, person_id, credential_id, label, passkey, created_at, last_used_at";

fn passkey_from_row(row: PasskeyRow) -> Result<StoredPasskey> {
    let (id, person, _credential_id, label, passkey, created_at, last_used_at) = row;
    let passkey = json(&passkey, "stored passkey")?;
    Ok(StoredPasskey::new(
        id,
        PersonId::from_uuid(person),
        label,
        time(created_at),
        last_used_at.map(time),
        passkey,
    ))
}

type SessionRow = (
    Uuid,
    Uuid,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<i64>,
);
const SESSION_COLUMNS: &str = "id, person_id, method, label, created_at, last_seen_at, expires_at, step_up_at, step_up_method, revoked_at";

fn session_from_row(row: SessionRow) -> Result<StoredSession> {
    let (
        id,
        person,
        method,
        label,
        created_at,
        last_seen_at,
        expires_at,
        step_up_at,
        step_up_method,
        revoked_at,
    ) = row;
    let step_up = match (step_up_at, step_up_method) {
        (Some(at), Some(method)) => Some((time(at), AuthMethod::parse(&method)?)),
        _ => None,
    };
    Ok(StoredSession {
        info: SessionInfo {
            id,
            person: PersonId::from_uuid(person),
            method: AuthMethod::parse(&method)?,
            label,
            created_at: time(created_at),
            last_seen_at: time(last_seen_at),
            expires_at: time(expires_at),
            step_up,
        },
        revoked: revoked_at.is_some(),
    })
}

type AppPasswordRow = (Uuid, Uuid, String, String, String, String, i64, Option<i64>);
const APP_PASSWORD_COLUMNS: &str =
    "id, person_id, label, scopes, lookup, hash, created_at, last_used_at";

fn app_password_from_row(row: AppPasswordRow) -> Result<StoredAppPassword> {
    let (id, person, label, scopes, lookup, hash, created_at, last_used_at) = row;
    let scopes: Vec<Scope> = json(&scopes, "app password scopes")?;
    Ok(StoredAppPassword {
        info: AppPasswordInfo {
            id,
            person: PersonId::from_uuid(person),
            label,
            scopes,
            created_at: time(created_at),
            last_used_at: last_used_at.map(time),
        },
        lookup,
        hash,
    })
}

type EnrollmentRow = (
    Uuid,
    String,
    Uuid,
    String,
    Option<Uuid>,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
);
const ENROLLMENT_COLUMNS: &str = "id, kind, person_id, email, created_by, created_at, not_before, expires_at, used_at, revoked_at";

fn enrollment_from_row(row: EnrollmentRow) -> Result<Enrollment> {
    let (
        id,
        kind,
        person,
        email,
        created_by,
        created_at,
        not_before,
        expires_at,
        used_at,
        revoked_at,
    ) = row;
    Ok(Enrollment {
        id,
        kind: EnrollmentKind::parse(&kind)?,
        person: PersonId::from_uuid(person),
        email: email.parse()?,
        created_by: created_by.map(PersonId::from_uuid),
        created_at: time(created_at),
        not_before: time(not_before),
        expires_at: time(expires_at),
        used_at: used_at.map(time),
        revoked_at: revoked_at.map(time),
    })
}

type BreakGlassRow = (Uuid, String, String, i64, i64, Option<i64>, Option<i64>);
const BREAK_GLASS_COLUMNS: &str =
    "id, email, display_name, started_at, not_before, vetoed_at, completed_at";

fn break_glass_from_row(row: BreakGlassRow) -> Result<BreakGlassInfo> {
    let (id, email, display_name, started_at, not_before, vetoed_at, completed_at) = row;
    Ok(BreakGlassInfo {
        id,
        email: email.parse()?,
        display_name,
        started_at: time(started_at),
        not_before: time(not_before),
        vetoed_at: vetoed_at.map(time),
        completed_at: completed_at.map(time),
    })
}

impl SqlTenantStore {
    fn t(&self) -> Uuid {
        *self.tenant.as_uuid()
    }

    /// Loads everyone, or one person, with addresses and roles.
    async fn load_people(&self, only: Option<PersonId>) -> Result<Vec<Person>> {
        let filter = if only.is_some() {
            "AND person_id = $2"
        } else {
            ""
        };
        let people_sql = format!(
            "SELECT id, display_name, status, created_at FROM identity_persons WHERE tenant_id = $1 {}
             ORDER BY created_at, id",
            filter.replace("person_id", "id")
        );
        let emails_sql = format!(
            "SELECT person_id, address FROM identity_emails WHERE tenant_id = $1 AND person_id IS NOT NULL {filter}
             ORDER BY position"
        );
        let roles_sql = format!(
            "SELECT person_id, role FROM identity_roles WHERE tenant_id = $1 {filter} ORDER BY role"
        );
        let only = only.map(Uuid::from);
        type Rows = (
            Vec<(Uuid, String, String, i64)>,
            Vec<(Uuid, String)>,
            Vec<(Uuid, String)>,
        );
        let (people, emails, roles): Rows = read_tx!(self, |tx| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(people_sql.clone())).bind(self.t());
            if let Some(id) = only {
                query = query.bind(id);
            }
            let people = db(query.fetch_all(&mut *tx).await)?;
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(emails_sql.clone())).bind(self.t());
            if let Some(id) = only {
                query = query.bind(id);
            }
            let emails = db(query.fetch_all(&mut *tx).await)?;
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(roles_sql.clone())).bind(self.t());
            if let Some(id) = only {
                query = query.bind(id);
            }
            let roles = db(query.fetch_all(&mut *tx).await)?;
            (people, emails, roles)
        });
        people
            .into_iter()
            .map(|(id, display_name, status, created_at)| {
                Ok(Person {
                    id: PersonId::from_uuid(id),
                    display_name,
                    emails: emails
                        .iter()
                        .filter(|(p, _)| *p == id)
                        .map(|(_, a)| a.parse())
                        .collect::<guss_core::Result<_>>()?,
                    status: parse_status(&status),
                    roles: roles
                        .iter()
                        .filter(|(p, _)| *p == id)
                        .map(|(_, r)| Role::new(r))
                        .collect::<Result<_>>()?,
                    created_at: time(created_at),
                })
            })
            .collect()
    }
}

#[async_trait]
impl IdentityStore for SqlTenantStore {
    fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    async fn insert_person(&self, person: &Person) -> Result<()> {
        write_tx!(self, |tx| {
            db(sqlx::query(
                "INSERT INTO identity_persons (tenant_id, id, display_name, status, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(self.t())
            .bind(person.id.as_uuid())
            .bind(&person.display_name)
            .bind(status_str(person.status))
            .bind(micros(person.created_at))
            .execute(&mut *tx)
            .await)?;
            for (position, address) in person.emails.iter().enumerate() {
                db(sqlx::query(
                    "INSERT INTO identity_emails (tenant_id, address, person_id, position) VALUES ($1, $2, $3, $4)",
                )
                .bind(self.t())
                .bind(address.as_str())
                .bind(person.id.as_uuid())
                .bind(i32::try_from(position).unwrap_or(i32::MAX))
                .execute(&mut *tx)
                .await)
                .map_err(|e| match e {
                    Error::Conflict { .. } => Error::conflict("e-mail address already in use"),
                    other => other,
                })?;
            }
            for role in &person.roles {
                db(sqlx::query(
                    "INSERT INTO identity_roles (tenant_id, person_id, role, granted_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(self.t())
                .bind(person.id.as_uuid())
                .bind(role.as_str())
                .bind(micros(person.created_at))
                .execute(&mut *tx)
                .await)?;
            }
        });
        Ok(())
    }

    async fn person(&self, id: PersonId) -> Result<Option<Person>> {
        Ok(self.load_people(Some(id)).await?.pop())
    }

    async fn person_by_email(&self, address: &EmailAddress) -> Result<Option<Person>> {
        let row: Option<(Uuid,)> = read_tx!(self, |tx| {
            db(sqlx::query_as("SELECT person_id FROM identity_emails WHERE tenant_id = $1 AND address = $2 AND person_id IS NOT NULL")
                .bind(self.t())
                .bind(address.as_str())
                .fetch_optional(&mut *tx)
                .await)?
        });
        match row {
            Some((id,)) => self.person(PersonId::from_uuid(id)).await,
            None => Ok(None),
        }
    }

    async fn people(&self) -> Result<Vec<Person>> {
        self.load_people(None).await
    }

    async fn set_status(&self, id: PersonId, status: PersonStatus) -> Result<()> {
        let changed = write_tx!(self, |tx| {
            db(sqlx::query(
                "UPDATE identity_persons SET status = $3 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(self.t())
            .bind(id.as_uuid())
            .bind(status_str(status))
            .execute(&mut *tx)
            .await)?
            .rows_affected()
        });
        if changed == 0 {
            return Err(Error::not_found("person"));
        }
        Ok(())
    }

    async fn grant_role(&self, id: PersonId, role: &Role, at: DateTime<Utc>) -> Result<()> {
        write_tx!(self, |tx| {
            let exists: Option<(i64,)> = db(sqlx::query_as(
                "SELECT created_at FROM identity_persons WHERE tenant_id = $1 AND id = $2",
            )
            .bind(self.t())
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await)?;
            if exists.is_none() {
                return Err(Error::not_found("person"));
            }
            db(sqlx::query(
                "INSERT INTO identity_roles (tenant_id, person_id, role, granted_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(self.t())
            .bind(id.as_uuid())
            .bind(role.as_str())
            .bind(micros(at))
            .execute(&mut *tx)
            .await)?;
        });
        Ok(())
    }

    async fn revoke_role(&self, id: PersonId, role: &Role) -> Result<()> {
        write_tx!(self, |tx| {
            db(sqlx::query(
                "DELETE FROM identity_roles WHERE tenant_id = $1 AND person_id = $2 AND role = $3",
            )
            .bind(self.t())
            .bind(id.as_uuid())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await)?;
            let owners: (i64,) = db(sqlx::query_as(
                "SELECT COUNT(*) FROM identity_roles r JOIN identity_persons p ON p.tenant_id = r.tenant_id AND p.id = r.person_id
                 WHERE r.tenant_id = $1 AND r.role = 'owner' AND p.status = 'active'",
            )
            .bind(self.t())
            .fetch_one(&mut *tx)
            .await)?;
            if owners.0 == 0 {
                return Err(Error::conflict(
                    "the organisation would have no active owner",
                ));
            }
        });
        Ok(())
    }

    async fn insert_group(&self, group: &GroupEntry) -> Result<()> {
        write_tx!(self, |tx| {
            db(sqlx::query(
                "INSERT INTO identity_groups (tenant_id, id, display_name) VALUES ($1, $2, $3)",
            )
            .bind(self.t())
            .bind(group.id.as_uuid())
            .bind(&group.display_name)
            .execute(&mut *tx)
            .await)?;
            if let Some(address) = &group.email {
                db(sqlx::query("INSERT INTO identity_emails (tenant_id, address, group_id, position) VALUES ($1, $2, $3, 0)")
                    .bind(self.t())
                    .bind(address.as_str())
                    .bind(group.id.as_uuid())
                    .execute(&mut *tx)
                    .await)?;
            }
        });
        Ok(())
    }

    async fn group(&self, id: GroupId) -> Result<Option<GroupEntry>> {
        let row: Option<(String, Option<String>)> = read_tx!(self, |tx| {
            db(sqlx::query_as(
                "SELECT g.display_name, e.address FROM identity_groups g
                 LEFT JOIN identity_emails e ON e.tenant_id = g.tenant_id AND e.group_id = g.id
                 WHERE g.tenant_id = $1 AND g.id = $2",
            )
            .bind(self.t())
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await)?
        });
        row.map(|(name, email)| {
            let group = GroupEntry::new(self.tenant, id, name);
            Ok(match email {
                Some(address) => group.with_email(address.parse()?),
                None => group,
            })
        })
        .transpose()
    }

    async fn group_by_email(&self, address: &EmailAddress) -> Result<Option<GroupEntry>> {
        let row: Option<(Uuid,)> = read_tx!(self, |tx| {
            db(sqlx::query_as("SELECT group_id FROM identity_emails WHERE tenant_id = $1 AND address = $2 AND group_id IS NOT NULL")
                .bind(self.t())
                .bind(address.as_str())
                .fetch_optional(&mut *tx)
                .await)?
        });
        match row {
            Some((id,)) => self.group(GroupId::from_uuid(id)).await,
            None => Ok(None),
        }
    }

    async fn add_member(&self, group: GroupId, person: PersonId) -> Result<()> {
        write_tx!(self, |tx| {
            db(sqlx::query(
                "INSERT INTO identity_members (tenant_id, group_id, person_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(self.t())
            .bind(group.as_uuid())
            .bind(person.as_uuid())
            .execute(&mut *tx)
            .await)?;
        });
        Ok(())
    }

    async fn groups_of(&self, person: PersonId) -> Result<Vec<GroupId>> {
        let rows: Vec<(Uuid,)> = read_tx!(self, |tx| {
            db(sqlx::query_as(
                "SELECT group_id FROM identity_members WHERE tenant_id = $1 AND person_id = $2",
            )
            .bind(self.t())
            .bind(person.as_uuid())
            .fetch_all(&mut *tx)
            .await)?
        });
        Ok(rows
            .into_iter()
            .map(|(id,)| GroupId::from_uuid(id))
            .collect())
    }

    async fn members_of(&self, group: GroupId) -> Result<Vec<PersonId>> {
        let rows: Vec<(Uuid,)> = read_tx!(self, |tx| {
            db(sqlx::query_as(
                "SELECT person_id FROM identity_members WHERE tenant_id = $1 AND group_id = $2",
            )
            .bind(self.t())
            .bind(group.as_uuid())
            .fetch_all(&mut *tx)
            .await)?
        });
        Ok(rows
            .into_iter()
            .map(|(id,)| PersonId::from_uuid(id))
            .collect())
    }

    async fn insert_passkey(&self, passkey: &StoredPasskey) -> Result<()> {
        let data = to_json(&passkey.passkey)?;
        write_tx!(self, |tx| {
            insert_passkey!(&mut *tx, self.t(), passkey, &data);
        });
        Ok(())
    }

    async fn passkeys_of(&self, person: PersonId) -> Result<Vec<StoredPasskey>> {
        let sql = format!(
            "SELECT {PASSKEY_COLUMNS} FROM identity_passkeys WHERE tenant_id = $1 AND person_id = $2 ORDER BY created_at"
        );
        let rows: Vec<PasskeyRow> = read_tx!(self, |tx| {
            db(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.t())
                .bind(person.as_uuid())
                .fetch_all(&mut *tx)
                .await)?
        });
        rows.into_iter().map(passkey_from_row).collect()
    }

    async fn passkey_by_credential(&self, credential_id: &[u8]) -> Result<Option<StoredPasskey>> {
        let sql = format!(
            "SELECT {PASSKEY_COLUMNS} FROM identity_passkeys WHERE tenant_id = $1 AND credential_id = $2"
        );
        let row: Option<PasskeyRow> = read_tx!(self, |tx| {
            db(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.t())
                .bind(credential_id)
                .fetch_optional(&mut *tx)
                .await)?
        });
        row.map(passkey_from_row).transpose()
    }

    async fn update_passkey(&self, passkey: &StoredPasskey) -> Result<()> {
        let data = to_json(&passkey.passkey)?;
        write_tx!(self, |tx| {
            db(sqlx::query("UPDATE identity_passkeys SET passkey = $3, last_used_at = $4 WHERE tenant_id = $1 AND id = $2")
                .bind(self.t())
                .bind(passkey.info.id)
                .bind(&data)
                .bind(passkey.info.last_used_at.map(micros))
                .execute(&mut *tx)
                .await)?;
        });
        Ok(())
    }

    async fn delete_passkey(&self, person: PersonId, id: Uuid) -> Result<()> {
        write_tx!(self, |tx| {
            let count: (i64,) = db(sqlx::query_as(
                "SELECT COUNT(*) FROM identity_passkeys WHERE tenant_id = $1 AND person_id = $2",
            )
            .bind(self.t())
            .bind(person.as_uuid())
            .fetch_one(&mut *tx)
            .await)?;
            let deleted = db(sqlx::query(
                "DELETE FROM identity_passkeys WHERE tenant_id = $1 AND person_id = $2 AND id = $3",
            )
            .bind(self.t())
            .bind(person.as_uuid())
            .bind(id)
            .execute(&mut *tx)
            .await)?
            .rows_affected();
            if deleted == 0 {
                return Err(Error::not_found("passkey"));
            }
            if count.0 <= 1 {
                return Err(Error::conflict("the last passkey cannot be removed"));
            }
        });
        Ok(())
    }

    async fn insert_ceremony(
        &self,
        id_hash: &[u8],
        ceremony: &Ceremony,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let data = to_json(ceremony)?;
        write_tx!(self, |tx| {
            db(sqlx::query("INSERT INTO identity_ceremonies (tenant_id, id_hash, ceremony, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(self.t())
                .bind(id_hash)
                .bind(&data)
                .bind(micros(expires_at))
                .execute(&mut *tx)
                .await)?;
        });
        Ok(())
    }

    async fn take_ceremony(&self, id_hash: &[u8], now: DateTime<Utc>) -> Result<Option<Ceremony>> {
        let row: Option<(String, i64)> = write_tx!(self, |tx| {
            // Expired states are swept on the way, so the table stays small.
            db(sqlx::query(
                "DELETE FROM identity_ceremonies WHERE tenant_id = $1 AND expires_at <= $2",
            )
            .bind(self.t())
            .bind(micros(now))
            .execute(&mut *tx)
            .await)?;
            db(sqlx::query_as(
                "DELETE FROM identity_ceremonies WHERE tenant_id = $1 AND id_hash = $2 RETURNING ceremony, expires_at",
            )
            .bind(self.t())
            .bind(id_hash)
            .fetch_optional(&mut *tx)
            .await)?
        });
        row.map(|(data, _)| json(&data, "ceremony state"))
            .transpose()
    }

    async fn peek_ceremony(&self, id_hash: &[u8], now: DateTime<Utc>) -> Result<Option<Ceremony>> {
        let row: Option<(String,)> = read_tx!(self, |tx| {
            db(sqlx::query_as(
                "SELECT ceremony FROM identity_ceremonies WHERE tenant_id = $1 AND id_hash = $2 AND expires_at > $3",
            )
            .bind(self.t())
            .bind(id_hash)
            .bind(micros(now))
            .fetch_optional(&mut *tx)
            .await)?
        });
        row.map(|(data,)| json(&data, "ceremony state")).transpose()
    }

    async fn finish_sign_in(
        &self,
        ceremony_hash: &[u8],
        passkey: &StoredPasskey,
        token_hash: &[u8],
        session: &SessionInfo,
    ) -> Result<String> {
        let data = to_json(&passkey.passkey)?;
        let name = write_tx!(self, |tx| {
            let used = db(sqlx::query("DELETE FROM identity_ceremonies WHERE tenant_id = $1 AND id_hash = $2 AND expires_at > $3")
                .bind(self.t())
                .bind(ceremony_hash)
                .bind(micros(session.created_at))
                .execute(&mut *tx)
                .await)?
            .rows_affected();
            if used == 0 {
                return Err(Error::not_found("ceremony (expired or already finished)"));
            }
            // Checked inside the transaction: a suspension cannot slip in between.
            let person: Option<(String,)> = db(sqlx::query_as(
                "SELECT display_name FROM identity_persons WHERE tenant_id = $1 AND id = $2 AND status = 'active'",
            )
            .bind(self.t())
            .bind(session.person.as_uuid())
            .fetch_optional(&mut *tx)
            .await)?;
            let Some((name,)) = person else {
                return Err(Error::Unauthenticated);
            };
            db(sqlx::query("UPDATE identity_passkeys SET passkey = $3, last_used_at = $4 WHERE tenant_id = $1 AND id = $2")
                .bind(self.t())
                .bind(passkey.info.id)
                .bind(&data)
                .bind(passkey.info.last_used_at.map(micros))
                .execute(&mut *tx)
                .await)?;
            insert_session!(&mut *tx, self.t(), token_hash, session);
            name
        });
        Ok(name)
    }

    async fn insert_session(&self, token_hash: &[u8], session: &SessionInfo) -> Result<()> {
        write_tx!(self, |tx| {
            insert_session!(&mut *tx, self.t(), token_hash, session);
        });
        Ok(())
    }

    async fn session_by_token(&self, token_hash: &[u8]) -> Result<Option<StoredSession>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM identity_sessions WHERE tenant_id = $1 AND token_hash = $2"
        );
        let row: Option<SessionRow> = read_tx!(self, |tx| {
            db(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.t())
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await)?
        });
        row.map(session_from_row).transpose()
    }

    async fn touch_session(&self, id: Uuid, at: DateTime<Utc>) -> Result<()> {
        write_tx!(self, |tx| {
            db(sqlx::query(
                "UPDATE identity_sessions SET last_seen_at = $3 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(self.t())
            .bind(id)
            .bind(micros(at))
            .execute(&mut *tx)
            .await)?;
        });
        Ok(())
    }

    async fn set_step_up(&self, id: Uuid, at: DateTime<Utc>, method: AuthMethod) -> Result<()> {
        write_tx!(self, |tx| {
            db(sqlx::query(
                "UPDATE identity_sessions SET step_up_at = $3, step_up_method = $4, last_seen_at = $3
                 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
            )
            .bind(self.t())
            .bind(id)
            .bind(micros(at))
            .bind(method.as_str())
            .execute(&mut *tx)
            .await)?;
        });
        Ok(())
    }

    async fn sessions_of(&self, person: PersonId) -> Result<Vec<SessionInfo>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM identity_sessions WHERE tenant_id = $1 AND person_id = $2 AND revoked_at IS NULL ORDER BY created_at"
        );
        let rows: Vec<SessionRow> = read_tx!(self, |tx| {
            db(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.t())
                .bind(person.as_uuid())
                .fetch_all(&mut *tx)
                .await)?
        });
        rows.into_iter()
            .map(|row| session_from_row(row).map(|s| s.info))
            .collect()
    }

    async fn revoke_session(&self, person: PersonId, id: Uuid, at: DateTime<Utc>) -> Result<bool> {
        let changed = write_tx!(self, |tx| {
            db(sqlx::query(
                "UPDATE identity_sessions SET revoked_at = $4 WHERE tenant_id = $1 AND person_id = $2 AND id = $3 AND revoked_at IS NULL",
            )
            .bind(self.t())
            .bind(person.as_uuid())
            .bind(id)
            .bind(micros(at))
            .execute(&mut *tx)
            .await)?
            .rows_affected()
        });
        Ok(changed > 0)
    }

    async fn insert_app_password(&self, password: &StoredAppPassword) -> Result<()> {
        let scopes = to_json(&password.info.scopes)?;
        write_tx!(self, |tx| {
            db(sqlx::query(
                "INSERT INTO identity_app_passwords (tenant_id, id, person_id, label, scopes, lookup, hash, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(self.t())
            .bind(password.info.id)
            .bind(password.info.person.as_uuid())
            .bind(&password.info.label)
            .bind(&scopes)
            .bind(&password.lookup)
            .bind(&password.hash)
            .bind(micros(password.info.created_at))
            .execute(&mut *tx)
            .await)?;
        });
        Ok(())
    }

    async fn app_passwords_by_lookup(
        &self,
        person: PersonId,
        lookup: &str,
    ) -> Result<Vec<StoredAppPassword>> {
        let sql = format!(
            "SELECT {APP_PASSWORD_COLUMNS} FROM identity_app_passwords
             WHERE tenant_id = $1 AND person_id = $2 AND lookup = $3 AND revoked_at IS NULL"
        );
        let rows: Vec<AppPasswordRow> = read_tx!(self, |tx| {
            db(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.t())
                .bind(person.as_uuid())
                .bind(lookup)
                .fetch_all(&mut *tx)
                .await)?
        });
        rows.into_iter().map(app_password_from_row).collect()
    }

    async fn app_passwords_of(&self, person: PersonId) -> Result<Vec<AppPasswordInfo>> {
        let sql = format!(
            "SELECT {APP_PASSWORD_COLUMNS} FROM identity_app_passwords
             WHERE tenant_id = $1 AND person_id = $2 AND revoked_at IS NULL ORDER BY created_at"
        );
        let rows: Vec<AppPasswordRow> = read_tx!(self, |tx| {
            db(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.t())
                .bind(person.as_uuid())
                .fetch_all(&mut *tx)
                .await)?
        });
        rows.into_iter()
            .map(|row| app_password_from_row(row).map(|p| p.info))
            .collect()
    }

    async fn touch_app_password(&self, id: Uuid, at: DateTime<Utc>) -> Result<()> {
        write_tx!(self, |tx| {
            db(sqlx::query("UPDATE identity_app_passwords SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(self.t())
                .bind(id)
                .bind(micros(at))
                .execute(&mut *tx)
                .await)?;
        });
        Ok(())
    }

    async fn revoke_app_password(
        &self,
        person: PersonId,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let changed = write_tx!(self, |tx| {
            db(sqlx::query(
                "UPDATE identity_app_passwords SET revoked_at = $4
                 WHERE tenant_id = $1 AND person_id = $2 AND id = $3 AND revoked_at IS NULL",
            )
            .bind(self.t())
            .bind(person.as_uuid())
            .bind(id)
            .bind(micros(at))
            .execute(&mut *tx)
            .await)?
            .rows_affected()
        });
        Ok(changed > 0)
    }

    async fn lock_out(
        &self,
        person: PersonId,
        status: PersonStatus,
        at: DateTime<Utc>,
    ) -> Result<()> {
        write_tx!(self, |tx| {
            let changed = db(sqlx::query(
                "UPDATE identity_persons SET status = $3 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(self.t())
            .bind(person.as_uuid())
            .bind(status_str(status))
            .execute(&mut *tx)
            .await)?
            .rows_affected();
            if changed == 0 {
                return Err(Error::not_found("person"));
            }
            for table in [
                "identity_sessions",
                "identity_app_passwords",
                "identity_enrollments",
            ] {
                let extra = if table == "identity_enrollments" {
                    " AND used_at IS NULL"
                } else {
                    ""
                };
                let sql = format!(
                    "UPDATE {table} SET revoked_at = $3 WHERE tenant_id = $1 AND person_id = $2 AND revoked_at IS NULL{extra}"
                );
                db(sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(self.t())
                    .bind(person.as_uuid())
                    .bind(micros(at))
                    .execute(&mut *tx)
                    .await)?;
            }
        });
        Ok(())
    }

    async fn insert_enrollment(&self, token_hash: &[u8], enrollment: &Enrollment) -> Result<()> {
        write_tx!(self, |tx| {
            db(sqlx::query(
                "INSERT INTO identity_enrollments
                 (tenant_id, id, token_hash, kind, person_id, email, created_by, created_at, not_before, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(self.t())
            .bind(enrollment.id)
            .bind(token_hash)
            .bind(enrollment.kind.as_str())
            .bind(enrollment.person.as_uuid())
            .bind(enrollment.email.as_str())
            .bind(enrollment.created_by.map(Uuid::from))
            .bind(micros(enrollment.created_at))
            .bind(micros(enrollment.not_before))
            .bind(micros(enrollment.expires_at))
            .execute(&mut *tx)
            .await)?;
        });
        Ok(())
    }

    async fn enrollment_by_token(&self, token_hash: &[u8]) -> Result<Option<Enrollment>> {
        let sql = format!(
            "SELECT {ENROLLMENT_COLUMNS} FROM identity_enrollments WHERE tenant_id = $1 AND token_hash = $2"
        );
        let row: Option<EnrollmentRow> = read_tx!(self, |tx| {
            db(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.t())
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await)?
        });
        row.map(enrollment_from_row).transpose()
    }

    async fn open_enrollments(
        &self,
        kind: EnrollmentKind,
        now: DateTime<Utc>,
    ) -> Result<Vec<Enrollment>> {
        let sql = format!(
            "SELECT {ENROLLMENT_COLUMNS} FROM identity_enrollments
             WHERE tenant_id = $1 AND kind = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3
             ORDER BY created_at"
        );
        let rows: Vec<EnrollmentRow> = read_tx!(self, |tx| {
            db(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.t())
                .bind(kind.as_str())
                .bind(micros(now))
                .fetch_all(&mut *tx)
                .await)?
        });
        rows.into_iter().map(enrollment_from_row).collect()
    }

    async fn revoke_enrollment(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool> {
        let changed = write_tx!(self, |tx| {
            db(sqlx::query(
                "UPDATE identity_enrollments SET revoked_at = $3
                 WHERE tenant_id = $1 AND id = $2 AND used_at IS NULL AND revoked_at IS NULL",
            )
            .bind(self.t())
            .bind(id)
            .bind(micros(at))
            .execute(&mut *tx)
            .await)?
            .rows_affected()
        });
        Ok(changed > 0)
    }

    async fn enroll(
        &self,
        enrollment: Uuid,
        passkey: &StoredPasskey,
        role: Option<&Role>,
        token_hash: &[u8],
        session: &SessionInfo,
    ) -> Result<()> {
        let data = to_json(&passkey.passkey)?;
        let now = micros(session.created_at);
        write_tx!(self, |tx| {
            let consumed = db(sqlx::query(
                "UPDATE identity_enrollments SET used_at = $3
                 WHERE tenant_id = $1 AND id = $2 AND person_id = $4 AND used_at IS NULL AND revoked_at IS NULL
                   AND not_before <= $3 AND expires_at > $3",
            )
            .bind(self.t())
            .bind(enrollment)
            .bind(now)
            .bind(passkey.info.person.as_uuid())
            .execute(&mut *tx)
            .await)?
            .rows_affected();
            if consumed == 0 {
                return Err(Error::not_found(
                    "enrollment link (used, revoked or expired)",
                ));
            }
            insert_passkey!(&mut *tx, self.t(), passkey, &data);
            if let Some(role) = role {
                db(sqlx::query(
                    "INSERT INTO identity_roles (tenant_id, person_id, role, granted_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(self.t())
                .bind(passkey.info.person.as_uuid())
                .bind(role.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await)?;
            }
            insert_session!(&mut *tx, self.t(), token_hash, session);
        });
        Ok(())
    }

    async fn set_quorum(&self, quorum: &Quorum) -> Result<()> {
        let trustees = to_json(&quorum.trustees)?;
        write_tx!(self, |tx| {
            db(
                sqlx::query("DELETE FROM identity_quorum WHERE tenant_id = $1")
                    .bind(self.t())
                    .execute(&mut *tx)
                    .await,
            )?;
            db(sqlx::query(
                "INSERT INTO identity_quorum (tenant_id, threshold, trustees, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(self.t())
            .bind(i32::from(quorum.threshold))
            .bind(&trustees)
            .bind(&quorum.secret_hash)
            .bind(micros(quorum.created_at))
            .execute(&mut *tx)
            .await)?;
        });
        Ok(())
    }

    async fn quorum(&self) -> Result<Option<Quorum>> {
        let row: Option<(i32, String, Vec<u8>, i64, Option<i64>)> = read_tx!(self, |tx| {
            db(sqlx::query_as(
                "SELECT threshold, trustees, secret_hash, created_at, used_at FROM identity_quorum WHERE tenant_id = $1",
            )
            .bind(self.t())
            .fetch_optional(&mut *tx)
            .await)?
        });
        row.map(|(threshold, trustees, secret_hash, created_at, used_at)| {
            Ok(Quorum {
                threshold: u8::try_from(threshold)
                    .map_err(|_| Error::invalid("stored threshold", "out of range"))?,
                trustees: json(&trustees, "trustees")?,
                secret_hash,
                created_at: time(created_at),
                used_at: used_at.map(time),
            })
        })
        .transpose()
    }

    async fn start_break_glass(&self, request: &BreakGlassInfo) -> Result<()> {
        write_tx!(self, |tx| {
            let used = db(sqlx::query(
                "UPDATE identity_quorum SET used_at = $2 WHERE tenant_id = $1 AND used_at IS NULL",
            )
            .bind(self.t())
            .bind(micros(request.started_at))
            .execute(&mut *tx)
            .await)?
            .rows_affected();
            if used == 0 {
                return Err(Error::conflict(
                    "the recovery sheets were used already or never issued",
                ));
            }
            db(sqlx::query(
                "INSERT INTO identity_break_glass (tenant_id, id, email, display_name, started_at, not_before)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(self.t())
            .bind(request.id)
            .bind(request.email.as_str())
            .bind(&request.display_name)
            .bind(micros(request.started_at))
            .bind(micros(request.not_before))
            .execute(&mut *tx)
            .await)?;
        });
        Ok(())
    }

    async fn break_glass(&self, id: Uuid) -> Result<Option<BreakGlassInfo>> {
        let sql = format!(
            "SELECT {BREAK_GLASS_COLUMNS} FROM identity_break_glass WHERE tenant_id = $1 AND id = $2"
        );
        let row: Option<BreakGlassRow> = read_tx!(self, |tx| {
            db(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.t())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await)?
        });
        row.map(break_glass_from_row).transpose()
    }

    async fn veto_break_glass(&self, id: Uuid, by: PersonId, at: DateTime<Utc>) -> Result<bool> {
        let changed = write_tx!(self, |tx| {
            db(sqlx::query(
                "UPDATE identity_break_glass SET vetoed_at = $3, vetoed_by = $4
                 WHERE tenant_id = $1 AND id = $2 AND vetoed_at IS NULL AND completed_at IS NULL",
            )
            .bind(self.t())
            .bind(id)
            .bind(micros(at))
            .bind(by.as_uuid())
            .execute(&mut *tx)
            .await)?
            .rows_affected()
        });
        Ok(changed > 0)
    }

    async fn complete_break_glass(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool> {
        let changed = write_tx!(self, |tx| {
            db(sqlx::query(
                "UPDATE identity_break_glass SET completed_at = $3
                 WHERE tenant_id = $1 AND id = $2 AND vetoed_at IS NULL AND completed_at IS NULL AND not_before <= $3",
            )
            .bind(self.t())
            .bind(id)
            .bind(micros(at))
            .execute(&mut *tx)
            .await)?
            .rows_affected()
        });
        Ok(changed > 0)
    }

    async fn failures_since(&self, keys: &[String], since: DateTime<Utc>) -> Result<u32> {
        if keys.is_empty() {
            return Ok(0);
        }
        // At most a handful of keys: one placeholder each.
        let placeholders: Vec<String> = (0..keys.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT COUNT(*) FROM identity_failures WHERE tenant_id = $1 AND at > $2 AND key IN ({})
             GROUP BY key ORDER BY COUNT(*) DESC LIMIT 1",
            placeholders.join(", ")
        );
        let count: Option<(i64,)> = read_tx!(self, |tx| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.t())
                .bind(micros(since));
            for key in keys {
                query = query.bind(key.as_str());
            }
            db(query.fetch_optional(&mut *tx).await)?
        });
        Ok(count.map_or(0, |(n,)| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    async fn record_failure(
        &self,
        key: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<()> {
        write_tx!(self, |tx| {
            db(sqlx::query(
                "DELETE FROM identity_failures WHERE tenant_id = $1 AND key = $2 AND at <= $3",
            )
            .bind(self.t())
            .bind(key)
            .bind(micros(forget_before))
            .execute(&mut *tx)
            .await)?;
            db(sqlx::query(
                "INSERT INTO identity_failures (tenant_id, key, at) VALUES ($1, $2, $3)",
            )
            .bind(self.t())
            .bind(key)
            .bind(micros(at))
            .execute(&mut *tx)
            .await)?;
        });
        Ok(())
    }
}
