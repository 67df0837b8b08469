package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"kios.dev/kios/internal/host/disk"
	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/host/lab/labnet"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/join"
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

// kiosNodes boot from kios disk images, or from the EFI alone with
// c.RAMOnly.
func kiosNodes(_ context.Context, c Config, env *Env) (NodeBoot, error) {
	jp := &join.Params{API: labnet.Gateway.String() + ":6443", Token: env.Token, CAHash: env.CAHash}
	if !c.RAMOnly {
		return diskNodes(c, jp)
	}
	efi, err := BuildNode(c.Dir, c.Parts, jp, nil)
	if err != nil {
		return NodeBoot{}, err
	}
	return NodeBoot{Image: efi, Node: func(i int, _ string) (vm.Config, string, error) {
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
func diskNodes(c Config, jp *join.Params) (NodeBoot, error) {
	efi := c.EFI
	if efi == "" {
		efi = filepath.Join(c.Dir, "node.efi")
		if err := image.Build(image.Options{Parts: c.Parts, Output: efi}); err != nil {
			return NodeBoot{}, err
		}
	}
	cfg := filepath.Join(c.Dir, "disk-config")
	mirror := filepath.Join(cfg, "containerd", "certs.d", "_default", "hosts.toml")
	if err := os.MkdirAll(filepath.Dir(mirror), 0o755); err != nil {
		return NodeBoot{}, err
	}
	if err := os.WriteFile(mirror, []byte(MirrorConfig), 0o644); err != nil {
		return NodeBoot{}, err
	}
	joinArchive, err := image.JoinArchive(c.Parts)
	if err != nil {
		return NodeBoot{}, err
	}
	return NodeBoot{Image: efi, Node: func(i int, dir string) (vm.Config, string, error) {
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
