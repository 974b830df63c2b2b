//! Watch streams: chunked JSON lines `{"type":…,"object":…}` with ADDED / MODIFIED / DELETED /
//! BOOKMARK / ERROR, resourceVersion resume, `410 Gone` for history that is no longer kept,
//! `sendInitialEvents` with the `k8s.io/initial-events-end` bookmark, selectors (objects moving
//! out of a selector are sent as DELETED), `timeoutSeconds`, Table rows, and the injected
//! watch faults. Each stream is one task reading the store's broadcast; it never writes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::convert::to_view;
use super::filter::Filter;
use super::resource::Ctx;
use super::streaming_body;
use super::table::{self, Include};
use crate::store::{ApiError, EventType, GroupResource, ResourceDef, Store, StoreEvent, meta};

/// How often a stream that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(2);

struct Stream {
    def: ResourceDef,
    gr: GroupResource,
    ns: Option<String>,
    filter: Filter,
    table: Option<Include>,
    metadata_only: bool,
    tx: mpsc::Sender<Bytes>,
    /// Highest resourceVersion processed (any kind): what a bookmark may claim.
    seen_rv: u64,
    sent: u64,
    /// End the stream after this many events past the initial state (0 = never): the
    /// injected drop fault.
    limit: u64,
}

impl Stream {
    fn encode(&self, event_type: &str, obj: &Value) -> Bytes {
        let view = to_view(&self.def, obj);
        let object = match self.table {
            Some(include) => {
                let rv = meta::resource_version(&view).to_string();
                table::table(&self.def, &[view], &rv, None, include)
            }
            None if self.metadata_only => table::metadata_only(&view),
            None => view,
        };
        let mut line = json!({"type": event_type, "object": object}).to_string();
        line.push('\n');
        Bytes::from(line)
    }

    /// False when the stream must end (client gone, or the injected event limit reached).
    async fn send(&mut self, bytes: Bytes) -> bool {
        self.sent += 1;
        self.tx.send(bytes).await.is_ok() && (self.limit == 0 || self.sent < self.limit)
    }

    async fn bookmark(&mut self, initial_end: bool) -> bool {
        let mut metadata = json!({"resourceVersion": self.seen_rv.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.def.kind, "apiVersion": self.def.api_version(), "metadata": metadata});
        let line = format!("{}\n", json!({"type": "BOOKMARK", "object": obj}));
        self.tx.send(Bytes::from(line)).await.is_ok()
    }

    fn in_scope(&self, obj: &Value) -> bool {
        self.ns
            .as_deref()
            .is_none_or(|ns| meta::namespace(obj) == ns)
    }

    /// Send what `ev` means for this stream. False when the client is gone.
    async fn process(&mut self, ev: &StoreEvent) -> bool {
        if ev.resource_version <= self.seen_rv {
            return true;
        }
        self.seen_rv = ev.resource_version;
        if ev.resource != self.gr || !self.in_scope(&ev.object) {
            return true;
        }
        let now = self.filter.matches(&ev.object);
        let before = ev.old.as_ref().is_some_and(|o| self.filter.matches(o));
        let event_type = match (ev.event_type, before, now) {
            (EventType::Added, _, true) => "ADDED",
            (EventType::Modified, true, true) => "MODIFIED",
            (EventType::Modified, true, false) => "DELETED",
            (EventType::Modified, false, true) => "ADDED",
            (EventType::Deleted, b, n) if b || n => "DELETED",
            _ => return true,
        };
        let bytes = self.encode(event_type, &ev.object);
        self.send(bytes).await
    }
}

fn error_line(err: &ApiError) -> Bytes {
    Bytes::from(format!(
        "{}\n",
        json!({"type": "ERROR", "object": err.to_status()})
    ))
}

pub async fn serve(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let filter = Filter::from_query(&ctx.def, &ctx.query)?;
    let include =
        table::wants_table(&ctx.accept).then(|| Include::parse(ctx.query.get("includeObject")));
    let bookmarks = ctx.query.flag("allowWatchBookmarks");
    let send_initial = ctx.query.get("sendInitialEvents") == Some("true");
    let timeout = ctx.query.u64("timeoutSeconds")?;
    let rv_param = ctx.query.get("resourceVersion");
    let faults = ctx.st.faults.watch();
    let store = ctx.st.store.clone();
    let (tx, rx) = mpsc::channel::<Bytes>(512);

    let mut initial: Vec<Arc<Value>> = Vec::new();
    let mut backlog: Vec<StoreEvent> = Vec::new();
    let start: Result<(u64, broadcast::Receiver<StoreEvent>), ApiError> =
        if ctx.st.faults.take_gone() {
            Err(ApiError::expired(
                "too old resource version (injected fault)",
            ))
        } else {
            match rv_param {
                None | Some("0") => {
                    let (items, rv, sub) = store.list_and_subscribe(&ctx.gr, ctx.ns.as_deref());
                    initial = items;
                    Ok((rv, sub))
                }
                Some(_) if send_initial => {
                    let (items, rv, sub) = store.list_and_subscribe(&ctx.gr, ctx.ns.as_deref());
                    initial = items;
                    Ok((rv, sub))
                }
                Some(raw) => {
                    let rv: u64 = raw.parse().map_err(|_| {
                        ApiError::bad_request(format!("invalid resource version: {raw:?}"))
                    })?;
                    store.watch_from(rv).map(|(b, sub)| {
                        backlog = b;
                        (rv, sub)
                    })
                }
            }
        };

    let mut stream = Stream {
        def: ctx.def.clone(),
        gr: ctx.gr.clone(),
        ns: ctx.ns.clone(),
        filter,
        table: include,
        metadata_only: table::wants_metadata(&ctx.accept),
        tx,
        seen_rv: 0,
        sent: 0,
        limit: 0,
    };
    let guard = ctx.st.stats.watch_started();
    let deadline = [timeout, Some(faults.drop_after_seconds).filter(|s| *s > 0)]
        .into_iter()
        .flatten()
        .min()
        .map(|s| Instant::now() + Duration::from_secs(s));
    let shutdown = ctx.st.shutdown.clone();
    let drop_after_events = faults.drop_after_events;
    tokio::spawn(async move {
        let _guard = guard;
        let (start_rv, mut sub) = match start {
            Ok(s) => s,
            Err(e) => {
                let _ = stream.tx.send(error_line(&e)).await;
                return;
            }
        };
        for obj in &initial {
            if !stream.filter.matches(obj) {
                continue;
            }
            let bytes = stream.encode("ADDED", obj);
            if !stream.send(bytes).await {
                return;
            }
        }
        stream.seen_rv = start_rv;
        // The drop fault counts events after the initial state: a stream cut inside its
        // initial state on every attempt could never complete a streaming list.
        stream.sent = 0;
        stream.limit = drop_after_events;
        if send_initial && bookmarks && !stream.bookmark(true).await {
            return;
        }
        for ev in &backlog {
            if !stream.process(ev).await {
                return;
            }
        }
        let mut ticker = tokio::time::interval_at(Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
        let deadline = deadline.unwrap_or(far);
        loop {
            tokio::select! {
                _ = stream.tx.closed() => return,
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(deadline) => return,
                _ = ticker.tick(), if bookmarks => {
                    if !stream.bookmark(false).await {
                        return;
                    }
                }
                r = sub.recv() => match r {
                    Ok(ev) => {
                        if !stream.process(&ev).await {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => match resume(&store, stream.seen_rv) {
                        Ok((events, fresh)) => {
                            sub = fresh;
                            for ev in &events {
                                if !stream.process(ev).await {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = stream.tx.send(error_line(&e)).await;
                            return;
                        }
                    },
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    });

    let mut resp = Response::new(streaming_body(rx));
    *resp.status_mut() = StatusCode::OK;
    let ct = if include.is_some() {
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    } else {
        "application/json"
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    Ok(resp)
}

/// A watcher fell behind the live channel: continue from the history.
fn resume(
    store: &Store,
    seen: u64,
) -> Result<(Vec<StoreEvent>, broadcast::Receiver<StoreEvent>), ApiError> {
    store.watch_from(seen)
}
