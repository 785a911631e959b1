//! `guss serve`: the web server (HTTP, or HTTPS with the configured
//! certificate), the mail listeners and the maintenance jobs, until
//! Ctrl-C or SIGTERM — then open requests finish before the process ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use guss_identity::store::TenantRegistry as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::bundle::Bundle;
use crate::config::Config;
use crate::retention;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time between maintenance passes (retention holds, trash expiry,
/// version thinning, garbage collection).
const MAINTENANCE_EVERY: Duration = Duration::from_secs(600);
/// Longest wait for open requests at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs the bundle on `config` until a shutdown signal.
#[allow(clippy::print_stdout)] // the address to open is what a person starting it needs
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("metrics")?;
    let bundle = Arc::new(Bundle::open(config).await?);
    let app = crate::routes::app(bundle.clone(), Some(metrics));
    let listener = TcpListener::bind(bundle.config.listen)
        .await
        .with_context(|| format!("listen on {}", bundle.config.listen))?;
    let mut tasks = JoinSet::new();
    // The web and mail listeners share the certificate; only the web
    // announces an application protocol.
    let (tls, mail_tls) = match &bundle.config.tls.acme_directory {
        Some(_) => {
            let acme = crate::acme::Acme::new(bundle.clone())?;
            let certificates = acme.certificates();
            tasks.spawn(acme.run());
            if let Some(address) = bundle.config.tls.http_listen {
                let plain = TcpListener::bind(address)
                    .await
                    .with_context(|| format!("listen on {address}"))?;
                let redirect = crate::routes::plain_http(bundle.clone(), certificates.clone());
                tasks.spawn(async move {
                    if let Err(e) = axum::serve(plain, redirect).await {
                        tracing::error!(error = %e, "the plain-HTTP listener stopped");
                    }
                });
            }
            (
                Some(certificates.acceptor(&[b"http/1.1"])),
                Some(certificates.acceptor(&[])),
            )
        }
        None => {
            let files = https(&bundle.config)?;
            (files.clone(), files)
        }
    };
    crate::mail::start(&bundle, mail_tls, &mut tasks).await?;
    tasks.spawn(maintain(bundle.clone()));

    let stop = shutdown_signal()?;
    let address = match (&bundle.config.public_url, bundle.config.is_local_trial()) {
        (Some(url), _) => url.to_string(),
        (None, _) => format!("http://localhost:{}/", listener.local_addr()?.port()),
    };
    println!("guss is running: open {address} in your browser");
    tracing::info!(%address, data = %bundle.config.data.display(), "serving");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = {
        let mut stop = stop_rx.clone();
        async move {
            let _ = stop.wait_for(|stop| *stop).await;
        }
    };
    let server = async {
        match tls {
            Some(tls) => {
                // Each connection's router knows its peer, as ConnectInfo.
                let connections = tower::service_fn(
                    move |incoming: axum::serve::IncomingStream<'_, TlsListener>| {
                        let peer = axum::extract::ConnectInfo(*incoming.remote_addr());
                        std::future::ready(Ok::<_, std::convert::Infallible>(
                            app.clone().layer(axum::Extension(peer)),
                        ))
                    },
                );
                axum::serve(TlsListener::new(listener, tls), connections)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
            None => {
                let app = app.into_make_service_with_connect_info::<SocketAddr>();
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
        }
    };
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result.context("web server"),
        () = stop => tracing::info!("shutting down: finishing open requests"),
        Some(stopped) = tasks.join_next() => {
            anyhow::bail!("a background task stopped: {stopped:?}");
        }
    }
    let _ = stop_tx.send(true);
    tasks.abort_all();
    match tokio::time::timeout(DRAIN_TIMEOUT, server).await {
        Ok(result) => result.context("web server")?,
        Err(_) => tracing::warn!("open requests did not finish in time"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM. The handlers are in place when this returns, so a
/// signal sent as soon as the address is printed stops the server instead
/// of killing the process.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("listen for SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("listen for Ctrl-C")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
    }
    #[cfg(windows)]
    {
        let mut interrupt = tokio::signal::windows::ctrl_c().context("listen for Ctrl-C")?;
        Ok(async move {
            interrupt.recv().await;
        })
    }
}

/// The TLS acceptor of the configured certificate files, if any.
fn https(config: &Config) -> anyhow::Result<Option<TlsAcceptor>> {
    match (&config.tls.certificate_file, &config.tls.key_file) {
        (Some(certificate), Some(key)) => {
            let chain = std::fs::read(certificate)
                .with_context(|| format!("read {}", certificate.display()))?;
            let key = std::fs::read(key).with_context(|| format!("read {}", key.display()))?;
            Ok(Some(guss_mail::smtp::tls::acceptor_from_pem(&chain, &key)?))
        }
        (None, None) => Ok(None),
        _ => anyhow::bail!("tls needs both certificate_file and key_file"),
    }
}

/// Every organisation's files maintained in turn, forever.
async fn maintain(bundle: Arc<Bundle>) {
    let mut ticks = tokio::time::interval(MAINTENANCE_EVERY);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let tenants = match bundle.identity.store().tenants().await {
            Ok(tenants) => tenants,
            Err(e) => {
                tracing::warn!(error = %e, "maintenance: reading the organisations failed");
                continue;
            }
        };
        let today = retention::today(bundle.clock.as_ref());
        for tenant in tenants {
            if let Err(e) = bundle.retention.sweep(tenant.id, today).await {
                tracing::warn!(tenant = %tenant.id, error = format!("{e:#}"), "retention pass failed");
            }
            if let Err(e) = bundle.files.tenant(tenant.id).maintain(1000, 100).await {
                tracing::warn!(tenant = %tenant.id, error = %e, "file maintenance failed");
            }
        }
        if let Err(e) = bundle.files.remove_abandoned_uploads().await {
            tracing::warn!(error = %e, "sweeping interrupted uploads failed");
        }
    }
}

/// Accepts TLS connections: handshakes run in their own tasks, so a slow
/// client never holds up the others.
struct TlsListener {
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    fn new(listener: TcpListener, tls: TlsAcceptor) -> Self {
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (sender, accepted) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (tls, handed) = (tls.clone(), sender.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = handed.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
                if sender.is_closed() {
                    return;
                }
            }
        });
        TlsListener { accepted, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Some(accepted) = self.accepted.recv().await {
                return accepted;
            }
            // The acceptor is gone; nothing will come any more.
            std::future::pending::<()>().await;
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
