//go:build tools

// Package components pins the upstream Kubernetes programs kiOS ships
// (the kubelet) and those of the lab control plane. Nothing here is
// compiled into kiOS; `go build k8s.io/kubernetes/cmd/...` runs inside
// this module so go.mod and go.sum pin every dependency.
package components

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
