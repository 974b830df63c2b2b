//! Handlers for resource URLs: get, list, create, update, patch, delete, deletecollection, the
//! `status` and `scale` subresources. They translate HTTP (query parameters, content types,
//! dry-run, field validation, tables) into store calls; the semantics live in the store.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::convert::{from_view, needs_view, to_view};
use super::fieldcheck::{self, Mode};
use super::filter::Filter;
use super::path::ResourcePath;
use super::table::{self, Include};
use super::{Query, ServerState, json_response, watch};
use crate::store::{ApiError, GroupResource, Registry, ResourceDef, meta};

/// One request's context.
pub struct Ctx<'a> {
    pub st: &'a ServerState,
    pub def: ResourceDef,
    pub gr: GroupResource,
    /// Request namespace (`None`: cluster-scoped, or a list across all namespaces).
    pub ns: Option<String>,
    pub query: Query,
    pub accept: String,
    /// The field manager of a write: `fieldManager`, else the User-Agent's product name.
    pub manager: String,
}

impl Ctx<'_> {
    pub(super) fn ns_str(&self) -> &str {
        self.ns.as_deref().unwrap_or_default()
    }

    pub(super) fn dry_run(&self) -> Result<bool, ApiError> {
        match self.query.get("dryRun") {
            None => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "dryRun: unsupported value {other:?}: the only supported value is All"
            ))),
        }
    }
}

pub(super) fn map_patch_error(
    e: fledge_sim_patch::Error,
    def: &ResourceDef,
    name: &str,
) -> ApiError {
    use fledge_sim_patch::Error as E;
    match e {
        E::BadRequest(m) => ApiError::bad_request(m),
        E::Invalid(m) => ApiError::invalid(
            &def.kind_group(),
            &def.group,
            &def.kind,
            name,
            vec![crate::store::Cause::new("FieldValueInvalid", "", m)],
        ),
        e @ E::TestFailed { .. } => ApiError::invalid(
            &def.kind_group(),
            &def.group,
            &def.kind,
            name,
            vec![crate::store::Cause::new(
                "FieldValueInvalid",
                "",
                e.to_string(),
            )],
        ),
        e @ E::Conflict(_) => {
            let mut err = ApiError::conflict(&def.group_resource(), name, &e.to_string());
            err.message = e.to_string();
            if let E::Conflict(list) = &e {
                let causes: Vec<Value> =
                    list.iter().map(|c| json!({"reason": "FieldManagerConflict", "message": c.cause_message(), "field": c.field})).collect();
                if let Some(d) = err.details.as_mut() {
                    d["causes"] = json!(causes);
                }
            }
            err
        }
    }
}

pub(super) fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let base = ct.split(';').next().unwrap_or_default().trim();
    match base {
        "application/json" | "" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("the body of the request was not valid JSON: {e}"))
        }),
        "application/yaml" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("the body of the request was not UTF-8"))?;
            serde_saphyr::from_str(text).map_err(|e| {
                ApiError::bad_request(format!("the body of the request was not valid YAML: {e}"))
            })
        }
        other => Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {other})"
        ))),
    }
}

pub async fn handle(
    st: &ServerState,
    registry: &Registry,
    rp: ResourcePath,
    method: Method,
    query: Query,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let def = registry
        .find(&rp.group, &rp.version, &rp.plural)
        .cloned()
        .ok_or_else(ApiError::no_route)?;
    let sub = rp.subresource.as_deref();
    match sub {
        None => {}
        Some("status") if def.has_status => {}
        Some("scale") if def.scale.is_some() => {}
        Some(_) => return Err(ApiError::no_route()),
    }
    let name = rp.name.clone();
    let verb = match (&method, name.is_some()) {
        (&Method::GET, false) if query.flag("watch") => "watch",
        (&Method::GET, false) => "list",
        (&Method::GET, true) => "get",
        (&Method::POST, false) if sub.is_none() => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) if sub.is_none() => "delete",
        (&Method::DELETE, false) if sub.is_none() => "deletecollection",
        _ => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({method})"
            )));
        }
    };
    let label = match sub {
        Some(s) => format!("{}/{s}", def.group_resource().qualified()),
        None => def.group_resource().qualified(),
    };
    st.stats.record(verb, &label);
    if let Some(err) = st
        .faults
        .check(verb, &label, name.as_deref().unwrap_or_default())
    {
        return Err(err);
    }
    if def.namespaced && name.is_some() && rp.namespace.is_none() {
        return Err(ApiError::no_route());
    }
    if def.namespaced && verb == "create" && rp.namespace.is_none() {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        ));
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    let manager = query
        .get("fieldManager")
        .map(String::from)
        .unwrap_or_else(|| ua.split('/').next().unwrap_or(ua).to_string());
    let ctx = Ctx {
        st,
        gr: def.storage.clone(),
        def,
        ns: rp.namespace.clone(),
        query,
        accept,
        manager,
    };
    let name = name.unwrap_or_default();
    match verb {
        "watch" => watch::serve(&ctx).await,
        "list" => list(&ctx),
        "get" => get(&ctx, &name, sub),
        "create" => create(&ctx, parse_body(headers, &body)?),
        "update" => update(&ctx, &name, sub, parse_body(headers, &body)?),
        "patch" => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            patch(
                &ctx,
                &name,
                sub,
                ct.split(';').next().unwrap_or_default().trim(),
                &body,
            )
        }
        "delete" => super::delete::delete(&ctx, &name, &body),
        _ => super::delete::delete_collection(&ctx, &body),
    }
}

fn get(ctx: &Ctx, name: &str, sub: Option<&str>) -> Result<Response, ApiError> {
    let obj = ctx
        .st
        .store
        .get_arc(&ctx.gr, ctx.ns_str(), name)
        .ok_or_else(|| ApiError::not_found(&ctx.def.group_resource(), name))?;
    if sub == Some("scale") {
        return Ok(json_response(
            StatusCode::OK,
            &super::scale::scale_of(&ctx.def, &obj),
        ));
    }
    let view = to_view(&ctx.def, &obj);
    if table::wants_metadata(&ctx.accept) {
        return Ok(json_response(StatusCode::OK, &table::metadata_only(&view)));
    }
    if table::wants_table(&ctx.accept) {
        let rv = meta::resource_version(&view).to_string();
        let include = Include::parse(ctx.query.get("includeObject"));
        return Ok(json_response(
            StatusCode::OK,
            &table::table(&ctx.def, &[view], &rv, None, include),
        ));
    }
    Ok(json_response(StatusCode::OK, &view))
}

fn encode_continue(ns: &str, name: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{ns}\u{0}{name}"))
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::bad_request("continue key is not valid: decode failed");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (ns, name) = text.split_once('\u{0}').ok_or_else(bad)?;
    Ok((ns.to_string(), name.to_string()))
}

fn list(ctx: &Ctx) -> Result<Response, ApiError> {
    let filter = Filter::from_query(&ctx.def, &ctx.query)?;
    let limit = ctx
        .query
        .u64("limit")?
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    let after = ctx.query.get("continue").map(decode_continue).transpose()?;
    let (items, rv) = ctx.st.store.list_arc(&ctx.gr, ctx.ns.as_deref());
    let mut selected: Vec<&Arc<Value>> = Vec::new();
    let mut cont = None;
    for obj in items.iter() {
        let before_start = after.as_ref().is_some_and(|(ns, name)| {
            (meta::namespace(obj), meta::name(obj)) <= (ns.as_str(), name.as_str())
        });
        if before_start || !filter.matches(obj) {
            continue;
        }
        if limit.is_some_and(|l| selected.len() >= l) {
            if let Some(last) = selected.last() {
                cont = Some(encode_continue(meta::namespace(last), meta::name(last)));
            }
            break;
        }
        selected.push(obj);
    }
    let rv = rv.to_string();
    if table::wants_table(&ctx.accept) {
        let include = Include::parse(ctx.query.get("includeObject"));
        let views: Vec<Value> = selected.iter().map(|o| to_view(&ctx.def, o)).collect();
        return Ok(json_response(
            StatusCode::OK,
            &table::table(&ctx.def, &views, &rv, cont.as_deref(), include),
        ));
    }
    let mut metadata = json!({"resourceVersion": rv});
    if let Some(c) = cont {
        metadata["continue"] = json!(c);
    }
    let metadata_only = table::wants_metadata(&ctx.accept);
    let (kind, api_version) = if metadata_only {
        (
            "PartialObjectMetadataList".to_string(),
            "meta.k8s.io/v1".to_string(),
        )
    } else {
        (ctx.def.list_kind.clone(), ctx.def.api_version())
    };
    // Large lists are written item by item: stored objects already in this version's shape
    // are serialized in place instead of being copied into a new document first.
    let head = json!({"kind": kind, "apiVersion": api_version, "metadata": metadata}).to_string();
    let mut body = Vec::with_capacity(head.len() + selected.len() * 512);
    body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    body.extend_from_slice(b",\"items\":[");
    for (i, obj) in selected.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        let written = if metadata_only {
            serde_json::to_writer(&mut body, &table::metadata_only(obj))
        } else if needs_view(&ctx.def, obj) {
            serde_json::to_writer(&mut body, &to_view(&ctx.def, obj))
        } else {
            serde_json::to_writer(&mut body, &***obj)
        };
        written.map_err(|e| ApiError::internal(format!("encoding the list: {e}")))?;
    }
    body.extend_from_slice(b"]}");
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// Check the body's identity against the URL and fill in the namespace.
pub(super) fn prepare(ctx: &Ctx, obj: &mut Value, url_name: Option<&str>) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request was not a JSON object",
        ));
    }
    if let Some(av) = obj.get("apiVersion").and_then(Value::as_str) {
        let (g, _) = crate::store::split_api_version(av);
        if g != ctx.def.group {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                ctx.def.api_version()
            )));
        }
    }
    if let Some(kind) = obj.get("kind").and_then(Value::as_str)
        && kind != ctx.def.kind
        && kind != "Scale"
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            ctx.def.kind
        )));
    }
    let m = meta::metadata_mut(obj);
    if ctx.def.namespaced {
        match m.get("namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() && ns != ctx.ns_str() => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                m.insert("namespace".into(), json!(ctx.ns_str()));
            }
        }
    }
    if let Some(url_name) = url_name {
        match m.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != url_name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({url_name})"
                )));
            }
            _ => {
                m.insert("name".into(), json!(url_name));
            }
        }
    }
    Ok(())
}

/// Record `new` as written by the request's field manager (operation `Update`).
fn record(
    ctx: &Ctx,
    sub: Option<&str>,
    old: Option<&Value>,
    new: Value,
) -> Result<Value, ApiError> {
    let now = meta::now_rfc3339();
    let writer = fledge_sim_patch::apply::Writer {
        kind: &ctx.def.kind,
        manager: &ctx.manager,
        subresource: sub,
        now: &now,
    };
    fledge_sim_patch::apply::record_update(&writer, old, &new)
        .map_err(|e| map_patch_error(e, &ctx.def, meta::name(&new)))
}

pub(super) fn field_mode(ctx: &Ctx) -> Result<Mode, ApiError> {
    Mode::parse(ctx.query.get("fieldValidation"))
}

fn create(ctx: &Ctx, mut obj: Value) -> Result<Response, ApiError> {
    prepare(ctx, &mut obj, None)?;
    let warnings = fieldcheck::check(&ctx.def, &mut obj, field_mode(ctx)?)?;
    let obj = record(ctx, None, None, obj)?;
    let stored = from_view(&ctx.def, obj);
    let store = &ctx.st.store;
    let out = if ctx.dry_run()? {
        store.dry_run(|s| s.create(&ctx.gr, stored))
    } else {
        store.create(&ctx.gr, stored)
    }?;
    Ok(with_warnings(
        json_response(StatusCode::CREATED, &to_view(&ctx.def, &out)),
        &warnings,
    ))
}

pub(super) fn write(ctx: &Ctx, sub: Option<&str>, obj: Value) -> Result<Value, ApiError> {
    let store = &ctx.st.store;
    let stored = from_view(&ctx.def, obj);
    let op = |s: &crate::store::Store| match sub {
        Some("status") => s.replace_status(&ctx.gr, stored),
        _ => s.update(&ctx.gr, stored),
    };
    if ctx.dry_run()? {
        store.dry_run(op)
    } else {
        op(store)
    }
}

fn update(ctx: &Ctx, name: &str, sub: Option<&str>, mut obj: Value) -> Result<Response, ApiError> {
    if sub == Some("scale") {
        let current = ctx
            .st
            .store
            .get(&ctx.gr, ctx.ns_str(), name)
            .ok_or_else(|| ApiError::not_found(&ctx.def.group_resource(), name))?;
        let rv = meta::resource_version(&obj).to_string();
        let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(0);
        let mut updated = super::scale::set_scale(&ctx.def, to_view(&ctx.def, &current), replicas);
        meta::metadata_mut(&mut updated).insert("resourceVersion".into(), json!(rv));
        let out = write(ctx, None, updated)?;
        return Ok(json_response(
            StatusCode::OK,
            &super::scale::scale_of(&ctx.def, &out),
        ));
    }
    prepare(ctx, &mut obj, Some(name))?;
    let warnings = fieldcheck::check(&ctx.def, &mut obj, field_mode(ctx)?)?;
    let old = ctx
        .st
        .store
        .get(&ctx.gr, ctx.ns_str(), name)
        .map(|o| to_view(&ctx.def, &o));
    let obj = record(ctx, sub, old.as_ref(), obj)?;
    let out = write(ctx, sub, obj)?;
    Ok(with_warnings(
        json_response(StatusCode::OK, &to_view(&ctx.def, &out)),
        &warnings,
    ))
}

/// Apply a patch body of content type `ct` to `current` (in the request's shape).
fn apply_patch(
    def: &ResourceDef,
    name: &str,
    ct: &str,
    current: &Value,
    body: &Bytes,
) -> Result<Value, ApiError> {
    const PATCH_TYPES: [&str; 3] = [
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
    ];
    if !PATCH_TYPES.contains(&ct) {
        return Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct:?})"
        )));
    }
    let patch: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the body of the request was not valid JSON: {e}"))
    })?;
    let result = match ct {
        "application/merge-patch+json" => fledge_sim_patch::merge::apply(current, &patch),
        "application/json-patch+json" => fledge_sim_patch::jsonpatch::apply(current, &patch),
        "application/strategic-merge-patch+json" => {
            if def.custom {
                return Err(ApiError::unsupported_media_type(format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (strategic merge patch is not supported for custom resources: {})",
                    def.kind
                )));
            }
            fledge_sim_patch::strategic::apply(&def.kind, current, &patch)
        }
        other => {
            return Err(ApiError::unsupported_media_type(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
            )));
        }
    };
    result.map_err(|e| map_patch_error(e, def, name))
}

fn patch(
    ctx: &Ctx,
    name: &str,
    sub: Option<&str>,
    ct: &str,
    body: &Bytes,
) -> Result<Response, ApiError> {
    if ct == "application/apply-patch+yaml" {
        return super::apply::server_side_apply(ctx, name, sub, body);
    }
    let mode = field_mode(ctx)?;
    // Re-read and retry on a concurrent write, as the real server does for patches that do not
    // carry their own resourceVersion.
    for _ in 0..8 {
        let current = ctx
            .st
            .store
            .get(&ctx.gr, ctx.ns_str(), name)
            .ok_or_else(|| ApiError::not_found(&ctx.def.group_resource(), name))?;
        let current_view = to_view(&ctx.def, &current);
        let current_rv = meta::resource_version(&current).to_string();
        if sub == Some("scale") {
            let scale = super::scale::scale_of(&ctx.def, &current_view);
            let patched = apply_patch(
                &ctx.def,
                name,
                if ct == "application/strategic-merge-patch+json" {
                    "application/merge-patch+json"
                } else {
                    ct
                },
                &scale,
                body,
            )?;
            let replicas = patched["spec"]["replicas"].as_i64().unwrap_or(0);
            let mut updated = super::scale::set_scale(&ctx.def, current_view, replicas);
            meta::metadata_mut(&mut updated).insert("resourceVersion".into(), json!(current_rv));
            match write(ctx, None, updated) {
                Err(e) if e.code == 409 && e.reason == "Conflict" => continue,
                other => {
                    return Ok(json_response(
                        StatusCode::OK,
                        &super::scale::scale_of(&ctx.def, &other?),
                    ));
                }
            }
        }
        let mut patched = apply_patch(&ctx.def, name, ct, &current_view, body)?;
        let explicit_rv = meta::resource_version(&patched) != current_rv;
        if !explicit_rv {
            meta::metadata_mut(&mut patched).insert("resourceVersion".into(), json!(current_rv));
        }
        prepare(ctx, &mut patched, Some(name))?;
        let warnings = fieldcheck::check(&ctx.def, &mut patched, mode)?;
        let patched = record(ctx, sub, Some(&current_view), patched)?;
        match write(ctx, sub, patched) {
            Err(e) if e.code == 409 && e.reason == "Conflict" && !explicit_rv => continue,
            Err(e) => return Err(e),
            Ok(out) => {
                return Ok(with_warnings(
                    json_response(StatusCode::OK, &to_view(&ctx.def, &out)),
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
