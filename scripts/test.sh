#!/usr/bin/env bash
# The full test suite, as the README says: installs what the tests need when
# it is missing, then checks formatting and lints and runs every test.
# Used by CI (.ci/run) and by people; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests start (on 127.0.0.1, with their own config and
# temp dirs). The suite of this release needs none yet; the Prometheus,
# Alertmanager and SMTP tests of later releases add theirs here.
APT_PACKAGES=()

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

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "== cargo test"
cargo test --locked
