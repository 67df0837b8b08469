package health

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestGateCheck(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	started := func(ago time.Duration, running bool) func() (time.Time, bool) {
		return func() (time.Time, bool) { return now.Add(-ago), running }
	}
	ready := func(n Node, err error) func(context.Context) (Node, error) {
		return func(context.Context) (Node, error) { return n, err }
	}
	yes := func() bool { return true }
	for _, tt := range []struct {
		name    string
		gate    Gate
		ok      bool
		because string
	}{
		{"kubelet not running", Gate{Stable: time.Minute, KubeletStarted: started(0, false)}, false, "not running"},
		{"kubelet restarted lately", Gate{Stable: time.Minute, KubeletStarted: started(20*time.Second, true)}, false, "started at 07:59:40"},
		{"standalone, stable", Gate{Stable: time.Minute, KubeletStarted: started(2*time.Minute, true)}, true, "standalone"},
		{"cluster, Ready", Gate{Cluster: yes, Stable: time.Minute, KubeletStarted: started(2*time.Minute, true), NodeReady: ready(Node{Ready: true}, nil)}, true, "Ready"},
		{"cluster, not Ready", Gate{Cluster: yes, Stable: time.Minute, KubeletStarted: started(2*time.Minute, true), NodeReady: ready(Node{Reason: "KubeletNotReady"}, nil)}, false, "KubeletNotReady"},
		{"cluster, no answer", Gate{Cluster: yes, Stable: time.Minute, KubeletStarted: started(2*time.Minute, true), NodeReady: ready(Node{}, errors.New("connection refused"))}, false, "connection refused"},
	} {
		tt.gate.Now = func() time.Time { return now }
		ok, reason := tt.gate.Check(context.Background())
		if ok != tt.ok || !strings.Contains(reason, tt.because) {
			t.Errorf("%s: Check = %t, %q; want %t and a reason with %q", tt.name, ok, reason, tt.ok, tt.because)
		}
	}
}

// Wait gives up at its deadline with the last reason, and reports each
// new reason once: here the kubelet restarts once, at 3 s.
func TestGateWaitDeadline(t *testing.T) {
	now := time.Unix(0, 0).UTC()
	g := Gate{Stable: time.Hour,
		KubeletStarted: func() (time.Time, bool) {
			if now.Before(time.Unix(3, 0)) {
				return time.Unix(0, 0), true
			}
			return time.Unix(3, 0), true
		},
		Now: func() time.Time { now = now.Add(500 * time.Millisecond); return now }}
	var seen []string
	ok, reason := g.Wait(context.Background(), time.Millisecond, time.Unix(8, 0), func(r string) { seen = append(seen, r) })
	if ok || !strings.Contains(reason, "started at 00:00:03") {
		t.Errorf("Wait = %t, %q", ok, reason)
	}
	want := []string{
		"the kubelet started at 00:00:00; it has to run 1h0m0s without a restart",
		"the kubelet started at 00:00:03; it has to run 1h0m0s without a restart",
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
}

// decodeNode reads what kube-apiserver sends, as the upstream types
// marshal it.
func TestDecodeNode(t *testing.T) {
	n := corev1.Node{Status: corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
			{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: "container runtime network not ready"},
		},
		NodeInfo: corev1.NodeSystemInfo{OSImage: "kiOS v2"},
	}}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeNode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	want := Node{Ready: false, Reason: "KubeletNotReady: container runtime network not ready", OSImage: "kiOS v2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	n.Status.Conditions[1] = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}
	b, _ = json.Marshal(n)
	if got, err := decodeNode(bytes.NewReader(b)); err != nil || !got.Ready {
		t.Errorf("Ready node decoded as %+v, %v", got, err)
	}
}
