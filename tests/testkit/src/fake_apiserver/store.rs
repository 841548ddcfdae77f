//! The fake API server's storage, shaped like etcd behind the real one: one
//! global resourceVersion counter, objects kept as JSON text with their
//! version written in, and a bounded history of changes from which watches
//! resume. A watch from a version older than the history answers 410 Gone;
//! paginated lists read a snapshot, and a continue token whose snapshot was
//! dropped answers 410 as well.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// A resource the server knows: API group, version, plural, namespaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Res {
    /// API group (`""` for core).
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Plural.
    pub plural: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Namespaced (else cluster-scoped).
    pub namespaced: bool,
}

/// Every resource served. Core Events and events.k8s.io Events are one
/// store in the real server; here events.k8s.io writes are converted into
/// core/v1 objects.
pub const RESOURCES: &[Res] = &[
    Res {
        group: "",
        version: "v1",
        plural: "nodes",
        kind: "Node",
        namespaced: false,
    },
    Res {
        group: "",
        version: "v1",
        plural: "pods",
        kind: "Pod",
        namespaced: true,
    },
    Res {
        group: "",
        version: "v1",
        plural: "events",
        kind: "Event",
        namespaced: true,
    },
    Res {
        group: "events.k8s.io",
        version: "v1",
        plural: "events",
        kind: "Event",
        namespaced: true,
    },
    Res {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        kind: "Lease",
        namespaced: true,
    },
];

/// The store a resource's objects live in (events.k8s.io shares core's).
pub fn store_of(r: &Res) -> &'static str {
    match (r.group, r.plural) {
        ("events.k8s.io", _) | ("", "events") => "events",
        (_, p) => p,
    }
}

/// Object key: (namespace, name).
pub type Key = (String, String);

/// Kind of a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeType {
    /// Created.
    Added,
    /// Updated.
    Modified,
    /// Deleted.
    Deleted,
}

impl ChangeType {
    /// As written in watch events.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One entry of the history.
#[derive(Clone, Debug)]
pub struct Change {
    /// Version of the change.
    pub rv: u64,
    /// Store name.
    pub store: &'static str,
    /// Namespace of the object.
    pub namespace: String,
    /// What happened.
    pub kind: ChangeType,
    /// The object after the change (before, for deletions), as JSON.
    pub json: Arc<str>,
}

/// A list snapshot for pagination.
pub struct Snapshot {
    /// Version the list reads at.
    pub rv: u64,
    /// The objects, in key order.
    pub items: Vec<Arc<str>>,
}

/// All objects and the change history.
pub struct Store {
    /// Last version handed out.
    pub rv: u64,
    objects: HashMap<&'static str, BTreeMap<Key, Arc<str>>>,
    history: VecDeque<Change>,
    /// Watches may resume from any version ≥ this one.
    pub oldest_resumable: u64,
    history_cap: usize,
    /// Pagination snapshots by id.
    pub snapshots: HashMap<u64, Arc<Snapshot>>,
    next_snapshot: u64,
}

impl Store {
    /// An empty store keeping at most `history_cap` changes.
    pub fn new(history_cap: usize) -> Self {
        Store {
            rv: 1,
            objects: HashMap::new(),
            history: VecDeque::new(),
            oldest_resumable: 1,
            history_cap: history_cap.max(1),
            snapshots: HashMap::new(),
            next_snapshot: 1,
        }
    }

    /// The object's JSON, if present.
    pub fn get(&self, store: &str, key: &Key) -> Option<Arc<str>> {
        self.objects.get(store)?.get(key).cloned()
    }

    /// The object parsed.
    pub fn get_value(&self, store: &str, key: &Key) -> Option<Value> {
        self.get(store, key)
            .and_then(|j| serde_json::from_str(&j).ok())
    }

    /// All objects of a store (optionally one namespace), in key order.
    pub fn list(&self, store: &str, namespace: &str) -> Vec<Arc<str>> {
        self.objects.get(store).map_or_else(Vec::new, |m| {
            m.iter()
                .filter(|((ns, _), _)| namespace.is_empty() || ns == namespace)
                .map(|(_, j)| j.clone())
                .collect()
        })
    }

    /// Number of objects in a store.
    pub fn count(&self, store: &str) -> usize {
        self.objects.get(store).map_or(0, BTreeMap::len)
    }

    /// Creates or replaces an object, stamping a new resourceVersion (and a
    /// uid and creation time when missing). `record` false loads without
    /// history (initial fixtures). Returns the stored object.
    pub fn put(&mut self, store: &'static str, mut obj: Value, record: bool) -> Value {
        self.rv += 1;
        let meta = &mut obj["metadata"];
        let key = (
            meta["namespace"].as_str().unwrap_or("").to_string(),
            meta["name"].as_str().unwrap_or("").to_string(),
        );
        meta["resourceVersion"] = Value::String(self.rv.to_string());
        if meta
            .get("uid")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            meta["uid"] = Value::String(format!("uid-{store}-{}", self.rv));
        }
        let json: Arc<str> = Arc::from(obj.to_string());
        let prev = self
            .objects
            .entry(store)
            .or_default()
            .insert(key.clone(), json.clone());
        if record {
            let kind = if prev.is_some() {
                ChangeType::Modified
            } else {
                ChangeType::Added
            };
            self.record(store, key.0, kind, json);
        } else {
            self.oldest_resumable = self.rv;
        }
        obj
    }

    /// Deletes an object, recording the deletion.
    pub fn delete(&mut self, store: &'static str, key: &Key) -> Option<Value> {
        let json = self.objects.get_mut(store)?.remove(key)?;
        self.rv += 1;
        let mut obj: Value = serde_json::from_str(&json).ok()?;
        obj["metadata"]["resourceVersion"] = Value::String(self.rv.to_string());
        let json: Arc<str> = Arc::from(obj.to_string());
        self.record(store, key.0.clone(), ChangeType::Deleted, json);
        Some(obj)
    }

    fn record(&mut self, store: &'static str, namespace: String, kind: ChangeType, json: Arc<str>) {
        self.history.push_back(Change {
            rv: self.rv,
            store,
            namespace,
            kind,
            json,
        });
        while self.history.len() > self.history_cap {
            if let Some(c) = self.history.pop_front() {
                self.oldest_resumable = c.rv;
            }
        }
    }

    /// Changes after `rv` in `store` (and namespace), at most `max`, and the
    /// version up to which the history was read.
    pub fn changes_after(
        &self,
        rv: u64,
        store: &str,
        namespace: &str,
        max: usize,
    ) -> (Vec<Change>, u64) {
        let start = self.history.partition_point(|c| c.rv <= rv);
        let mut out = Vec::new();
        let mut upto = rv;
        for c in self.history.range(start..) {
            if out.len() >= max {
                return (out, upto);
            }
            upto = c.rv;
            if c.store == store && (namespace.is_empty() || c.namespace == namespace) {
                out.push(c.clone());
            }
        }
        (out, self.rv.max(upto))
    }

    /// Forgets the whole history, as etcd compaction does: every watch
    /// must resume from now on or get 410 Gone; list snapshots are dropped.
    pub fn compact(&mut self) {
        self.history.clear();
        self.oldest_resumable = self.rv;
        self.snapshots.clear();
    }

    /// Takes a list snapshot and returns its id.
    pub fn snapshot(&mut self, store: &str, namespace: &str) -> (u64, Arc<Snapshot>) {
        let id = self.next_snapshot;
        self.next_snapshot += 1;
        let snap = Arc::new(Snapshot {
            rv: self.rv,
            items: self.list(store, namespace),
        });
        // A handful of lists in flight at once is plenty for tests.
        if self.snapshots.len() >= 16 {
            if let Some(&old) = self.snapshots.keys().min() {
                self.snapshots.remove(&old);
            }
        }
        self.snapshots.insert(id, snap.clone());
        (id, snap)
    }
}
