package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func node(name string, conds ...corev1.NodeCondition) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: conds}}
}

func TestReady(t *testing.T) {
	tests := []struct {
		n     *corev1.Node
		ready bool
		why   string
	}{
		{node("a"), false, "no Ready condition yet"},
		{node("a", corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
			corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}), true, "Ready=True (KubeletReady)"},
		{node("a", corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady"}), false, "Ready=False (KubeletNotReady)"},
		{node("a", corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: "container runtime network not ready"}),
			false, "Ready=False (KubeletNotReady: container runtime network not ready)"},
	}
	for _, tt := range tests {
		ready, why := Ready(tt.n)
		if ready != tt.ready || why != tt.why {
			t.Errorf("Ready(%v) = %v, %q; want %v, %q", tt.n.Status.Conditions, ready, why, tt.ready, tt.why)
		}
	}
}

// The fake clientset is client-go's own object tracker: the test is of
// the polling and the verdict, not of an API server.
func TestWaitReady(t *testing.T) {
	cs := fake.NewSimpleClientset(node("n1", corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady"}))
	go func() {
		time.Sleep(30 * time.Millisecond)
		cs.CoreV1().Nodes().Update(context.Background(), node("n1", corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}), metav1.UpdateOptions{})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := WaitReady(ctx, cs, "n1", 10*time.Millisecond, nil)
	if err != nil || n.Name != "n1" {
		t.Fatalf("WaitReady = %v, %v", n, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	_, err = WaitReady(short, cs, "n1", 10*time.Millisecond, func(*corev1.Node) bool { return false })
	if err == nil || !strings.Contains(err.Error(), "Ready=True (KubeletReady)") {
		t.Fatalf("WaitReady with a condition that never holds: %v, want an error with the last state seen", err)
	}
	_, err = WaitReady(short, cs, "missing", 10*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("WaitReady of a missing node: %v, want the API's not-found in the error", err)
	}
}
