package kubelet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeKubeconfigs(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc/kubernetes"), 0o755); err != nil {
		t.Fatal(err)
	}
	for rel, body := range files {
		if err := os.WriteFile(filepath.Join(root, rel), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestAPIServers(t *testing.T) {
	yamlConf := "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority: /etc/kubernetes/pki/ca.crt\n    server: https://10.88.0.1:6443\n  name: default\n"
	tests := []struct {
		name    string
		files   map[string]string
		want    []string
		wantErr string
	}{
		{"none", nil, nil, ""},
		{"bootstrap only", map[string]string{BootstrapFile: yamlConf}, []string{"10.88.0.1"}, ""},
		{"both, same server once", map[string]string{BootstrapFile: yamlConf, KubeconfigFile: yamlConf}, []string{"10.88.0.1"}, ""},
		{"json, a name and IPv6", map[string]string{KubeconfigFile: `{"clusters": [{"cluster": {"server": "https://api.example.com:6443"}}, {"cluster": {"server": "https://[fd00::1]:6443"}}]}`},
			[]string{"api.example.com", "fd00::1"}, ""},
		{"no server line", map[string]string{KubeconfigFile: "apiVersion: v1\n"}, nil, ""},
		{"tls-server-name is not a server", map[string]string{KubeconfigFile: "    tls-server-name: kubernetes\n    server: https://api:6443\n"}, []string{"api"}, ""},
		{"not a URL", map[string]string{KubeconfigFile: "    server: 10.88.0.1\n"}, nil, "/etc/kubernetes/kubelet.conf: server \"10.88.0.1\" is not a URL with a host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := APIServers(writeKubeconfigs(t, tt.files))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("APIServers (-want +got):\n%s", diff)
			}
		})
	}
}

// Hold keeps a cluster-mode kubelet standalone while no API server is
// routable, and gives the cluster snapshot, which differs, once one is.
func TestHold(t *testing.T) {
	conf := "clusters:\n- cluster:\n    server: https://10.88.0.1:6443\n"
	root := writeKubeconfigs(t, map[string]string{BootstrapFile: conf})
	if err := os.MkdirAll(filepath.Join(root, StandaloneDropins), 0o755); err != nil {
		t.Fatal(err)
	}
	var asked []string
	noRoute := func(h string) bool { asked = append(asked, h); return false }
	held, err := Hold(root, &testLog{t: t}, noRoute)
	if err != nil {
		t.Fatal(err)
	}
	if !held.Held || held.Mode != Standalone {
		t.Errorf("no route: Held %t, mode %s; want held, standalone", held.Held, held.Mode)
	}
	if diff := cmp.Diff([]string{"--config-dir=/etc/kios/kubelet-standalone.d"}, held.Flags); diff != "" {
		t.Errorf("held flags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"10.88.0.1"}, asked); diff != "" {
		t.Errorf("routable asked for (-want +got):\n%s", diff)
	}
	again, err := Hold(root, &testLog{t: t}, noRoute)
	if err != nil {
		t.Fatal(err)
	}
	if NeedsRestart(held, again) {
		t.Error("still no route, yet a restart")
	}
	routed, err := Hold(root, &testLog{t: t}, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if routed.Held || routed.Mode != Cluster {
		t.Errorf("routable: Held %t, mode %s; want cluster", routed.Held, routed.Mode)
	}
	if !NeedsRestart(held, routed) {
		t.Error("the API server became routable, and no restart")
	}
	standalone, err := Hold(t.TempDir(), &testLog{t: t}, func(string) bool { t.Error("routable asked without kubeconfigs"); return false })
	if err != nil || standalone.Held || standalone.Mode != Standalone {
		t.Errorf("no kubeconfig: %+v, %v; want plain standalone", standalone, err)
	}
}
