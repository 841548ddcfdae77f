#!/usr/bin/env bash
# Builds the real Kubernetes control plane the tests start (tests/support/
# kube_real.rs): kube-apiserver from the Go module k8s.io/kubernetes and an
# embedded etcd, as pinned by tests/controlplane/go.mod and go.sum, using only
# the Go module proxy. Built once and cached in
#   ${NODEWATCH_CACHE:-~/.cache/nodewatch}/controlplane-<version>-<hash>/
# where <hash> covers go.mod, go.sum, the etcd program and the link flags, so
# changing the pin rebuilds and an unchanged pin reuses the binaries.
#
# Prints the directory on stdout (progress goes to stderr); scripts/test.sh
# exports it as NODEWATCH_CONTROLPLANE for the tests:
#   export NODEWATCH_CONTROLPLANE="$(scripts/controlplane.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."
src=tests/controlplane

# Go's own install location, when a non-login shell's PATH lacks it.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  PATH="$PATH:/usr/local/go/bin"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: go is missing: the real kube-apiserver and etcd for the tests are built" >&2
  echo "from the Go module proxy (tests/controlplane/go.mod). Install Go >= $(awk '$1=="go"{print $2}' "$src/go.mod")." >&2
  exit 1
fi

version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$src/go.mod")
# The version Kubernetes' own build stamps in (hack/lib/version.sh); without
# it the server reports v0.0.0-master+$Format:%H$, which kubectl cannot parse.
minor=${version#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
hash=$( (cat "$src/go.mod" "$src/go.sum" "$src/etcd/main.go"; echo "$ldflags") | sha256sum | cut -c1-12)
home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
cache=${NODEWATCH_CACHE:-$home/.cache/nodewatch}
dir="$cache/controlplane-$version-$hash"

mkdir -p "$cache"
# One build at a time (parallel test runs share the cache).
exec 9>"$cache/controlplane.lock"
flock 9

if [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ]; then
  echo "control plane $version: reusing $dir" >&2
  echo "$dir"
  exit 0
fi

echo "control plane $version: building kube-apiserver and etcd into $dir (first time: several minutes)" >&2
start=$(date +%s)
tmp="$dir.tmp.$$"
rm -rf "$tmp"
# A private build cache (about 3 GB), removed afterwards: the binaries are
# what is kept, and the machine's disk is shared.
export GOCACHE="$tmp.gocache"
trap 'rm -rf "$GOCACHE" "$tmp"' EXIT
# -mod=readonly (the default): go.sum must already hold every module, like
# cargo --locked. nice: the build is long and must not starve anything else.
(cd "$src" && nice -n 19 go build -trimpath -buildvcs=false -ldflags="$ldflags" -o "$tmp/" k8s.io/kubernetes/cmd/kube-apiserver ./etcd) >&2
mv "$tmp" "$dir"
echo "control plane $version: built in $(( $(date +%s) - start )) s" >&2
echo "$dir"
