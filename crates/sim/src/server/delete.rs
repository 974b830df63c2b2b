//! DELETE of one object and of a collection: `DeleteOptions` (propagation policy, preconditions,
//! dry run) from the body and query, answered like the real server (200 when gone, 202 while
//! finalizers hold the object).

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::convert::to_view;
use super::filter::Filter;
use super::json_response;
use super::resource::Ctx;
use crate::store::{ApiError, DeleteOptions, Deleted, Propagation, meta};

fn delete_options(ctx: &Ctx, body: &Bytes) -> Result<DeleteOptions, ApiError> {
    let opts: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the DeleteOptions in the body were not valid JSON: {e}"
            ))
        })?
    };
    let policy = opts["propagationPolicy"]
        .as_str()
        .or(ctx.query.get("propagationPolicy"));
    let propagation = match policy {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let propagation = if opts["orphanDependents"] == true {
        Propagation::Orphan
    } else {
        propagation
    };
    Ok(DeleteOptions {
        propagation,
        precondition_uid: opts["preconditions"]["uid"].as_str().map(String::from),
        precondition_resource_version: opts["preconditions"]["resourceVersion"]
            .as_str()
            .map(String::from),
    })
}

fn body_dry_run(body: &Bytes) -> bool {
    serde_json::from_slice::<Value>(body).ok().is_some_and(|v| {
        v["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "All"))
    })
}

pub(super) fn delete(ctx: &Ctx, name: &str, body: &Bytes) -> Result<Response, ApiError> {
    let opts = delete_options(ctx, body)?;
    let store = &ctx.st.store;
    let op = |s: &crate::store::Store| s.delete_with(&ctx.gr, ctx.ns_str(), name, &opts);
    let result = if ctx.dry_run()? || body_dry_run(body) {
        store.dry_run(op)
    } else {
        op(store)
    }?;
    Ok(match result {
        Deleted::Gone(obj) => json_response(StatusCode::OK, &to_view(&ctx.def, &obj)),
        Deleted::Pending(obj) => json_response(StatusCode::ACCEPTED, &to_view(&ctx.def, &obj)),
    })
}

pub(super) fn delete_collection(ctx: &Ctx, body: &Bytes) -> Result<Response, ApiError> {
    let filter = Filter::from_query(&ctx.def, &ctx.query)?;
    let opts = delete_options(ctx, body)?;
    let dry = ctx.dry_run()? || body_dry_run(body);
    let (items, _) = ctx.st.store.list_arc(&ctx.gr, ctx.ns.as_deref());
    let mut deleted = Vec::new();
    for obj in items.iter().filter(|o| filter.matches(o)) {
        let op = |s: &crate::store::Store| {
            s.delete_with(&ctx.gr, meta::namespace(obj), meta::name(obj), &opts)
        };
        let r = if dry {
            ctx.st.store.dry_run(op)
        } else {
            op(&ctx.st.store)
        };
        match r {
            Ok(d) => deleted.push(to_view(&ctx.def, &d.into_object())),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let rv = ctx.st.store.resource_version().to_string();
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": ctx.def.list_kind, "apiVersion": ctx.def.api_version(), "metadata": {"resourceVersion": rv}, "items": deleted}),
    ))
}
