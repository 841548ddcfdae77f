//! Custom HTTP headers a user may set on an outbound client (the
//! Prometheus source, webhook and Grafana sinks): which names the HTTP
//! client owns and may not be overridden. Agent-side, since the core speaks
//! no HTTP.

/// Why a custom HTTP header may not be set, if it may not: the HTTP
/// client owns framing and routing (`Host`, `Content-Length`, hop-by-hop
/// headers), and the body's type is fixed by the API spoken.
pub fn forbidden_header(name: &str) -> Option<&'static str> {
    const OWNED: &[&str] = &[
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "trailer",
        "upgrade",
        "expect",
    ];
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Some("not a valid header name");
    }
    OWNED
        .contains(&name.to_ascii_lowercase().as_str())
        .then_some("set by the HTTP client (framing, routing or content type), not configurable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_and_routing_headers_are_owned_by_the_client() {
        assert!(forbidden_header("Host").is_some() && forbidden_header("CONNECTION").is_some());
        assert!(forbidden_header("bad header").is_some());
        assert!(forbidden_header("X-Scope-OrgID").is_none());
    }
}
