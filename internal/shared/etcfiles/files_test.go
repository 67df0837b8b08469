package etcfiles

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func write(t *testing.T, dir, rel, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLayer(t *testing.T) {
	image, upper := t.TempDir(), t.TempDir()
	write(t, image, "containerd/config.toml", "version = 3\n")
	write(t, image, "kubernetes/config.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n")
	write(t, image, "kios/modules", "overlay\n")

	write(t, upper, "containerd/config.toml", "version = 3\n[plugins\n")       // refused, image copy
	write(t, upper, "kubernetes/config.yaml", "apiVersion: v1\nkind: Pod\n")   // refused, image copy
	write(t, upper, "kubernetes/node-labels", "zone a\n")                      // refused, no image copy
	write(t, upper, "kios/modules", "overlay\nbr_netfilter\n")                 // passes
	write(t, upper, "hostname", "Not_A_Name\n")                                // the identity step's
	write(t, upper, "kios/kubelet-standalone.d/20-x.conf", "apiVersion: v1\n") // not replaced at boot

	type got struct {
		Rel, Default string
		Err          string
	}
	var rs []got
	for _, r := range Layer(upper, image) {
		rs = append(rs, got{r.Rel, strings.TrimPrefix(r.Default, image), r.Err.Error()})
	}
	want := []got{
		{"kubernetes/node-labels", "", `/etc/kubernetes/node-labels (read by PID 1, for the kubelet's --node-labels): node-labels line 1: skipped "zone a": want "key: value"`},
		{"kubernetes/config.yaml", "/kubernetes/config.yaml", `/etc/kubernetes/config.yaml (read by the kubelet (--config)): apiVersion "v1", kind "Pod": want kubelet.config.k8s.io/v1beta1, KubeletConfiguration`},
		{"containerd/config.toml", "/containerd/config.toml", "/etc/containerd/config.toml (read by containerd): not TOML: "},
	}
	// TOML's message is the library's: compare its start only.
	for i := range rs {
		if strings.HasPrefix(rs[i].Err, want[min(i, len(want)-1)].Err) {
			rs[i].Err = want[min(i, len(want)-1)].Err
		}
	}
	if diff := cmp.Diff(want, rs); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
}

func TestLayerSkipsWhiteouts(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mknod of a whiteout needs root")
	}
	upper := t.TempDir()
	os.MkdirAll(filepath.Join(upper, "containerd"), 0o755)
	if err := syscall.Mknod(filepath.Join(upper, "containerd", "config.toml"), syscall.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	if rs := Layer(upper, t.TempDir()); len(rs) != 0 {
		t.Errorf("a whiteout was refused: %v", rs)
	}
}
