//! A PostgreSQL server for tests: a private cluster started once per test
//! process, or an existing server named by `GUSS_TEST_POSTGRES_URL`.

use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sqlx::{AssertSqlSafe, Connection as _, Executor as _, PgConnection};

/// Where to reach the server as a superuser.
#[derive(Debug)]
pub(crate) struct Server {
    host: String,
    port: u16,
    admin_url: String,
}

/// The server of this process: started (or found) on first use.
pub(crate) fn server() -> Result<&'static Server, String> {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| match std::env::var("GUSS_TEST_POSTGRES_URL") {
            Ok(url) => external(url),
            Err(_) => start_private_cluster(),
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn external(admin_url: String) -> Result<Server, String> {
    let rest = admin_url
        .strip_prefix("postgres://")
        .or_else(|| admin_url.strip_prefix("postgresql://"))
        .ok_or("GUSS_TEST_POSTGRES_URL must start with postgres://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse()
                .map_err(|_| "bad port in GUSS_TEST_POSTGRES_URL")?,
        ),
        None => (host_port, 5432),
    };
    Ok(Server {
        host: host.to_owned(),
        port,
        admin_url,
    })
}

/// The directory with `initdb` and `pg_ctl`: `GUSS_PG_BIN`, the newest
/// `/usr/lib/postgresql/*/bin` (Debian), or whatever `pg_config` says.
fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("GUSS_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    let output = Command::new("pg_config").arg("--bindir").output().map_err(
        |_| "no PostgreSQL found: install it (apt-get install postgresql) or set GUSS_PG_BIN",
    )?;
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

/// PostgreSQL refuses to run as root; then the cluster belongs to `postgres`.
fn as_cluster_owner(program: &Path) -> Command {
    if rustix::process::geteuid().is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) -> Result<String, String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn start_private_cluster() -> Result<Server, String> {
    let bin = bin_dir()?;
    if !bin.join("initdb").exists() {
        return Err(format!("no initdb in {}", bin.display()));
    }
    // The cluster owner creates the directory, so that it may write there.
    let mut mktemp = as_cluster_owner(Path::new("mktemp"));
    mktemp.args(["-d", "/tmp/guss-testkit-pg.XXXXXXXX"]);
    let dir = PathBuf::from(run(mktemp, "mktemp")?);
    stop_when_this_process_ends(&bin, &dir)?;

    let mut initdb = as_cluster_owner(&bin.join("initdb"));
    initdb.arg("-D").arg(&dir).args([
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
    ]);
    run(initdb, "initdb")?;

    // A free port can be taken by someone else before the server binds it: retry.
    let mut last_error = String::new();
    for _ in 0..5 {
        let port = free_port()?;
        // Test data is thrown away: durability settings off for speed.
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            dir.display()
        );
        let mut pg_ctl = as_cluster_owner(&bin.join("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(&dir)
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        match run(pg_ctl, "pg_ctl start") {
            Ok(_) => {
                return Ok(Server {
                    host: "127.0.0.1".to_owned(),
                    port,
                    admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                });
            }
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("find a free port: {e}"))
}

/// Statics are never dropped, so a watcher outside this process stops the
/// cluster and removes its directory once this process has exited, however
/// it exits. It sits in its own process group, so Ctrl-C does not stop it
/// before it has cleaned up.
fn stop_when_this_process_ends(bin: &Path, dir: &Path) -> Result<(), String> {
    let pg_ctl = bin.join("pg_ctl");
    let owner = if rustix::process::geteuid().is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let script = format!(
        "trap '' INT HUP TERM; while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {owner}'{pg_ctl}' -D '{dir}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        pg_ctl = pg_ctl.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| format!("start the cluster watcher: {e}"))
}

/// One test's database and the role that owns it; dropped when the test ends.
#[derive(Debug)]
pub(crate) struct Database {
    server: &'static Server,
    name: String,
    url: String,
}

impl Database {
    pub(crate) async fn create(server: &'static Server) -> Result<Database, sqlx::Error> {
        let name = format!("guss_test_{}", uuid::Uuid::new_v4().simple());
        let password = uuid::Uuid::new_v4().simple().to_string();
        let mut admin = PgConnection::connect(&server.admin_url).await?;
        // Names and password are generated hex: safe to splice into DDL.
        ddl(
            &mut admin,
            format!(
                "CREATE ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'"
            ),
        )
        .await?;
        ddl(&mut admin, format!("CREATE DATABASE {name} OWNER {name}")).await?;
        admin.close().await?;
        let url = format!(
            "postgres://{name}:{password}@{host}:{port}/{name}",
            host = server.host,
            port = server.port
        );
        Ok(Database { server, name, url })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot block on itself:
        // clean up on a thread with a runtime of its own.
        let admin_url = self.server.admin_url.clone();
        let name = std::mem::take(&mut self.name);
        let cleanup = std::thread::spawn(move || {
            crate::block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await?;
                ddl(
                    &mut admin,
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                )
                .await?;
                ddl(&mut admin, format!("DROP ROLE IF EXISTS {name}")).await?;
                admin.close().await
            })
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("guss-testkit: could not drop a test database: {e}");
        }
    }
}

/// Runs one DDL statement built from generated names (never from input).
async fn ddl(admin: &mut PgConnection, statement: String) -> Result<(), sqlx::Error> {
    admin.execute(AssertSqlSafe(statement)).await.map(drop)
}
