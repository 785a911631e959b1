//! A bundle on a test database, and browsers that hold a cookie and a
//! software passkey: every sign-in and step-up is a real WebAuthn ceremony
//! against the bundle's router.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use guss_server::{Bundle, Config};
use guss_testkit::{Backend, TestDb};
use tower::ServiceExt as _;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// The admin API's token in tests.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A bundle on `db` (SQLite in its directory, or PostgreSQL), its keys in a
/// temporary directory, as a local trial on port 8080.
pub struct Office {
    pub bundle: Arc<Bundle>,
    pub app: Router,
    _keys: tempfile::TempDir,
}

pub async fn office(db: &TestDb) -> Office {
    office_with(db, |_| {}).await
}

/// The same, with the configuration changed by `configure`.
pub async fn office_with(db: &TestDb, configure: impl FnOnce(&mut Config)) -> Office {
    let keys = tempfile::tempdir().unwrap();
    let mut config = Config {
        data: keys.path().to_owned(),
        admin_token: Some(ADMIN_TOKEN.to_owned()),
        database_url: (db.backend() == Backend::Postgres).then(|| db.url().to_owned()),
        ..Config::default()
    };
    if db.backend() == Backend::Postgres {
        config.s3_url = s3_url();
    }
    configure(&mut config);
    let bundle = Arc::new(Bundle::open(config).await.unwrap());
    let app = guss_server::routes::app(bundle.clone(), None);
    Office {
        bundle,
        app,
        _keys: keys,
    }
}

/// The test command's S3 server as a bundle `s3_url` (the PostgreSQL
/// bundles keep their content there: the scale-out pair); required in CI.
fn s3_url() -> Option<String> {
    let endpoint = guss_testkit::s3_endpoint()?;
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    Some(format!("http://test:test@{host}/guss-test"))
}

/// An answer, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookie: Vec<String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a form with a csrf token") + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }
}

pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let set_cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    Answer {
        status,
        location,
        set_cookie,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// One person's browser at one host: their cookie and their passkey.
pub struct Browser {
    pub app: Router,
    pub host: String,
    pub cookie: Option<String>,
    pub device: SoftPasskey,
}

impl Browser {
    pub fn new(app: &Router, host: &str) -> Self {
        Browser {
            app: app.clone(),
            host: host.to_owned(),
            cookie: None,
            device: SoftPasskey::new(true),
        }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.host)
    }

    fn request(&self, method: &str, path: &str) -> axum::http::request::Builder {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request
    }

    pub async fn get(&self, path: &str) -> Answer {
        send(
            &self.app,
            self.request("GET", path).body(Body::empty()).unwrap(),
        )
        .await
    }

    /// A GET answered with bytes (a download).
    pub async fn get_bytes(&self, path: &str) -> Vec<u8> {
        let response = self
            .app
            .clone()
            .oneshot(self.request("GET", path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap()
            .to_vec()
    }

    /// A form post from this origin.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.post_form_from(path, fields, Some(&self.origin()))
            .await
    }

    pub async fn post_form_from(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Answer {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = self
            .request("POST", path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        send(&self.app, request.body(Body::from(body)).unwrap()).await
    }

    /// A POST of raw bytes (an upload by the pages' script), with the
    /// form token in `X-Guss-Form` and an `Origin`.
    pub async fn post_bytes(
        &self,
        path: &str,
        body: &[u8],
        token: &str,
        origin: Option<&str>,
    ) -> Answer {
        let mut request = self
            .request("POST", path)
            .header(header::CONTENT_TYPE, "text/plain")
            .header("x-guss-form", token);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        send(&self.app, request.body(Body::from(body.to_vec())).unwrap()).await
    }

    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> Answer {
        let request = self
            .request("POST", path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ORIGIN, self.origin());
        send(
            &self.app,
            request.body(Body::from(body.to_string())).unwrap(),
        )
        .await
    }

    fn keep_cookie(&mut self, answer: &Answer) {
        if let Some(cookie) = answer
            .set_cookie
            .iter()
            .find(|c| c.starts_with("__Host-guss_session="))
        {
            self.cookie = Some(cookie.split(';').next().unwrap().to_owned());
        }
    }

    /// Enrols this browser's passkey with an invitation token.
    pub async fn enroll(&mut self, token: &str) {
        let start = self
            .post_json(
                "/api/identity/enroll/start",
                serde_json::json!({ "token": token, "label": "Laptop" }),
            )
            .await;
        assert_eq!(start.status, StatusCode::OK, "{}", start.body);
        let start = start.json();
        let options = serde_json::from_value(start["options"].clone()).unwrap();
        let credential = self
            .device
            .do_registration(Url::parse(&self.origin()).unwrap(), options)
            .unwrap();
        let finish = self
            .post_json(
                "/api/identity/enroll/finish",
                serde_json::json!({ "ceremony": start["ceremony"], "credential": credential }),
            )
            .await;
        assert_eq!(finish.status, StatusCode::OK, "{}", finish.body);
        self.keep_cookie(&finish);
    }

    async fn assert(&mut self, path: &str, start: serde_json::Value) -> Answer {
        let start = self.post_json(&format!("{path}/start"), start).await;
        assert_eq!(start.status, StatusCode::OK, "{}", start.body);
        let start = start.json();
        let options = serde_json::from_value(start["options"].clone()).unwrap();
        let credential = self
            .device
            .do_authentication(Url::parse(&self.origin()).unwrap(), options)
            .unwrap();
        self.post_json(
            &format!("{path}/finish"),
            serde_json::json!({ "ceremony": start["ceremony"], "credential": credential }),
        )
        .await
    }

    /// Signs in as `email` with this browser's passkey (the software
    /// passkey cannot do discoverable credentials; Chromium's test does
    /// the username-less way).
    pub async fn sign_in(&mut self, email: &str) -> Answer {
        let answer = self
            .assert(
                "/api/identity/sign-in",
                serde_json::json!({ "email": email }),
            )
            .await;
        self.keep_cookie(&answer);
        answer
    }

    /// Confirms the session with the passkey (for admin actions).
    pub async fn step_up(&mut self) {
        let answer = self
            .assert("/api/identity/step-up", serde_json::json!({}))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
}

/// The value of the first `name="NAME" value="…"` after `after`.
pub fn field(body: &str, after: &str, name: &str) -> String {
    let from = body.find(after).expect("the marker is on the page");
    let marker = format!("name=\"{name}\" value=\"");
    let start = body[from..].find(&marker).unwrap() + from + marker.len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].to_owned()
}

/// The token at the end of a `/join/TOKEN` link or path.
pub fn token_of(link: &str) -> String {
    link.rsplit_once("/join/").unwrap().1.to_owned()
}

/// The local trial's host.
pub const LOCAL: &str = "localhost:8080";

/// The owner of a fresh local trial (a law office), signed in with their
/// new passkey and past the welcome page.
pub async fn first_owner(app: &Router) -> Browser {
    let mut owner = Browser::new(app, LOCAL);
    let created = owner
        .post_form(
            "/setup",
            &[
                ("organisation", "Kanzlei Beispiel"),
                ("profession", "law_office"),
                ("owner_name", "Anna Beispiel"),
                ("owner_email", "anna@kanzlei.example"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let join = created.location.unwrap();
    assert!(join.starts_with("/join/"), "{join}");
    owner.enroll(&token_of(&join)).await;
    let welcome = owner.get("/welcome").await;
    assert_eq!(welcome.location.as_deref(), Some("/setup/office"));
    owner
}

/// A private BIND (`named`) on a loopback port, primary for one zone that
/// takes RFC 2136 updates signed with its TSIG key. `None` when BIND is
/// not installed (the test command installs it; CI requires it).
pub struct Named {
    pub server: std::net::SocketAddr,
    pub key_file: std::path::PathBuf,
    process: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Named {
    pub fn start(zone: &str) -> Option<Named> {
        use std::process::{Command, Stdio};
        let installed = Command::new("named").arg("-v").output().is_ok();
        if !installed {
            let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(!required, "BIND (named) is required here");
            eprintln!("named is not installed: the RFC 2136 half is skipped");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        // A port free for both TCP and UDP.
        let port = loop {
            let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = tcp.local_addr().unwrap().port();
            if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
                break port;
            }
        };
        let key = Command::new("tsig-keygen")
            .args(["-a", "hmac-sha256", "guss-update"])
            .output()
            .unwrap();
        let key_file = path.join("update.key");
        std::fs::write(&key_file, &key.stdout).unwrap();
        std::fs::write(
            path.join("zone.db"),
            format!(
                "$TTL 300\n@ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300\n@ IN NS ns.{zone}.\nns IN A 127.0.0.1\n"
            ),
        )
        .unwrap();
        let dir_text = path.display();
        std::fs::write(
            path.join("named.conf"),
            format!(
                "include \"{dir_text}/update.key\";\n\
                 options {{ directory \"{dir_text}\"; pid-file \"{dir_text}/named.pid\"; \
                 listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; recursion no; \
                 dnssec-validation no; }};\n\
                 controls {{ }};\n\
                 zone \"{zone}\" {{ type primary; file \"{dir_text}/zone.db\"; \
                 update-policy {{ grant guss-update zonesub ANY; }}; }};\n"
            ),
        )
        .unwrap();
        let process = Command::new("named")
            .args(["-f", "-n", "1", "-c"])
            .arg(path.join("named.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut named = Named {
            server: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            key_file,
            process,
            _dir: dir,
        };
        // A busy machine may take a while to start it (at most a minute).
        for _ in 0..300 {
            if !named.dig(zone, "SOA").is_empty() {
                return Some(named);
            }
            if let Ok(Some(status)) = named.process.try_wait() {
                panic!("named stopped: {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("named did not start");
    }

    /// `dig +short` against this server.
    pub fn dig(&self, name: &str, kind: &str) -> String {
        let output = std::process::Command::new("dig")
            .args(["+short", "+time=3", "+tries=3", "-p"])
            .arg(self.server.port().to_string())
            .arg("@127.0.0.1")
            .args([name, kind])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}
