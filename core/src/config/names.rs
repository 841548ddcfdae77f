//! The name syntaxes nodewatch's settings must follow, checked once here:
//! Prometheus metric and label names (Alertmanager rejects alerts with bad
//! label names), Kubernetes object names and label keys. (Which HTTP
//! headers a user may set is the agent's: `nodewatch::config::headers`.)

/// A Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// Why `s` cannot be the name of a label nodewatch sends (alert labels,
/// annotation names, `by` labels): Alertmanager's syntax, and `__` names
/// are reserved for internal use.
pub fn alert_label_problem(s: &str) -> Option<String> {
    if !is_label_name(s) {
        Some(format!(
            "{s:?} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)"
        ))
    } else if s.starts_with("__") {
        Some(format!("{s:?}: names starting with __ are reserved"))
    } else {
        None
    }
}

/// A DNS-1123 label (namespaces): at most 63 of `[a-z0-9-]`, starting and
/// ending alphanumeric.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain (most object names, Lease names): dot-separated
/// DNS-1123 labels, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then
/// a name of at most 63 `[A-Za-z0-9._-]` starting and ending alphanumeric.
pub fn is_k8s_label_key(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    name_ok && prefix.is_none_or(is_dns1123_subdomain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["up", "a:b_c", "_x", "ns:m:rate5m"] {
            assert!(is_metric_name(ok), "{ok}");
        }
        for bad in ["", "up{", "1up", "my-metric", "a b"] {
            assert!(!is_metric_name(bad), "{bad}");
        }
        assert!(is_label_name("node") && is_label_name("_a1"));
        for bad in ["", "bad-label", "bad label", "1a", "a:b"] {
            assert!(alert_label_problem(bad).is_some(), "{bad}");
        }
        assert!(alert_label_problem("__name__")
            .unwrap()
            .contains("reserved"));
        assert!(alert_label_problem("team").is_none());
        assert!(is_dns1123_label("default") && !is_dns1123_label("Bad_ns"));
        assert!(!is_dns1123_label("-a") && !is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("a.b-c") && !is_dns1123_subdomain("a..b"));
        assert!(is_k8s_label_key("cloud.google.com/gke-nodepool"));
        assert!(is_k8s_label_key("agentpool") && !is_k8s_label_key("bad key"));
        assert!(!is_k8s_label_key("/x") && !is_k8s_label_key("a/"));
    }
}
