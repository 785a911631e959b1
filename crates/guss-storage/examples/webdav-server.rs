//! A WebDAV file server on the guss file store: every write a version,
//! content deduplicated and encrypted, metadata in SQLite (or PostgreSQL),
//! content on local disk (or S3).
//!
//! ```text
//! cargo run -p guss-storage --example webdav-server -- \
//!     --listen 127.0.0.1:8080 --data ./files --user anna:Zugangscode-1 --user ben:Zugangscode-2
//! ```
//!
//! Each user's files are served at `/NAME/`; nobody sees another's folder.
//! `--database postgres://…` keeps metadata in PostgreSQL; `--s3
//! http://KEY:SECRET@HOST:PORT/BUCKET` keeps content in S3. The JSON API
//! (versions, trash, restores, share links) is at `/.files-api/`.
//!
//! The `--user` passwords stand in for the app passwords a real
//! deployment issues through guss-identity.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use clap::Parser;
use guss_core::{
    Action, Authenticator, Authorizer, Context, Decision, MemoryEventSink, Principal, Resource,
    ServiceName, SystemClock, TenantId,
};
use guss_dav::DavPath;
use guss_storage::http::FilesApi;
use guss_storage::keys::MasterKey;
use guss_storage::store::{FileStore, StoreConfig};
use guss_storage::webdav::WebDav;
use guss_testkit::accounts::Accounts;
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

#[derive(Parser, Debug)]
#[command(about = "A WebDAV server on the guss file store")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory for the data (SQLite databases, content, the master key).
    #[arg(long)]
    data: PathBuf,
    /// A user as NAME:PASSWORD; repeat for more.
    #[arg(long = "user", required = true)]
    users: Vec<String>,
    /// Keep metadata in PostgreSQL at this URL instead of SQLite.
    #[arg(long)]
    database: Option<String>,
    /// Keep content in S3: http(s)://ACCESS_KEY:SECRET@HOST:PORT/BUCKET.
    #[arg(long)]
    s3: Option<String>,
    /// Seconds between maintenance passes (trash expiry, garbage collection).
    #[arg(long, default_value_t = 600)]
    maintenance_seconds: u64,
}

/// Everyone works in their own folder `/NAME` and nowhere else.
struct HomeFolders {
    accounts: Accounts,
}

#[async_trait]
impl Authorizer for HomeFolders {
    async fn authorize(
        &self,
        principal: &Principal,
        _: &Action,
        resource: &Resource,
        _: &Context,
    ) -> Decision {
        let Principal::Person { person, tenant } = principal else {
            return Decision::Deny;
        };
        let Some(name) = self.accounts.name_of(*person) else {
            return Decision::Deny;
        };
        let home = format!("/{name}");
        let id = resource.id();
        let inside = id == home
            || id
                .strip_prefix(&home)
                .is_some_and(|rest| rest.starts_with('/'));
        if *tenant == resource.tenant() && inside {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }
}

/// Reads a 32-byte secret from `path`, creating it (mode 0600) if missing.
fn secret_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    if let Ok(bytes) = std::fs::read(path) {
        return bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} is not 32 bytes", path.display()));
    }
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write as _;
    let mut file = options
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    file.write_all(&key)?;
    file.sync_all()?;
    Ok(key)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("create {}", args.data.display()))?;
    let accounts =
        Accounts::parse(args.users.iter().map(String::as_str)).map_err(anyhow::Error::msg)?;
    let master = MasterKey::from_bytes(secret_file(&args.data.join("master.key"))?);
    let tenant_bytes = secret_file(&args.data.join("tenant.id"))?;
    let tenant = TenantId::from_uuid(Uuid::from_bytes(
        *tenant_bytes.first_chunk().unwrap_or(&[0; 16]),
    ));
    let blobs = guss_blob::open(args.s3.as_deref(), &args.data.join("blobs")).await?;
    let location = match &args.database {
        Some(url) => url.clone(),
        None => args.data.join("db").display().to_string(),
    };
    let store = FileStore::open(
        &location,
        blobs,
        master,
        Arc::new(SystemClock),
        Arc::new(MemoryEventSink::new()),
        StoreConfig::default(),
    )
    .await?;
    let files = store.tenant(tenant);
    let setup = Principal::Service {
        tenant,
        service: ServiceName::new("webdav-example")?,
    };
    for name in accounts.names() {
        let home = DavPath::from_segments([name])?;
        if files.stat(&home).await?.is_none() {
            files.create_folder(&home, &[], &setup).await?;
        }
    }
    let maintained = files.clone();
    let swept = store.clone();
    let every = std::time::Duration::from_secs(args.maintenance_seconds.max(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            match maintained.maintain(1000, 100).await {
                Ok(done) => tracing::info!(?done, "maintenance"),
                Err(e) => tracing::warn!(error = %e, "maintenance failed"),
            }
            if let Err(e) = swept.remove_abandoned_uploads().await {
                tracing::warn!(error = %e, "sweeping interrupted uploads failed");
            }
        }
    });
    let users: Arc<dyn Authenticator> = Arc::new(accounts.clone());
    let homes: Arc<dyn Authorizer> = Arc::new(HomeFolders { accounts });
    let tenant_of = Arc::new(move |_: &axum::http::request::Parts| Some(tenant));
    let api = FilesApi::new(
        store.clone(),
        users.clone(),
        homes.clone(),
        tenant_of.clone(),
    )
    .router();
    let dav = WebDav::new(store, users, homes, "/", tenant_of).router();
    // Names starting with a dot are not user names here, so the API cannot
    // shadow anyone's folder.
    let app = axum::Router::new().nest("/.files-api", api).merge(dav);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!("serving WebDAV on http://{}/", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
