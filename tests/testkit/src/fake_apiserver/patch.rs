//! PATCH bodies as the API server applies them: JSON merge patch (RFC 7386)
//! and strategic merge patch, which differs in lists that have a merge key
//! in the schema (node conditions merge by `type`) and in the `$patch:
//! delete` directive. Node taints have no merge key (`listType=atomic`): a
//! patch replaces the whole list, as the real API server does
//! (tests/kube/real_cordon.rs showed it). Lists without a merge key are replaced,
//! `null` removes a field, in both kinds.

use serde_json::{Map, Value};

/// Merge keys of the lists this fake server serves (dotted path → key).
const MERGE_KEYS: &[(&str, &str)] = &[
    ("status.conditions", "type"),
    ("status.addresses", "type"),
    ("metadata.ownerReferences", "uid"),
    ("spec.containers", "name"),
];

/// Applies a JSON merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    apply(target, patch, "", false);
}

/// Applies a strategic merge patch.
pub fn strategic(target: &mut Value, patch: &Value) {
    apply(target, patch, "", true);
}

fn apply(target: &mut Value, patch: &Value, path: &str, smp: bool) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else { return };
    for (k, v) in p {
        if smp && k.starts_with('$') {
            continue;
        }
        let sub = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        match v {
            Value::Null => {
                t.remove(k);
            }
            Value::Object(_) => apply(t.entry(k.clone()).or_insert(Value::Null), v, &sub, smp),
            Value::Array(items) if smp => match MERGE_KEYS.iter().find(|(p, _)| *p == sub) {
                Some((_, key)) => merge_list(
                    t.entry(k.clone()).or_insert(Value::Array(vec![])),
                    items,
                    key,
                ),
                None => {
                    t.insert(k.clone(), v.clone());
                }
            },
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

fn merge_list(target: &mut Value, items: &[Value], key: &str) {
    if !target.is_array() {
        *target = Value::Array(vec![]);
    }
    let Value::Array(list) = target else { return };
    for item in items {
        let id = item.get(key).cloned().unwrap_or(Value::Null);
        let pos = list.iter().position(|x| x.get(key) == Some(&id));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                list.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => apply(&mut list[i], item, "", true),
            (None, false) => {
                let mut new = Value::Null;
                apply(&mut new, item, "", true);
                list.push(new);
            }
        }
    }
}
