package boot

import (
	"slices"
	"testing"
)

// TestStepOrder pins the orderings the boot relies on.
func TestStepOrder(t *testing.T) {
	var names []string
	for _, s := range (&Node{}).Steps() {
		names = append(names, s.Name)
	}
	before := []struct{ first, then, why string }{
		{"protect-memory", "start-containerd", "containerd, the kubelet and the shims inherit PID 1's OOM score"},
		{"mount", "host-cgroup", "the host cgroup is made in the cgroup2 mount"},
		{"host-cgroup", "start-containerd", "containerd, the kubelet and the shims are born in PID 1's cgroup"},
		{"system-bus", "start-kubelet", "the kubelet takes its shutdown lock at start"},
		{"wait-containerd", "start-kubelet", "the kubelet starts once the runtime answers"},
		{"watch-containers", "import-images", "a pod whose image is present starts during the imports, and an event before the subscription is lost"},
	}
	for _, b := range before {
		i, j := slices.Index(names, b.first), slices.Index(names, b.then)
		if i < 0 || j < 0 || i > j {
			t.Errorf("step %s must come before %s (%s): steps %v", b.first, b.then, b.why, names)
		}
	}
}
