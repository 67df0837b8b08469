package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"kios.dev/kios/internal/host/vm"
)

// The fake clientset is client-go's object tracker: these test the
// polling and what is timed, not an API server.

func readyNode(name string, status corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "KubeletNotReady"}}}}
}

func TestWaitReadyTimesRegistrationAndReady(t *testing.T) {
	cs := fake.NewSimpleClientset()
	l := &labBoots{cs: cs}
	start := time.Now()
	since := func() float64 { return time.Since(start).Seconds() }
	go func() {
		time.Sleep(300 * time.Millisecond)
		cs.CoreV1().Nodes().Create(context.Background(), readyNode("n1", corev1.ConditionFalse), metav1.CreateOptions{})
		time.Sleep(500 * time.Millisecond)
		cs.CoreV1().Nodes().Update(context.Background(), readyNode("n1", corev1.ConditionTrue), metav1.UpdateOptions{})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	registered, ready, err := l.waitReady(ctx, &vm.VM{}, "n1", since)
	if err != nil {
		t.Fatal(err)
	}
	// Each within a poll (0.2 s) of the change, and slack for a busy machine.
	if registered < 0.3 || registered > 0.3+0.2+1 || ready < 0.8 || ready > 0.8+0.2+1 {
		t.Errorf("registered at %.2f s, Ready at %.2f s; want about 0.3 and 0.8", registered, ready)
	}
}

func TestWaitReadySaysWhatItLastSaw(t *testing.T) {
	l := &labBoots{cs: fake.NewSimpleClientset(readyNode("n1", corev1.ConditionFalse))}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, _, err := l.waitReady(ctx, &vm.VM{}, "n1", func() float64 { return 0 })
	if err == nil || !strings.Contains(err.Error(), "Ready=False (KubeletNotReady)") {
		t.Errorf("waitReady of a node never Ready: %v, want the last state seen", err)
	}
}

func TestWaitRunning(t *testing.T) {
	pod := func(name string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "a"}},
			Status: corev1.PodStatus{Phase: phase}}
	}
	cs := fake.NewSimpleClientset(pod("a-1", corev1.PodRunning), pod("a-2", corev1.PodPending))
	l := &labBoots{cs: cs}
	if _, err := l.waitRunning(context.Background(), "a", 1, time.Second); err != nil {
		t.Errorf("one of one Running: %v", err)
	}
	if _, err := l.waitRunning(context.Background(), "a", 2, 600*time.Millisecond); err == nil || !strings.Contains(err.Error(), "2 pods of a not Running") {
		t.Errorf("one of two Running: %v, want a timeout", err)
	}
	go func() {
		time.Sleep(400 * time.Millisecond)
		cs.CoreV1().Pods("default").Update(context.Background(), pod("a-2", corev1.PodRunning), metav1.UpdateOptions{})
	}()
	took, err := l.waitRunning(context.Background(), "a", 2, 5*time.Second)
	if err != nil || took < 0.4 || took > 0.4+0.25+1 {
		t.Errorf("the second Running after 0.4 s: took %.2f s, %v", took, err)
	}
}
