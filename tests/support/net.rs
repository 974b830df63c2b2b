//! One shared async runtime for the helpers that need tokio (webhook receivers, HTTP reads),
//! so that the tests themselves stay plain blocking code like the rest of the harness.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::runtime::Runtime;

/// A multi-threaded runtime that lives as long as the test binary.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime for test helpers")
    })
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("reqwest client")
    })
}

/// GET `url`: status and body, or None when nothing answered.
pub fn get(url: &str) -> Option<(u16, String)> {
    runtime().block_on(async {
        let resp = client().get(url).send().await.ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.text().await.ok()?))
    })
}

/// POST `body` as JSON to `url`: status and body, or None when nothing answered.
pub fn post_json(url: &str, body: &serde_json::Value) -> Option<(u16, String)> {
    runtime().block_on(async {
        let resp = client().post(url).json(body).send().await.ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.text().await.ok()?))
    })
}

/// GET `url` with query parameters.
pub fn get_query(url: &str, query: &[(&str, &str)]) -> Option<(u16, String)> {
    runtime().block_on(async {
        let resp = client().get(url).query(query).send().await.ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.text().await.ok()?))
    })
}

/// A free loopback port (bound and released; Prometheus takes it a moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free loopback port")
}

/// Fails (never skips) when a tool the test needs is missing. Only whether it starts counts:
/// `hey` has no version flag and exits non-zero on `-h`.
pub fn require(tool: &str, package: &str) {
    let found = std::process::Command::new(tool)
        .arg("-h")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`{tool}` is needed by this test and was not found; install it with: apt-get install -y {package}"
    );
}

/// Drops ANSI colour codes (the controller's text log may have them).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
