#!/usr/bin/env bash
# The full test suite, as the README says: installs what the tests need when
# it is missing, then checks formatting and lints and runs every test.
# Used by CI (.ci/run) and by people; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests start (on 127.0.0.1, with their own config and
# temp dirs): Prometheus and promtool (live collector, backtest and query API
# tests, scenario backfill, scraping /metrics), headless Chromium (the status
# page test), Alertmanager and an SMTP server writing a Maildir (the
# notification sink tests), and openssl (the service-account signing key of
# the real API server in tests/kube/real*.rs), and python3-venv (checkov's
# virtualenv, below).
APT_PACKAGES=(prometheus chromium prometheus-alertmanager python3-aiosmtpd openssl python3-venv)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test dependencies: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# kubectl (with its built-in kustomize) renders deploy/ for tests/deploy/*.rs.
# It is not a Debian package; the tests would fail on it too, but say so here
# first.
if ! command -v kubectl >/dev/null 2>&1; then
  echo "error: kubectl is missing: tests/deploy/*.rs render deploy/ with 'kubectl kustomize'." >&2
  echo "Install kubectl (https://kubernetes.io/docs/tasks/tools/), e.g. as /usr/bin/kubectl, and run again." >&2
  exit 1
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
# The real Kubernetes control plane (kube-apiserver v1.37.2 and etcd) that
# tests/kube/real*.rs start: built from the Go module proxy the first time
# (about 7 minutes on 2 cores), then reused from ~/.cache/nodewatch until the
# pin in tests/controlplane/go.mod changes. The tests fail without it.
echo "== control plane"
NODEWATCH_CONTROLPLANE="$(scripts/controlplane.sh)"
export NODEWATCH_CONTROLPLANE
# helm v4 (tests/deploy/helm.rs: lint, template, install of deploy/helm on
# the real API server), built the same way (about 3 minutes the first time).
echo "== helm"
NODEWATCH_HELM="$(scripts/helm.sh)/helm"
export NODEWATCH_HELM

# checkov (PyPI), the third-party policy check of the rendered manifests
# (tests/deploy/helm.rs), in its own virtualenv cached beside the Go
# binaries (about 30 s the first time).
CHECKOV_VERSION=3.3.30
checkov_venv="${NODEWATCH_CACHE:-${HOME:-/root}/.cache/nodewatch}/checkov-$CHECKOV_VERSION"
# Built in place (a virtualenv's scripts name its path), marked complete last.
if [ ! -e "$checkov_venv/.complete" ]; then
  echo "== checkov $CHECKOV_VERSION: installing into $checkov_venv"
  rm -rf "$checkov_venv"
  python3 -m venv "$checkov_venv"
  "$checkov_venv/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  touch "$checkov_venv/.complete"
fi
export NODEWATCH_CHECKOV="$checkov_venv/bin/checkov"

echo "== cargo test"
cargo test --locked --workspace
