// Package kube holds the few Kubernetes questions the kios command, its
// lab and the development tools all ask, answered once.
package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// Ready tells whether the node's Ready condition is True, and describes
// the condition (status and reason) for progress and error messages.
func Ready(n *corev1.Node) (bool, string) {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			why := c.Reason
			if c.Status != corev1.ConditionTrue && c.Message != "" {
				why += ": " + c.Message
			}
			return c.Status == corev1.ConditionTrue, fmt.Sprintf("Ready=%s (%s)", c.Status, why)
		}
	}
	return false, "no Ready condition yet"
}

// WaitReady polls the node every interval until it is Ready and cond
// (nil: always true) holds for it, or ctx ends. On failure the error
// says what was last seen.
func WaitReady(ctx context.Context, cs kubernetes.Interface, name string, interval time.Duration, cond func(*corev1.Node) bool) (*corev1.Node, error) {
	var node *corev1.Node
	last := "no answer yet"
	err := wait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		ready, why := Ready(n)
		last = why
		if ready && (cond == nil || cond(n)) {
			node = n
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %s not Ready (last seen: %s): %w", name, last, err)
	}
	return node, nil
}
