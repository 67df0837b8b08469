package baseline

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"kios.dev/kios/internal/host/lab"
	"kios.dev/kios/internal/host/vm"
)

// LabSystem is the name LabNodes is registered under in the lab
// (lab.RegisterSystem): kios-dev up --baseline.
const LabSystem = "baseline"

// LabNodes are the lab's nodes as Debian nodes (the comparison
// benchmark's), each with its own root disk holding the join and its
// hostname (baseline-N): a lab.NodeSystem.
func LabNodes(ctx context.Context, c lab.Config, env *lab.Env) (lab.NodeBoot, error) {
	base, err := BuildForLab(filepath.Join(c.Cache, "baseline", "root"), c.Parts, c.Cache)
	if err != nil {
		return lab.NodeBoot{}, fmt.Errorf("build the baseline node (components/build.sh baseline): %w", err)
	}
	joinFiles, err := env.KubeadmJoin(ctx)
	if err != nil {
		return lab.NodeBoot{}, err
	}
	if err := LoadLabImages(env.Dir, c.Parts); err != nil {
		return lab.NodeBoot{}, err
	}
	return lab.NodeBoot{Image: base.EFI, Node: func(i int, dir string) (vm.Config, string, error) {
		name := fmt.Sprintf("%s-%d", Hostname, i)
		files := map[string][]byte{
			"etc/hostname": []byte(name + "\n"),
			"etc/hosts":    []byte("127.0.0.1 localhost\n127.0.1.1 " + name + "\n"),
		}
		for p, b := range joinFiles {
			files["etc/kubernetes/"+p] = b
		}
		disk := filepath.Join(dir, "root.img")
		if err := base.Session(disk, files); err != nil {
			return vm.Config{}, "", err
		}
		return vm.Config{EFI: base.EFI, Disks: []string{disk}}, name, nil
	}}, nil
}

// BuildForLab builds the conventional Debian node (from root, the
// debootstrap tree of components/build.sh baseline) for a lab: like a
// kiOS node of the lab, it uses the lab registry as a mirror of every
// registry. The comparison benchmark and kios-dev up --baseline boot it.
func BuildForLab(root, parts, cache string) (Node, error) {
	return Build(Options{Root: root, Parts: parts, Cache: cache,
		Files: map[string][]byte{"etc/containerd/certs.d/_default/hosts.toml": []byte(lab.MirrorConfig)}})
}

// LoadLabImages pushes to the lab registry in dir what the Debian
// nodes pull and kiOS nodes carry primed: the sandbox image and the CNI
// installer (parts: make build's out/parts).
func LoadLabImages(dir, parts string) error {
	for _, a := range []string{filepath.Join(parts, "images", "pause.tar"), filepath.Join(parts, "extra", "cni-installer.tar")} {
		if err := lab.Load(dir, a, io.Discard); err != nil {
			return fmt.Errorf("push %s to the lab registry for the baseline nodes: %w", a, err)
		}
	}
	return nil
}
