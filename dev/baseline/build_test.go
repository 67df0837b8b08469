package baseline

import (
	"kios.dev/kios/internal/host/image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func fakeParts(t *testing.T) string {
	t.Helper()
	parts := t.TempDir()
	os.MkdirAll(filepath.Join(parts, "bin"), 0o755)
	for _, b := range []string{"kubelet", "containerd", "containerd-shim-runc-v2", "runc"} {
		if err := os.WriteFile(filepath.Join(parts, "bin", b), []byte("#"+b), 0o500); err != nil {
			t.Fatal(err)
		}
	}
	return parts
}

// The baseline runs kiOS's kubelet and containerd configuration with
// the systemd cgroup driver, kiOS's binaries in /usr/bin, and kubeadm's
// unit layout.
func TestFiles(t *testing.T) {
	o := Options{Parts: fakeParts(t), Files: map[string][]byte{"/etc/extra.conf": []byte("x")}}
	files, err := o.files()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]string{
		"var/lib/kubelet/config.yaml":                          {"cgroupDriver: systemd", "shutdownGracePeriod: 30s", "staticPodPath: /etc/kubernetes/manifests"},
		"etc/containerd/config.toml":                           {`BinaryName = "/usr/bin/runc"`, "SystemdCgroup = true", `sandbox = "localhost/kios/pause:v1"`},
		"etc/systemd/system/kubelet.service.d/10-kubeadm.conf": {"--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf", "--config=/var/lib/kubelet/config.yaml"},
		"etc/systemd/system/containerd.service":                {"Type=notify", "ExecStart=/usr/bin/containerd"},
		"etc/fstab":                                            {"UUID=" + RootUUID + " / ext4"},
		"usr/bin/kubelet":                                      {"#kubelet"},
		"etc/extra.conf":                                       {"x"},
	} {
		f, ok := files[path]
		if !ok {
			t.Errorf("%s missing", path)
			continue
		}
		for _, w := range want {
			if !strings.Contains(string(f.data), w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
	}
	// kiOS's tuned defaults stay kiOS's (the image's file has them).
	for _, tuned := range []string{"systemReserved", "kios-tuned"} {
		if strings.Contains(string(files["var/lib/kubelet/config.yaml"].data), tuned) {
			t.Errorf("the baseline's kubelet configuration has kiOS's %q", tuned)
		}
	}
	if kiosConfig, err := image.Default("etc/kubernetes/config.yaml"); err != nil || !strings.Contains(string(kiosConfig), "systemReserved") {
		t.Errorf("kiOS's kubelet configuration has no systemReserved (%v): the check above proves nothing", err)
	}
	if files["usr/bin/runc"].mode != 0o755 {
		t.Errorf("runc mode %o", files["usr/bin/runc"].mode)
	}
	if _, err := (Options{Parts: t.TempDir()}).files(); err == nil || !strings.Contains(err.Error(), "kubelet") {
		t.Errorf("no binaries: err = %v", err)
	}
}

func TestCutBlock(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"a\n<\nb\n>\nc\n", "a\nc\n", true},
		{"a\n>\n<\n", "", false},
		{"a\n", "", false},
		{"<\n>\n<\n>\n", "", false},
	}
	for _, tt := range tests {
		got, err := cutBlock([]byte(tt.in), "<\n", ">\n")
		if (err == nil) != tt.ok || string(got) != tt.want {
			t.Errorf("cutBlock(%q) = %q, %v; want %q (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestReplaceOnce(t *testing.T) {
	if _, err := replaceOnce([]byte("a a"), "a", "b"); err == nil {
		t.Error("two matches: no error")
	}
	if _, err := replaceOnce([]byte("c"), "a", "b"); err == nil {
		t.Error("no match: no error")
	}
	if b, err := replaceOnce([]byte("xay"), "a", "b"); err != nil || string(b) != "xby" {
		t.Errorf("got %q, %v", b, err)
	}
}

// Session copies the root disk and writes one cluster's files into the
// copy, leaving the original as it was.
func TestSession(t *testing.T) {
	if _, err := exec.LookPath("debugfs"); err != nil {
		t.Fatal("debugfs (e2fsprogs, make deps) is needed")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "etc", "kubernetes"), 0o755)
	os.WriteFile(filepath.Join(tree, "etc", "kubernetes", "old.conf"), []byte("old\n"), 0o644)
	root := filepath.Join(dir, "root.img")
	f, _ := os.Create(root)
	f.Truncate(16 << 20)
	f.Close()
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-d", tree, root).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	n := Node{Root: root}
	session := filepath.Join(dir, "session.img")
	err := n.Session(session, map[string][]byte{
		"etc/kubernetes/bootstrap-kubelet.conf": []byte("token\n"),
		"etc/kubernetes/pki/ca.crt":             []byte("CA\n"),
		"etc/kubernetes/old.conf":               []byte("new\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	cat := func(img, p string) string {
		out, err := exec.Command("debugfs", "-R", "cat "+p, img).Output()
		if err != nil {
			t.Fatalf("debugfs cat %s: %v", p, err)
		}
		return string(out)
	}
	for p, want := range map[string]string{"/etc/kubernetes/bootstrap-kubelet.conf": "token\n", "/etc/kubernetes/pki/ca.crt": "CA\n",
		"/etc/kubernetes/old.conf": "new\n"} {
		if got := cat(session, p); got != want {
			t.Errorf("session %s = %q, want %q", p, got, want)
		}
	}
	if got := cat(root, "/etc/kubernetes/old.conf"); got != "old\n" {
		t.Errorf("the original disk changed: old.conf = %q", got)
	}
	stat, _ := exec.Command("debugfs", "-R", "stat /etc/kubernetes/bootstrap-kubelet.conf", session).Output()
	if !strings.Contains(string(stat), "Mode:  0600") {
		t.Errorf("bootstrap-kubelet.conf not 0600:\n%s", stat)
	}
	if err := (Node{Root: filepath.Join(dir, "missing.img")}).Session(filepath.Join(dir, "s2.img"), nil); err == nil {
		t.Error("missing root disk: no error")
	}
}
