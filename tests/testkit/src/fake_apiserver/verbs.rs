//! The fake API server's verbs on stored objects: get, list (paginated
//! from a snapshot, 410 for a dropped continue token), create and update
//! (409 on an existing name or a stale resourceVersion) and PATCH
//! (strategic-merge or merge, with a resourceVersion precondition and
//! injectable errors on nodes).

use super::http::{lock, status, Inner};
use super::patch;
use super::rbac::Attributes;
use super::store::{store_of, Res};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;

fn json_response(code: u16, body: String) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        [("content-type", "application/json")],
        body,
    )
        .into_response()
}

pub fn with_kind(json: &str, res: &Res) -> String {
    // Objects are stored with apiVersion and kind already; this only fills
    // them for fixtures that lacked them.
    if json.contains("\"apiVersion\"") {
        return json.to_string();
    }
    let api = if res.group.is_empty() {
        res.version.to_string()
    } else {
        format!("{}/{}", res.group, res.version)
    };
    format!(
        "{{\"apiVersion\":\"{api}\",\"kind\":\"{}\",{}",
        res.kind,
        &json[1..]
    )
}

pub fn get(inner: &Inner, res: &Res, a: &Attributes) -> Response {
    let key = (a.namespace.clone(), a.name.clone());
    match lock(&inner.store).get(store_of(res), &key) {
        Some(j) => json_response(200, with_kind(&j, res)),
        None => status(
            404,
            "NotFound",
            &format!("{} \"{}\" not found", res.plural, a.name),
        ),
    }
}

pub fn list(inner: &Inner, res: &Res, a: &Attributes, q: &HashMap<String, String>) -> Response {
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut store = lock(&inner.store);
    let (id, offset, snap) = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => {
            let parsed = c
                .split_once('-')
                .and_then(|(i, o)| Some((i.parse::<u64>().ok()?, o.parse::<usize>().ok()?)));
            match parsed.and_then(|(i, o)| store.snapshots.get(&i).map(|s| (i, o, s.clone()))) {
                Some(x) => x,
                None => return status(410, "Expired", "The provided continue parameter is too old to display a consistent list result."),
            }
        }
        None => {
            let (i, s) = store.snapshot(store_of(res), &a.namespace);
            (i, 0, s)
        }
    };
    let end = if limit == 0 {
        snap.items.len()
    } else {
        (offset + limit).min(snap.items.len())
    };
    let cont = if end < snap.items.len() {
        format!("{id}-{end}")
    } else {
        store.snapshots.remove(&id);
        String::new()
    };
    drop(store);
    let api = if res.group.is_empty() {
        res.version.to_string()
    } else {
        format!("{}/{}", res.group, res.version)
    };
    let mut body = format!(
        "{{\"kind\":\"{}List\",\"apiVersion\":\"{api}\",\"metadata\":{{\"resourceVersion\":\"{}\"",
        res.kind, snap.rv
    );
    if !cont.is_empty() {
        body.push_str(&format!(",\"continue\":\"{cont}\""));
    }
    body.push_str("},\"items\":[");
    for (i, item) in snap.items[offset.min(end)..end].iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&with_kind(item, res));
    }
    body.push_str("]}");
    json_response(200, body)
}

/// events.k8s.io/v1 → core/v1, as the real server stores both as one.
fn to_core_event(mut e: Value) -> Value {
    let Value::Object(m) = &mut e else { return e };
    let mv = |m: &mut serde_json::Map<String, Value>, from: &str, to: &str| {
        if let Some(v) = m.remove(from) {
            m.insert(to.to_string(), v);
        }
    };
    mv(m, "regarding", "involvedObject");
    mv(m, "note", "message");
    mv(m, "deprecatedCount", "count");
    mv(m, "deprecatedFirstTimestamp", "firstTimestamp");
    mv(m, "deprecatedLastTimestamp", "lastTimestamp");
    mv(m, "deprecatedSource", "source");
    mv(m, "reportingController", "reportingComponent");
    m.insert("apiVersion".into(), json!("v1"));
    e
}

pub fn write(
    inner: &Inner,
    res: &Res,
    a: &Attributes,
    body: &[u8],
    update: Option<&str>,
) -> Response {
    let Ok(mut obj) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "the body is not a JSON object");
    };
    if !a.namespace.is_empty() {
        obj["metadata"]["namespace"] = json!(a.namespace);
    }
    if update.is_some() {
        obj["metadata"]["name"] = json!(a.name);
    }
    if res.group == "events.k8s.io" {
        obj = to_core_event(obj);
    }
    let key = (
        a.namespace.clone(),
        obj["metadata"]["name"].as_str().unwrap_or("").to_string(),
    );
    if key.1.is_empty() {
        return status(422, "Invalid", "metadata.name: Required value");
    }
    let mut store = lock(&inner.store);
    let cur = store.get_value(store_of(res), &key);
    match (update, &cur) {
        (None, Some(_)) => {
            return status(
                409,
                "AlreadyExists",
                &format!("{} \"{}\" already exists", res.plural, key.1),
            )
        }
        (Some(_), None) => {
            return status(
                404,
                "NotFound",
                &format!("{} \"{}\" not found", res.plural, key.1),
            )
        }
        (Some(_), Some(c)) => {
            let want = obj["metadata"]["resourceVersion"].as_str().unwrap_or("");
            if !want.is_empty() && Some(want) != c["metadata"]["resourceVersion"].as_str() {
                return status(409, "Conflict", &format!("Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again", res.plural, key.1));
            }
            obj["metadata"]["uid"] = c["metadata"]["uid"].clone();
            obj["metadata"]["creationTimestamp"] = c["metadata"]["creationTimestamp"].clone();
        }
        (None, None) => {}
    }
    let api = if res.group.is_empty() || res.group == "events.k8s.io" {
        "v1".to_string()
    } else {
        format!("{}/{}", res.group, res.version)
    };
    obj["apiVersion"] = json!(api);
    obj["kind"] = json!(res.kind);
    let stored = store.put(store_of(res), obj, true);
    drop(store);
    if store_of(res) == "events" {
        if let Some(hook) = lock(&inner.on_event_write).as_mut() {
            hook(&stored);
        }
    }
    inner.changed.notify_waiters();
    json_response(if update.is_some() { 200 } else { 201 }, stored.to_string())
}

pub fn patch_obj(
    inner: &Inner,
    res: &Res,
    a: &Attributes,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let smp = match ct {
        "application/strategic-merge-patch+json" => true,
        "application/merge-patch+json" => false,
        _ => return status(415, "UnsupportedMediaType", &format!("the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json (got {ct:?})")),
    };
    if res.plural == "nodes" {
        if let Some(code) = lock(&inner.faults).patch_nodes.pop_front() {
            let reason = match code {
                409 => "Conflict",
                429 => "TooManyRequests",
                _ => "InternalError",
            };
            return status(code, reason, "injected fault");
        }
    }
    let Ok(mut p) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "the patch is not JSON");
    };
    let key = (a.namespace.clone(), a.name.clone());
    let mut store = lock(&inner.store);
    let Some(mut cur) = store.get_value(store_of(res), &key) else {
        return status(
            404,
            "NotFound",
            &format!("{} \"{}\" not found", res.plural, a.name),
        );
    };
    if let Some(want) = p["metadata"].get("resourceVersion").and_then(Value::as_str) {
        if Some(want) != cur["metadata"]["resourceVersion"].as_str() {
            return status(409, "Conflict", &format!("Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again", res.plural, a.name));
        }
    }
    if let Some(m) = p["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    if smp {
        patch::strategic(&mut cur, &p)
    } else {
        patch::merge(&mut cur, &p)
    }
    let stored = store.put(store_of(res), cur, true);
    drop(store);
    inner.changed.notify_waiters();
    json_response(200, stored.to_string())
}
