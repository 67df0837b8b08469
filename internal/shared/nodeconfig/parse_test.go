package nodeconfig

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseFull(t *testing.T) {
	b, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := &NodeConfig{APIVersion: APIVersion, Kind: Kind, Hostname: "worker-7",
		Join: &Join{APIServer: "10.0.0.1:6443", Token: "abcdef.0123456789abcdef",
			CACertHashes: []string{"sha256:" + strings.Repeat("0", 64)}},
		Labels:          map[string]string{"topology.example.com/rack": "r7", "node.kubernetes.io/pool": "general"},
		Taints:          []NodeTaint{{Key: "dedicated", Value: "batch", Effect: "NoSchedule"}},
		RegistryMirrors: map[string][]string{"docker.io": {"https://mirror.example.com"}},
		NTPServers:      []string{"ntp.example.com", "10.0.0.1:123"},
		KernelModules:   []string{"nbd"},
	}
	if diff := cmp.Diff(want, d.Node); diff != "" {
		t.Errorf("NodeConfig (-want +got):\n%s", diff)
	}
	if len(d.Pods) != 1 || d.Pods[0].Namespace != "kube-system" || d.Pods[0].Name != "web" {
		t.Errorf("pods = %+v, want kube-system/web", d.Pods)
	}
	var pod map[string]any
	if err := json.Unmarshal(d.Pods[0].JSON, &pod); err != nil || pod["kind"] != "Pod" {
		t.Errorf("pod JSON does not read back as a Pod: %v %v", err, pod)
	}
	if got := d.Kubelet["maxPods"]; got != json.Number("50") {
		t.Errorf("kubelet maxPods = %v, want 50", got)
	}
	if _, ok := d.Kubelet["apiVersion"]; ok {
		t.Errorf("kubelet fields keep apiVersion")
	}
}

func TestParseAccepts(t *testing.T) {
	for name, doc := range map[string]string{
		"pods only":            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a, image: x}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: a, image: x}]}\n",
		"json":                 `{"apiVersion":"config.kios.dev/v1alpha1","kind":"NodeConfig","hostname":"n1"}`,
		"empty":                "",
		"comments and ---":     "# nothing\n---\n---\n",
		"bootstrap kubeconfig": BootstrapDoc(testCA(t)),
		"quantities":           "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nkubeReserved: {memory: 100Mi}\nevictionHard: {memory.available: 5%}\nimageGCHighThresholdPercent: 80\n",
	} {
		if _, err := Parse([]byte(doc)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	const nc = "apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\n"
	const kc = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"not yaml", "a: [b\n", "document 1: not YAML"},
		{"binary", "sha256:abc\x00\x00ustar\x00", "document 1: not YAML: a NUL byte at offset 10"},
		{"not an object", "- a\n- b\n", "document 1: want an object"},
		{"unknown kind", "apiVersion: v1\nkind: Service\n", `document 1 (Service): kind: "v1" "Service" is not one of`},
		{"unknown field", nc + "hostnme: x\n", "document 1 (NodeConfig): hostnme: unknown field"},
		{"wrong version", "apiVersion: config.kios.dev/v1\nkind: NodeConfig\n", "apiVersion: this kiOS reads config.kios.dev/v1alpha1, not config.kios.dev/v1"},
		{"bad hostname", nc + "hostname: Web_1\n", "hostname:"},
		{"two nodeconfigs", nc + "---\n" + nc, "document 2 (NodeConfig): kind: a second NodeConfig (the first is document 1)"},
		{"two kubelets", kc + "---\n" + kc, "document 2 (KubeletConfiguration): kind: a second KubeletConfiguration"},
		{"duplicate key", nc + "hostname: a\nhostname: b\n", "document 1: not YAML"},
		{"pod unknown field", pod + "spec: {containers: [{name: a, image: x, imagePullPolcy: Never}]}\n", "document 1 (Pod p): spec.containers[0].imagePullPolcy: unknown field"},
		{"pod wrong type", pod + "spec: {containers: [{name: a, image: x, ports: [{containerPort: http}]}]}\n", "spec.containers[0].ports[0].containerPort: want an integer, got a string"},
		{"pod no image", pod + "spec: {containers: [{name: a}]}\n", "document 1 (Pod p): spec.containers[0].image: no image"},
		{"pod no containers", pod + "spec: {}\n", "spec.containers: at least one container"},
		{"pod no name", "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a, image: x}]}\n", "metadata.name: a static pod needs a name"},
		{"pod twice", pod + "spec: {containers: [{name: a, image: x}]}\n---\n" + pod + "spec: {containers: [{name: a, image: x}]}\n", "document 2 (Pod p): metadata.name: pod default/p is also document 1"},
		{"container twice", pod + "spec: {containers: [{name: a, image: x}, {name: a, image: z}]}\n", `spec.containers[1].name: "a" is used twice`},
		{"anonymous kubelet", kc + "authentication: {anonymous: {enabled: true}}\n", "authentication.anonymous.enabled: weakens CIS 4.2.1 (want false)"},
		{"read-only port", kc + "readOnlyPort: 10255\n", "readOnlyPort: weakens CIS 4.2.4"},
		{"authz", kc + "authorization: {mode: AlwaysAllow}\n", "authorization.mode: weakens CIS 4.2.2"},
		{"idle timeout", kc + "streamingConnectionIdleTimeout: 0s\n", "streamingConnectionIdleTimeout: weakens CIS 4.2.5"},
		{"weak cipher", kc + "tlsCipherSuites: [TLS_RSA_WITH_RC4_128_SHA]\n", "tlsCipherSuites: weakens CIS 4.2.13"},
		{"owned field", kc + "staticPodPath: /tmp\n", "staticPodPath: set by kiOS"},
		{"kubelet unknown field", kc + "maxPod: 3\n", "maxPod: unknown field"},
		{"kubelet wrong type", kc + "maxPods: many\n", "maxPods: want an integer, got a string"},
		{"join incomplete", nc + "join: {apiServer: 'a:6443'}\n", "document 1 (NodeConfig): join: "},
		{"join both", nc + "join: {apiServer: 'a:6443', bootstrapKubeconfig: x}\n", "join: give either bootstrapKubeconfig"},
		{"bad kubeconfig", nc + "join: {bootstrapKubeconfig: 'clusters: []'}\n", "join.bootstrapKubeconfig: want a cluster"},
		{"kubeconfig without CA", strings.Replace(BootstrapDoc([]byte("x")), ", certificate-authority-data: eA==", "", 1), "join.bootstrapKubeconfig: want the cluster's certificate-authority-data"},
		{"kubeconfig with a bad CA", BootstrapDoc([]byte("not pem")), "certificate-authority-data: want a PEM certificate"},
		{"label key", nc + "labels: {'bad key': x}\n", "labels.bad key:"},
		{"restricted label", nc + "labels: {node-role.kubernetes.io/worker: ''}\n", "labels.node-role.kubernetes.io/worker: the kubelet may set only"},
		{"taint effect", nc + "taints: [{key: a, effect: Never}]\n", `taints[0].effect: want NoSchedule, PreferNoSchedule or NoExecute, got "Never"`},
		{"mirror url", nc + "registryMirrors: {docker.io: [mirror.example.com]}\n", "registryMirrors.docker.io[0]: want an http:// or https:// URL"},
		{"ntp", nc + "ntpServers: ['a b']\n", "ntpServers[0]: want host or host:port"},
		{"module", nc + "kernelModules: ['../x']\n", "kernelModules[0]: want a module name"},
		{"network: a gateway out of reach", nc + "network: {links: [{name: eth0, addresses: [10.0.0.5/24], routes: [{to: default, via: 10.9.0.1}]}]}\n", "document 1 (NodeConfig): network.links[0].routes[0].via: 10.9.0.1 is in none of this link's prefixes"},
		{"network: an unknown field", nc + "network: {links: [{name: eth0, dhcp: true}]}\n", "network.links[0].dhcp"},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v is not ErrInvalid", tc.name, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

func TestTooLarge(t *testing.T) {
	big := strings.Repeat("# padding\n", MaxSize/10+1)
	if _, _, err := Read(strings.NewReader(big)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Read(%d bytes) = %v, want ErrTooLarge", len(big), err)
	}
}

// No error quotes a secret, whatever else is wrong around it.
func TestErrorsHideSecrets(t *testing.T) {
	const token = "s3cr3t.0123456789abcdef"
	const secret = "zz9-secret-value"
	for _, doc := range []string{
		"apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\njoin: {apiServer: 'a:6443', token: " + token + ", caCertHashes: [x]}\n",
		"apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\njoin: {token: [" + token + "]}\n",
		"apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\njoin: {bootstrapKubeconfig: 'users: [{user: {token: " + secret + "}}]'}\n",
		"apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\njoin: {bootstrapKubeconfig: '" + secret + ": [unclosed'}\n",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: x, env: [{name: K, value: " + secret + ", valu: 1}]}]}\n",
	} {
		_, err := Parse([]byte(doc))
		if err == nil {
			t.Errorf("accepted %q", doc)
			continue
		}
		if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error quotes a secret: %v", err)
		}
	}
}

func TestImageKubeletIsHardened(t *testing.T) {
	b, err := os.ReadFile("../../host/image/rootfs/etc/kubernetes/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base, err := DecodeKubelet(b)
	if err != nil {
		t.Fatal(err)
	}
	if errs := Hardened(base); len(errs) > 0 {
		t.Errorf("the image's kubelet configuration: %v", errs)
	}
	over, _ := DecodeKubelet([]byte("authentication: {anonymous: {enabled: true}}\nmaxPods: 10\n"))
	merged := MergeKubelet(base, over)
	if errs := Hardened(merged); len(errs) != 1 || !strings.Contains(errs[0].Error(), "CIS 4.2.1") {
		t.Errorf("Hardened(merged with anonymous auth) = %v, want CIS 4.2.1 only", errs)
	}
	if merged["authentication"].(map[string]any)["webhook"] == nil {
		t.Errorf("merge dropped authentication.webhook: objects must merge field by field")
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/full.yaml"} {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a, image: x}]}\n"))
	f.Add([]byte(`{"apiVersion":"kubelet.config.k8s.io/v1beta1","kind":"KubeletConfiguration","maxPods":3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Errorf("error %v is neither ErrInvalid nor ErrTooLarge", err)
			}
			return
		}
		// What is accepted is accepted again from its parts.
		for _, p := range d.Pods {
			if _, err := Parse(p.JSON); err != nil {
				t.Errorf("accepted pod %s does not parse alone: %v", p.Name, err)
			}
		}
	})
}

func testCA(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BootstrapDoc is a NodeConfig joining with a bootstrap kubeconfig that
// trusts ca.
func BootstrapDoc(ca []byte) string {
	return "apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\njoin:\n  bootstrapKubeconfig: |\n    apiVersion: v1\n    kind: Config\n" +
		"    clusters: [{name: c, cluster: {server: 'https://10.0.0.1:6443', certificate-authority-data: " + base64.StdEncoding.EncodeToString(ca) + "}}]\n" +
		"    users: [{name: u, user: {token: abcdef.0123456789abcdef}}]\n"
}
