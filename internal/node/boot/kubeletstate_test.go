package boot

import (
	"testing"

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
