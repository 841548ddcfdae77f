# Sourced by scripts/controlplane.sh and scripts/helm.sh: builds Go programs
# from a small module under tests/ with only the Go module proxy, once, and
# caches the binaries in
#   ${NODEWATCH_CACHE:-~/.cache/nodewatch}/<label>-<version>-<hash>/
# where <hash> covers every file of the module directory and the link
# flags: changing a pin rebuilds, an unchanged pin reuses the binaries.
#
#   go_build_cached LABEL SRC_DIR VERSION LDFLAGS PACKAGE...
# prints the directory on stdout; progress goes to stderr.

go_build_cached() {
  local label=$1 src=$2 version=$3 ldflags=$4
  shift 4
  # Go's own install location, when a non-login shell's PATH lacks it.
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    PATH="$PATH:/usr/local/go/bin"
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "error: go is missing: $label for the tests is built from the Go module proxy" >&2
    echo "($src/go.mod). Install Go >= $(awk '$1=="go"{print $2}' "$src/go.mod")." >&2
    return 1
  fi
  local hash home cache dir
  hash=$( (find "$src" -type f -print0 | sort -z | xargs -0 cat; echo "$ldflags") | sha256sum | cut -c1-12)
  home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
  cache=${NODEWATCH_CACHE:-$home/.cache/nodewatch}
  dir="$cache/$label-$version-$hash"
  mkdir -p "$cache"
  # One build at a time (parallel test runs share the cache).
  exec 9>"$cache/$label.lock"
  flock 9
  local first=${1##*/}
  if [ -x "$dir/$first" ]; then
    echo "$label $version: reusing $dir" >&2
    echo "$dir"
    return 0
  fi
  echo "$label $version: building $* into $dir (first time: minutes)" >&2
  local start tmp
  start=$(date +%s)
  tmp="$dir.tmp.$$"
  rm -rf "$tmp"
  # A private build cache, removed afterwards: the binaries are what is
  # kept, and the machine's disk is shared. -mod=readonly (the default):
  # go.sum must already hold every module, like cargo --locked. nice: the
  # build is long and must not starve anything else.
  export GOCACHE="$tmp.gocache"
  if ! (cd "$src" && nice -n 19 go build -trimpath -buildvcs=false -ldflags="$ldflags" -o "$tmp/" "$@") >&2; then
    rm -rf "$GOCACHE" "$tmp"
    return 1
  fi
  rm -rf "$GOCACHE"
  mv "$tmp" "$dir"
  echo "$label $version: built in $(( $(date +%s) - start )) s" >&2
  echo "$dir"
}
