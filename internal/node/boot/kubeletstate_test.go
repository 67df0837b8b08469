package boot

import (
	"testing"
	"time"

	"kios.dev/kios/internal/shared/kubelet"
)

func TestKubeletStateRestartsOnce(t *testing.T) {
	held := kubelet.Snapshot{Flags: []string{"--standalone"}, Held: true}
	cluster := kubelet.Snapshot{Flags: []string{"--kubeconfig=x"}}
	var k kubeletState
	steps := []struct {
		do      func()
		cur     kubelet.Snapshot
		restart bool
		held    bool
	}{
		{nil, cluster, false, false},                            // no kubelet started yet
		{func() { k.starting(held) }, held, false, true},        // the same configuration
		{nil, cluster, true, true},                              // a route appeared: restart
		{nil, cluster, false, true},                             // already asked for
		{func() { k.starting(cluster) }, cluster, false, false}, // restarted in cluster mode
		{func() { k.askRestart() }, held, false, false},         // a restart from the system socket is pending
	}
	for i, s := range steps {
		if s.do != nil {
			s.do()
		}
		if _, restart := k.restartFor(s.cur); restart != s.restart {
			t.Errorf("step %d: restartFor = %v, want %v", i, restart, s.restart)
		}
		if k.held() != s.held {
			t.Errorf("step %d: held() = %v, want %v", i, k.held(), s.held)
		}
	}
}

// TestKubeletStateUnheld: the channel root-disk waits on closes when a
// kubelet starts in its own mode, not while one is held standalone, and
// a second start does not close it twice.
func TestKubeletStateUnheld(t *testing.T) {
	var k kubeletState
	c := k.unheldC()
	k.starting(kubelet.Snapshot{Mode: "standalone", Held: true})
	select {
	case <-c:
		t.Fatal("closed while the kubelet is held standalone")
	default:
	}
	if !k.unheldSince().IsZero() {
		t.Error("unheldSince set while the kubelet is held")
	}
	k.starting(kubelet.Snapshot{Mode: "cluster"})
	at := k.unheldSince()
	k.starting(kubelet.Snapshot{Mode: "cluster"}) // a later restart
	if at.IsZero() || !k.unheldSince().Equal(at) {
		t.Errorf("unheldSince %v, then %v after a restart: want the first start's time, kept", at, k.unheldSince())
	}
	select {
	case <-c:
	case <-time.After(time.Second):
		t.Fatal("not closed after the kubelet started in cluster mode")
	}
	var fresh kubeletState
	fresh.starting(kubelet.Snapshot{Mode: "standalone"}) // no cluster: not held
	select {
	case <-fresh.unheldC():
	default:
		t.Error("not closed for a standalone kubelet that is not held")
	}
}
