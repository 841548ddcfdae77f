//! The fake API server's HTTP side: routing of real Kubernetes paths,
//! authentication by bearer token, RBAC, and the verbs (get, list with
//! pagination, watch, create, update, patch). Watches are chunked JSON
//! lines as the real server writes them, with bookmarks when asked for and
//! a 410 `ERROR` event when the requested version was compacted away.

use super::rbac::{Attributes, Rbac, User};
use super::store::{Res, Store, RESOURCES};
use super::{stream, verbs};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Faults a test can inject.
#[derive(Debug, Default)]
pub struct Faults {
    /// Status codes for the next node PATCHes, one per request.
    pub patch_nodes: VecDeque<u16>,
    /// Every watch stream breaks after sending this many objects.
    pub drop_watch_after: Option<usize>,
    /// Event watches send nothing while set (a slow stream), so a test can
    /// compact the history behind them.
    pub hold_events: bool,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    /// Authorization verb.
    pub verb: String,
    /// Path.
    pub path: String,
    /// Status answered (200 for a watch that started).
    pub status: u16,
}

/// State shared by all connections.
pub struct Inner {
    /// Objects and history.
    pub store: Mutex<Store>,
    /// Woken on every change.
    pub changed: Notify,
    /// Policy; `None` allows everything to known tokens.
    pub rbac: Option<Rbac>,
    /// Bearer token → user.
    pub tokens: HashMap<String, User>,
    /// Injected faults.
    pub faults: Mutex<Faults>,
    /// Every request.
    pub log: Mutex<Vec<Logged>>,
    /// Bumped to break every watch stream.
    pub drop_watches: watch::Sender<u64>,
    /// Idle time after which a watch sends a bookmark.
    pub bookmark_every: Duration,
    /// Hook for writes to the events store (the server's event TTL).
    pub on_event_write: Mutex<Option<EventHook>>,
}

/// A hook called on every write to the events store.
pub type EventHook = Box<dyn FnMut(&Value) + Send>;

/// Locks ignoring poison (a panicking test thread must not hide the cause).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A Status object response.
pub fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code});
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn query(uri: &Uri) -> HashMap<String, String> {
    let decode = |s: &str| {
        let b = s.replace('+', " ").into_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                if let Ok(v) = u8::from_str_radix(&String::from_utf8_lossy(&b[i + 1..i + 3]), 16) {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Path → (resource if known, attributes without the verb).
fn route(path: &str) -> Option<(Option<Res>, Attributes)> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (ns.to_string(), rest),
        _ => (String::new(), rest),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, "", ""),
        [p, n] => (*p, *n, ""),
        [p, n, s] => (*p, *n, *s),
        _ => return None,
    };
    let res = RESOURCES
        .iter()
        .copied()
        .find(|r| r.group == group && r.version == version && r.plural == plural);
    let resource = if sub.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}/{sub}")
    };
    Some((
        res,
        Attributes {
            verb: String::new(),
            group: group.to_string(),
            resource,
            namespace,
            name: name.to_string(),
        },
    ))
}

/// Serves one request.
pub async fn handle(
    inner: Arc<Inner>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q = query(&uri);
    let path = uri.path().to_string();
    let Some((res, mut attrs)) = route(&path) else {
        return status(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({path})"),
        );
    };
    let watching = matches!(q.get("watch").map(String::as_str), Some("true" | "1"));
    attrs.verb = match (&method, attrs.name.is_empty()) {
        (&Method::GET, false) => "get",
        (&Method::GET, true) if watching => "watch",
        (&Method::GET, true) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, _) => "delete",
        _ => "unknown",
    }
    .to_string();
    let log = |st: u16| {
        lock(&inner.log).push(Logged {
            verb: attrs.verb.clone(),
            path: path.clone(),
            status: st,
        })
    };
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(user) = token.and_then(|t| inner.tokens.get(t)) else {
        log(401);
        return status(401, "Unauthorized", "Unauthorized");
    };
    if let Some(rbac) = &inner.rbac {
        if !rbac.allows(user, &attrs) {
            log(403);
            let scope = if attrs.namespace.is_empty() {
                "at the cluster scope".to_string()
            } else {
                format!("in the namespace \"{}\"", attrs.namespace)
            };
            let group = if attrs.group.is_empty() {
                String::new()
            } else {
                format!(" in API group \"{}\"", attrs.group)
            };
            let msg = format!(
                "{} \"{}\" is forbidden: User \"{}\" cannot {} resource \"{}\"{group} {scope}",
                attrs.resource, attrs.name, user.name, attrs.verb, attrs.resource
            );
            return status(403, "Forbidden", &msg);
        }
    }
    let Some(res) = res else {
        log(404);
        return status(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({path})"),
        );
    };
    let resp = match attrs.verb.as_str() {
        "get" => verbs::get(&inner, &res, &attrs),
        "list" => verbs::list(&inner, &res, &attrs, &q),
        "watch" => stream::watch_stream(inner.clone(), res, attrs.namespace.clone(), &q),
        "create" => verbs::write(&inner, &res, &attrs, &body, None),
        "update" => verbs::write(&inner, &res, &attrs, &body, Some("update")),
        "patch" => verbs::patch_obj(&inner, &res, &attrs, &headers, &body),
        _ => status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        ),
    };
    log(resp.status().as_u16());
    resp
}
