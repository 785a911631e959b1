//! A CalDAV server on the guss calendar store: discovery from
//! `/.well-known/caldav`, calendars per person, scheduling between them,
//! bookable rooms and cars, free/busy and sync.
//!
//! ```text
//! cargo run -p guss-calendar --example caldav-server -- \
//!     --listen 127.0.0.1:8082 --data ./calendars --user anna:Zugang-1 --user ben:Zugang-2 \
//!     --resource car-1 --share anna/team:ben
//! ```
//!
//! Principals are at `/dav/principals/NAME/`, calendar homes at
//! `/dav/calendars/NAME/`; addresses are `NAME@DOMAIN` (`--domain`,
//! default `example.test`). `--resource NAME` adds a bookable resource
//! (`--room NAME` a room) that accepts invitations when free and declines
//! them when taken. `--share OWNER/CALENDAR:OTHER` creates the calendar if
//! needed and shares it writable. `--database postgres://…` keeps the data
//! in PostgreSQL. The `--user` passwords stand in for app passwords.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use clap::Parser;
use guss_calendar::caldav::{CalDav, CalendarUser, CalendarUsers};
use guss_calendar::itip::UserKind;
use guss_calendar::store::{CalendarStore, NewCalendar};
use guss_core::{
    Action, Authorizer, Context, ContextValue, Decision, MemoryEventSink, Principal, Resource,
    SystemClock, TenantId,
};
use guss_testkit::accounts::{Accounts, person_id};

#[derive(Parser, Debug)]
#[command(about = "A CalDAV server on the guss calendar store")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8082")]
    listen: SocketAddr,
    /// Directory for the data.
    #[arg(long)]
    data: PathBuf,
    /// A user as NAME:PASSWORD; repeat for more.
    #[arg(long = "user", required = true)]
    users: Vec<String>,
    /// A bookable resource (car, device); repeat for more.
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// A bookable room; repeat for more.
    #[arg(long = "room")]
    rooms: Vec<String>,
    /// Share OWNER/CALENDAR with OTHER (writable); repeat for more.
    #[arg(long = "share")]
    shares: Vec<String>,
    /// The mail domain of the calendar addresses.
    #[arg(long, default_value = "example.test")]
    domain: String,
    /// Keep the data in PostgreSQL at this URL instead of SQLite.
    #[arg(long)]
    database: Option<String>,
}

/// People from `--user`, rooms and resources from `--room`/`--resource`.
struct Directory {
    accounts: Accounts,
    users: BTreeMap<String, CalendarUser>,
}

#[async_trait]
impl CalendarUsers for Directory {
    async fn user_of(&self, principal: &Principal) -> Option<CalendarUser> {
        let Principal::Person { person, .. } = principal else {
            return None;
        };
        self.users.get(self.accounts.name_of(*person)?).cloned()
    }

    async fn by_handle(&self, _: TenantId, handle: &str) -> Option<CalendarUser> {
        self.users.get(handle).cloned()
    }

    async fn by_address(&self, _: TenantId, address: &str) -> Option<CalendarUser> {
        self.users
            .values()
            .find(|u| u.address.eq_ignore_ascii_case(address))
            .cloned()
    }
}

/// Owners do everything with their calendars, sharees what the share
/// allows, and everyone in the office may see when others are busy.
struct OfficeRules;

#[async_trait]
impl Authorizer for OfficeRules {
    async fn authorize(
        &self,
        principal: &Principal,
        action: &Action,
        resource: &Resource,
        context: &Context,
    ) -> Decision {
        if principal.tenant() != resource.tenant() {
            return Decision::Deny;
        }
        let owner = matches!(context.attribute("owner"), Some(ContextValue::Bool(true)));
        let shared = match context.attribute("shared") {
            Some(ContextValue::String(s)) => s.as_str(),
            _ => "none",
        };
        let allowed = owner
            || action.as_str() == "read_free_busy"
            || (*action == Action::READ && matches!(shared, "read" | "write"))
            || (*action == Action::WRITE && shared == "write");
        if allowed {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }
}

fn tenant_of(data: &std::path::Path) -> anyhow::Result<TenantId> {
    let file = data.join("tenant.id");
    if let Ok(text) = std::fs::read_to_string(&file) {
        return text
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{} is damaged", file.display()));
    }
    let tenant = TenantId::new();
    std::fs::write(&file, tenant.to_string())
        .with_context(|| format!("write {}", file.display()))?;
    Ok(tenant)
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
    let mut users = BTreeMap::new();
    let user = |handle: &str, kind| CalendarUser {
        handle: handle.to_owned(),
        address: format!("{handle}@{}", args.domain).to_ascii_lowercase(),
        display_name: handle.to_owned(),
        kind,
    };
    for name in accounts.names() {
        users.insert(name.to_owned(), user(name, UserKind::Individual));
    }
    for (names, kind) in [
        (&args.resources, UserKind::Resource),
        (&args.rooms, UserKind::Room),
    ] {
        for name in names {
            if Accounts::parse([format!("{name}:x").as_str()]).is_err() || users.contains_key(name)
            {
                bail!("--resource/--room {name:?}: a plain name that is not a user");
            }
            users.insert(name.clone(), user(name, kind));
        }
    }
    let tenant = tenant_of(&args.data)?;
    let location = match &args.database {
        Some(url) => url.clone(),
        None => args.data.join("db").display().to_string(),
    };
    let store = CalendarStore::open(
        &location,
        Arc::new(SystemClock),
        Arc::new(MemoryEventSink::new()),
    )
    .await?;
    let calendars = store.tenant(tenant);
    for share in &args.shares {
        let parsed = share.split_once(':').and_then(|(calendar, other)| {
            calendar
                .split_once('/')
                .map(|(owner, slug)| (owner, slug, other))
        });
        let Some((owner, slug, other)) = parsed else {
            bail!("--share {share:?}: expected OWNER/CALENDAR:OTHER");
        };
        if !users.contains_key(owner) || !users.contains_key(other) {
            bail!("--share {share:?}: both must be --user names");
        }
        let calendar = calendars
            .ensure_calendar(owner, slug, NewCalendar::named(slug))
            .await?;
        let by = Principal::Person {
            tenant,
            person: person_id(owner),
        };
        calendars.share(&calendar, other, true, &by).await?;
    }
    let app = CalDav::new(
        store,
        Arc::new(Directory {
            accounts: accounts.clone(),
            users,
        }),
        Arc::new(accounts),
        Arc::new(OfficeRules),
        Arc::new(move |_: &axum::http::request::Parts| Some(tenant)),
    )
    .router();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(
        "serving CalDAV on http://{}/dav/ (discovery at /.well-known/caldav)",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
