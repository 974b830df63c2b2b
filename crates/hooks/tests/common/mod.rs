//! A loopback HTTP receiver for hook and alert tests: records every request and answers the way
//! the test asks.
#![allow(dead_code)] // each test file uses a different part

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::StatusCode;

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Mode {
    /// This status and body for every request.
    Reply(u16, String),
    /// Sleep, then 200 (for timeouts).
    Slow(Duration),
    /// 503 for the first `n` requests, then 200.
    FailFirst(usize),
    /// Hold each request until `n` are in flight at once, then 200 all; 500 if that never happens
    /// within 5s (so hooks sent one after another fail).
    Together(usize),
    /// 500 with the request URI in the body, like a server that echoes what it got.
    EchoUri,
}

#[derive(Debug, Clone)]
pub struct Received {
    /// The request target as received (absolute-form when sent through a proxy).
    pub uri: String,
    pub path: String,
    pub headers: axum::http::HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    mode: Mutex<Option<Mode>>,
    in_flight: tokio::sync::watch::Sender<usize>,
}

pub struct Receiver {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    shared: Arc<Shared>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    pub async fn start(mode: Mode) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        Self::serve(listener, base, mode)
    }

    /// The same over HTTPS with a fresh self-signed certificate for 127.0.0.1 (made by the
    /// `openssl` CLI), which no client trusts.
    pub async fn start_tls(mode: Mode) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let status = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl not found; install it with: apt-get install -y openssl");
        assert!(status.success(), "openssl req failed");
        use rustls::pki_types::pem::PemObject;
        let certs = vec![rustls::pki_types::CertificateDer::from_pem_file(&cert).unwrap()];
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&key).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://{}", tcp.local_addr().unwrap());
        let listener = TlsListener {
            tcp,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        };
        Self::serve(listener, base, mode)
    }

    fn serve<L>(listener: L, base: String, mode: Mode) -> Self
    where
        L: axum::serve::Listener,
        L::Addr: std::fmt::Debug,
    {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let shared = Arc::new(Shared {
            mode: Mutex::new(Some(mode)),
            ..Default::default()
        });
        let s = Arc::clone(&shared);
        let app = axum::Router::new().fallback(move |req: Request| handle(Arc::clone(&s), req));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Receiver {
            base,
            shared,
            _shutdown: tx,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = Some(mode);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.shared.received.lock().unwrap().clear();
    }

    /// Rewrites `http://any.host/path` to this receiver, keeping the path.
    pub fn rebase(&self, url: &str) -> String {
        let parsed = reqwest::Url::parse(url).expect("example URL parses");
        let mut out = format!("{}{}", self.base, parsed.path());
        if let Some(q) = parsed.query() {
            out.push('?');
            out.push_str(q);
        }
        out
    }
}

/// Accepts TCP connections and completes the TLS handshake; failed handshakes (a client that
/// refuses the certificate) are skipped.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn handle(shared: Arc<Shared>, req: Request) -> (StatusCode, String) {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let n = {
        let mut r = shared.received.lock().unwrap();
        r.push(Received {
            uri: parts.uri.to_string(),
            path: parts.uri.path().to_owned(),
            headers: parts.headers.clone(),
            body,
        });
        r.len()
    };
    let mode = shared.mode.lock().unwrap().clone().expect("mode set");
    let status = |s: u16| StatusCode::from_u16(s).unwrap();
    match mode {
        Mode::Reply(s, body) => (status(s), body),
        Mode::Slow(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "late".into())
        }
        Mode::FailFirst(k) if n <= k => (StatusCode::SERVICE_UNAVAILABLE, "warming up".into()),
        Mode::FailFirst(_) => (StatusCode::OK, "ok".into()),
        Mode::EchoUri => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot handle {}", parts.uri),
        ),
        Mode::Together(k) => {
            shared.in_flight.send_modify(|c| *c += 1);
            let mut rx = shared.in_flight.subscribe();
            let reached = tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|c| *c >= k))
                .await
                .is_ok();
            if reached {
                (StatusCode::OK, "together".into())
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, "alone".into())
            }
        }
    }
}

/// A loopback port with nothing listening.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A file under the workspace's testdata/.
pub fn testdata(path: &str) -> String {
    let full = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/").to_owned() + path;
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}
