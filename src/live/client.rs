//! Connecting to the API server: in-cluster service account, or a
//! kubeconfig file and context, with rustls (ring) as the TLS provider.

use super::bodycap::{CapLayer, DEFAULT_CAPS};
use super::LiveError;
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::PathBuf;
use std::sync::Once;

/// Where the cluster credentials come from.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// A kubeconfig file (default: `$KUBECONFIG`, `~/.kube/config`, then
    /// the in-cluster service account).
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig (default: its current context).
    pub context: Option<String>,
}

/// Installs ring as rustls's process-wide crypto provider, once. Both kube
/// and reqwest use rustls built without a default provider.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only means another provider was installed first, which is
        // just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client for the cluster `opts` names.
pub async fn client_from(opts: &ClientOptions) -> Result<::kube::Client, LiveError> {
    install_crypto_provider();
    let cfg = |e: &dyn std::fmt::Display| LiveError::Config(e.to_string());
    let kc_opts = KubeConfigOptions {
        context: opts.context.clone(),
        ..Default::default()
    };
    let mut config = match &opts.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| cfg(&format!("{}: {e}", path.display())))?;
            ::kube::Config::from_custom_kubeconfig(kc, &kc_opts)
                .await
                .map_err(|e| cfg(&e))?
        }
        None if opts.context.is_some() => ::kube::Config::from_kubeconfig(&kc_opts)
            .await
            .map_err(|e| cfg(&e))?,
        None => ::kube::Config::infer().await.map_err(|e| cfg(&e))?,
    };
    // Writes are retried by nodewatch itself, visibly and with a bound;
    // watchers have their own backoff.
    config.default_retry = false;
    // Every answer's body is capped (see `bodycap`): a hostile API server
    // cannot make the agent buffer without bound.
    let builder = ::kube::client::ClientBuilder::try_from(config).map_err(|e| cfg(&e))?;
    Ok(builder.with_layer(&CapLayer(DEFAULT_CAPS)).build())
}
