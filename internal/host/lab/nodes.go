package lab

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"kios.dev/kios/internal/host/disk"
	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/host/vm"
)

// NodeBoot is what the lab's nodes boot: Image names it in the
// progress; Node gives the i-th node's VM (what it boots, in its own
// directory dir) and the name it registers with.
type NodeBoot struct {
	Image string
	Node  func(i int, dir string) (vm.Config, string, error)
}

// NodeSystem prepares a node system once the lab's control plane,
// registry and join token (env) are up.
type NodeSystem func(ctx context.Context, c Config, env *Env) (NodeBoot, error)

// KiOS is the built-in node system: kiOS nodes installed on disks, or
// booted from the EFI alone with Config.RAMOnly.
const KiOS = "kios"

var systems = map[string]NodeSystem{KiOS: kiosNodes}

// RegisterSystem makes another node system available as Config.System
// name, in this process and in the lab daemon it starts (the daemon is
// this program again: register before Up and Daemon, e.g. in main).
func RegisterSystem(name string, s NodeSystem) {
	if name == "" || s == nil {
		panic("lab: RegisterSystem needs a name and a NodeSystem")
	}
	if _, dup := systems[name]; dup {
		panic("lab: node system " + name + " registered twice")
	}
	systems[name] = s
}

func nodeImages(ctx context.Context, c Config, env *Env) (NodeBoot, error) {
	name := c.System
	if name == "" {
		name = KiOS
	}
	s, ok := systems[name]
	if !ok {
		names := make([]string, 0, len(systems))
		for n := range systems {
			names = append(names, n)
		}
		slices.Sort(names)
		return NodeBoot{}, fmt.Errorf("unknown node system %q (this program has %s)", name, strings.Join(names, ", "))
	}
	return s(ctx, c, env)
}

// kiosNodes boot one stock EFI (c.EFI, or one built without any
// configuration), from a disk each or from RAM with c.RAMOnly; each node
// is told who it is and how to join by its own NoCloud volume, as a
// fleet's machines are (docs/config.md).
func kiosNodes(_ context.Context, c Config, env *Env) (NodeBoot, error) {
	efi := c.EFI
	if efi == "" {
		efi = filepath.Join(c.Dir, "node.efi")
		if err := image.Build(image.Options{Parts: c.Parts, Output: efi}); err != nil {
			return NodeBoot{}, err
		}
	}
	cni := filepath.Join(c.Parts, "extra", "cni-installer.tar")
	// A RAM-only node pulls the CNI installer through its mirror.
	if err := Load(c.Dir, cni, io.Discard); err != nil {
		return NodeBoot{}, fmt.Errorf("the CNI installer into the lab registry: %w", err)
	}
	return NodeBoot{Image: efi, Node: func(i int, dir string) (vm.Config, string, error) {
		name := fmt.Sprintf("kios-%08x", i)
		seed, err := nodeSeed(env, dir, name)
		if err != nil {
			return vm.Config{}, "", fmt.Errorf("node %d: %w", i, err)
		}
		if c.RAMOnly {
			return vm.Config{EFI: efi, Disks: []string{seed}, Extra: []string{"-uuid", nodeUUID(i)}}, name, nil
		}
		d := filepath.Join(dir, "disk.img")
		if err := disk.Write(disk.Options{EFI: efi, Size: NodeDiskSize, Output: d, Images: []string{cni}}); err != nil {
			return vm.Config{}, "", fmt.Errorf("node %d's disk: %w", i, err)
		}
		return vm.Config{Disk: d, Disks: []string{seed}, Extra: []string{"-uuid", nodeUUID(i)}}, name, nil
	}}, nil
}

// nodeSeed writes node name's NoCloud volume in dir.
func nodeSeed(env *Env, dir, name string) (string, error) {
	doc, err := yaml.Marshal(env.NodeConfig(name))
	if err != nil {
		return "", err
	}
	seed := filepath.Join(dir, "seed.img")
	return seed, SeedVolume(seed, doc, "lab-"+name, name)
}

// nodeUUID gives node i its firmware UUID, hence its machine-id and
// its name (kios-0000000N).
func nodeUUID(i int) string { return fmt.Sprintf("%08x-6b1e-4a1c-9f00-%012x", i, i) }

// NodeDiskSize is each disk node's disk (a sparse file).
const NodeDiskSize = 4 << 30
