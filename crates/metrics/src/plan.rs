//! From a Canary's `spec.analysis.metrics` to checks ready to run: which query (rendered with
//! the API's one template renderer), against which provider, judged how. Pure: templates are
//! looked up through a function the caller supplies (a reflector store in the controller).
//!
//! A metric that can't be planned (missing template, unknown variable, no builtin for the
//! provider) becomes a [`PlanError`] that [`crate::analyze`] records as a failed check, so a
//! broken template never passes and never disappears silently.

use std::fmt;
use std::sync::Arc;

use fledge_api::template::{TemplateError, TemplateVars, render};
use fledge_api::{Canary, CanaryMetric, MetricTemplate, Provider, Side};

use crate::builtin::{Builtin, NoBuiltinQueries, queries_for};
use crate::evaluate::Criteria;
use crate::prometheus::collapse_whitespace;

/// A MetricTemplate's namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TemplateKey {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for TemplateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Where a query runs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuerySource {
    /// The Canary's `spec.metricsServer`, else the controller's `--metrics-server`: builtin
    /// metrics, inline `query` metrics and the builtin request count.
    MetricsServer,
    /// The provider in this MetricTemplate's `spec.provider`.
    Template(TemplateKey),
}

/// A rendered query and where it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedQuery {
    pub source: QuerySource,
    /// Whitespace already collapsed, as it is sent.
    pub query: String,
    /// What produced the query, for messages: `MetricTemplate test/error-rate`,
    /// `builtin request-success-rate (istio)`, `inline query`, ...
    pub origin: String,
}

/// One metric, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedCheck {
    pub criteria: Criteria,
    /// The canary's query.
    pub query: PlannedQuery,
    /// The canary's sample count; present when `minSampleCount` is set.
    pub count: Option<PlannedQuery>,
    /// The primary's queries, for a metric with `comparePrimary`.
    pub primary: Option<PlannedSide>,
}

impl PlannedCheck {
    /// Every query the check runs, both sides.
    pub fn queries(&self) -> impl Iterator<Item = &PlannedQuery> {
        let primary = self.primary.iter().flat_map(|p| p.queries());
        std::iter::once(&self.query)
            .chain(self.count.iter())
            .chain(primary)
    }
}

/// The queries of one side of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedSide {
    pub query: PlannedQuery,
    /// Present when `minSampleCount` is set.
    pub count: Option<PlannedQuery>,
}

impl PlannedSide {
    fn queries(&self) -> impl Iterator<Item = &PlannedQuery> {
        std::iter::once(&self.query).chain(self.count.iter())
    }
}

/// Why a metric can't be run. Displays as
/// `canary <ns>/<name>: spec.analysis.metrics[<i>] (<metric>): <problem>`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("canary {canary}: {field} ({metric}): {problem}")]
pub struct PlanError {
    pub canary: String,
    pub field: String,
    pub metric: String,
    pub problem: Box<PlanProblem>,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlanProblem {
    #[error("MetricTemplate {0} not found; create it or fix templateRef")]
    TemplateNotFound(TemplateKey),
    #[error("{origin}: {field}: {source}")]
    Render {
        origin: String,
        field: &'static str,
        source: TemplateError,
    },
    #[error(transparent)]
    NoBuiltin(#[from] NoBuiltinQueries),
    #[error(
        "no usable metrics template and query were configured; set templateRef (or query), \
         or use a builtin name (request-success-rate, request-duration)"
    )]
    NoQuery,
    #[error(
        "comparePrimary: {origin} renders the same query for the canary and the primary; select \
         the side with {{{{ variables.workload }}}} (its Deployment) or {{{{ variables.side }}}}"
    )]
    SameQueryBothSides { origin: String },
    #[error(
        "minSampleCount needs a way to count samples: set spec.countQuery on MetricTemplate \
         {template} ({builtin})"
    )]
    NoCountQuery {
        template: TemplateKey,
        builtin: NoBuiltinQueries,
    },
}

/// Plans every metric of the canary's analysis, in order. `provider` is the traffic provider
/// in force (`spec.provider`, else the controller's `--mesh-provider`); it picks the builtin
/// queries. `templates` finds a MetricTemplate by namespace and name.
pub fn plan(
    canary: &Canary,
    provider: Provider,
    templates: impl Fn(&TemplateKey) -> Option<Arc<MetricTemplate>>,
) -> Vec<Result<PlannedCheck, PlanError>> {
    let Some(analysis) = canary.spec.analysis() else {
        return Vec::new();
    };
    let canary_id = format!(
        "{}/{}",
        canary.metadata.namespace.as_deref().unwrap_or_default(),
        canary.metadata.name.as_deref().unwrap_or_default()
    );
    analysis
        .metrics
        .iter()
        .enumerate()
        .map(|(i, metric)| {
            plan_metric(canary, metric, provider, &templates).map_err(|problem| PlanError {
                canary: canary_id.clone(),
                field: format!("spec.{}.metrics[{i}]", canary.spec.analysis_field()),
                metric: metric.name.clone(),
                problem: Box::new(problem),
            })
        })
        .collect()
}

fn plan_metric(
    canary: &Canary,
    metric: &CanaryMetric,
    provider: Provider,
    templates: &impl Fn(&TemplateKey) -> Option<Arc<MetricTemplate>>,
) -> Result<PlannedCheck, PlanProblem> {
    let ours = plan_side(canary, metric, provider, templates, Side::Canary)?;
    let primary = match &metric.compare_primary {
        None => None,
        Some(_) => {
            let theirs = plan_side(canary, metric, provider, templates, Side::Primary)?;
            // Comparing a query with itself would pass every release.
            if theirs.query.query == ours.query.query {
                return Err(PlanProblem::SameQueryBothSides {
                    origin: ours.query.origin,
                });
            }
            Some(theirs)
        }
    };
    Ok(PlannedCheck {
        criteria: Criteria::for_metric(metric),
        query: ours.query,
        count: ours.count,
        primary,
    })
}

/// The query (and the count query, with `minSampleCount`) of one side of a metric.
fn plan_side(
    canary: &Canary,
    metric: &CanaryMetric,
    provider: Provider,
    templates: &impl Fn(&TemplateKey) -> Option<Arc<MetricTemplate>>,
    side: Side,
) -> Result<PlannedSide, PlanProblem> {
    let vars = TemplateVars::for_side(canary, metric, side);
    // The builtin tables that select a workload by name ask the primary with the primary
    // Deployment as `{{ target }}`.
    let retargeted = TemplateVars {
        target: canary.spec.primary_target_name(),
        ..vars.clone()
    };
    let suffix = match side {
        Side::Canary => "",
        Side::Primary => ", primary",
    };
    let wants_count = metric.min_sample_count.is_some();
    let render_as =
        |template: &str, retarget: bool, origin: &str, field: &'static str, source: QuerySource| {
            render(template, if retarget { &retargeted } else { &vars })
                .map(|q| PlannedQuery {
                    source,
                    query: collapse_whitespace(&q),
                    origin: origin.to_string(),
                })
                .map_err(|source| PlanProblem::Render {
                    origin: origin.to_string(),
                    field,
                    source,
                })
        };
    let builtin_count = || -> Result<PlannedQuery, PlanProblem> {
        let queries = queries_for(provider)?;
        let origin = format!("builtin request count ({provider}{suffix})");
        let (query, retarget) = match side {
            Side::Canary => (queries.request_count, false),
            Side::Primary => queries.primary_request_count(),
        };
        render_as(
            query,
            retarget,
            &origin,
            "query",
            QuerySource::MetricsServer,
        )
    };

    if let Some(template_ref) = &metric.template_ref {
        let key = TemplateKey {
            namespace: template_ref
                .namespace
                .clone()
                .filter(|ns| !ns.is_empty())
                .unwrap_or_else(|| vars.namespace.clone()),
            name: template_ref.name.clone(),
        };
        let template = templates(&key).ok_or_else(|| PlanProblem::TemplateNotFound(key.clone()))?;
        let origin = match side {
            Side::Canary => format!("MetricTemplate {key}"),
            Side::Primary => format!("MetricTemplate {key} (primary)"),
        };
        let source = QuerySource::Template(key.clone());
        let query = render_as(
            &template.spec.query,
            false,
            &origin,
            "spec.query",
            source.clone(),
        )?;
        let count = match (&template.spec.count_query, wants_count) {
            (_, false) => None,
            (Some(count_query), true) => Some(render_as(
                count_query,
                false,
                &origin,
                "spec.countQuery",
                source,
            )?),
            (None, true) => Some(builtin_count().map_err(|problem| match problem {
                PlanProblem::NoBuiltin(builtin) => PlanProblem::NoCountQuery {
                    template: key.clone(),
                    builtin,
                },
                other => other,
            })?),
        };
        return Ok(PlannedSide { query, count });
    }

    let query = if let Some(inline) = &metric.query {
        let origin = match side {
            Side::Canary => "inline query",
            Side::Primary => "inline query (primary)",
        };
        render_as(inline, false, origin, "query", QuerySource::MetricsServer)?
    } else if let Some(builtin) = Builtin::from_name(&metric.name) {
        let queries = queries_for(provider)?;
        let origin = format!("builtin {} ({provider}{suffix})", builtin.name());
        let (query, retarget) = match side {
            Side::Canary => (queries.query(builtin), false),
            Side::Primary => queries.primary_query(builtin),
        };
        render_as(
            query,
            retarget,
            &origin,
            "query",
            QuerySource::MetricsServer,
        )?
    } else {
        return Err(PlanProblem::NoQuery);
    };
    let count = if wants_count {
        Some(builtin_count()?)
    } else {
        None
    };
    Ok(PlannedSide { query, count })
}

#[cfg(test)]
mod tests;
