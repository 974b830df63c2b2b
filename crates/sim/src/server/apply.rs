//! Server-side apply (`PATCH` with `application/apply-patch+yaml`): request checks, create on a
//! missing object, field-manager bookkeeping and the conflict answer. The merge itself and the
//! managedFields algebra belong to `fledge-sim-patch`; this module only routes to it.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::convert::to_view;
use super::fieldcheck;
use super::json_response;
use super::resource::{Ctx, field_mode, prepare, with_warnings, write};
use crate::store::{ApiError, meta};

fn merge_applied(
    ctx: &Ctx,
    sub: Option<&str>,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, fledge_sim_patch::Error> {
    let writer = fledge_sim_patch::apply::Writer {
        kind: &ctx.def.kind,
        manager,
        subresource: sub,
        now,
    };
    fledge_sim_patch::apply::server_side(&writer, live, applied, force)
}

pub fn server_side_apply(
    ctx: &Ctx,
    name: &str,
    sub: Option<&str>,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the apply configuration was not UTF-8"))?;
    let mut applied: Value = serde_saphyr::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    let manager = ctx
        .query
        .get("fieldManager")
        .ok_or_else(|| {
            ApiError::bad_request(
                "PATCH requests with apply-patch content type must have fieldManager set",
            )
        })?
        .to_string();
    let force = ctx.query.flag("force");
    prepare(ctx, &mut applied, Some(name))?;
    let warnings = fieldcheck::check(&ctx.def, &mut applied, field_mode(ctx)?)?;
    let now = meta::now_rfc3339();
    for _ in 0..8 {
        let Some(current) = ctx.st.store.get(&ctx.gr, ctx.ns_str(), name) else {
            if sub.is_some() {
                return Err(ApiError::not_found(&ctx.def.group_resource(), name));
            }
            let created = merge_applied(ctx, sub, None, &applied, &manager, force, &now)
                .map_err(|e| super::resource::map_patch_error(e, &ctx.def, name))?;
            let stored = super::convert::from_view(&ctx.def, created);
            let store = &ctx.st.store;
            let out = if ctx.dry_run()? {
                store.dry_run(|s| s.create(&ctx.gr, stored))
            } else {
                store.create(&ctx.gr, stored)
            };
            match out {
                Err(e) if e.reason == "AlreadyExists" => continue,
                other => {
                    return Ok(with_warnings(
                        json_response(StatusCode::CREATED, &to_view(&ctx.def, &other?)),
                        &warnings,
                    ));
                }
            }
        };
        let live = to_view(&ctx.def, &current);
        let rv = meta::resource_version(&live).to_string();
        let mut merged = merge_applied(ctx, sub, Some(&live), &applied, &manager, force, &now)
            .map_err(|e| super::resource::map_patch_error(e, &ctx.def, name))?;
        meta::metadata_mut(&mut merged).insert("resourceVersion".into(), json!(rv));
        match write(ctx, sub, merged) {
            Err(e) if e.code == 409 && e.reason == "Conflict" => continue,
            other => {
                return Ok(with_warnings(
                    json_response(StatusCode::OK, &to_view(&ctx.def, &other?)),
                    &warnings,
                ));
            }
        }
    }
    Err(ApiError::conflict(
        &ctx.def.group_resource(),
        name,
        "the object is being modified too often; try again",
    ))
}
