//go:build tools

// Package components pins the upstream Kubernetes programs kiOS ships.
// Nothing here is compiled into kiOS; `go build k8s.io/kubernetes/cmd/...`
// runs inside this module so go.mod and go.sum pin every dependency.
package components

import (
	_ "k8s.io/kubernetes/cmd/kubelet"
)
