// Package etccheck checks the files under /etc that PID 1, the kubelet
// and containerd read, the way each reader will: `kios build --config`
// and `kios disk --config` refuse a file that cannot work, naming the
// file and the reason, instead of a node that fails at boot. It runs
// etcfiles' checks (the ones PID 1 also runs at boot) and decodes the
// kubelet's configuration strictly against the pinned kubelet's types,
// which only host tools link.
package etccheck

import (
	"fmt"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"

	"kios.dev/kios/internal/shared/etcfiles"
)

// Check checks a file given its path relative to /etc; files kiOS does
// not read pass.
func Check(rel string, b []byte) error {
	if err := etcfiles.Check(rel, b); err != nil {
		return err
	}
	f, ok := etcfiles.Lookup(rel)
	if !ok || !f.KubeletConfig {
		return nil
	}
	var cfg kubeletv1beta1.KubeletConfiguration
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return fmt.Errorf("/etc/%s (read by %s): not a KubeletConfiguration of kubelet v1.35: %w", rel, f.Reader, err)
	}
	return nil
}
