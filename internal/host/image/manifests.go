package image

import (
	"errors"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// ManifestDir is where the kubelet reads static pods, under the image's /.
const ManifestDir = "etc/kubernetes/manifests"

// isManifest tells whether the kubelet would read a file of the static
// pod directory (it skips hidden files).
func isManifest(rel string) bool {
	dir, name := path.Split(rel)
	return strings.TrimSuffix(dir, "/") == ManifestDir && !strings.HasPrefix(name, ".")
}

// CheckManifest parses a static pod manifest as the kubelet would need
// it: one Pod (apiVersion v1), a valid name, containers with names and
// images, and no unknown fields. A manifest the kubelet would reject at
// boot is refused at build time, with the file named.
func CheckManifest(name string, data []byte) error {
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(data, &pod); err != nil {
		return fmt.Errorf("manifest %s: %w", name, err)
	}
	var errs []string
	if pod.APIVersion != "v1" || pod.Kind != "Pod" {
		errs = append(errs, fmt.Sprintf("want apiVersion v1 and kind Pod, got %q %q", pod.APIVersion, pod.Kind))
	}
	for _, e := range validation.IsDNS1123Subdomain(pod.Name) {
		errs = append(errs, "metadata.name: "+e)
	}
	if pod.Namespace != "" {
		for _, e := range validation.IsDNS1123Label(pod.Namespace) {
			errs = append(errs, "metadata.namespace: "+e)
		}
	}
	if len(pod.Spec.Containers) == 0 {
		errs = append(errs, "spec.containers: at least one container is needed")
	}
	seen := map[string]bool{}
	for i, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, e := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, fmt.Sprintf("container %d name: %s", i, e))
		}
		if seen[c.Name] {
			errs = append(errs, fmt.Sprintf("container name %q used twice", c.Name))
		}
		seen[c.Name] = true
		if strings.TrimSpace(c.Image) == "" {
			errs = append(errs, fmt.Sprintf("container %q: no image", c.Name))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("manifest %s: %w", name, errors.New(strings.Join(errs, "; ")))
	}
	return nil
}
