package image

import (
	"strings"
	"testing"

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
