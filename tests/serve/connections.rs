//! The HTTP server under connection abuse: idle sockets beyond the
//! connection cap or the process's file-descriptor limit, clients that
//! never finish their headers, and requests that outlast the request
//! timeout. `/healthz` and `/readyz` must keep answering. No timing is
//! asserted beyond generous "answers at all" client timeouts.

use fixture::fill;
use http::{get, request_with_body};
use nodewatch::serve::{router_with, serve_router_with, Published, ServeConfig, ServerLimits};
use nodewatch::time::Duration as Span;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

use nodewatch_testkit::serve::fixture;
use nodewatch_testkit::serve::http;

/// Longest any answer may take here: far above a normal one, so only a
/// server that never answers fails.
const PATIENCE: Duration = Duration::from_secs(30);

async fn start(cfg: ServeConfig) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    start_with(cfg, 30, 120).await
}

async fn start_with(
    cfg: ServeConfig,
    nodes: usize,
    ticks: usize,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let published = Published::with_config(&cfg);
    fill(&published, nodes, ticks);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router_with(published, None);
    let limits = ServerLimits::from_config(&cfg);
    tokio::spawn(serve_router_with(listener, app, limits, async move {
        let _ = rx.await;
    }));
    (addr, tx)
}

async fn probe(addr: SocketAddr, path: &str) -> (u16, String) {
    let r = tokio::time::timeout(PATIENCE, get(addr, path))
        .await
        .unwrap_or_else(|_| panic!("{path} did not answer within {PATIENCE:?}"));
    (r.status, r.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_with_more_idle_connections_than_the_cap() {
    let cfg = ServeConfig {
        max_connections: 16,
        ..ServeConfig::default()
    };
    let (addr, _stop) = start(cfg).await;
    let mut idle = Vec::new();
    for i in 0..140 {
        let s = TcpStream::connect(addr).await.expect("connect");
        if i % 2 == 0 {
            // Half send the start of a request and stall.
            s.writable().await.expect("writable");
            let _ = s.try_write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n");
        }
        idle.push(s);
    }
    for _ in 0..3 {
        assert_eq!(probe(addr, "/healthz").await, (200, "ok".to_string()));
        assert_eq!(probe(addr, "/readyz").await.0, 200);
    }
    let q = "/api/v1/query?query=count(nodewatch_node_score)";
    let (code, body) = probe(addr, q).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"30\""), "{body}");
    drop(idle);
}

#[tokio::test]
async fn stalled_headers_are_cut_off_and_slow_requests_answered_503() {
    let cfg = ServeConfig {
        header_read_timeout: Span(300),
        ..ServeConfig::default()
    };
    let (addr, _stop) = start(cfg).await;
    // A client that never finishes its headers is disconnected.
    let s = TcpStream::connect(addr).await.expect("connect");
    s.writable().await.expect("writable");
    s.try_write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    let closed = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 512];
        loop {
            s.readable().await.expect("readable");
            match s.try_read(&mut buf) {
                Ok(0) => return,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "server kept a stalled connection open");
    assert_eq!(probe(addr, "/healthz").await.0, 200);
    // 1 ms for a query over 30 nodes' full history (well over 100 ms).
    let (addr, _stop) = start(ServeConfig {
        request_timeout: Span(1),
        ..ServeConfig::default()
    })
    .await;
    let q = "/api/v1/query_range?query=count_over_time(%7B__name__%3D~%22.%2B%22%7D%5B1h%5D)&start=1519128000&end=1519131570&step=30";
    let r = tokio::time::timeout(PATIENCE, request_with_body(addr, "GET", q, &[], ""))
        .await
        .expect("answered");
    assert_eq!(r.status, 503, "{}", &r.body[..r.body.len().min(200)]);
    assert!(r.body.contains("request timed out"), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_and_frees_its_query_slot() {
    let cfg = ServeConfig {
        header_read_timeout: Span(500),
        query_max_concurrency: 1,
        ..ServeConfig::default()
    };
    // Every series of 150 nodes over 2 h: a body of tens of MB, more than
    // the loopback socket buffers hold.
    let (addr, _stop) = start_with(cfg, 150, 240).await;
    let big = "/api/v1/query_range?query=%7B__name__%3D~%22.%2B%22%7D&start=1519128000&end=1519135170&step=30";
    let slow = TcpStream::connect(addr).await.expect("connect");
    slow.writable().await.expect("writable");
    let req = format!("GET {big} HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(slow.try_write(req.as_bytes()).expect("write"), req.len());
    // Its answer has begun (bytes are waiting, unread): from now on the
    // answer holds the only query slot. (Without this wait the probe below
    // could take the slot first and the test would race.)
    tokio::time::timeout(PATIENCE, slow.readable())
        .await
        .expect("the answer begins")
        .expect("readable");
    // Another query needs the only query slot, which the stalled answer
    // holds until the server gives up on its reader.
    let (code, body) = probe(addr, "/api/v1/query?query=count(nodewatch_node_score)").await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"150\""), "{body}");
    // The stalled client now gets what was buffered, then the end: less
    // than the whole answer.
    let got = tokio::time::timeout(PATIENCE, async {
        let mut raw = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            slow.readable().await.expect("readable");
            match slow.try_read(&mut buf) {
                Ok(0) => return raw,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return raw,
            }
        }
    })
    .await
    .expect("the server closed the stalled connection");
    let text = String::from_utf8_lossy(&got[..got.len().min(4096)]).to_lowercase();
    assert!(
        text.starts_with("http/1.1 200"),
        "{}",
        &text[..text.len().min(200)]
    );
    let head_end = text.find("\r\n\r\n").expect("head") + 4;
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("content-length");
    assert!(
        length > 10 << 20,
        "answer of {length} bytes is too small to stall"
    );
    assert!(got.len() - head_end < length, "the whole answer was sent");
}

/// Blocking `GET` with a generous read timeout.
fn blocking_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf)
        .unwrap_or_else(|e| panic!("{path} did not answer: {e}"));
    let code = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, buf)
}

/// The release scenario of issue 13: the agent with few file descriptors
/// (`prlimit --nofile`) and more idle connections than it can hold.
#[test]
fn demo_with_few_file_descriptors_keeps_answering_probes() {
    let mut child = Command::new("prlimit")
        .args(["--nofile=48:48", "--"])
        .arg(env!("CARGO_BIN_EXE_nodewatch"))
        .args(["demo", "--speed", "600", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("prlimit (util-linux) and the demo start");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = lines.by_ref().take(5).map_while(Result::ok).find_map(|l| {
        let rest = l.strip_prefix("status page: http://")?;
        rest.split('/').next().map(str::to_string)
    });
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("demo did not print its address");
    };
    let idle: Vec<std::net::TcpStream> = (0..140)
        .map(|_| std::net::TcpStream::connect(&addr).expect("connect"))
        .collect();
    let mut answers = Vec::new();
    for path in ["/healthz", "/readyz", "/healthz"] {
        answers.push(blocking_get(&addr, path));
    }
    drop(idle);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answers[0].0, 200, "{}", answers[0].1);
    assert!(answers[0].1.ends_with("ok"), "{}", answers[0].1);
    assert!(matches!(answers[1].0, 200 | 503), "{}", answers[1].1);
    assert_eq!(answers[2].0, 200, "{}", answers[2].1);
}
