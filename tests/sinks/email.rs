//! Email sink against a real SMTP server (Debian `python3-aiosmtpd`
//! writing a Maildir on 127.0.0.1): the message arrives with the expected
//! subject, recipients and explanation, grouped with what nodewatch did;
//! with the server down it is retried and, once the server is up,
//! delivered exactly once. STARTTLS and implicit TLS deliver when the
//! server's CA is trusted (`ca_file`) and fail, counted, when it is not.

use nodewatch::act::sinks::Dispatcher;
use nodewatch::act::Notifier;
use nodewatch::model::ActionKind;
use nodewatch::state::ActionRecord;
use nodewatch::time::{SystemClock, Timestamp};
use std::sync::Arc;
use std::time::Duration;
use support::{node_alert, sinks_config, tls_fixture, wait_for, Smtp, SmtpTls};

use nodewatch_testkit::sinks as support;

fn config(port: u16) -> nodewatch::act::sinks::SinksConfig {
    config_tls(port, "tls: none")
}

/// The email sink with `smtp` TLS settings `tls` (YAML flow entries).
fn config_tls(port: u16, tls: &str) -> nodewatch::act::sinks::SinksConfig {
    sinks_config(&format!(
        "sinks:\n  external_url: http://nodewatch.test:8080\n  email:\n    - name: oncall\n      \
         smtp: {{host: 127.0.0.1, port: {port}, {tls}}}\n      \
         from: \"nodewatch <nodewatch@example.org>\"\n      \
         to: [oncall@example.org, \"Infra Team <infra@example.org>\"]\n      \
         group_wait: 300ms\n      delivery: {{timeout: 5s, retry: {{initial: 200ms, max: 1s}}}}\n"
    ))
}

/// Waits until the email sink failed `n` times (retried or given up) and
/// returns its last error.
async fn failures(d: &Dispatcher, n: u64, what: &str) -> String {
    wait_for(Duration::from_secs(20), what, || async {
        let s = &d.stats()["email/oncall"];
        (s.retried + s.failed >= n).then_some(())
    })
    .await;
    d.stats()["email/oncall"]
        .last_error
        .clone()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_arrives_with_subject_recipients_and_explanation() {
    nodewatch::act::sinks::install_crypto_provider();
    let smtp = Smtp::start();
    let mut d = Dispatcher::start(&config(smtp.port), Arc::new(SystemClock)).expect("start");
    let n = node_alert("node-a", true, 0);
    d.notify(n.clone());
    // The refused cordon of the same tick goes into the same email.
    d.annotate_action(&ActionRecord {
        at: Timestamp(1_519_146_000_000),
        node: "node-a".into(),
        kind: ActionKind::Refused,
        rule: "NodeUnhealthy".into(),
        reason: "would cordon, refused because max fraction: nodewatch already cordoned 1 node(s), the limit is 1".into(),
        score: 0.93,
    });
    let mails = wait_for(Duration::from_secs(20), "the email", || async {
        let m = smtp.mails();
        (!m.is_empty()).then_some(m)
    })
    .await;
    assert!(d.flush(Duration::from_secs(5)).await);
    let mails = if smtp.mails().len() == mails.len() {
        mails
    } else {
        smtp.mails()
    };
    assert_eq!(mails.len(), 1, "one email for the node: {mails:?}");
    let m = &mails[0];
    assert_eq!(
        m.subject,
        "[nodewatch] FIRING: NodeUnhealthy on node-a (would cordon, refused)"
    );
    assert!(
        m.to.contains("oncall@example.org") && m.to.contains("infra@example.org"),
        "{}",
        m.to
    );
    assert!(
        m.rcpt_to.contains("oncall@example.org") && m.rcpt_to.contains("infra@example.org"),
        "{}",
        m.rcpt_to
    );
    let why = &n.alert.annotations["explanation"];
    assert!(m.body.contains(&format!("Why: {why}")), "{}", m.body);
    assert!(m.body.contains("Node node-a looks sick (score 0.93)"));
    assert!(
        m.body.contains("refused because max fraction"),
        "{}",
        m.body
    );
    assert!(m.body.contains("Status page: http://nodewatch.test:8080"));
    let s = &d.stats()["email/oncall"];
    assert_eq!(
        (s.sent, s.failed, s.dropped),
        (2, 0, 0),
        "alert and action in one email: {s:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_then_up_is_delivered_after_retry_exactly_once() {
    nodewatch::act::sinks::install_crypto_provider();
    let mut smtp = Smtp::start();
    smtp.stop();
    let mut d = Dispatcher::start(&config(smtp.port), Arc::new(SystemClock)).expect("start");
    d.notify(node_alert("node-b", true, 60));
    let err = failures(&d, 2, "failed attempts").await;
    assert!(err.contains("SMTP"), "{err}");
    assert!(smtp.mails().is_empty());
    smtp.resume();
    wait_for(Duration::from_secs(20), "the email after retry", || async {
        (!smtp.mails().is_empty()).then_some(())
    })
    .await;
    assert!(d.flush(Duration::from_secs(5)).await);
    // Give a duplicate every chance to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "exactly once: {mails:?}");
    assert_eq!(
        mails[0].subject,
        "[nodewatch] FIRING: NodeUnhealthy on node-b"
    );
    let s = &d.stats()["email/oncall"];
    assert_eq!((s.sent, s.failed), (1, 0), "{s:?}");
    assert!(s.retried >= 2 && s.last_error.is_none(), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_implicit_tls_need_a_trusted_certificate() {
    nodewatch::act::sinks::install_crypto_provider();
    let ca = tls_fixture("ca.pem");
    for (mode, tls) in [(SmtpTls::Starttls, "starttls"), (SmtpTls::Implicit, "tls")] {
        let smtp = Smtp::start_tls(mode);
        // The server's CA is not trusted: refused, counted, nothing sent.
        let mut d = Dispatcher::start(
            &config_tls(smtp.port, &format!("tls: {tls}")),
            Arc::new(SystemClock),
        )
        .expect("start");
        d.notify(node_alert("node-untrusted", true, 0));
        let err = failures(&d, 1, "a failed TLS attempt").await;
        assert!(err.to_lowercase().contains("certificate"), "{tls}: {err}");
        drop(d);
        // Trusted through ca_file: delivered over TLS.
        let mut d = Dispatcher::start(
            &config_tls(smtp.port, &format!("tls: {tls}, ca_file: {}", ca.display())),
            Arc::new(SystemClock),
        )
        .expect("start");
        d.notify(node_alert("node-tls", true, 0));
        let mails = wait_for(Duration::from_secs(20), "the email over TLS", || async {
            let m = smtp.mails();
            (!m.is_empty()).then_some(m)
        })
        .await;
        assert!(d.flush(Duration::from_secs(5)).await);
        assert_eq!(mails.len(), 1, "{tls}: {mails:?}");
        assert_eq!(
            mails[0].subject, "[nodewatch] FIRING: NodeUnhealthy on node-tls",
            "{tls}"
        );
        assert_eq!(d.stats()["email/oncall"].failed, 0, "{tls}");
    }
    // The STARTTLS server takes no mail in plain text (a permanent 530,
    // not retried), so the delivery above did go through TLS.
    let smtp = Smtp::start_tls(SmtpTls::Starttls);
    let mut d = Dispatcher::start(&config(smtp.port), Arc::new(SystemClock)).expect("start");
    d.notify(node_alert("node-plain", true, 0));
    let err = failures(&d, 1, "a refused plain-text attempt").await;
    assert_eq!(d.stats()["email/oncall"].failed, 1, "530 is not retried");
    assert!(err.to_uppercase().contains("STARTTLS"), "{err}");
    assert!(smtp.mails().is_empty());
}
