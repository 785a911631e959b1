//! Serves an in-memory WebDAV tree without authentication, for protocol
//! test suites: `cargo run -p guss-dav --features server --example memory-dav -- --listen 127.0.0.1:8088`.
//! Everything is lost when it stops.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use guss_dav::server::{Config, handle};

#[path = "../tests/support/memory.rs"]
mod memory;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut listen: SocketAddr = "127.0.0.1:8088".parse()?;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                listen = args.next().ok_or("--listen needs an address")?.parse()?;
            }
            other => {
                return Err(
                    format!("unknown argument {other}; usage: memory-dav [--listen ADDR]").into(),
                );
            }
        }
    }
    let backend = Arc::new(memory::MemoryDav::new());
    let config = Arc::new(Config::new("/", "anonymous"));
    let app = Router::new().fallback(move |request: Request| {
        let (backend, config) = (backend.clone(), config.clone());
        async move { handle(&*backend, &config, request).await }
    });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("memory-dav listening on http://{}/", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
