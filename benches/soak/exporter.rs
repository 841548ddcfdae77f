//! The series a real Prometheus scrapes during the soak, served on
//! 127.0.0.1 as one exposition: per pod, the kubelet's
//! `prober_probe_total` (readiness, one probe every 10 s) and cAdvisor's
//! `container_threads`; per node, node_exporter's threads and CPU and
//! kube-state-metrics' Ready condition; and a JupyterHub hub's CPU. A sick
//! node's pods fail every probe from the moment it turns sick. Values are
//! functions of the time since start, so the exposition is rebuilt on each
//! scrape from a few integers, never stored.

use axum::{extract::State, routing::get, Router};
use nodewatch_testkit::cluster::{node_name, pod_name};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the exporter serves.
pub struct Exporter {
    nodes: usize,
    pods: usize,
    started: Instant,
    /// Node index → seconds since start at which it turned sick.
    sick: Mutex<HashMap<usize, f64>>,
}

impl Exporter {
    /// Serves `nodes` nodes and `pods` pods (pod `i` on node `i % nodes`)
    /// on a free port; returns the address.
    pub async fn start(nodes: usize, pods: usize) -> (Arc<Exporter>, SocketAddr) {
        let me = Arc::new(Exporter {
            nodes,
            pods,
            started: Instant::now(),
            sick: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/metrics", get(metrics))
            .with_state(me.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind exporter");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (me, addr)
    }

    /// From now on every probe of node `i`'s pods fails.
    pub fn make_sick(&self, i: usize) {
        let t = self.started.elapsed().as_secs_f64();
        self.sick.lock().expect("lock").insert(i, t);
    }

    /// The exposition at this moment.
    fn render(&self) -> String {
        let t = self.started.elapsed().as_secs_f64();
        let sick = self.sick.lock().expect("lock").clone();
        let mut out = String::with_capacity(self.pods * 330 + self.nodes * 600);
        out.push_str("# TYPE prober_probe_total counter\n");
        for p in 0..self.pods {
            let (ns, pod) = pod_name(p);
            let node = node_name(p % self.nodes);
            let probes = (t / 10.0).floor() + (p % 7) as f64;
            let since = sick.get(&(p % self.nodes)).copied();
            let failed = since.map_or(0.0, |s| ((t - s) / 10.0).floor().max(0.0));
            let labels = format!("container=\"web\",namespace=\"{ns}\",node=\"{node}\",pod=\"{pod}\",probe_type=\"Readiness\"");
            let _ = writeln!(
                out,
                "prober_probe_total{{{labels},result=\"successful\"}} {}",
                probes - failed
            );
            if since.is_some() {
                let _ = writeln!(
                    out,
                    "prober_probe_total{{{labels},result=\"failed\"}} {failed}"
                );
            }
        }
        out.push_str("# TYPE container_threads gauge\n");
        for p in 0..self.pods {
            let (ns, pod) = pod_name(p);
            let node = node_name(p % self.nodes);
            let _ = writeln!(
                out,
                "container_threads{{container=\"web\",namespace=\"{ns}\",node=\"{node}\",pod=\"{pod}\"}} {}",
                20 + p % 13
            );
        }
        out.push_str("# TYPE node_processes_threads gauge\n# TYPE node_processes_max_threads gauge\n# TYPE node_cpu_seconds_total counter\n# TYPE kube_node_status_condition gauge\n");
        for n in 0..self.nodes {
            let name = node_name(n);
            let wobble = ((t / 30.0).floor() as usize + n) % 9;
            let _ = writeln!(
                out,
                "node_processes_threads{{instance=\"{name}\"}} {}",
                800 + n % 100 + wobble
            );
            let _ = writeln!(
                out,
                "node_processes_max_threads{{instance=\"{name}\"}} 4194304"
            );
            let _ = writeln!(
                out,
                "node_cpu_seconds_total{{cpu=\"0\",instance=\"{name}\",mode=\"idle\"}} {:.3}",
                t * 0.7
            );
            let _ = writeln!(
                out,
                "node_cpu_seconds_total{{cpu=\"0\",instance=\"{name}\",mode=\"user\"}} {:.3}",
                t * 0.3
            );
            let _ = writeln!(out, "kube_node_status_condition{{condition=\"Ready\",node=\"{name}\",status=\"true\"}} 1");
        }
        let hub = "container=\"hub\",namespace=\"jhub\",pod=\"hub-7d9f8c6b5-x2x4k\"";
        let _ = writeln!(out, "# TYPE container_cpu_usage_seconds_total counter\ncontainer_cpu_usage_seconds_total{{{hub},node=\"{}\"}} {:.3}", node_name(0), t * 0.3);
        out
    }
}

async fn metrics(State(e): State<Arc<Exporter>>) -> String {
    tokio::task::spawn_blocking(move || e.render())
        .await
        .expect("render")
}
