//! A whole session over an in-memory pipe: the client sends the fuzzer's
//! bytes and hangs up; everything the server answered comes back.

use std::future::Future;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Runs `session` on the server end of a pipe while `data` is sent from
/// the client end; the server's output.
pub fn talk<F, Fut>(runtime: &tokio::runtime::Runtime, data: &[u8], session: F) -> Vec<u8>
where
    F: FnOnce(DuplexStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()>,
{
    runtime.block_on(async {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let peer = "127.0.0.1:4000".parse().unwrap();
        let client = async {
            let _ = client.write_all(data).await;
            let _ = client.shutdown().await;
            let mut out = Vec::new();
            let _ = client.read_to_end(&mut out).await;
            out
        };
        let ((), out) = tokio::join!(session(server, peer), client);
        out
    })
}
