#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
// A test kit fails by panicking: that is how a test reports a broken fixture.
#![allow(clippy::panic, clippy::expect_used, clippy::print_stdout)]

pub mod accounts;
mod postgres;

use std::future::Future;

/// A storage engine guss supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: the embedded default.
    Sqlite,
    /// PostgreSQL: the scale-out backend.
    Postgres,
}

/// A fresh, empty database for one test. Dropping it removes the database.
#[derive(Debug)]
pub struct TestDb {
    backend: Backend,
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    /// Removed on drop.
    Directory(tempfile::TempDir),
    /// Dropped (database and role) on drop.
    Postgres(#[allow(dead_code)] postgres::Database),
}

impl TestDb {
    /// A fresh database on `backend`, or `None` if that backend is not
    /// available here and not required (see the crate documentation).
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A fresh SQLite database file in its own temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("guss-testkit-sqlite.")
            .tempdir()
            .expect("create a temporary directory for SQLite");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        TestDb {
            backend: Backend::Sqlite,
            url,
            cleanup: Cleanup::Directory(dir),
        }
    }

    /// A fresh PostgreSQL database with its own login role, or `None` when
    /// PostgreSQL is unavailable and not required.
    ///
    /// # Panics
    ///
    /// When PostgreSQL is required (`CI=true` or `GUSS_REQUIRE_POSTGRES=1`)
    /// but cannot be started or reached.
    pub async fn postgres() -> Option<TestDb> {
        match postgres::server() {
            Ok(server) => {
                let database = postgres::Database::create(server)
                    .await
                    .unwrap_or_else(|e| panic!("create a PostgreSQL test database: {e}"));
                Some(TestDb {
                    backend: Backend::Postgres,
                    url: database.url().to_owned(),
                    cleanup: Cleanup::Postgres(database),
                })
            }
            Err(why) if postgres_required() => {
                panic!(
                    "PostgreSQL is required here (CI=true or GUSS_REQUIRE_POSTGRES=1) but unavailable: {why}"
                )
            }
            Err(why) => {
                eprintln!("guss-testkit: PostgreSQL half of this test skipped: {why}");
                None
            }
        }
    }

    /// Which backend this database is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection URL (`sqlite://…` or `postgres://…`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The directory holding the SQLite database, for tests that add files
    /// beside it (blobs); `None` on PostgreSQL.
    pub fn dir(&self) -> Option<&std::path::Path> {
        match &self.cleanup {
            Cleanup::Directory(dir) => Some(dir.path()),
            Cleanup::Postgres(_) => None,
        }
    }
}

/// Whether a missing PostgreSQL is a failure rather than a skip.
pub fn postgres_required() -> bool {
    set("CI") || set("GUSS_REQUIRE_POSTGRES")
}

fn set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The test S3 server (`GUSS_TEST_S3_ENDPOINT`, e.g. `http://127.0.0.1:9000`
/// with a bucket `guss-test` and the keys `test`/`test`), or `None` to skip
/// the S3 half of a test. With `CI=true` or `GUSS_REQUIRE_S3=1` a missing
/// server fails the test instead.
pub fn s3_endpoint() -> Option<String> {
    let endpoint = std::env::var("GUSS_TEST_S3_ENDPOINT").ok();
    assert!(
        endpoint.is_some() || !(set("CI") || set("GUSS_REQUIRE_S3")),
        "an S3 server is required here: set GUSS_TEST_S3_ENDPOINT"
    );
    endpoint
}

/// Runs a future to completion on a fresh single-threaded runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime")
        .block_on(future)
}

/// Runs one test case against a fresh database on `backend` (skipping as
/// [`TestDb::new`] says). Used by [`backend_tests!`].
pub fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    block_on(async {
        if let Some(db) = TestDb::new(backend).await {
            case(db).await;
        }
    });
}

/// Declares test cases that run once on SQLite and once on PostgreSQL.
///
/// Each `async fn NAME(db: TestDb) { … }` becomes a module `NAME` with the
/// tests `sqlite` and `postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($(async fn $name:ident($db:ident: TestDb) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn case($db: $crate::TestDb) $body

                #[test]
                fn sqlite() {
                    $crate::run($crate::Backend::Sqlite, case);
                }

                #[test]
                fn postgres() {
                    $crate::run($crate::Backend::Postgres, case);
                }
            }
        )*
    };
}
