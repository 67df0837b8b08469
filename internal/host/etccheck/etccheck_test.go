package etccheck_test

import (
	"strings"
	"testing"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"

	"kios.dev/kios/internal/host/etccheck"
	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/shared/etcfiles"
)

// The image's own files pass: a check that refused them would refuse
// every node.
func TestImageDefaultsPass(t *testing.T) {
	for _, rel := range []string{"kubernetes/config.yaml", "containerd/config.toml", "kios/modules", "kios/kubelet-standalone.d/10-standalone.conf"} {
		b, err := image.Default("etc/" + rel)
		if err != nil {
			t.Fatalf("image default %s: %v", rel, err)
		}
		if err := etccheck.Check(rel, b); err != nil {
			t.Errorf("the image's own /etc/%s is refused: %v", rel, err)
		}
	}
}

func TestCheck(t *testing.T) {
	kc := "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
	tests := []struct {
		rel, content string
		want         string // "" passes; else the error contains this
	}{
		{"hostname", "node-a\n", ""},
		{"hostname", "\n", ""},
		{"hostname", "Node_A\n", `"Node_A" is not a valid host name`},
		{"hostname", "# rack 4\nnode-a.example.com\n", ""},
		{"kubernetes/node-labels", "# rack\ntopology.kubernetes.io/zone: a\n", ""},
		{"kubernetes/node-labels", "zone a\n", `line 1`},
		{"kubernetes/node-labels", "ok: yes\nbad key!: x\n", `line 2`},
		{"kubernetes/config.yaml", kc + "maxPods: 50\n", ""},
		{"kubernetes/config.yaml", kc + "maxPod: 50\n", `unknown field "maxPod"`},
		{"kubernetes/config.yaml", kc + "maxPods: fifty\n", "maxPods"},
		{"kubernetes/config.yaml", "apiVersion: v1\nkind: Pod\n", "want kubelet.config.k8s.io/v1beta1, KubeletConfiguration"},
		{"kubernetes/config.yaml", "key: [unclosed\n", "not YAML"},
		{"kios/kubelet-standalone.d/20-mine.conf", kc + "enableServer: nope\n", "enableServer"},
		{"containerd/config.toml", "version = 3\n[plugins]\n", ""},
		{"containerd/config.toml", "version = 3\n[plugins\n", "not TOML"},
		{"containerd/config.toml", "root = \"/x\"\n", "no version"},
		{"containerd/config.toml", "version = 1\n", "version = 1"},
		{"kios/modules", "overlay\n# comment\nbr_netfilter # inline\n", ""},
		{"kios/modules", "overlay\nrm -rf /\n", `line 2: "rm -rf /"`},
		{"kubernetes/manifests/web.yaml", "not checked here", ""},
		{"motd", "anything", ""},
	}
	for _, tt := range tests {
		err := etccheck.Check(tt.rel, []byte(tt.content))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %q refused: %v", tt.rel, tt.content, err)
		case tt.want != "" && err == nil:
			t.Errorf("%s %q accepted, want an error containing %q", tt.rel, tt.content, tt.want)
		case tt.want != "" && (!strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "/etc/"+tt.rel)):
			t.Errorf("%s %q: error %q does not name the file and %q", tt.rel, tt.content, err, tt.want)
		}
	}
}

// PID 1 checks the apiVersion without linking the kubelet's types: it
// must be the one of the types the build decodes against.
func TestKubeletConfigVersion(t *testing.T) {
	if got, want := etcfiles.KubeletConfigVersion, kubeletv1beta1.SchemeGroupVersion.String(); got != want {
		t.Errorf("etcfiles.KubeletConfigVersion = %q, the kubelet's types are %q", got, want)
	}
}
