package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"kios.dev/kios/dev/baseline"
	"kios.dev/kios/internal/host/disk"
	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/host/lab/labnet"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/join"
)

// nodeBoot is what the lab's nodes boot: node gives the i-th node's VM
// (what it boots) and the name it registers with.
type nodeBoot struct {
	image string
	node  func(i int, dir string) (vm.Config, string, error)
}

func nodeImages(ctx context.Context, c Config, env *Env) (nodeBoot, error) {
	if c.Baseline {
		return baselineNodes(ctx, c, env)
	}
	jp := &join.Params{API: labnet.Gateway.String() + ":6443", Token: env.Token, CAHash: env.CAHash}
	if !c.RAMOnly {
		return diskNodes(c, jp)
	}
	efi, err := BuildNode(c.Dir, c.Parts, jp, nil)
	if err != nil {
		return nodeBoot{}, err
	}
	return nodeBoot{image: efi, node: func(i int, _ string) (vm.Config, string, error) {
		// Every node boots the same image; the firmware UUID gives each
		// its machine-id and so its name (kios-0000000N).
		return vm.Config{EFI: efi, Extra: []string{"-uuid", nodeUUID(i)}}, fmt.Sprintf("kios-%08x", i), nil
	}}, nil
}

// nodeUUID gives node i its firmware UUID, hence its machine-id and
// its name (kios-0000000N).
func nodeUUID(i int) string { return fmt.Sprintf("%08x-6b1e-4a1c-9f00-%012x", i, i) }

// diskNodes boot from kios disk images, one per node, all installed
// with one EFI: what makes a node this lab's (the lab registry as a
// mirror, the join, the CNI installer) is on its data partition, so
// the same EFI, or a newer one, serves every node (kios upgrade).
func diskNodes(c Config, jp *join.Params) (nodeBoot, error) {
	efi := c.EFI
	if efi == "" {
		efi = filepath.Join(c.Dir, "node.efi")
		if err := image.Build(image.Options{Parts: c.Parts, Output: efi}); err != nil {
			return nodeBoot{}, err
		}
	}
	cfg := filepath.Join(c.Dir, "disk-config")
	mirror := filepath.Join(cfg, "containerd", "certs.d", "_default", "hosts.toml")
	if err := os.MkdirAll(filepath.Dir(mirror), 0o755); err != nil {
		return nodeBoot{}, err
	}
	if err := os.WriteFile(mirror, []byte(MirrorConfig), 0o644); err != nil {
		return nodeBoot{}, err
	}
	joinArchive, err := image.JoinArchive(c.Parts)
	if err != nil {
		return nodeBoot{}, err
	}
	return nodeBoot{image: efi, node: func(i int, dir string) (vm.Config, string, error) {
		d := filepath.Join(dir, "disk.img")
		err := disk.Write(disk.Options{EFI: efi, Config: cfg, Size: NodeDiskSize, Output: d, Join: jp, JoinArchive: joinArchive,
			Images: []string{filepath.Join(c.Parts, "extra", "cni-installer.tar")}})
		if err != nil {
			return vm.Config{}, "", fmt.Errorf("node %d's disk: %w", i, err)
		}
		return vm.Config{Disk: d, Extra: []string{"-uuid", nodeUUID(i)}}, fmt.Sprintf("kios-%08x", i), nil
	}}, nil
}

// NodeDiskSize is each disk node's disk (a sparse file).
const NodeDiskSize = 4 << 30

// baselineNodes are Debian nodes (the comparison benchmark's), each with
// its own root disk holding the join and its hostname (baseline-N).
func baselineNodes(ctx context.Context, c Config, env *Env) (nodeBoot, error) {
	base, err := BuildBaseline(filepath.Join(c.Cache, "baseline", "root"), c.Parts, c.Cache)
	if err != nil {
		return nodeBoot{}, fmt.Errorf("build the baseline node (components/build.sh baseline): %w", err)
	}
	joinFiles, err := env.KubeadmJoin(ctx)
	if err != nil {
		return nodeBoot{}, err
	}
	if err := LoadBaselineImages(env.Dir, c.Parts); err != nil {
		return nodeBoot{}, err
	}
	return nodeBoot{image: base.EFI, node: func(i int, dir string) (vm.Config, string, error) {
		name := fmt.Sprintf("%s-%d", baseline.Hostname, i)
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

// BuildBaseline builds the conventional Debian node (from root, the
// debootstrap tree of components/build.sh baseline) for a lab: like a
// kiOS node of the lab, it uses the lab registry as a mirror of every
// registry. The comparison benchmark and kios up --baseline boot it.
func BuildBaseline(root, parts, cache string) (baseline.Node, error) {
	return baseline.Build(baseline.Options{Root: root, Parts: parts, Cache: cache,
		Files: map[string][]byte{"etc/containerd/certs.d/_default/hosts.toml": []byte(MirrorConfig)}})
}

// LoadBaselineImages pushes to the lab registry in dir what the Debian
// nodes pull and kiOS nodes carry primed: the sandbox image and the CNI
// installer (parts: make build's out/parts).
func LoadBaselineImages(dir, parts string) error {
	for _, a := range []string{filepath.Join(parts, "images", "pause.tar"), filepath.Join(parts, "extra", "cni-installer.tar")} {
		if err := Load(dir, a, io.Discard); err != nil {
			return fmt.Errorf("push %s to the lab registry for the baseline nodes: %w", a, err)
		}
	}
	return nil
}
