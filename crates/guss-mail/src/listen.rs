//! The accept loop SMTP and IMAP listeners share: a bound on concurrent
//! sessions (a client over it is told to come back later), and accept
//! errors (out of file descriptors) waited out rather than spun on.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Accepts connections on `listener` until the task is dropped: each runs
/// `session` on its own task while fewer than `max_sessions` do, else
/// `busy` (which answers and closes).
pub(crate) async fn accept_loop<S, SF, B, BF>(
    listener: TcpListener,
    max_sessions: usize,
    session: S,
    busy: B,
) where
    S: Fn(TcpStream, SocketAddr) -> SF,
    SF: Future<Output = ()> + Send + 'static,
    B: Fn(TcpStream) -> BF,
    BF: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max_sessions.max(1)));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(busy(stream));
            continue;
        };
        let running = session(stream, peer);
        tokio::spawn(async move {
            let _slot = slot;
            running.await;
        });
    }
}
