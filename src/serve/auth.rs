//! Optional bearer-token protection. With a token configured, every path
//! except the probes (`/healthz`, `/readyz`) needs `Authorization: Bearer
//! <token>` — what Grafana's datasource and Prometheus's scrape config send
//! — or HTTP Basic with the token as password, which a browser can prompt
//! for, so the status page stays usable without a proxy.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Paths that stay open: kubelet probes carry no credentials.
const OPEN: [&str; 2] = ["/healthz", "/readyz"];

/// The middleware: passes the request on when the token matches.
pub(super) async fn require(State(token): State<Arc<str>>, req: Request, next: Next) -> Response {
    if OPEN.contains(&req.uri().path())
        || authorized(req.headers().get(header::AUTHORIZATION), &token)
    {
        return next.run(req).await;
    }
    let mut r = (
        StatusCode::UNAUTHORIZED,
        "unauthorized: a bearer token is required\n",
    )
        .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"nodewatch\", charset=\"UTF-8\""),
    );
    r
}

/// Whether an `Authorization` header carries `token`.
fn authorized(h: Option<&HeaderValue>, token: &str) -> bool {
    let Some(v) = h.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return same(rest.as_bytes(), token.as_bytes());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let Some(decoded) = base64(rest) else {
            return false;
        };
        let password = match decoded.iter().position(|b| *b == b':') {
            Some(i) => &decoded[i + 1..],
            None => return false,
        };
        return same(password, token.as_bytes());
    }
    false
}

/// Comparison whose time does not depend on where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 (padding optional); `None` on anything else.
fn base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn bearer_and_basic() {
        assert!(authorized(Some(&hv("Bearer s3cret")), "s3cret"));
        assert!(authorized(Some(&hv("bearer  s3cret ")), "s3cret"));
        assert!(!authorized(Some(&hv("Bearer s3cre")), "s3cret"));
        assert!(!authorized(None, "s3cret"));
        // "grafana:s3cret"
        assert!(authorized(
            Some(&hv("Basic Z3JhZmFuYTpzM2NyZXQ=")),
            "s3cret"
        ));
        assert!(!authorized(Some(&hv("Basic Z3JhZmFuYTp4")), "s3cret"));
        assert!(!authorized(Some(&hv("Basic !!")), "s3cret"));
        assert_eq!(base64("aGk").as_deref(), Some(&b"hi"[..]));
    }
}
