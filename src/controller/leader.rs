//! Leader election with a Lease (kube-lease-manager). Every replica watches and keeps its
//! caches warm; only the holder reconciles (see `Context::may_write`). A leader that loses the
//! Lease, or can no longer take part in the election, stops writing at once and the process
//! exits non-zero, so Kubernetes restarts it as a clean follower: a replica that lived on
//! unable to lead would look healthy and never lead again.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;

use super::config::ControllerConfig;
use super::error::RunError;
use super::http::Health;

const LEASE_NAME: &str = "fledge-controller-leader";
/// A stale leader is replaced after this long; short enough that a crashed replica's canaries
/// wait little, long enough to ride out an API hiccup.
const LEASE_SECONDS: u64 = 15;
const GRACE_SECONDS: u64 = 5;

/// The server-side-apply field manager of one replica. It must differ between replicas: taking
/// an orphaned Lease is an apply, and only an apply by a different manager conflicts, so a
/// shared name would let two replicas both take the Lease (seen on a real API server: two
/// replicas advancing the same release). Field manager names are at most 128 characters.
fn field_manager(identity: &str) -> String {
    format!("fledge-leader-election-{identity}")
        .chars()
        .take(128)
        .collect()
}

/// The elector's channels.
pub struct Election {
    /// Turns true when this replica becomes the leader, so the caller can reconcile
    /// everything it skipped as a follower.
    pub leading: tokio::sync::watch::Receiver<bool>,
    /// Resolves, with the reason, when this replica lost the lease after leading, or the
    /// election itself stopped: the process must exit.
    pub lost: tokio::sync::oneshot::Receiver<String>,
}

/// Starts the elector.
pub async fn spawn(
    client: Client,
    config: &ControllerConfig,
    health: Arc<Health>,
) -> Result<Election, RunError> {
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
        .with_field_manager(field_manager(&identity))
        .build()
        .await
        .map_err(|e| {
            RunError::other(
                format!("leader election: cannot use Lease {namespace}/{LEASE_NAME}"),
                e,
            )
        })?;
    let (mut channel, task) = manager.watch().await;
    let (leading_tx, leading_rx) = tokio::sync::watch::channel(false);
    let (lost_tx, lost_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let reason = loop {
            let leading = *channel.borrow_and_update();
            let was = health.leader.swap(leading, Ordering::SeqCst);
            if was != leading {
                tracing::info!(identity = %identity, leading, "leadership changed");
                let _ = leading_tx.send(leading);
            }
            if was && !leading {
                break format!("lost the lease {namespace}/{LEASE_NAME}");
            }
            if channel.changed().await.is_err() {
                break match task.await {
                    Ok(Ok(_)) => "leader election stopped".to_string(),
                    Ok(Err(err)) => format!("leader election failed: {err}"),
                    Err(err) => format!("leader election task panicked: {err}"),
                };
            }
        };
        health.leader.store(false, Ordering::SeqCst);
        let _ = leading_tx.send(false);
        tracing::error!(identity = %identity, reason, "not leading any more; exiting");
        let _ = lost_tx.send(reason);
    });
    Ok(Election {
        leading: leading_rx,
        lost: lost_rx,
    })
}

#[cfg(test)]
mod tests {
    use super::field_manager;

    #[test]
    fn each_replica_applies_the_lease_as_its_own_field_manager() {
        assert_ne!(field_manager("replica-a"), field_manager("replica-b"));
        assert_eq!(field_manager("a"), "fledge-leader-election-a");
        assert_eq!(field_manager(&"x".repeat(300)).chars().count(), 128);
    }
}
