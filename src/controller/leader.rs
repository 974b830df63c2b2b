//! Leader election with a Lease (kube-lease-manager). Every replica watches and keeps its
//! caches warm; only the holder writes. Losing the lease flips `Health::leader` at once, and
//! every write path checks it first (see `Context::may_write`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context as _;
use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;

use super::ControllerConfig;
use super::http::Health;

const LEASE_NAME: &str = "fledge-controller-leader";
/// A stale leader is replaced after this long; short enough that a crashed replica's canaries
/// wait little, long enough to ride out an API hiccup.
const LEASE_SECONDS: u64 = 15;
const GRACE_SECONDS: u64 = 5;

/// Starts the elector. The returned channel turns true whenever this replica becomes the
/// leader, so the caller can reconcile everything it skipped as a follower.
pub async fn spawn(
    client: Client,
    config: &ControllerConfig,
    health: Arc<Health>,
) -> anyhow::Result<tokio::sync::watch::Receiver<bool>> {
    let namespace = config
        .leader_election_namespace
        .clone()
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace").ok()
        })
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "default".to_string());
    let identity = config.identity.clone().unwrap_or_else(|| {
        std::env::var("HOSTNAME").unwrap_or_else(|_| format!("fledge-{}", std::process::id()))
    });
    let manager = LeaseManagerBuilder::new(client, LEASE_NAME)
        .with_namespace(namespace.clone())
        .with_identity(identity.clone())
        .with_duration(LEASE_SECONDS)
        .with_grace(GRACE_SECONDS)
        .with_field_manager("fledge-leader-election")
        .build()
        .await
        .with_context(|| format!("leader election: cannot use Lease {namespace}/{LEASE_NAME}"))?;
    let (mut channel, task) = manager.watch().await;
    let (leading_tx, leading_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        loop {
            let leading = *channel.borrow_and_update();
            if health.leader.swap(leading, Ordering::SeqCst) != leading {
                tracing::info!(identity = %identity, leading, "leadership changed");
                let _ = leading_tx.send(leading);
            }
            if channel.changed().await.is_err() {
                break;
            }
        }
        health.leader.store(false, Ordering::SeqCst);
        let _ = leading_tx.send(false);
        match task.await {
            Ok(Ok(_)) => tracing::warn!("leader election stopped"),
            Ok(Err(err)) => {
                tracing::error!(error = %err, "leader election failed; not writing any more")
            }
            Err(err) => {
                tracing::error!(error = %err, "leader election task panicked; not writing any more")
            }
        }
    });
    Ok(leading_rx)
}
