//! Checks across objects: a Canary's metrics against the MetricTemplates they name, when those
//! templates are at hand (the same set of manifests, or the controller's cache). A template
//! that isn't at hand is not an error here: it may already be in the cluster.

use super::{Findings, Problem};
use crate::canary::Canary;
use crate::comparison::Side;
use crate::metric_template::MetricTemplate;
use crate::template::{TemplateError, TemplateVars, render};

/// Problems with the templates a Canary uses: `{{ variables.X }}` the metric doesn't set,
/// `comparePrimary` with a template that can't tell the sides apart, and `minSampleCount`
/// where no sample count can be had.
pub fn validate_template_refs(canary: &Canary, templates: &[MetricTemplate]) -> Vec<Problem> {
    let mut f = Findings::new("Canary", &canary.metadata);
    let spec = &canary.spec;
    let Some(analysis) = spec.analysis() else {
        return f.problems;
    };
    let canary_ns = canary.metadata.namespace.as_deref().unwrap_or_default();
    for (i, metric) in analysis.metrics.iter().enumerate() {
        let Some(reference) = &metric.template_ref else {
            continue;
        };
        let ns = reference.namespace.as_deref().unwrap_or(canary_ns);
        let Some(template) = templates.iter().find(|t| {
            t.metadata.name.as_deref() == Some(reference.name.as_str())
                && t.metadata.namespace.as_deref().unwrap_or_default() == ns
        }) else {
            continue;
        };
        let path = format!("spec.{}.metrics[{i}]", spec.analysis_field());
        let vars = TemplateVars::for_metric(canary, metric);
        let queries = [
            Some(&template.spec.query),
            template.spec.count_query.as_ref(),
        ];
        for query in queries.into_iter().flatten() {
            // Other template errors are reported on the template itself.
            if let Err(TemplateError::MissingVariable { key }) = render(query, &vars) {
                f.error(
                    format!("{path}.templateVariables"),
                    format!(
                        "MetricTemplate {ns}/{} uses {{{{ variables.{key} }}}}; set {key} here",
                        reference.name
                    ),
                );
                break;
            }
        }
        if metric.compare_primary.is_some() {
            let side = |side| {
                render(
                    &template.spec.query,
                    &TemplateVars::for_side(canary, metric, side),
                )
            };
            if let (Ok(ours), Ok(theirs)) = (side(Side::Canary), side(Side::Primary))
                && ours == theirs
            {
                f.error(
                    format!("{path}.comparePrimary"),
                    format!(
                        "MetricTemplate {ns}/{} renders the same query for the canary and the primary; select the side with {{{{ variables.workload }}}} (its Deployment) or {{{{ variables.side }}}}",
                        reference.name
                    ),
                );
            }
        }
        if metric.min_sample_count.is_some()
            && template.spec.count_query.is_none()
            && let Some(provider) = spec.provider
            && !provider.has_builtin_metrics()
        {
            f.warn(
                format!("{path}.minSampleCount"),
                format!(
                    "MetricTemplate {ns}/{} has no countQuery and the {provider} provider has no builtin request count, so this check will fail; add countQuery to the template",
                    reference.name
                ),
            );
        }
    }
    f.problems
}
