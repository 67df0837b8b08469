package image

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const goodPod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers:
  - {name: demo, image: localhost/kios/demo:v1}
`

func TestCheckManifest(t *testing.T) {
	tests := []struct {
		name, data, wantErr string
	}{
		{"good", goodPod, ""},
		{"not yaml", "{{{", "manifest bad.yaml"},
		{"unknown field", strings.Replace(goodPod, "spec:", "spec:\n  hostNetwerk: true", 1), "unknown field"},
		{"deployment", strings.Replace(goodPod, "kind: Pod", "kind: Deployment", 1), "kind Pod"},
		{"bad name", strings.Replace(goodPod, "name: web", "name: Web_1", 1), "metadata.name"},
		{"no containers", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {}\n", "at least one container"},
		{"no image", strings.Replace(goodPod, "image: localhost/kios/demo:v1", "image: ''", 1), "no image"},
		{"twice", strings.Replace(goodPod, "  - {name: demo, image: localhost/kios/demo:v1}", "  - {name: a, image: x}\n  - {name: a, image: y}", 1), "used twice"},
	}
	for _, tc := range tests {
		err := CheckManifest("bad.yaml", []byte(tc.data))
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%s: got %v, want an error naming the file and %q", tc.name, err, tc.wantErr)
		}
	}
}

// FuzzCheckManifest: manifests come from users' config directories.
func FuzzCheckManifest(f *testing.F) {
	f.Add([]byte(goodPod))
	f.Add([]byte("apiVersion: v1\nkind: Pod\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if CheckManifest("fuzz.yaml", data) != nil {
			return
		}
		// Accepted: it is a Pod the kubelet can read.
		var pod corev1.Pod
		if err := yaml.Unmarshal(data, &pod); err != nil || pod.Kind != "Pod" || pod.Name == "" || len(pod.Spec.Containers) == 0 {
			t.Errorf("accepted %q: kind %q name %q, %d containers, err %v", data, pod.Kind, pod.Name, len(pod.Spec.Containers), err)
		}
	})
}

func TestIsManifest(t *testing.T) {
	for rel, want := range map[string]bool{
		"etc/kubernetes/manifests/web.yaml": true, "etc/kubernetes/manifests/.hidden": false,
		"etc/kubernetes/config.yaml": false, "etc/kubernetes/manifests/sub/x.yaml": false,
	} {
		if got := isManifest(rel); got != want {
			t.Errorf("isManifest(%q) = %v", rel, got)
		}
	}
}

// TestSystemPodCapabilities: each system pod the image ships drops every
// capability and adds back only those its work needs (docs/system-pods.md).
func TestSystemPodCapabilities(t *testing.T) {
	want := map[string][]corev1.Capability{
		"grow.yaml":    {"SYS_ADMIN", "SYS_RESOURCE"},
		"network.yaml": {"NET_ADMIN", "NET_RAW"},
		"ntp.yaml":     {"SYS_TIME"},
	}
	const dir = "rootfs/etc/kubernetes/manifests"
	ents, err := defaults.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]corev1.Capability{}
	for _, e := range ents {
		b, err := defaults.ReadFile(dir + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		var pod corev1.Pod
		if err := yaml.UnmarshalStrict(b, &pod); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
			sc := c.SecurityContext
			if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("%s: container %s does not drop ALL capabilities", e.Name(), c.Name)
				continue
			}
			got[e.Name()] = append(got[e.Name()], sc.Capabilities.Add...)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("system pods' added capabilities (-want +got):\n%s", d)
	}
}
