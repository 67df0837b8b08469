package kubelet

import (
	"github.com/google/go-cmp/cmp"
	"os"
	"path/filepath"
	"testing"
)

func TestNeedsRestart(t *testing.T) {
	a, b := [32]byte{1}, [32]byte{2}
	var none [32]byte
	standalone := []string{"--config=/etc/kubernetes/config.yaml", "--config-dir=/etc/kios/kubelet-standalone.d"}
	boot := []string{"--config=/etc/kubernetes/config.yaml", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf", "--kubeconfig=/etc/kubernetes/kubelet.conf"}
	tests := []struct {
		name      string
		prev, cur Snapshot
		want      bool
	}{
		{"nothing changed", Snapshot{Flags: standalone}, Snapshot{Flags: standalone}, false},
		{"bootstrap config appeared", Snapshot{Flags: standalone}, Snapshot{Flags: boot, Bootstrap: a}, true},
		{"kubelet wrote its kubeconfig after bootstrap", Snapshot{Flags: boot, Bootstrap: a}, Snapshot{Flags: boot, Bootstrap: a, Kubeconfig: b}, false},
		{"admin replaced the kubeconfig", Snapshot{Flags: boot, Bootstrap: a, Kubeconfig: b}, Snapshot{Flags: boot, Bootstrap: a, Kubeconfig: a}, true},
		{"bootstrap config changed", Snapshot{Flags: boot, Bootstrap: a}, Snapshot{Flags: boot, Bootstrap: b}, true},
		{"kubeconfig removed", Snapshot{Flags: boot, Bootstrap: a, Kubeconfig: b}, Snapshot{Flags: boot, Bootstrap: a, Kubeconfig: none}, true},
		{"held, the API server became routable", Snapshot{Flags: standalone, Bootstrap: a, Held: true}, Snapshot{Flags: boot, Bootstrap: a}, true},
		{"held, a kubeconfig appeared, still no route", Snapshot{Flags: standalone, Bootstrap: a, Held: true}, Snapshot{Flags: standalone, Bootstrap: a, Kubeconfig: b, Held: true}, false},
	}
	for _, tt := range tests {
		if got := NeedsRestart(tt.prev, tt.cur); got != tt.want {
			t.Errorf("%s: NeedsRestart = %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestTake(t *testing.T) {
	root := t.TempDir()
	s1, err := take(root, &testLog{t: t})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "etc/kubernetes"), 0o755)
	os.WriteFile(filepath.Join(root, BootstrapFile), []byte("token"), 0o600)
	s2, err := take(root, &testLog{t: t})
	if err != nil {
		t.Fatal(err)
	}
	if s1.Mode != Standalone || s2.Mode != Cluster {
		t.Errorf("modes %s then %s, want standalone then cluster", s1.Mode, s2.Mode)
	}
	if !NeedsRestart(s1, s2) {
		t.Error("a new bootstrap kubeconfig does not restart the kubelet")
	}
}

// A kubelet started with a bootstrap kubeconfig writes kubelet.conf
// itself; the files on disk then give the same flags, so PID 1 keeps
// it running (it once restarted it, because --kubeconfig moved).
func TestTakeAfterBootstrap(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/kubernetes"), 0o755)
	os.WriteFile(filepath.Join(root, ConfigFile), []byte("kind: KubeletConfiguration\n"), 0o644)
	os.WriteFile(filepath.Join(root, BootstrapFile), []byte("token"), 0o600)
	before, err := take(root, &testLog{t: t})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, KubeconfigFile), []byte("client cert"), 0o600)
	after, err := take(root, &testLog{t: t})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.Flags, after.Flags); diff != "" {
		t.Errorf("flags changed when kubelet.conf appeared (-before +after):\n%s", diff)
	}
	if NeedsRestart(before, after) {
		t.Error("the kubelet's own kubelet.conf restarts it")
	}
}
