//! What every outbound HTTP client of nodewatch shares (the sinks and the
//! Prometheus client): a small redirect limit, bodies read with a byte cap
//! instead of whole, and URL credentials hidden before anything prints a
//! URL. A receiver can answer anything; none of it may take the agent's
//! memory, keep it in a loop, or put a secret in a log line.

/// Redirects followed per request. Past this the request fails with a
/// redirect error, which callers treat as permanent (a loop never ends by
/// retrying).
pub const MAX_REDIRECTS: usize = 3;

/// Bytes of an error answer kept for the log and the last-error field; the
/// rest is never read.
pub const ERROR_BODY_MAX: usize = 4 * 1024;

/// The redirect policy of every outbound client.
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::limited(MAX_REDIRECTS)
}

/// A body read up to a cap.
#[derive(Debug)]
pub struct Capped {
    /// At most `max` bytes of the body.
    pub bytes: Vec<u8>,
    /// The body went on past `max` (the rest was not read).
    pub truncated: bool,
}

/// Reads at most `max` bytes of `resp`'s body, chunk by chunk, and stops:
/// a receiver streaming gigabytes costs `max` bytes of memory.
pub async fn read_capped(
    resp: &mut reqwest::Response,
    max: usize,
) -> Result<Capped, reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = max - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok(Capped {
                bytes,
                truncated: true,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Capped {
        bytes,
        truncated: false,
    })
}

/// The start of an error body as one printable line, for logs.
pub async fn error_excerpt(mut resp: reqwest::Response) -> String {
    match read_capped(&mut resp, ERROR_BODY_MAX).await {
        Ok(c) => {
            let text = String::from_utf8_lossy(&c.bytes);
            let flat: String = text
                .chars()
                .take(200)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let more = c.truncated || text.chars().count() > 200;
            format!("{}{}", flat.trim(), if more { "…" } else { "" })
        }
        Err(_) => String::new(),
    }
}

/// `s` with the password and user name of any URL in it replaced by
/// `***`: `http://user:pw@host/` becomes `http://***@host/`. Anything that
/// prints a configured URL goes through this.
pub fn redact_url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first '/', '?', '#' or whitespace.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Splits the credentials off a URL: the URL without them, and
/// `(user, password)` when it had any. Clients send them as an
/// `Authorization` header so that the URL they keep, and print, has none.
pub fn split_credentials(url: &str) -> Result<(String, Option<(String, String)>), String> {
    let mut u = reqwest::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    if u.username().is_empty() && u.password().is_none() {
        return Ok((url.to_string(), None));
    }
    let decode = |s: &str| {
        percent_decode(s).ok_or_else(|| "URL credentials are not valid UTF-8".to_string())
    };
    let user = decode(u.username())?;
    let password = decode(u.password().unwrap_or(""))?;
    let _ = u.set_username("");
    let _ = u.set_password(None);
    let mut clean = u.to_string();
    // Url adds a '/' to an empty path; keep the caller's form.
    if !url.ends_with('/') && u.path() == "/" && u.query().is_none() && u.fragment().is_none() {
        clean.pop();
    }
    Ok((clean, Some((user, password))))
}

/// `%XX` decoding of a URL component.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_in_text() {
        assert_eq!(
            redact_url("http://user:pw@host:9090/x?y#z"),
            "http://***@host:9090/x?y#z"
        );
        assert_eq!(redact_url("https://tok@h"), "https://***@h");
        assert_eq!(
            redact_url("error for url (http://a:b@h/api): refused; see https://h2/"),
            "error for url (http://***@h/api): refused; see https://h2/"
        );
        assert_eq!(redact_url("no url here"), "no url here");
        assert_eq!(redact_url("\"http://u:p@h\""), "\"http://***@h\"");
    }

    #[test]
    fn credentials_split_off() {
        let (u, c) = split_credentials("http://us%40er:p%3Aw@h:9090").unwrap();
        assert_eq!(u, "http://h:9090");
        assert_eq!(c, Some(("us@er".into(), "p:w".into())));
        let (u, c) = split_credentials("https://h/prom/").unwrap();
        assert_eq!((u.as_str(), c), ("https://h/prom/", None));
        let (u, _) = split_credentials("http://u:p@h/prom").unwrap();
        assert_eq!(u, "http://h/prom");
    }
}
