package kubelet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type testLog struct {
	t     *testing.T
	lines []string
}

func (l *testLog) Printf(f string, a ...any) {
	l.t.Logf(f, a...)
	l.lines = append(l.lines, f)
}

func TestParseNodeLabels(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     map[string]string
		warnings int
	}{
		{"empty", "", map[string]string{}, 0},
		{"simple", "zone: a\nrole: worker\n", map[string]string{"zone": "a", "role": "worker"}, 0},
		{"comments and spaces", "# header\n\n   zone  :   a   # trailing\n\t\n", map[string]string{"zone": "a"}, 0},
		{"prefixed key", "kios.dev/pool: blue", map[string]string{"kios.dev/pool": "blue"}, 0},
		{"empty value", "edge:", map[string]string{"edge": ""}, 0},
		{"later wins", "a: 1\na: 2", map[string]string{"a": "2"}, 0},
		{"garbage skipped", "no colon here\nzone: a\n:\nbad key!: x\nk: bad value!\n", map[string]string{"zone": "a"}, 4},
		{"value with colon is invalid", "a: b:c", map[string]string{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &testLog{t: t}
			got, err := ParseNodeLabels(strings.NewReader(tt.in), log)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			if len(log.lines) != tt.warnings {
				t.Errorf("got %d warnings, want %d", len(log.lines), tt.warnings)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
		mode  Mode
	}{
		{"nothing", nil, nil, Standalone},
		{"standalone", map[string]string{
			ConfigFile:                            "kind: KubeletConfiguration",
			StandaloneDropins + "/10-server.conf": "x",
			NodeLabelsFile:                        "b: 2\na: 1 # c\n",
			NodeIPFile:                            " 10.0.0.5\n",
		}, []string{
			"--config=/etc/kubernetes/config.yaml",
			"--config-dir=/etc/kios/kubelet-standalone.d",
			"--node-labels=a=1,b=2",
			"--node-ip=10.0.0.5",
		}, Standalone},
		{"cluster", map[string]string{
			ConfigFile:                            "kind: KubeletConfiguration",
			StandaloneDropins + "/10-server.conf": "x",
			KubeconfigFile:                        "x",
			CredentialProviders:                   "x",
		}, []string{
			"--config=/etc/kubernetes/config.yaml",
			"--kubeconfig=/etc/kubernetes/kubelet.conf",
			"--image-credential-provider-config=/etc/kubernetes/credential-providers.yaml",
			"--image-credential-provider-bin-dir=/var/lib/kubelet/credential-providers",
		}, Cluster},
		{"bootstrap only", map[string]string{BootstrapFile: "x"}, []string{
			"--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
			"--kubeconfig=/etc/kubernetes/kubelet.conf",
		}, Cluster},
		{"node configuration", map[string]string{
			ConfigFile:       "kind: KubeletConfiguration",
			MergedConfigFile: "kind: KubeletConfiguration",
			NodeLabelsFile:   "a: 1\nb: 2\n",
			ConfigLabelsFile: "b: 3\nc: 4\n",
		}, []string{
			"--config=/run/kios/config/kubelet.yaml",
			"--node-labels=a=1,b=3,c=4",
		}, Standalone},
		{"empty labels and ip", map[string]string{NodeLabelsFile: "# none\n", NodeIPFile: "\n"}, nil, Standalone},
		{"the configuration's node IP over the image's", map[string]string{NodeIPFile: "10.0.0.5\n", ConfigNodeIPFile: "10.0.0.6\n"}, []string{"--node-ip=10.0.0.6"}, Standalone},
		{"a leased dual-stack pair over both", map[string]string{NodeIPFile: "10.0.0.5\n", ConfigNodeIPFile: "10.0.0.6\n", LeasedNodeIPFile: "10.0.0.6,fd00::5\n"},
			[]string{"--node-ip=10.0.0.6,fd00::5"}, Standalone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for p, c := range tt.files {
				full := filepath.Join(root, p)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, mode, err := Flags(root, &testLog{t: t})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("flags (-want +got):\n%s", diff)
			}
			if mode != tt.mode {
				t.Errorf("mode %s, want %s", mode, tt.mode)
			}
		})
	}
}

func TestFlagsUnreadableFile(t *testing.T) {
	root := t.TempDir()
	// A directory where a file is expected cannot be read as one.
	if err := os.MkdirAll(filepath.Join(root, NodeIPFile), 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, err := Flags(root, &testLog{t: t})
	if err == nil || !strings.Contains(err.Error(), "/etc/kubernetes/node-ip") {
		t.Fatalf("err = %v, want an error naming /etc/kubernetes/node-ip", err)
	}
}
