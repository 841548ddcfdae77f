#!/usr/bin/env bash
# Builds the real Kubernetes control plane the tests start (tests/testkit/
# src/kube_real.rs): kube-apiserver from the Go module k8s.io/kubernetes and an
# embedded etcd, as pinned by tests/controlplane/go.mod and go.sum, using only
# the Go module proxy; cached by scripts/go-cache.sh (about 7 minutes on 2
# cores the first time).
#
# Prints the directory on stdout; scripts/test.sh exports it as
# NODEWATCH_CONTROLPLANE for the tests:
#   export NODEWATCH_CONTROLPLANE="$(scripts/controlplane.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go-cache.sh
src=tests/controlplane

version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$src/go.mod")
# The version Kubernetes' own build stamps in (hack/lib/version.sh); without
# it the server reports v0.0.0-master+$Format:%H$, which kubectl cannot parse.
minor=${version#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
go_build_cached controlplane "$src" "$version" "$ldflags" k8s.io/kubernetes/cmd/kube-apiserver ./etcd
