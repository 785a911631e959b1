//! The `guss` command: `guss serve` runs the bundle; `guss tenant create`
//! makes an organisation and prints its owner's setup link.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use guss_server::{Bundle, Config};

#[derive(Parser)]
#[command(
    name = "guss",
    version,
    about = "guss: mail, calendars, files and identity for small offices, in one program"
)]
struct Cli {
    /// A TOML configuration file (see the guss_server::config docs);
    /// GUSS_* environment variables override it.
    #[arg(long, global = true, env = "GUSS_CONFIG")]
    config: Option<PathBuf>,
    /// The data directory (default ./guss-data).
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server until Ctrl-C or SIGTERM.
    Serve {
        /// Where to listen (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Organisations.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Creates an organisation and prints its owner's single-use setup link.
    Create {
        /// The organisation's name.
        #[arg(long)]
        name: String,
        /// The owner's e-mail address.
        #[arg(long)]
        owner_email: String,
        /// The owner's name (guessed from the address if not given).
        #[arg(long)]
        owner_name: Option<String>,
        /// The host name it lives at (default: derived from the name).
        #[arg(long)]
        host: Option<String>,
    },
}

fn config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(data) = &cli.data {
        config.data = data.clone();
    }
    Ok(config)
}

#[tokio::main]
#[allow(clippy::print_stdout)] // the setup link is the command's answer
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GUSS_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // Both rustls providers are linked in (through object_store and
    // hickory); choose one for every TLS use.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let mut config = config(&cli)?;
    match cli.command {
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            guss_server::serve::serve(config).await
        }
        Command::Tenant {
            command:
                TenantCommand::Create {
                    name,
                    owner_email,
                    owner_name,
                    host,
                },
        } => {
            let bundle = Bundle::open(config).await?;
            let owner_name =
                owner_name.unwrap_or_else(|| guss_server::routes::owner_name_from(&owner_email));
            let created = bundle
                .create_tenant(&name, &owner_name, &owner_email, host.as_deref(), None)
                .await
                .context("create the organisation")?;
            println!("{}", created.setup_link);
            Ok(())
        }
    }
}
