//! fledge-sim: a simulated Kubernetes cluster in one process, for tests, the demo and benchmarks.
//!
//! It is an independent witness: it implements the Kubernetes API semantics from the API's
//! documented behaviour and shares no code with the controller crates (`core`, `routers`,
//! `metrics`). The controller must never depend on it in production.
//!
//! Layout: [`store`] holds objects and applies API semantics (the in-process API other parts of
//! the sim use); [`server`] speaks the Kubernetes wire protocol over HTTP on top of the store;
//! [`faults`] and [`stats`] shape and count requests; `workloads` and `traffic` simulate what
//! kubelets, controllers and users would do. [`Sim::start`] wires them together.

pub mod exporter;
pub mod faults;
pub mod join;
pub mod kubelet;
pub mod scenario;
pub mod server;
pub mod stats;
pub mod store;
pub mod traffic;
pub mod workloads;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use faults::{FaultInjector, Faults};
pub use scenario::{Scenario, ScenarioHandle};
pub use stats::StatsSnapshot;
pub use store::{ApiError, GroupResource, Store, StoreConfig, StoreEvent, resources};

/// How to start a simulated cluster.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Where to write the kubeconfig. `None`: a file in a temp dir removed with the handle.
    pub kubeconfig: Option<PathBuf>,
    /// The workload and traffic scenario (image health table, traffic).
    pub scenario: Scenario,
    /// Injected API faults.
    pub faults: Faults,
    /// Store tuning (watch history length).
    pub store: StoreConfig,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            kubeconfig: None,
            scenario: Scenario::default(),
            faults: Faults::default(),
            store: StoreConfig::default(),
        }
    }
}

/// Errors starting the sim.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("sim: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("sim: cannot write the kubeconfig {path}: {source}")]
    Kubeconfig {
        path: String,
        source: std::io::Error,
    },
    #[error("sim: cannot build a kube client for {url}: {message}")]
    Client { url: String, message: String },
}

/// A running simulated cluster. Dropping it shuts the cluster down.
pub struct SimHandle {
    url: String,
    addr: SocketAddr,
    client: kube::Client,
    kubeconfig: PathBuf,
    temp_dir: Option<PathBuf>,
    store: Store,
    stats: stats::Stats,
    faults: FaultInjector,
    scenario: ScenarioHandle,
    traffic: std::sync::Arc<traffic::Traffic>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// The simulated cluster's entry point.
pub struct Sim;

/// The kubeconfig the sim writes: cluster, user and context `fledge-sim`, current-context set.
pub fn kubeconfig_yaml(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fledge-sim\n  cluster:\n    server: {url}\nusers:\n- name: fledge-sim\n  user: {{}}\ncontexts:\n- name: fledge-sim\n  context:\n    cluster: fledge-sim\n    user: fledge-sim\n    namespace: default\ncurrent-context: fledge-sim\npreferences: {{}}\n"
    )
}

fn write_kubeconfig(path: &Path, url: &str) -> Result<(), SimError> {
    let err = |source| SimError::Kubeconfig {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    // Write then rename, so a reader polling for the file never sees half of it.
    let tmp = path.with_extension("tmp-fledge-sim");
    std::fs::write(&tmp, kubeconfig_yaml(url)).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

impl Sim {
    /// Start serving. Returns once the server accepts requests and the kubeconfig is written.
    pub async fn start(options: SimOptions) -> Result<SimHandle, SimError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: options.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: options.listen,
            source,
        })?;
        let url = format!("http://{addr}");
        let shutdown = CancellationToken::new();
        let store = Store::new(options.store.clone());
        let stats = stats::Stats::default();
        let faults = FaultInjector::new(options.faults.clone());
        let scenario = ScenarioHandle::new(options.scenario.clone());
        let state = server::ServerState {
            store: store.clone(),
            stats: stats.clone(),
            faults: faults.clone(),
            shutdown: shutdown.clone(),
        };

        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(store::gc::run(
            store.clone(),
            shutdown.clone(),
        )));
        // The simulated kube-controller-manager and kubelets (Sim-B's workloads module).
        tasks.push(tokio::spawn(workloads::run(
            store.clone(),
            scenario.clone(),
            shutdown.clone(),
        )));
        // Synthetic traffic, `/metrics`, the service proxy and Host-header routing.
        let traffic = traffic::Traffic::new(
            Box::new(traffic::StoreSource(store.clone())),
            scenario.clone(),
        );
        tasks.push(tokio::spawn(traffic.clone().run(shutdown.clone())));
        let app = server::router(state).merge(traffic::proxy::routes(traffic.clone()));
        let app = traffic::proxy::with_host_routing(app, traffic.clone());
        let token = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(token.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "sim: API server stopped");
            }
        }));

        let (kubeconfig, temp_dir) = match &options.kubeconfig {
            Some(p) => (p.clone(), None),
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "fledge-sim-{}-{}",
                    std::process::id(),
                    addr.port()
                ));
                (dir.join("kubeconfig"), Some(dir))
            }
        };
        let handle_err = |e| {
            shutdown.cancel();
            e
        };
        write_kubeconfig(&kubeconfig, &url).map_err(handle_err)?;
        let client_err = |message: String| SimError::Client {
            url: url.clone(),
            message,
        };
        let uri: axum::http::Uri = url
            .parse()
            .map_err(|e: axum::http::uri::InvalidUri| client_err(e.to_string()))?;
        let config = kube::Config::new(uri);
        let client = kube::Client::try_from(config).map_err(|e| client_err(e.to_string()))?;
        Ok(SimHandle {
            url,
            addr,
            client,
            kubeconfig,
            temp_dir,
            store,
            stats,
            faults,
            scenario,
            traffic,
            shutdown,
            tasks,
        })
    }
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kube client for this cluster (default namespace `default`).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Request statistics (the same document as `GET /sim/stats`).
    pub fn stats(&self) -> StatsSnapshot {
        self.stats
            .snapshot(self.store.object_count(), self.store.resource_version())
    }

    /// The object store, for in-process reads and writes that bypass HTTP.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The live fault configuration.
    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    /// The live scenario (image health table, traffic); changes apply while running.
    pub fn scenario(&self) -> &ScenarioHandle {
        &self.scenario
    }

    /// The traffic simulation (exporter, routing snapshot, serving one request in-process).
    pub fn traffic(&self) -> &traffic::Traffic {
        &self.traffic
    }

    /// Stop serving and wait for the server and background tasks to finish.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(dir) = &self.temp_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
