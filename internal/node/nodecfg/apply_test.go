package nodecfg

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/shared/nodeconfig"
)

func testRoot(t *testing.T) string {
	root := t.TempDir()
	b, err := os.ReadFile("../../host/image/rootfs/etc/kubernetes/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for rel, data := range map[string][]byte{BaseKubelet: b, ManifestDir + "/dhcp.yaml": []byte("image's\n")} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, rel), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func parse(t *testing.T, doc string) *nodeconfig.Document {
	d, err := nodeconfig.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const node = `apiVersion: config.kios.dev/v1alpha1
kind: NodeConfig
hostname: worker-7
join: {apiServer: "10.0.0.1:6443", token: abcdef.0123456789abcdef, caCertHashes: ["sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}
labels: {example.com/rack: r7}
taints: [{key: dedicated, value: batch, effect: NoSchedule}]
registryMirrors: {docker.io: ["http://10.0.0.2:5000"]}
ntpServers: [ntp.example.com]
kernelModules: [nbd]
`
const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: kube-system}\nspec: {containers: [{name: a, image: x}]}\n"

func TestApply(t *testing.T) {
	root := testRoot(t)
	doc := parse(t, node+"---\n"+strings.ReplaceAll(pod, "%s", "web")+"---\n"+strings.ReplaceAll(pod, "%s", "log")+
		"---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPods: 50\n")
	res, err := Apply(root, doc, Meta{Hostname: "ignored.example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		ManifestDir + "/nodeconfig.join.yaml", ManifestDir + "/nodeconfig.kube-system.log.yaml", ManifestDir + "/nodeconfig.kube-system.web.yaml",
		CertsDir + "/docker.io/hosts.toml", HostnameFile, "run/kios/config/join/token", KubeletFile, NodeLabelsFile, NTPFile,
	}
	if diff := cmp.Diff(want, res.Changed); diff != "" {
		t.Errorf("changed (-want +got):\n%s", diff)
	}
	if res.Hostname != "worker-7" || !cmp.Equal(res.Modules, []string{"nbd"}) || !res.Kubelet() {
		t.Errorf("result = %+v, want worker-7, [nbd], a kubelet change", res)
	}
	kc, _ := os.ReadFile(filepath.Join(root, KubeletFile))
	merged, err := nodeconfig.DecodeKubelet(kc)
	if err != nil {
		t.Fatal(err)
	}
	if errs := nodeconfig.Hardened(merged); len(errs) > 0 || merged["maxPods"] == nil || merged["registerWithTaints"] == nil {
		t.Errorf("merged kubelet configuration: hardening %v, maxPods %v, taints %v", errs, merged["maxPods"], merged["registerWithTaints"])
	}
	for _, rel := range []string{ManifestDir + "/nodeconfig.join.yaml", "run/kios/config/join/token"} {
		if st, err := os.Stat(filepath.Join(root, rel)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v, want 0600", rel, err, st.Mode().Perm())
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, ManifestDir, "nodeconfig.join.yaml")); strings.Contains(string(b), "0123456789abcdef") {
		t.Errorf("the join manifest carries the token")
	}

	// The same document again changes nothing.
	if res, err := Apply(root, doc, Meta{}, nil); err != nil || len(res.Changed) != 0 {
		t.Errorf("second apply: changed %v, err %v; want nothing", res.Changed, err)
	}

	// A smaller document takes away what it no longer says, and only that.
	res, err = Apply(root, parse(t, strings.ReplaceAll(pod, "%s", "web")), Meta{Hostname: "node-3.example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		ManifestDir + "/nodeconfig.join.yaml", ManifestDir + "/nodeconfig.kube-system.log.yaml",
		CertsDir + "/docker.io/hosts.toml", HostnameFile, "run/kios/config/join/token", KubeletFile, NodeLabelsFile, NTPFile,
	}
	if diff := cmp.Diff(want, res.Changed); diff != "" {
		t.Errorf("changed (-want +got):\n%s", diff)
	}
	if res.Hostname != "node-3.example.com" {
		t.Errorf("hostname from meta-data = %q, want node-3.example.com", res.Hostname)
	}
	for _, rel := range []string{ManifestDir + "/dhcp.yaml", ManifestDir + "/nodeconfig.kube-system.web.yaml", BaseKubelet} {
		if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, KubeletFile)); !os.IsNotExist(err) {
		t.Errorf("%s stays: %v", KubeletFile, err)
	}
}

func TestFetchPodIsAStaticPod(t *testing.T) {
	for _, ca := range []bool{false, true} {
		b := FetchPod([]nodeconfig.Source{nodeconfig.SourceURL, nodeconfig.SourceMetadata}, ca)
		d, err := nodeconfig.Parse(b)
		if err != nil || len(d.Pods) != 1 {
			t.Fatalf("ca %v: %v\n%s", ca, err, b)
		}
		if !strings.Contains(string(b), `"--sources=url,metadata"`) || strings.Contains(string(b), nodeconfig.ImageCAFile) != ca {
			t.Errorf("ca %v:\n%s", ca, b)
		}
	}
}

func TestMetadataPlausible(t *testing.T) {
	dmi := func(files map[string]string) string {
		d := t.TempDir()
		for f, v := range files {
			os.WriteFile(filepath.Join(d, f), []byte(v+"\n"), 0o444)
		}
		return d
	}
	for _, tc := range []struct {
		files   map[string]string
		setting string
		want    bool
	}{
		{map[string]string{"sys_vendor": "QEMU"}, "", false},
		{map[string]string{"sys_vendor": "Amazon EC2"}, "", true},
		{map[string]string{"sys_vendor": "Xen", "bios_version": "4.11.amazon"}, "", true},
		{map[string]string{"product_name": "OpenStack Nova"}, "", true},
		{map[string]string{"sys_vendor": "QEMU"}, "ec2", true},
		{map[string]string{"sys_vendor": "Amazon EC2"}, "off", false},
		{nil, "", false},
	} {
		if got := MetadataPlausible(dmi(tc.files), tc.setting); got != tc.want {
			t.Errorf("%v %q: %v, want %v", tc.files, tc.setting, got, tc.want)
		}
	}
}

// A bootstrap kubeconfig is written with its CA as the kubelet's client
// CA, as the join writes both.
func TestApplyBootstrapKubeconfig(t *testing.T) {
	ca, err := os.ReadFile("../../shared/nodeconfig/testdata/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	doc := "apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\njoin:\n  bootstrapKubeconfig: |\n    apiVersion: v1\n    kind: Config\n" +
		"    clusters: [{name: c, cluster: {server: 'https://10.0.0.1:6443', certificate-authority-data: " + base64.StdEncoding.EncodeToString(ca) + "}}]\n" +
		"    users: [{name: u, user: {token: abcdef.0123456789abcdef}}]\n"
	root := testRoot(t)
	res, err := Apply(root, parse(t, doc), Meta{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Kubelet() {
		t.Errorf("a bootstrap kubeconfig is not a kubelet change: %v", res.Changed)
	}
	got, err := os.ReadFile(filepath.Join(root, ClientCAFile))
	if err != nil || string(got) != string(ca) {
		t.Errorf("%s = %q, %v; want the kubeconfig's CA", ClientCAFile, got, err)
	}
	if st, err := os.Stat(filepath.Join(root, "etc/kubernetes/bootstrap-kubelet.conf")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap kubeconfig: %v %v", st, err)
	}
}
