#!/usr/bin/env bash
# Builds the helm CLI the chart tests run (tests/deploy/helm.rs) from the Go
# module helm.sh/helm/v4, as pinned by tests/helm/go.mod and go.sum, using
# only the Go module proxy; cached by scripts/go-cache.sh (about 3 minutes
# on 2 cores the first time).
#
# Prints the directory holding `helm`; scripts/test.sh exports it as
# NODEWATCH_HELM for the tests:
#   export NODEWATCH_HELM="$(scripts/helm.sh)/helm"
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go-cache.sh
src=tests/helm

version=$(awk '$1=="require" && $2=="helm.sh/helm/v4"{print $3; exit}' "$src/go.mod")
# `helm version` prints what the release build stamps in.
ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$version"
go_build_cached helm "$src" "$version" "$ldflags" helm.sh/helm/v4/cmd/helm
