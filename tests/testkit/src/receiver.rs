//! A tiny scriptable HTTP receiver on tokio for the sink tests (webhook
//! receivers, Alertmanager's webhook target, a fake Grafana API) on
//! 127.0.0.1: answers from a script, then with a default status; can hold a
//! request until released; records every request; stops on drop.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reply {
    /// This status, at once.
    Status(u16),
    /// Hold the request until [`Receiver::release`], then answer 503
    /// (the client has long given up).
    Hold,
}

/// One request the receiver saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Method.
    pub method: Method,
    /// Path.
    pub path: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Bytes,
    /// What it answered (`None` while held).
    pub status: Option<u16>,
}

impl Seen {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Shared state of a receiver.
#[derive(Default)]
pub struct ReceiverState {
    seen: Mutex<Vec<Seen>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<u16>,
    held: std::sync::atomic::AtomicUsize,
    release: tokio::sync::Notify,
    released: std::sync::atomic::AtomicBool,
}

/// A tiny HTTP receiver: answers from a script, then with a default
/// status; records every request; replies `{"id": n}` (Grafana style).
pub struct Receiver {
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

async fn handle(
    State(s): State<Arc<ReceiverState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let reply = s.script.lock().unwrap().pop_front();
    let reply = reply.unwrap_or(Reply::Status(*s.default.lock().unwrap()));
    let index = {
        let mut seen = s.seen.lock().unwrap();
        seen.push(Seen {
            method,
            path: uri.path().to_string(),
            headers,
            body,
            status: None,
        });
        seen.len() - 1
    };
    let status = match reply {
        Reply::Status(c) => c,
        Reply::Hold => {
            s.held.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            while !s.released.load(std::sync::atomic::Ordering::SeqCst) {
                let wait = s.release.notified();
                if s.released.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let _ = tokio::time::timeout(Duration::from_millis(100), wait).await;
            }
            503
        }
    };
    s.seen.lock().unwrap()[index].status = Some(status);
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        format!("{{\"id\": {}}}", index + 1),
    )
}

impl Receiver {
    /// Starts on a free port.
    pub async fn start(script: &[Reply]) -> Receiver {
        Self::start_on(0, script).await
    }

    /// Starts on `port` (0: any).
    pub async fn start_on(port: u16, script: &[Reply]) -> Receiver {
        let state = Arc::new(ReceiverState::default());
        *state.default.lock().unwrap() = 200;
        state.script.lock().unwrap().extend(script.iter().copied());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/"),
            state,
            task,
        }
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Requests answered 2xx.
    pub fn delivered(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.status.is_some_and(|c| (200..300).contains(&c)))
            .collect()
    }

    /// Requests being held now.
    pub fn holding(&self) -> usize {
        if self
            .state
            .released
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            0
        } else {
            self.state.held.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    /// Lets held requests finish.
    pub fn release(&self) {
        self.state
            .released
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.state.release.notify_waiters();
    }

    /// Answer with `status` once the script is used up.
    pub fn set_default(&self, status: u16) {
        *self.state.default.lock().unwrap() = status;
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.release();
        self.task.abort();
    }
}
