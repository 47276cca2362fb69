//! A moto server (`moto[server]`, DynamoDB + SQS + S3 + Secrets Manager on one port) on
//! 127.0.0.1 for the AWS adapter tests and the local stack.
//!
//! The binary is `SPSYNC_MOTO_SERVER`, else `<workspace>/.venv/bin/moto_server` (installed by
//! `make venv`). Each server gets a free port (a port-0 bind tells which; if moto loses the
//! race for it, it exits and the next port is tried) and is ready once `GET /moto-api/`
//! answers. Its output goes to `target/moto/moto-<pid>-<port>.log`, not to the terminal.
//!
//! # Not leaving servers behind
//!
//! A test binary keeps [`MotoServer::shared`] in a static, and statics are never dropped, so
//! killing the child on drop is not enough. moto is therefore started through a small Python
//! guard (standard library only) whose stdin is a pipe from this process: when the pipe
//! closes (the server is dropped, or this process exits or is killed, even by SIGKILL) the
//! guard reads end-of-file, terminates moto, waits for it, and exits. Dropping a
//! [`MotoServer`] closes the pipe and waits for the guard. Safe Rust cannot ask the kernel for
//! a parent-death signal (`prctl` needs `unsafe`, which the workspace forbids), and a pipe's
//! end-of-file survives every way a process can die.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Environment variable naming the `moto_server` binary.
pub const MOTO_SERVER_ENV: &str = "SPSYNC_MOTO_SERVER";

/// How long a server may take to answer: about half a second on a warm machine, far more on a
/// CI machine busy compiling (nextest runs each test in its own process, each with its moto).
const READY_WITHIN: Duration = Duration::from_secs(45);
const READY_POLL: Duration = Duration::from_millis(50);
/// Ports tried when moto loses a free port to another process before binding it.
const PORT_ATTEMPTS: usize = 5;

/// Runs moto's server (its argv) until stdin reaches end-of-file or moto exits by itself.
const GUARD: &str = r#"
import os, subprocess, sys, threading
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
def watch_parent():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except Exception:
        pass
    child.terminate()
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    os._exit(0)
threading.Thread(target=watch_parent, daemon=True).start()
sys.exit(child.wait())
"#;

/// A running moto server on 127.0.0.1, stopped when dropped.
#[derive(Debug)]
pub struct MotoServer {
    endpoint: String,
    port: u16,
    log: PathBuf,
    guard: Child,
    /// Held open for the server's life: closing it stops the server.
    lifeline: Option<ChildStdin>,
}

impl MotoServer {
    /// Starts a server with the binary of [`MotoServer::binary`] on a free port and waits until
    /// it answers. Panics (with what to do) when the binary is missing or moto does not start.
    pub async fn start() -> MotoServer {
        Self::start_binary(Self::binary()).await
    }

    /// [`MotoServer::start`] with an explicit binary.
    pub async fn start_binary(binary: PathBuf) -> MotoServer {
        // The start blocks (spawn, readiness polls): keep it off the async workers, and on
        // real time even in a test with paused tokio time.
        match tokio::task::spawn_blocking(move || Self::start_blocking(&binary)).await {
            Ok(server) => server,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("moto_server start was cancelled: {e}"),
        }
    }

    /// One server for the whole process, started on first use. It stops when the process
    /// exits (see the module docs). Tests sharing it must not [`reset`](Self::reset) it: use
    /// unique resource names instead.
    pub fn shared() -> &'static MotoServer {
        static SHARED: OnceLock<MotoServer> = OnceLock::new();
        SHARED.get_or_init(|| Self::start_blocking(&Self::binary()))
    }

    /// The binary: `SPSYNC_MOTO_SERVER`, else the workspace's `.venv/bin/moto_server`.
    pub fn binary() -> PathBuf {
        match std::env::var_os(MOTO_SERVER_ENV) {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => workspace_root().join(".venv/bin/moto_server"),
        }
    }

    /// Starts a server, blocking the calling thread until it answers.
    pub fn start_blocking(binary: &Path) -> MotoServer {
        if !binary.is_file() {
            panic!(
                "moto_server not found at {}: run `make venv` (or set {MOTO_SERVER_ENV})",
                binary.display()
            );
        }
        let log_dir = target_dir().join("moto");
        if let Err(e) = std::fs::create_dir_all(&log_dir) {
            panic!("cannot create {}: {e}", log_dir.display());
        }
        let mut failures = Vec::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let log = log_dir.join(format!("moto-{}-{port}.log", std::process::id()));
            match Self::try_start(binary, port, &log) {
                Ok(server) => return server,
                Err(reason) => failures.push(format!("port {port}: {reason}")),
            }
        }
        panic!("moto_server did not start: {}", failures.join("; "));
    }

    fn try_start(binary: &Path, port: u16, log: &Path) -> Result<MotoServer, String> {
        let out = std::fs::File::create(log).map_err(|e| format!("log {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("log {}: {e}", log.display()))?;
        let mut guard = Command::new(python_for(binary))
            .arg("-c")
            .arg(GUARD)
            .arg(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot run the Python guard for {}: {e}", binary.display()))?;
        let lifeline = guard.stdin.take();
        let mut server = MotoServer {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            log: log.to_owned(),
            guard,
            lifeline,
        };

        let deadline = Instant::now() + READY_WITHIN;
        loop {
            // A moto that exited (port taken, broken install) makes the guard exit too.
            match server.guard.try_wait() {
                Ok(Some(status)) => {
                    return Err(format!(
                        "moto_server exited ({status}) at start; see {}",
                        log.display()
                    ));
                }
                Ok(None) => {}
                Err(e) => return Err(format!("cannot watch moto_server: {e}")),
            }
            if answers(port) {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                // Dropping `server` stops it.
                return Err(format!(
                    "moto_server did not answer within {READY_WITHIN:?}; see {}",
                    log.display()
                ));
            }
            std::thread::sleep(READY_POLL);
        }
    }

    /// Base URL, `http://127.0.0.1:<port>`: the SDK's `endpoint_url` for every service.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Deletes every table, queue, bucket and secret (`POST /moto-api/reset`).
    pub async fn reset(&self) {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_else(|e| panic!("http client: {e}"));
        let response = client
            .post(format!("{}/moto-api/reset", self.endpoint))
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto reset on {} failed: {e}", self.endpoint));
        assert!(
            response.status().is_success(),
            "moto reset on {} answered {}",
            self.endpoint,
            response.status()
        );
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // End-of-file on the guard's stdin: it terminates moto (SIGTERM, then SIGKILL after
        // 5 s) and exits. Wait for that, bounded; kill the guard only if it hangs.
        drop(self.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.guard.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.guard.kill();
                    let _ = self.guard.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(READY_POLL),
            }
        }
    }
}

/// `<workspace>/`: this crate is `shared/testkit`.
fn workspace_root() -> PathBuf {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    root.canonicalize().unwrap_or_else(|_| root.to_path_buf())
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target"),
    }
}

/// The venv's own Python next to `moto_server` when there is one, else `python3`: the guard
/// needs only the standard library.
fn python_for(binary: &Path) -> PathBuf {
    binary
        .parent()
        .map(|dir| dir.join("python3"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

fn free_port() -> u16 {
    match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))) {
        Ok(listener) => match listener.local_addr() {
            Ok(addr) => addr.port(),
            Err(e) => panic!("cannot read a free port: {e}"),
        },
        Err(e) => panic!("cannot bind 127.0.0.1:0 to find a free port: {e}"),
    }
}

/// True when `GET /moto-api/` answers 200. Plain std IO with short timeouts, so it works on
/// any thread and under paused tokio time.
fn answers(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(2));
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return false;
    }
    let request =
        format!("GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SQS call in the query protocol, to see moto's state without an SDK. moto routes by
    /// the service named in the (unverified) signature.
    async fn sqs(endpoint: &str, body: String) -> String {
        let response = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .post(format!("{endpoint}/"))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("sqs call");
        assert!(
            response.status().is_success(),
            "sqs answered {}",
            response.status()
        );
        response.text().await.expect("body")
    }

    #[tokio::test]
    async fn server_answers_and_reset_clears_its_state() {
        let moto = MotoServer::start().await;

        assert!(moto.endpoint().starts_with("http://127.0.0.1:"));
        assert!(answers(moto.port()));
        sqs(
            &moto.endpoint(),
            "Action=CreateQueue&QueueName=spsync-reset-probe".into(),
        )
        .await;
        let before = sqs(&moto.endpoint(), "Action=ListQueues".into()).await;

        moto.reset().await;

        let after = sqs(&moto.endpoint(), "Action=ListQueues".into()).await;
        assert!(before.contains("spsync-reset-probe"), "{before}");
        assert!(!after.contains("spsync-reset-probe"), "{after}");
    }

    #[tokio::test]
    async fn dropping_the_server_stops_moto() {
        let moto = MotoServer::start().await;
        let port = moto.port();

        drop(moto);

        assert!(!answers(port), "moto still answers on {port}");
    }

    #[tokio::test(start_paused = true)]
    async fn start_works_under_paused_tokio_time() {
        let moto = MotoServer::start().await;

        assert!(answers(moto.port()));
    }

    #[test]
    fn shared_server_is_started_once() {
        let a = MotoServer::shared();
        let b = MotoServer::shared();

        assert!(std::ptr::eq(a, b));
        assert!(answers(a.port()));
    }

    #[test]
    #[should_panic(expected = "moto_server not found at /nonexistent/moto_server: run `make venv`")]
    fn missing_binary_says_what_to_do() {
        MotoServer::start_blocking(Path::new("/nonexistent/moto_server"));
    }

    #[test]
    fn log_goes_to_a_file_under_target() {
        let moto = MotoServer::shared();

        assert!(moto.log_path().starts_with(target_dir().join("moto")));
        assert!(moto.log_path().is_file());
    }
}
