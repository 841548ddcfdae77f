//! Grafana sink: annotations (`POST /api/annotations`, service-account
//! token) for cordons, uncordons, refused cordons and cluster incidents, so
//! they show on every dashboard that displays annotations. A cluster
//! incident becomes a region: created when it fires, its end set
//! (`PATCH /api/annotations/:id`) when it resolves.

use super::common::{self, Delivery, DeliveryError, Endpoint, Secret, SecretRef};
use super::fingerprint::Fingerprint;
use super::item::{AlertStatus, Item};
use super::worker::{Deliver, Outgoing, WorkerOptions};
use super::{Context, SinkHandle, SinkKind};
use crate::model::ActionKind;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;

/// Bytes of Grafana's answer to a created annotation read at most.
const ANSWER_MAX: usize = 64 * 1024;

/// One Grafana (`sinks.grafana[]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GrafanaConfig {
    /// The sink's name.
    #[serde(default = "default_name")]
    pub name: String,
    /// Grafana's base URL.
    pub url: Endpoint,
    /// Service-account token (Editor on the annotations).
    pub token: SecretRef,
    /// Annotate only this dashboard (default: organisation-wide).
    #[serde(default)]
    pub dashboard_uid: Option<String>,
    /// ... and only this panel of it.
    #[serde(default)]
    pub panel_id: Option<i64>,
    /// Tags on every annotation (kind tags such as `cordon` are added).
    #[serde(default = "default_tags")]
    pub tags: Vec<String>,
    /// Action kinds to annotate: `cordon`, `uncordon`, `refused`.
    #[serde(default = "default_actions")]
    pub actions: Vec<String>,
    /// Annotate cluster incidents (`scope=cluster` alerts).
    #[serde(default = "yes")]
    pub cluster_incidents: bool,
    /// Extra CA certificates (PEM) to trust.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Queue, timeout and retries.
    #[serde(default)]
    pub delivery: Delivery,
}

fn default_name() -> String {
    "grafana".into()
}

fn default_tags() -> Vec<String> {
    vec!["nodewatch".into()]
}

fn default_actions() -> Vec<String> {
    ActionKind::ALL.iter().map(|k| k.to_string()).collect()
}

fn yes() -> bool {
    true
}

impl SinkKind for GrafanaConfig {
    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn start(&self, ctx: &Context) -> Result<Vec<SinkHandle>, String> {
        start(self, ctx).map(|h| vec![h])
    }

    fn validate(&self) -> Result<(), String> {
        for a in &self.actions {
            if ActionKind::parse(a).is_none() {
                return Err(format!(
                    "actions: unknown action {a:?} (expected cordon, uncordon or refused)"
                ));
            }
        }
        if self.panel_id.is_some() && self.dashboard_uid.is_none() {
            return Err("panel_id needs dashboard_uid".into());
        }
        self.delivery.validate()
    }
}

/// One request to Grafana.
#[derive(Debug)]
pub enum Annotation {
    /// Create an annotation; remember its id for `opens` (a firing incident).
    Create {
        /// The request body.
        body: Value,
        /// The incident it opens.
        opens: Option<Fingerprint>,
    },
    /// End a firing incident's region, or create the whole region when
    /// its start was never annotated.
    Close {
        /// The incident.
        fingerprint: Fingerprint,
        /// Region start and end, epoch milliseconds.
        time: i64,
        /// End.
        time_end: i64,
        /// Body to create when the start is unknown.
        fallback: Value,
    },
}

struct GrafanaSink {
    base: Endpoint,
    client: reqwest::Client,
    token: Secret,
    dashboard_uid: Option<String>,
    panel_id: Option<i64>,
    tags: Vec<String>,
    /// Annotation ids of firing incidents.
    open: HashMap<Fingerprint, i64>,
}

/// Starts the sink's task.
fn start(cfg: &GrafanaConfig, _ctx: &Context) -> Result<SinkHandle, String> {
    let sink = GrafanaSink {
        base: cfg.url.clone(),
        client: common::http_client(cfg.delivery.timeout_std(), cfg.ca_file.as_ref())?,
        token: cfg.token.resolve("token")?,
        dashboard_uid: cfg.dashboard_uid.clone(),
        panel_id: cfg.panel_id,
        tags: cfg.tags.clone(),
        open: HashMap::new(),
    };
    // Validated: every configured action names a kind.
    let kinds: Vec<ActionKind> = cfg
        .actions
        .iter()
        .filter_map(|a| ActionKind::parse(a))
        .collect();
    let incidents = cfg.cluster_incidents;
    let accepts = move |i: &Item| match i {
        Item::Alert(a) => incidents && a.scope == "cluster",
        Item::Action(_, r) => kinds.contains(&r.kind),
    };
    let opts = WorkerOptions {
        name: format!("grafana/{}", cfg.name),
        delivery: cfg.delivery.clone(),
        group_wait: std::time::Duration::ZERO,
        repeat_interval: None,
    };
    Ok(SinkHandle::spawn("grafana", opts, Box::new(accepts), sink))
}

impl GrafanaSink {
    fn body(&self, time: i64, time_end: Option<i64>, extra_tags: &[&str], text: String) -> Value {
        let mut tags = self.tags.clone();
        tags.extend(extra_tags.iter().map(|t| t.to_string()));
        let mut v = json!({ "time": time, "tags": tags, "text": text });
        if let Some(end) = time_end {
            v["timeEnd"] = json!(end);
        }
        if let Some(uid) = &self.dashboard_uid {
            v["dashboardUID"] = json!(uid);
        }
        if let Some(p) = self.panel_id {
            v["panelId"] = json!(p);
        }
        v
    }

    fn annotation(&self, item: &Item) -> Annotation {
        match item {
            Item::Action(_, r) => {
                let what = match r.kind {
                    ActionKind::Cordon => format!("nodewatch cordoned {}", r.node),
                    ActionKind::Uncordon => format!("nodewatch uncordoned {}", r.node),
                    ActionKind::Refused => format!("nodewatch would cordon {}", r.node),
                };
                let node_tag = format!("node={}", r.node);
                let text = format!(
                    "{what} (rule {}, score {:.2}): {}",
                    r.rule, r.score, r.reason
                );
                Annotation::Create {
                    body: self.body(r.at.0, None, &[r.kind.as_str(), &node_tag], text),
                    opens: None,
                }
            }
            Item::Alert(a) => {
                let summary = a.annotations.get("summary").cloned().unwrap_or_default();
                let why = a
                    .annotations
                    .get("explanation")
                    .cloned()
                    .unwrap_or_default();
                let text = format!("{} ({}): {summary}\n{why}", a.name, a.status.as_str());
                let tags = ["cluster-incident", a.name.as_str()];
                match (a.status, a.ends_at) {
                    (AlertStatus::Resolved, Some(end)) => Annotation::Close {
                        fingerprint: a.fingerprint,
                        time: a.starts_at.0,
                        time_end: end.0,
                        fallback: self.body(a.starts_at.0, Some(end.0), &tags, text),
                    },
                    _ => Annotation::Create {
                        body: self.body(a.starts_at.0, None, &tags, text),
                        opens: Some(a.fingerprint),
                    },
                }
            }
        }
    }

    async fn create(
        &mut self,
        body: &Value,
        opens: Option<Fingerprint>,
    ) -> Result<(), DeliveryError> {
        let req = self
            .client
            .post(self.base.join_path("api/annotations"))
            .json(body);
        let mut resp = common::send(common::with_auth(req, Some(&self.token), &[])).await?;
        if let Some(fp) = opens {
            // `{"message":"Annotation added","id":1}`; without an id the
            // resolution creates the whole region instead. Read with a cap:
            // the answer is tiny, whatever the server streams.
            let body = crate::outbound::read_capped(&mut resp, ANSWER_MAX).await;
            let v: Value = body
                .ok()
                .filter(|b| !b.truncated)
                .and_then(|b| serde_json::from_slice(&b.bytes).ok())
                .unwrap_or(Value::Null);
            if let Some(id) = v.get("id").and_then(Value::as_i64) {
                self.open.insert(fp, id);
            }
        }
        Ok(())
    }
}

impl Deliver for GrafanaSink {
    type Message = Annotation;

    fn render(&mut self, batch: &[Item], _repeat: bool) -> Vec<Outgoing<Annotation>> {
        batch
            .iter()
            .map(|i| Outgoing {
                message: self.annotation(i),
                keys: vec![i.key()],
                items: 1,
            })
            .collect()
    }

    async fn deliver<'a>(&'a mut self, m: &'a Annotation) -> Result<(), DeliveryError> {
        match m {
            Annotation::Create { body, opens } => self.create(body, *opens).await,
            Annotation::Close {
                fingerprint,
                time,
                time_end,
                fallback,
            } => {
                let Some(id) = self.open.get(fingerprint).copied() else {
                    return self.create(fallback, None).await;
                };
                let url = self.base.join_path(&format!("api/annotations/{id}"));
                let req = self
                    .client
                    .patch(url)
                    .json(&json!({ "time": time, "timeEnd": time_end }));
                common::send(common::with_auth(req, Some(&self.token), &[])).await?;
                self.open.remove(fingerprint);
                Ok(())
            }
        }
    }
}
