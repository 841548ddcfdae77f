//! The README's first command: `nodewatch demo` serves the status page,
//! `/metrics` and health endpoints while replaying the built-in incident.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, buf)
}

#[test]
fn demo_serves_page_metrics_and_health_then_exits() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args([
            "demo",
            "--speed",
            "2000000",
            "--listen",
            "127.0.0.1:0",
            "--exit-when-done",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start demo");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref().take(5) {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("status page: http://") {
            addr = rest.split('/').next().map(str::to_string);
            break;
        }
    }
    let addr = addr.expect("demo prints its address");
    let (code, _) = get(&addr, "/healthz");
    assert_eq!(code, 200);
    // Wait (bounded) for the first snapshot.
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&addr, "/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "demo never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, page) = get(&addr, "/");
    assert_eq!(code, 200);
    assert!(
        page.contains("gke-prod-a-ssd-pool-32-134a959a-"),
        "status page lists the nodes"
    );
    let (code, metrics) = get(&addr, "/metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("nodewatch_node_score{"), "{metrics}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(status.success());
    let text = rest.join("\n");
    assert!(text.contains("Detection report for binder"), "{text}");
    assert!(
        text.contains("false node alerts: 0, false cordons: 0"),
        "{text}"
    );
}
