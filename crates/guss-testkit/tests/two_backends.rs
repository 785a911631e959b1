//! The test kit's own proof: the same cases run on SQLite and on a real
//! PostgreSQL started by the kit.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use guss_testkit::{Backend, TestDb, backend_tests};
use sqlx::{Connection as _, Executor as _, PgConnection, SqliteConnection};

/// A connection to either engine, running plain SQL.
enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Conn {
    async fn execute(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        match self {
            Conn::Sqlite(c) => c.execute(sql).await.map(drop),
            Conn::Postgres(c) => c.execute(sql).await.map(drop),
        }
    }

    /// The first column of every row, as text.
    async fn texts(&mut self, sql: &'static str) -> Result<Vec<String>, sqlx::Error> {
        match self {
            Conn::Sqlite(c) => sqlx::query_scalar(sql).fetch_all(c).await,
            Conn::Postgres(c) => sqlx::query_scalar(sql).fetch_all(c).await,
        }
    }
}

async fn connect(db: &TestDb) -> Conn {
    match db.backend() {
        Backend::Sqlite => Conn::Sqlite(SqliteConnection::connect(db.url()).await.unwrap()),
        Backend::Postgres => Conn::Postgres(PgConnection::connect(db.url()).await.unwrap()),
    }
}

backend_tests! {
    async fn is_the_engine_it_claims(db: TestDb) {
        let mut conn = connect(&db).await;
        let query = match db.backend() {
            Backend::Sqlite => "SELECT 'SQLite ' || sqlite_version()",
            Backend::Postgres => "SELECT version()",
        };
        let version = conn.texts(query).await.unwrap().remove(0);
        let expected = match db.backend() {
            Backend::Sqlite => "SQLite ",
            Backend::Postgres => "PostgreSQL ",
        };
        assert!(version.starts_with(expected), "{version}");
    }

    async fn writes_are_read_back_and_rollbacks_undone(db: TestDb) {
        let mut conn = connect(&db).await;
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)").await.unwrap();
        conn.execute("INSERT INTO notes (id, body) VALUES (1, 'kept')").await.unwrap();

        conn.execute("BEGIN").await.unwrap();
        conn.execute("INSERT INTO notes (id, body) VALUES (2, 'rolled back')").await.unwrap();
        conn.execute("ROLLBACK").await.unwrap();

        let error = conn
            .execute("INSERT INTO notes (id, body) VALUES (3, 'kept')")
            .await
            .expect_err("the unique constraint holds");
        assert!(error.as_database_error().is_some_and(|e| e.is_unique_violation()), "{error}");

        assert_eq!(conn.texts("SELECT body FROM notes ORDER BY id").await.unwrap(), ["kept"]);
    }

    async fn every_test_gets_a_database_of_its_own(db: TestDb) {
        let other = TestDb::new(db.backend()).await.expect("a second database on the same backend");
        assert_ne!(db.url(), other.url());
        let mut first = connect(&db).await;
        let mut second = connect(&other).await;
        first.execute("CREATE TABLE only_here (x INTEGER)").await.unwrap();
        let missing = second.execute("SELECT x FROM only_here").await;
        assert!(missing.is_err(), "a table of one test database is visible in another");
    }
}

/// Row-level security only binds roles that are neither superusers nor
/// allowed to bypass it: the kit connects as such a role, like production.
#[test]
fn postgres_tests_connect_without_superuser_rights() {
    guss_testkit::run(Backend::Postgres, |db| async move {
        let mut conn = connect(&db).await;
        let rights = conn
            .texts("SELECT rolsuper::text || ' ' || rolbypassrls::text FROM pg_roles WHERE rolname = current_user")
            .await
            .unwrap();
        assert_eq!(rights, ["false false"]);
    });
}
