//! Email sink (lettre): one message per node group, over SMTP with
//! STARTTLS (default), implicit TLS, or plain text only when the config
//! says `tls: none`; optional authentication with a password read from a
//! file or the environment.

pub mod message;

use super::common::{self, Delivery, DeliveryError, Secret, SecretRef};
use super::item::Item;
use super::webhook::four_hours;
use super::worker::{Deliver, Outgoing, WorkerOptions};
use super::{Context, SinkHandle, SinkKind};
use crate::time::Duration;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;

/// One email receiver (`sinks.email[]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The sink's name.
    #[serde(default = "default_name")]
    pub name: String,
    /// The SMTP server.
    pub smtp: SmtpConfig,
    /// Sender, e.g. `nodewatch <nodewatch@example.org>`.
    pub from: Address,
    /// Recipients.
    pub to: Vec<Address>,
    /// Put in front of every subject.
    #[serde(default = "default_prefix")]
    pub subject_prefix: String,
    /// Also mail resolutions.
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Also mail cordons, uncordons and refused cordons.
    #[serde(default = "yes")]
    pub actions: bool,
    /// Wait after the first item for others of the same node (an alert
    /// and the cordon that follows it arrive in one email).
    #[serde(default = "ten_seconds")]
    pub group_wait: Duration,
    /// Re-mail alerts still firing this often (`0`: never).
    #[serde(default = "four_hours")]
    pub repeat_interval: Duration,
    /// Queue, timeout and retries.
    #[serde(default)]
    pub delivery: Delivery,
}

/// How to reach the SMTP server.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Port; default 587 (`starttls`), 465 (`tls`) or 25 (`none`).
    #[serde(default)]
    pub port: Option<u16>,
    /// Transport security.
    #[serde(default)]
    pub tls: SmtpTls,
    /// User name for authentication (with `password`).
    #[serde(default)]
    pub username: Option<String>,
    /// Password for authentication.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// Extra CA certificate (PEM) to trust.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// SMTP transport security.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS; fails if the server cannot.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption at all: only for a relay on a trusted network.
    None,
}

/// An email address, checked while parsing.
#[derive(Clone, PartialEq, Eq)]
pub struct Address(pub Mailbox);

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<Mailbox>()
            .map(Address)
            .map_err(|e| serde::de::Error::custom(format!("invalid email address {s:?}: {e}")))
    }
}

fn default_name() -> String {
    "email".into()
}

fn default_prefix() -> String {
    "[nodewatch]".into()
}

fn yes() -> bool {
    true
}

fn ten_seconds() -> Duration {
    Duration::secs(10)
}

impl SinkKind for EmailConfig {
    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn start(&self, ctx: &Context) -> Result<Vec<SinkHandle>, String> {
        start(self, ctx).map(|h| vec![h])
    }

    fn validate(&self) -> Result<(), String> {
        if self.to.is_empty() {
            return Err("to: give at least one recipient".into());
        }
        if self.smtp.username.is_some() != self.smtp.password.is_some() {
            return Err("smtp: username and password go together".into());
        }
        if self.smtp.host.trim().is_empty() {
            return Err("smtp.host must not be empty".into());
        }
        self.delivery.validate()
    }
}

struct EmailSink {
    name: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    prefix: String,
    link: String,
}

fn transport(cfg: &EmailConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let smtp = &cfg.smtp;
    let tls_params = || -> Result<TlsParameters, String> {
        let mut b = TlsParameters::builder(smtp.host.clone());
        if let Some(path) = &smtp.ca_file {
            let pem =
                std::fs::read(path).map_err(|e| format!("smtp.ca_file {}: {e}", path.display()))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| format!("smtp.ca_file {}: {e}", path.display()))?;
            b = b.add_root_certificate(cert);
        }
        b.build().map_err(|e| format!("smtp TLS: {e}"))
    };
    let (tls, port) = match smtp.tls {
        SmtpTls::Starttls => (Tls::Required(tls_params()?), 587),
        SmtpTls::Tls => (Tls::Wrapper(tls_params()?), 465),
        SmtpTls::None => (Tls::None, 25),
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port.unwrap_or(port))
        .tls(tls)
        .timeout(Some(cfg.delivery.timeout_std()));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        let secret: Secret = password.resolve("smtp.password")?;
        b = b.credentials(Credentials::new(user.clone(), secret.expose().to_string()));
    }
    Ok(b.build())
}

/// Starts the sink's task.
fn start(cfg: &EmailConfig, ctx: &Context) -> Result<SinkHandle, String> {
    let sink = EmailSink {
        name: format!("email/{}", cfg.name),
        transport: transport(cfg)?,
        from: cfg.from.0.clone(),
        to: cfg.to.iter().map(|a| a.0.clone()).collect(),
        prefix: cfg.subject_prefix.clone(),
        link: ctx.external_url.clone(),
    };
    let (send_resolved, actions) = (cfg.send_resolved, cfg.actions);
    let opts = WorkerOptions {
        name: sink.name.clone(),
        delivery: cfg.delivery.clone(),
        group_wait: common::to_std(cfg.group_wait),
        repeat_interval: (cfg.repeat_interval.0 > 0).then(|| common::to_std(cfg.repeat_interval)),
    };
    let accepts = move |i: &Item| match i {
        Item::Alert(_) => send_resolved || !i.is_resolution(),
        Item::Action(..) => actions,
    };
    Ok(SinkHandle::spawn("email", opts, Box::new(accepts), sink))
}

impl Deliver for EmailSink {
    type Message = lettre::Message;

    fn render(&mut self, batch: &[Item], repeat: bool) -> Vec<Outgoing<lettre::Message>> {
        message::group(batch)
            .into_iter()
            .filter_map(|(group, items)| {
                let r = message::render(&self.prefix, &group, &items, repeat, &self.link);
                let mut b = lettre::Message::builder()
                    .from(self.from.clone())
                    .subject(r.subject)
                    .header(ContentType::TEXT_PLAIN);
                for to in &self.to {
                    b = b.to(to.clone());
                }
                match b.body(r.body) {
                    Ok(m) => Some(Outgoing {
                        message: m,
                        keys: items.iter().map(|i| i.key()).collect(),
                        items: items.len() as u64,
                    }),
                    Err(e) => {
                        tracing::error!(sink = %self.name, "cannot build email: {e}");
                        None
                    }
                }
            })
            .collect()
    }

    async fn deliver<'a>(&'a mut self, m: &'a lettre::Message) -> Result<(), DeliveryError> {
        match self.transport.send(m.clone()).await {
            Ok(_) => Ok(()),
            // 5xx: the server refuses this message; retrying will not help.
            Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(format!("SMTP: {e}"))),
            Err(e) => Err(DeliveryError::Retryable(format!("SMTP: {e}"))),
        }
    }
}
