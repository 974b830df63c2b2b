//! What a reconcile tells the outside world: Kubernetes Events on the Canary, webhooks
//! (post-rollout and event hooks, fire and forget; the global `--event-webhook`) and alerts.
//! Nothing here is judged: a failed delivery is logged, never retried into the release.

use fledge_api::Canary;
use fledge_api::{CanaryPhase, HookType};
use fledge_core::{Alert, Event};
use fledge_hooks::alerts::{AlertMessage, AlertRoute, AlertTarget, ReleaseDetails};
use fledge_hooks::payload::{CanaryEvent, CanaryRef};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::context::Context;

/// Tells about one Canary.
pub struct Notifier<'a> {
    pub ctx: &'a Context,
    pub canary: &'a Canary,
    /// Checksum of the whole revision, for webhook payloads.
    pub payload_checksum: String,
}

impl Notifier<'_> {
    fn ns(&self) -> String {
        self.canary.namespace().unwrap_or_default()
    }

    fn canary_ref(&self, phase: CanaryPhase) -> CanaryRef {
        CanaryRef {
            name: self.canary.name_any(),
            namespace: self.ns(),
            phase: phase.to_string(),
            checksum: self.payload_checksum.clone(),
        }
    }

    /// Fire and forget: post-rollout and event hooks are logged, never judged.
    pub fn call_hooks(&self, hook_type: HookType, phase: CanaryPhase, event: Option<&Event>) {
        let hooks: Vec<_> = self
            .canary
            .spec
            .analysis()
            .map(|a| {
                a.webhooks
                    .iter()
                    .filter(|h| h.type_ == hook_type)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if hooks.is_empty() {
            return;
        }
        let client = self.ctx.webhooks.clone();
        let canary_ref = self.canary_ref(phase);
        let event = event.map(to_hook_event);
        tokio::spawn(async move {
            let outcomes = match &event {
                Some(e) => client.send_event(&hooks, &canary_ref, e).await,
                None => client.run_concurrently(&hooks, &canary_ref).await,
            };
            for outcome in outcomes.iter().filter(|o| !o.succeeded()) {
                tracing::warn!(outcome = %outcome, "webhook failed");
            }
        });
    }

    pub async fn event(&self, event: &Event) {
        self.ctx
            .recorder
            .publish(
                self.canary,
                event.event_type.as_str(),
                event.reason,
                &event.message,
            )
            .await;
        match event.event_type {
            fledge_core::EventType::Normal => tracing::info!(message = %event.message, "event"),
            fledge_core::EventType::Warning => tracing::warn!(message = %event.message, "event"),
        }
        // The global event webhook gets what a canary without its own event hooks records.
        let own = self
            .canary
            .spec
            .analysis()
            .is_some_and(|a| a.webhooks.iter().any(|h| h.type_ == HookType::Event));
        if !own && let Some(url) = self.ctx.config.event_webhook.clone() {
            let hooks = fledge_hooks::webhook::event_hooks(&[], Some(&url));
            let client = self.ctx.webhooks.clone();
            let phase = self
                .canary
                .status
                .as_ref()
                .and_then(|s| s.phase)
                .unwrap_or(CanaryPhase::Initializing);
            let canary_ref = self.canary_ref(phase);
            let e = to_hook_event(event);
            tokio::spawn(async move {
                for outcome in client.send_event(&hooks, &canary_ref, &e).await {
                    if !outcome.succeeded() {
                        tracing::warn!(outcome = %outcome, "global event webhook failed");
                    }
                }
            });
        }
    }

    pub fn alert(&self, alert: &Alert) {
        let alerts = self
            .canary
            .spec
            .analysis()
            .map(|a| a.alerts.clone())
            .unwrap_or_default();
        let ns = self.ns();
        let mut targets: Vec<Result<AlertTarget, String>> = Vec::new();
        let mut pending_secrets = Vec::new();
        match fledge_hooks::alerts::route(&alerts, alert.severity) {
            AlertRoute::Global => {
                if let Some(url) = &self.ctx.config.slack_url {
                    targets.push(Ok(AlertTarget::new(
                        fledge_api::AlertProviderType::Slack,
                        url.as_str().into(),
                    )));
                }
                if let Some(url) = &self.ctx.config.msteams_url {
                    targets.push(Ok(AlertTarget::new(
                        fledge_api::AlertProviderType::Msteams,
                        url.as_str().into(),
                    )));
                }
            }
            AlertRoute::Providers(chosen) => {
                for a in chosen {
                    let provider_ns = a
                        .provider_ref
                        .namespace
                        .clone()
                        .unwrap_or_else(|| ns.clone());
                    match self
                        .ctx
                        .caches
                        .alert_providers
                        .get(&ObjectRef::new(&a.provider_ref.name).within(&provider_ns))
                    {
                        None => targets.push(Err(format!(
                            "alert {:?}: AlertProvider {provider_ns}/{} not found",
                            a.name, a.provider_ref.name
                        ))),
                        Some(p) => pending_secrets.push((provider_ns, p)),
                    }
                }
            }
        }
        let analysis = self.canary.spec.analysis();
        let message = AlertMessage {
            name: self.canary.name_any(),
            namespace: ns.clone(),
            message: alert.message.clone(),
            severity: alert.severity,
            fields: fledge_hooks::alerts::alert_fields(
                Some(self.ctx.config.cluster_name.as_str()),
                Some(&ReleaseDetails {
                    target: format!(
                        "{}/{}.{}",
                        self.canary.spec.target_ref.kind, self.canary.spec.target_ref.name, ns
                    ),
                    failed_checks_threshold: analysis.map(|a| a.threshold()).unwrap_or(1),
                    progress_deadline: self.canary.spec.progress_deadline(),
                    routing: analysis.and_then(fledge_hooks::alerts::routing_summary),
                }),
            ),
        };
        let sender = self.ctx.alerts.clone();
        let client = self.ctx.client.clone();
        tokio::spawn(async move {
            for (provider_ns, provider) in pending_secrets {
                let address = match &provider.spec.secret_ref {
                    None => None,
                    Some(secret_ref) => {
                        match Api::<Secret>::namespaced(client.clone(), &provider_ns)
                            .get_opt(&secret_ref.name)
                            .await
                        {
                            Ok(Some(s)) => s
                                .data
                                .and_then(|d| d.get("address").cloned())
                                .and_then(|v| String::from_utf8(v.0).ok())
                                .map(|a| fledge_hooks::Secret::new(a.trim())),
                            // The provider's own check below says the address is missing.
                            Ok(None) => None,
                            Err(err) => {
                                tracing::warn!(
                                    secret = %format!("{provider_ns}/{}", secret_ref.name),
                                    error = %err,
                                    "cannot read the AlertProvider's secret"
                                );
                                None
                            }
                        }
                    }
                };
                targets.push(
                    AlertTarget::from_spec(&provider.spec, address).map_err(|e| {
                        format!("AlertProvider {provider_ns}/{}: {e}", provider.name_any())
                    }),
                );
            }
            for target in targets {
                match target {
                    Ok(t) => {
                        if let Err(err) = sender.send(&t, &message).await {
                            tracing::warn!(error = %err, "alert not delivered");
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "alert not delivered"),
                }
            }
        });
    }
}

fn to_hook_event(event: &Event) -> CanaryEvent {
    CanaryEvent {
        message: event.message.clone(),
        event_type: event.event_type,
        timestamp: jiff::Timestamp::now(),
    }
}
