//! Watch streams of the fake API server: chunked JSON lines from a
//! resourceVersion on, bookmarks when the client allows them, a 410
//! `ERROR` event when the version was compacted away, and the injected
//! faults (held event streams, streams broken mid-burst or all at once).

use super::http::{lock, status, Inner};
use super::store::{store_of, ChangeType, Res};
use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub fn watch_stream(
    inner: Arc<Inner>,
    res: Res,
    namespace: String,
    q: &HashMap<String, String>,
) -> Response {
    let rv: Option<u64> = q.get("resourceVersion").and_then(|v| v.parse().ok());
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|v| v == "true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1800u64);
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(256);
    tokio::spawn(produce(
        inner,
        res,
        namespace,
        rv,
        bookmarks,
        Duration::from_secs(timeout),
        tx,
    ));
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| status(500, "InternalError", "building the watch response failed"))
}

type Tx = mpsc::Sender<Result<Bytes, std::io::Error>>;

async fn send(tx: &Tx, line: String) -> bool {
    tx.send(Ok(Bytes::from(line + "\n"))).await.is_ok()
}

async fn produce(
    inner: Arc<Inner>,
    res: Res,
    ns: String,
    rv: Option<u64>,
    bookmarks: bool,
    timeout: Duration,
    tx: Tx,
) {
    let store_name = store_of(&res);
    let mut drops = inner.drop_watches.subscribe();
    drops.borrow_and_update();
    let deadline = tokio::time::Instant::now() + timeout;
    let api = if res.group.is_empty() {
        res.version.to_string()
    } else {
        format!("{}/{}", res.group, res.version)
    };
    let gone = |rv: u64, oldest: u64| {
        json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": format!("too old resource version: {rv} ({oldest})"), "reason": "Expired", "code": 410}}).to_string()
    };
    let mut cursor = match rv {
        Some(v) if v > 0 => v,
        _ => {
            let (items, now) = {
                let s = lock(&inner.store);
                (s.list(store_name, &ns), s.rv)
            };
            for j in items {
                if !send(&tx, format!("{{\"type\":\"ADDED\",\"object\":{j}}}")).await {
                    return;
                }
            }
            now
        }
    };
    let mut sent = 0usize;
    let mut last_mark = (cursor, Instant::now());
    loop {
        let notified = inner.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let held = store_name == "events" && lock(&inner.faults).hold_events;
        let batch = if held {
            Ok((Vec::new(), cursor))
        } else {
            let s = lock(&inner.store);
            if cursor < s.oldest_resumable {
                Err(gone(cursor, s.oldest_resumable))
            } else {
                Ok(s.changes_after(cursor, store_name, &ns, 500))
            }
        };
        let (changes, upto) = match batch {
            Ok(b) => b,
            Err(line) => {
                send(&tx, line).await;
                return;
            }
        };
        let limit = lock(&inner.faults).drop_watch_after;
        let any = !changes.is_empty();
        for c in changes {
            let kind = if c.kind == ChangeType::Deleted {
                "DELETED"
            } else {
                c.kind.as_str()
            };
            if !send(
                &tx,
                format!("{{\"type\":\"{kind}\",\"object\":{}}}", c.json),
            )
            .await
            {
                return;
            }
            sent += 1;
            if limit.is_some_and(|n| sent >= n) {
                // Break the connection mid-burst, as a dying proxy would,
                // once what was sent had time to reach the client (an abort
                // discards hyper's unflushed buffer, and a stream that
                // never gets anything through would never make progress).
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = tx
                    .send(Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "watch dropped",
                    )))
                    .await;
                return;
            }
            cursor = c.rv;
        }
        cursor = cursor.max(upto);
        if any {
            last_mark.1 = Instant::now();
            continue;
        }
        if bookmarks && cursor > last_mark.0 && last_mark.1.elapsed() >= inner.bookmark_every {
            let mark = json!({"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": api, "metadata": {"resourceVersion": cursor.to_string()}}});
            if !send(&tx, mark.to_string()).await {
                return;
            }
            last_mark = (cursor, Instant::now());
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep(inner.bookmark_every) => {}
            _ = drops.changed() => {
                let _ = tx.send(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "watch dropped"))).await;
                return;
            }
            _ = tokio::time::sleep_until(deadline) => return,
        }
    }
}
