// Package health decides when a boot is good: the gate PID 1 passes
// before it blesses the image it runs (internal/shared/upgrade/esp), so that the
// loader keeps booting it. The kubelet has to run without a restart for
// a while and, in cluster mode, the API server has to report the Node
// Ready.
package health

import (
	"context"
	"fmt"
	"time"
)

// Gate is the health gate; its fields are the seams tests replace.
type Gate struct {
	// Stable is how long the kubelet has to run without a restart.
	Stable time.Duration
	// KubeletStarted is when the running kubelet started; ok is false
	// while none runs.
	KubeletStarted func() (t time.Time, ok bool)
	// Cluster tells whether the node is in cluster mode (it has a
	// kubeconfig); nil means standalone.
	Cluster func() bool
	// NodeReady asks the API server about this node, in cluster mode.
	NodeReady func(ctx context.Context) (Node, error)
	Now       func() time.Time
}

// Node is what the API server says of this node.
type Node struct {
	Ready   bool
	Reason  string // the Ready condition's reason or message when not Ready
	OSImage string
}

// Check tells whether the node is healthy now, and if not, why.
func (g Gate) Check(ctx context.Context) (bool, string) {
	started, ok := g.KubeletStarted()
	if !ok {
		return false, "the kubelet is not running"
	}
	// The reason names the start, not the time run, so that it changes
	// only when something does (Wait reports each new one).
	if g.Now().Sub(started) < g.Stable {
		return false, fmt.Sprintf("the kubelet started at %s; it has to run %s without a restart", started.UTC().Format("15:04:05"), g.Stable)
	}
	if g.Cluster == nil || !g.Cluster() {
		return true, "the kubelet has run without a restart (standalone)"
	}
	n, err := g.NodeReady(ctx)
	if err != nil {
		return false, "the API server did not answer: " + err.Error()
	}
	if !n.Ready {
		return false, "the API server reports the Node not Ready: " + n.Reason
	}
	return true, "the kubelet has run without a restart and the API server reports the Node Ready"
}

// Wait checks every interval until the gate passes, ctx ends or the
// deadline passes; it returns the last reason either way, and reports
// each new reason to progress.
func (g Gate) Wait(ctx context.Context, interval time.Duration, deadline time.Time, progress func(reason string)) (bool, string) {
	last := ""
	for {
		ok, reason := g.Check(ctx)
		if ok {
			return true, reason
		}
		if reason != last && progress != nil {
			progress(reason)
		}
		last = reason
		if !g.Now().Before(deadline) {
			return false, reason
		}
		select {
		case <-ctx.Done():
			return false, reason
		case <-time.After(interval):
		}
	}
}
