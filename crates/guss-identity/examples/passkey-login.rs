//! A minimal passkey sign-in page on top of `guss-identity`.
//!
//! ```sh
//! cargo run -p guss-identity --example passkey-login -- --listen 127.0.0.1:8080 --data ./data
//! ```
//!
//! Open `http://localhost:8080/` (passkeys are bound to `localhost`, not to
//! `127.0.0.1`). Type a name and press "Register" to create a passkey; press
//! "Sign in" with the name field empty to sign in with any passkey the browser
//! holds for this site. The first name registered owns the demo organisation;
//! everything is stored with SQLite in the data directory.
//!
//! Registration here is open to anyone, which a real deployment never is:
//! there people join through an invitation.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use async_trait::async_trait;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use guss_core::{DenyAll, Event, EventSink, SystemClock, TenantId};
use guss_identity::store::{SqlStore, TenantRegistry as _};
use guss_identity::{Client, Identity, RelyingParty, Role, http};

#[derive(Parser)]
#[command(about = "A minimal passkey sign-in page on guss-identity")]
struct Args {
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory for the SQLite data.
    #[arg(long, default_value = "./passkey-login-data")]
    data: PathBuf,
}

/// Writes every event to the log: the example keeps no audit trail of its own.
struct LogEvents;

#[async_trait]
impl EventSink for LogEvents {
    async fn emit(&self, event: Event) -> guss_core::Result<()> {
        tracing::info!(kind = %event.kind(), subject = event.subject().unwrap_or(""), "event");
        Ok(())
    }
}

#[derive(Clone)]
struct Demo {
    identity: Arc<Identity<SqlStore>>,
    tenant: Arc<RwLock<Option<TenantId>>>,
    origin: String,
}

#[tokio::main]
#[allow(clippy::print_stdout)] // telling the person where to point the browser is the point
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let args = Args::parse();
    let store = SqlStore::open(&args.data.display().to_string())
        .await
        .context("open the data directory")?;
    let existing = store.tenants().await?.first().map(|t| t.id);
    let identity = Arc::new(Identity::new(
        store,
        Arc::new(SystemClock),
        Arc::new(LogEvents),
        Arc::new(DenyAll),
    ));
    let demo = Demo {
        identity: identity.clone(),
        tenant: Arc::new(RwLock::new(existing)),
        origin: format!("http://localhost:{}", args.listen.port()),
    };
    let current = demo.tenant.clone();
    let resolver: http::TenantResolver =
        Arc::new(move |_| *current.read().unwrap_or_else(|e| e.into_inner()));
    let app = Router::new()
        .route("/", get(page))
        .route("/demo/register", post(register))
        .with_state(demo)
        .nest("/api/identity", http::router(identity, resolver));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .context("bind the listen address")?;
    println!(
        "passkey-login: open http://localhost:{}/",
        args.listen.port()
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

async fn page() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], Html(PAGE))
}

#[derive(serde::Deserialize)]
struct Register {
    name: String,
}

/// Creates a person called `name` (the first one owns the demo organisation)
/// and starts enrolling their passkey.
async fn register(
    State(demo): State<Demo>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<Register>,
) -> Response {
    match try_register(&demo, peer, &headers, body.name.trim()).await {
        Ok(challenge) => Json(challenge).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn try_register(
    demo: &Demo,
    peer: SocketAddr,
    headers: &HeaderMap,
    name: &str,
) -> Result<guss_identity::RegistrationChallenge, guss_identity::Error> {
    if headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) != Some(demo.origin.as_str()) {
        return Err(guss_identity::Error::Forbidden);
    }
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !valid {
        return Err(guss_identity::Error::Invalid {
            what: "name".into(),
            why: "use 1 to 64 letters, digits, dots, dashes or underscores".into(),
        });
    }
    let email = format!("{}@passkey-login.example", name.to_ascii_lowercase()).parse()?;
    let tenant = *demo.tenant.read().unwrap_or_else(|e| e.into_inner());
    let (tenant, link) = match tenant {
        Some(tenant) => {
            let (_, link) = demo
                .identity
                .provision_person(tenant, email, name, &[Role::MEMBER], None)
                .await?;
            (tenant, link)
        }
        None => {
            let rp = RelyingParty::new("localhost", [demo.origin.as_str()])?;
            let (tenant, link) = demo
                .identity
                .create_tenant("Passkey login example", rp, name, email)
                .await?;
            *demo.tenant.write().unwrap_or_else(|e| e.into_inner()) = Some(tenant.id);
            (tenant.id, link)
        }
    };
    let client = Client::new(Some(peer.ip()), "passkey-login page");
    demo.identity
        .start_enrollment(tenant, &link.token, "Passkey", &client)
        .await
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>guss passkey sign-in</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem; }
  input, button { font: inherit; padding: .4rem .6rem; }
  #status { margin-top: 1rem; font-weight: 600; }
</style>
</head>
<body>
<h1>Passkey sign-in</h1>
<p><label>Name <input id="name" autocomplete="username webauthn"></label></p>
<p>
  <button id="register">Register</button>
  <button id="login">Sign in</button>
  <button id="logout">Sign out</button>
</p>
<p id="status">…</p>
<script>
const status = document.getElementById("status");
const show = (text) => { status.textContent = text; };

const b64 = {
  decode: (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(s.length / 4) * 4, "=")), c => c.charCodeAt(0)),
  encode: (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
};

async function call(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function creationOptions(options) {
  const o = structuredClone(options.publicKey);
  o.challenge = b64.decode(o.challenge);
  o.user.id = b64.decode(o.user.id);
  o.excludeCredentials = (o.excludeCredentials || []).map(c => ({ ...c, id: b64.decode(c.id) }));
  return { publicKey: o };
}

function requestOptions(options) {
  const o = structuredClone(options.publicKey);
  o.challenge = b64.decode(o.challenge);
  o.allowCredentials = (o.allowCredentials || []).map(c => ({ ...c, id: b64.decode(c.id) }));
  return { publicKey: o };
}

function registrationJson(credential) {
  return {
    id: credential.id, rawId: b64.encode(credential.rawId), type: credential.type,
    response: {
      attestationObject: b64.encode(credential.response.attestationObject),
      clientDataJSON: b64.encode(credential.response.clientDataJSON),
      transports: credential.response.getTransports ? credential.response.getTransports() : [],
    },
    extensions: credential.getClientExtensionResults(),
  };
}

function assertionJson(credential) {
  return {
    id: credential.id, rawId: b64.encode(credential.rawId), type: credential.type,
    response: {
      authenticatorData: b64.encode(credential.response.authenticatorData),
      clientDataJSON: b64.encode(credential.response.clientDataJSON),
      signature: b64.encode(credential.response.signature),
      userHandle: credential.response.userHandle ? b64.encode(credential.response.userHandle) : null,
    },
    extensions: credential.getClientExtensionResults(),
  };
}

document.getElementById("register").addEventListener("click", async () => {
  try {
    show("registering …");
    const challenge = await call("/demo/register", { name: document.getElementById("name").value });
    const credential = await navigator.credentials.create(creationOptions(challenge.options));
    const done = await call("/api/identity/enroll/finish", { ceremony: challenge.ceremony, credential: registrationJson(credential) });
    show("signed in as " + done.display_name);
  } catch (e) { show("registration failed: " + e.message); }
});

document.getElementById("login").addEventListener("click", async () => {
  try {
    show("signing in …");
    const email = document.getElementById("name").value.trim();
    const start = await call("/api/identity/sign-in/start", email ? { email: email.toLowerCase() + "@passkey-login.example" } : {});
    const credential = await navigator.credentials.get(requestOptions(start.options));
    const done = await call("/api/identity/sign-in/finish", { ceremony: start.ceremony, credential: assertionJson(credential) });
    show("signed in as " + done.display_name);
  } catch (e) { show("sign-in failed: " + e.message); }
});

document.getElementById("logout").addEventListener("click", async () => {
  try { await call("/api/identity/sign-out", {}); } catch (e) { /* already signed out */ }
  show("signed out");
});

call("/api/identity/me").then(me => show("signed in as " + me.person.display_name), () => show("signed out"));
</script>
</body>
</html>
"#;
