//go:build tools

// The helm CLI that tests/deploy/helm.rs runs (helm lint, template,
// install against the real API server), built from the Go module proxy by
// scripts/helm.sh. This file only pins the module: go.mod and go.sum hold
// the exact versions, as Cargo.lock does for the Rust side.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
