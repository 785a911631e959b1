//! A small DNS server on a loopback UDP port whose answers a test decides.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::{Name, Record, RecordType};
use tokio::net::UdpSocket;

/// What the server says to one query.
pub enum Answer {
    /// Nothing: the client waits for its timeout.
    Timeout,
    /// The name does not exist.
    NxDomain,
    /// These records (none: the name exists without records of that type).
    Records(Vec<Record>),
}

/// Serves `answer` until the returned task is aborted.
pub async fn serve(
    answer: impl Fn(&Name, RecordType) -> Answer + Send + Sync + 'static,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let answer = Arc::new(answer);
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(request) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            let Some(query) = request.queries.first().cloned() else {
                continue;
            };
            let mut response = Message::response(request.metadata.id, request.metadata.op_code);
            response.metadata.recursion_desired = request.metadata.recursion_desired;
            response.metadata.recursion_available = true;
            response.add_query(query.clone());
            if let Some(edns) = &request.edns {
                response.set_edns(edns.clone());
            }
            match answer(query.name(), query.query_type()) {
                Answer::Timeout => continue,
                Answer::NxDomain => response.metadata.response_code = ResponseCode::NXDomain,
                Answer::Records(records) => {
                    response.add_answers(records);
                }
            }
            if let Ok(bytes) = response.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    (addr, task)
}
