//! The `guss` command as a hosting firm and an office owner use it: the
//! setup link from `guss tenant create`, the address `guss serve` prints,
//! and a clean stop on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn guss() -> Command {
    Command::new(env!("CARGO_BIN_EXE_guss"))
}

#[test]
fn tenant_create_prints_a_setup_link_per_organisation() {
    let data = tempfile::tempdir().unwrap();
    let create = |name: &str, email: &str| {
        let output = guss()
            .args(["--data", data.path().to_str().unwrap()])
            .args(["tenant", "create", "--name", name, "--owner-email", email])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let first = create("Kanzlei Müller", "anna@kanzlei.example");
    assert!(first.starts_with("http://localhost:8080/join/"), "{first}");
    let second = create("Praxis Zwei", "zoe@praxis.example");
    assert!(
        second.starts_with("http://praxis-zwei.localhost:8080/join/"),
        "{second}"
    );
    assert_ne!(first, second);

    let refused = guss()
        .args(["--data", data.path().to_str().unwrap()])
        .args([
            "tenant",
            "create",
            "--name",
            "X",
            "--owner-email",
            "no address",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("e-mail"));
}

#[test]
fn serve_prints_its_address_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let (server, port) = serve(data.path());
    // The first visit goes to the wizard.
    let answer = http_get(&port, "/");
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    assert!(answer.contains("location: /setup"), "{answer}");
    assert!(http_get(&port, "/healthz").ends_with("ok\n"));
    assert!(
        data.path().join("db").exists(),
        "the embedded default keeps its data in --data"
    );
    let status = terminate(server);
    assert!(status.success(), "{status:?}");

    // A service manager may stop it the moment it has announced itself:
    // that too is a clean stop, not a kill.
    for _ in 0..5 {
        let (server, _) = serve(data.path());
        let status = terminate(server);
        assert!(status.success(), "{status:?}");
    }
}

/// `guss serve` on a free port, once it has printed its address.
fn serve(data: &std::path::Path) -> (std::process::Child, String) {
    let mut server = guss()
        .args(["--data", data.to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("guss is running: open http://localhost:"),
        "{line}"
    );
    let port = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    (server, port)
}

/// Sends SIGTERM and waits (at most 20 s) for the process to end.
fn terminate(mut server: std::process::Child) -> std::process::ExitStatus {
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&server),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "guss did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A plain HTTP/1.1 GET on loopback, answered whole.
fn http_get(port: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}
