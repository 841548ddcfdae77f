//! The slices of Kubernetes objects nodewatch needs, parsed straight from the
//! API's JSON (`kubectl get -o json`, list/watch bodies, `events.jsonl`).
//!
//! These are deliberately small: at 150,000 pods nodewatch must not hold whole
//! Pod objects, only what event attribution needs (namespace, name, uid, node).
//! Unknown fields are ignored because real objects carry many more.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Label holding a node's zone.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Object metadata fields nodewatch reads.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// Object name.
    pub name: String,
    /// Namespace (empty for cluster-scoped objects).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Unique id.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Version for optimistic concurrency and watches.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Creation time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
}

/// A `kind: List`-style wrapper (`NodeList`, `PodList`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    /// `v1`.
    #[serde(default = "v1")]
    pub api_version: String,
    /// `NodeList`, `PodList` or `List`.
    #[serde(default)]
    pub kind: String,
    /// The objects.
    #[serde(default = "Vec::new", bound(deserialize = "T: Deserialize<'de>"))]
    pub items: Vec<T>,
}

fn v1() -> String {
    "v1".to_string()
}

/// A Node, reduced.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Node {
    /// Metadata (name, labels, annotations).
    pub metadata: ObjectMeta,
    /// Spec (unschedulable, taints).
    pub spec: NodeSpec,
    /// Status (conditions).
    pub status: NodeStatus,
}

/// Node spec fields nodewatch reads.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSpec {
    /// Cordoned.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unschedulable: bool,
    /// Taints (the cluster autoscaler's, a termination handler's, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
}

/// One node taint.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Taint {
    /// Key, e.g. `ToBeDeletedByClusterAutoscaler`.
    pub key: String,
    /// Value (the autoscaler's is a unix timestamp).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
    /// When a `NoExecute` taint was added (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_added: Option<String>,
}

/// Node status fields nodewatch reads.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeStatus {
    /// Conditions such as `Ready`.
    pub conditions: Vec<NodeCondition>,
    /// Versions the kubelet reports.
    #[serde(skip_serializing_if = "NodeSystemInfo::is_empty")]
    pub node_info: NodeSystemInfo,
}

/// `status.nodeInfo`, reduced to what tells an upgrade.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSystemInfo {
    /// e.g. `v1.29.1-gke.1589000`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kubelet_version: String,
}

impl NodeSystemInfo {
    /// Nothing known (left out of serialized nodes).
    pub fn is_empty(&self) -> bool {
        self.kubelet_version.is_empty()
    }
}

/// One node condition.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeCondition {
    /// `Ready`, `MemoryPressure`, ...
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
}

/// Label or annotation by which a node opts out of cordons, drains and
/// the NodeCondition (it is still scored and alerted on).
pub const EXCLUDE: &str = "nodewatch.io/exclude";

impl Node {
    /// The node's zone label, or `""`.
    pub fn zone(&self) -> &str {
        self.metadata
            .labels
            .get(ZONE_LABEL)
            .map_or("", String::as_str)
    }

    /// Whether the node opted out of nodewatch's actions: label or
    /// annotation [`EXCLUDE`] set to `"true"`.
    pub fn excluded(&self) -> bool {
        let m = &self.metadata;
        [&m.labels, &m.annotations]
            .iter()
            .any(|x| x.get(EXCLUDE).is_some_and(|v| v == "true"))
    }

    /// The value of `pool_label`, or `""`.
    pub fn pool(&self, pool_label: &str) -> &str {
        self.metadata
            .labels
            .get(pool_label)
            .map_or("", String::as_str)
    }
}

/// A Pod, reduced to what event attribution needs.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Pod {
    /// Namespace, name, uid.
    pub metadata: ObjectMeta,
    /// `spec.nodeName`.
    pub spec: PodSpec,
}

/// The keys under which a pod's placement is remembered: its namespace and
/// name, and its uid (0 when it has none). Hashes, so the watchers can
/// remember 150,000 pods in a few MiB and still tell the core which are gone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PodKeys {
    /// Hash of namespace and name.
    pub name: u64,
    /// Hash of the uid; 0 without one.
    pub uid: u64,
}

impl PodKeys {
    /// The keys of the pod `namespace/name` with `uid` (may be empty).
    pub fn new(namespace: &str, name: &str, uid: &str) -> Self {
        use std::hash::{Hash, Hasher};
        let hash = |a: &str, b: &str| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            a.hash(&mut h);
            b.hash(&mut h);
            h.finish()
        };
        PodKeys {
            name: hash(namespace, name),
            uid: if uid.is_empty() { 0 } else { hash("uid", uid) },
        }
    }
}

impl Pod {
    /// This pod's [`PodKeys`].
    pub fn keys(&self) -> PodKeys {
        PodKeys::new(
            &self.metadata.namespace,
            &self.metadata.name,
            &self.metadata.uid,
        )
    }
}

/// Pod spec fields nodewatch reads.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpec {
    /// The node the pod is bound to (empty while pending).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node_name: String,
}

/// A core/v1 Event, reduced.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Event {
    /// Event object identity (a repeated event keeps its name).
    pub metadata: ObjectMeta,
    /// The object the event is about.
    pub involved_object: ObjectReference,
    /// Short machine-readable reason, e.g. `FailedSync`.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// Reporting component and host (old-style events).
    pub source: EventSource,
    /// Reporting instance (new-style events), usually the node name for kubelet.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reporting_instance: String,
    /// Reporting component (new-style events).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reporting_component: String,
    /// `Normal` or `Warning`.
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_: String,
    /// Occurrences folded into this object (old-style).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Occurrences folded into this object (new-style).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<EventSeries>,
    /// First occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<String>,
    /// Latest occurrence (old-style).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<String>,
    /// Time of the first occurrence (new-style, MicroTime).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
}

/// `involvedObject`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectReference {
    /// `Pod`, `Node`, ...
    pub kind: String,
    /// Namespace of the object.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// Uid of the object.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// `source`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct EventSource {
    /// e.g. `kubelet`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub component: String,
    /// The node that reported it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
}

/// `series` (events.k8s.io-style repetition).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct EventSeries {
    /// Total occurrences so far.
    pub count: i64,
    /// Latest occurrence (MicroTime).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_observed_time: Option<String>,
}

impl Event {
    /// Total occurrences this object stands for: `series.count` when present,
    /// else `count`, and at least 1 (a fresh new-style event has neither).
    pub fn total_count(&self) -> i64 {
        let n = match &self.series {
            Some(s) => s.count,
            None => self.count.unwrap_or(1),
        };
        n.max(1)
    }

    /// Time of the latest occurrence: `series.lastObservedTime`, else
    /// `lastTimestamp`, else `eventTime`, else `firstTimestamp`.
    pub fn last_seen(&self) -> Option<&str> {
        self.series
            .as_ref()
            .and_then(|s| s.last_observed_time.as_deref())
            .or(self.last_timestamp.as_deref())
            .or(self.event_time.as_deref())
            .or(self.first_timestamp.as_deref())
    }

    /// The node that reported the event, if the reporter names one.
    pub fn reporting_node(&self) -> Option<&str> {
        if !self.source.host.is_empty() {
            Some(&self.source.host)
        } else if !self.reporting_instance.is_empty() {
            Some(&self.reporting_instance)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_real_event_shape() {
        let json = r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"grafana.1","namespace":"prod","uid":"u1","resourceVersion":"7"},
            "involvedObject":{"kind":"Pod","namespace":"prod","name":"grafana","uid":"p1","apiVersion":"v1"},
            "reason":"Unhealthy","message":"Readiness probe failed: x","source":{"component":"kubelet","host":"n1"},
            "firstTimestamp":"2018-02-20T14:15:00Z","lastTimestamp":"2018-02-20T14:16:00Z","count":3,"type":"Warning","extra":1}"#;
        let e: Event = serde_json::from_str(json).unwrap();
        assert_eq!(e.total_count(), 3);
        assert_eq!(e.reporting_node(), Some("n1"));
        assert_eq!(e.last_seen(), Some("2018-02-20T14:16:00Z"));
    }

    #[test]
    fn series_count_wins_over_count() {
        let e = Event {
            count: Some(0),
            series: Some(EventSeries {
                count: 5,
                last_observed_time: None,
            }),
            ..Default::default()
        };
        assert_eq!(e.total_count(), 5);
        assert_eq!(Event::default().total_count(), 1);
    }
}
