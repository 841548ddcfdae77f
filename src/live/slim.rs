//! Reduced API objects for the watchers. Each type deserializes straight
//! from the API server's JSON and keeps only what nodewatch reads, so a page
//! of 500 pods never becomes 500 whole `Pod` objects: unknown fields are
//! skipped by the parser without being allocated. They implement
//! [`kube::Resource`] so kube-runtime can list and watch them, and convert
//! into the core's [`crate::k8s`] types.

use crate::k8s;
use ::kube::api::ObjectMeta;
use ::kube::Resource;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;

/// Annotations kept on nodes (the rest can be large and is never read).
pub const KEPT_ANNOTATION_PREFIX: &str = "nodewatch.io/";

/// The identity fields kube-runtime needs (resourceVersion above all).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct MetaIn {
    name: String,
    namespace: String,
    uid: String,
    resource_version: String,
}

impl MetaIn {
    fn to_meta(&self) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.name.clone()),
            namespace: (!self.namespace.is_empty()).then(|| self.namespace.clone()),
            resource_version: Some(self.resource_version.clone()),
            ..Default::default()
        }
    }
}

fn slim_meta(m: &k8s::ObjectMeta) -> ObjectMeta {
    MetaIn {
        name: m.name.clone(),
        namespace: m.namespace.clone(),
        uid: String::new(),
        resource_version: m.resource_version.clone(),
    }
    .to_meta()
}

/// Implements [`Resource`] for a core/v1 slim type.
macro_rules! core_v1_resource {
    ($ty:ty, $kind:literal, $plural:literal, $scope:ty) => {
        impl Resource for $ty {
            type DynamicType = ();
            type Scope = $scope;
            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed("")
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed("v1")
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.meta
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.meta
            }
        }
    };
}

/// A Pod reduced to namespace, name, uid and node.
#[derive(Clone, Debug)]
pub struct SlimPod {
    meta: ObjectMeta,
    /// Namespace, name and uid.
    pub pod: k8s::Pod,
}

impl<'de> Deserialize<'de> for SlimPod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase", default)]
        struct Spec {
            node_name: String,
        }
        #[derive(Deserialize)]
        struct In {
            #[serde(default)]
            metadata: MetaIn,
            #[serde(default)]
            spec: Spec,
        }
        let p = In::deserialize(d)?;
        Ok(SlimPod {
            meta: p.metadata.to_meta(),
            pod: k8s::Pod {
                metadata: k8s::ObjectMeta {
                    name: p.metadata.name,
                    namespace: p.metadata.namespace,
                    uid: p.metadata.uid,
                    ..Default::default()
                },
                spec: k8s::PodSpec {
                    node_name: p.spec.node_name,
                },
            },
        })
    }
}

core_v1_resource!(SlimPod, "Pod", "pods", NamespaceResourceScope);

/// A Node reduced to labels, nodewatch's own annotations, schedulability,
/// taints, the kubelet version and condition types and statuses.
#[derive(Clone, Debug)]
pub struct SlimNode {
    meta: ObjectMeta,
    /// The node as the core sees it.
    pub node: k8s::Node,
}

impl<'de> Deserialize<'de> for SlimNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut node = k8s::Node::deserialize(d)?;
        node.metadata
            .annotations
            .retain(|k, _| k.starts_with(KEPT_ANNOTATION_PREFIX));
        // Only the condition type and status are kept: heartbeat times
        // change every few seconds and would make every node look changed.
        Ok(SlimNode {
            meta: slim_meta(&node.metadata),
            node,
        })
    }
}

core_v1_resource!(SlimNode, "Node", "nodes", ClusterResourceScope);

/// A core/v1 Event in the core's shape.
#[derive(Clone, Debug)]
pub struct SlimEvent {
    meta: ObjectMeta,
    /// The event.
    pub event: k8s::Event,
}

impl<'de> Deserialize<'de> for SlimEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let event = k8s::Event::deserialize(d)?;
        Ok(SlimEvent {
            meta: slim_meta(&event.metadata),
            event,
        })
    }
}

core_v1_resource!(SlimEvent, "Event", "events", NamespaceResourceScope);

/// A resourceVersion as a number, for the test-facing progress counters.
/// Real API servers use etcd revisions, which are numbers; anything else
/// counts as 0 and is never used for decisions.
pub fn rv_number(rv: Option<&str>) -> u64 {
    rv.and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_keep_only_identity_and_node() {
        let json = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","uid":"u",
            "resourceVersion":"42","labels":{"a":"b"},"managedFields":[{"manager":"x"}]},
            "spec":{"nodeName":"n1","containers":[{"name":"c","image":"i"}]},"status":{"phase":"Running"}}"#;
        let p: SlimPod = serde_json::from_str(json).unwrap();
        assert_eq!(p.pod.spec.node_name, "n1");
        assert_eq!(p.pod.metadata.uid, "u");
        assert!(p.pod.metadata.labels.is_empty());
        assert_eq!(p.meta().resource_version.as_deref(), Some("42"));
        assert_eq!(SlimPod::url_path(&(), None), "/api/v1/pods");
    }

    #[test]
    fn nodes_keep_taints_and_the_kubelet_version() {
        let json = r#"{"metadata":{"name":"n1","resourceVersion":"7"},"spec":{"taints":[
            {"key":"ToBeDeletedByClusterAutoscaler","value":"1709629200","effect":"NoSchedule"}]},
            "status":{"nodeInfo":{"kubeletVersion":"v1.29.2","osImage":"COS"},"conditions":[]}}"#;
        let n: SlimNode = serde_json::from_str(json).unwrap();
        assert_eq!(n.node.spec.taints[0].key, "ToBeDeletedByClusterAutoscaler");
        assert_eq!(n.node.spec.taints[0].value, "1709629200");
        assert_eq!(n.node.status.node_info.kubelet_version, "v1.29.2");
    }

    #[test]
    fn nodes_drop_foreign_annotations() {
        let json = r#"{"metadata":{"name":"n1","resourceVersion":"7","annotations":{
            "nodewatch.io/rule":"r","node.alpha.kubernetes.io/ttl":"0"}},"spec":{"unschedulable":true}}"#;
        let n: SlimNode = serde_json::from_str(json).unwrap();
        assert!(n.node.spec.unschedulable);
        assert_eq!(n.node.metadata.annotations.len(), 1);
        assert_eq!(SlimNode::url_path(&(), None), "/api/v1/nodes");
        assert_eq!(rv_number(n.meta().resource_version.as_deref()), 7);
    }
}
