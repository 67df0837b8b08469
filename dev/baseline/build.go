// Package baseline builds the conventional node `make bench` compares
// kiOS with: a Debian root made by debootstrap (components/build.sh
// baseline) with systemd as init and Debian's kernel and initramfs, plus
// the very kubelet, containerd and runc binaries, containerd and kubelet
// configuration of kiOS, installed as a kubeadm node has them. It boots
// as a UKI (same stub, same kernel command line as kiOS) from the same
// virtual ESP, with its root on an ext4 disk.
package baseline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/shared/atomicfile"
	"kios.dev/kios/internal/shared/uki"
)

// DefaultDiskMiB is the baseline root disk's size; the benchmark gives
// kiOS's own disk the same.
const DefaultDiskMiB = 4096

// Options says what to build from.
type Options struct {
	Root  string // the debootstrap root (build/cache/baseline/root)
	Parts string // kiOS's parts: bin/{kubelet,containerd,containerd-shim-runc-v2,runc}, stub.efi
	Cache string // where built nodes are kept by the hash of their inputs
	// Files are more files for the root (path in the image -> content),
	// e.g. the registry mirror configuration of a lab.
	Files map[string][]byte
	// DiskMiB is the root disk's size (default DefaultDiskMiB).
	DiskMiB int
}

// Node is a built baseline node.
type Node struct {
	EFI  string // UKI: systemd-stub, Debian's vmlinuz and initrd, command line
	Root string // raw ext4 image of the root file system
	// ImageBytes is what the node occupies: the UKI plus the root file
	// system's allocated blocks.
	ImageBytes int64
}

// RootUUID is the root file system's UUID, fixed so the command line
// (root=UUID=) is known before the file system is made.
const RootUUID = "6b1e4a1c-0b5e-4c1a-9e00-000000000001"

// Hostname is the baseline node's name.
const Hostname = "baseline"

// Build makes the node, or returns the one already built from the same
// inputs.
func Build(o Options) (Node, error) {
	if o.DiskMiB == 0 {
		o.DiskMiB = DefaultDiskMiB
	}
	if _, err := os.Stat(filepath.Join(o.Root, "sbin", "init")); err != nil {
		return Node{}, fmt.Errorf("baseline root %s (components/build.sh baseline makes it): %w", o.Root, err)
	}
	files, err := o.files()
	if err != nil {
		return Node{}, err
	}
	key, err := o.key(files)
	if err != nil {
		return Node{}, err
	}
	dir := filepath.Join(o.Cache, "baseline-node-"+key)
	n := Node{EFI: filepath.Join(dir, "baseline.efi"), Root: filepath.Join(dir, "root.img")}
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		if err := o.build(dir, files, n); err != nil {
			return Node{}, err
		}
	}
	efi, err := os.Stat(n.EFI)
	if err != nil {
		return Node{}, err
	}
	n.ImageBytes = efi.Size() + allocated(n.Root)
	return n, nil
}

// files are what the baseline adds to the Debian root.
func (o Options) files() (map[string]file, error) {
	kubeletConfig, err := image.Default("etc/kubernetes/config.yaml")
	if err != nil {
		return nil, err
	}
	containerdConfig, err := image.Default("etc/containerd/config.toml")
	if err != nil {
		return nil, err
	}
	// A systemd host runs the kubelet and runc with the systemd cgroup
	// driver, as kubeadm sets it up; everything else is kiOS's file.
	kubeletConfig, err = replaceOnce(kubeletConfig, "cgroupDriver: cgroupfs", "cgroupDriver: systemd")
	if err != nil {
		return nil, fmt.Errorf("kubelet configuration: %w", err)
	}
	// kiOS's tuned defaults are kiOS's: the baseline keeps the kubelet's
	// stock values, as a kubeadm node has them.
	if kubeletConfig, err = cutBlock(kubeletConfig, "# kios-tuned-begin\n", "# kios-tuned-end\n"); err != nil {
		return nil, fmt.Errorf("kubelet configuration: %w", err)
	}
	containerdConfig, err = replaceOnce(containerdConfig, `BinaryName = "/bin/runc"`, `BinaryName = "/usr/bin/runc"`)
	if err != nil {
		return nil, fmt.Errorf("containerd configuration: %w", err)
	}
	containerdConfig, err = replaceOnce(containerdConfig, "SystemdCgroup = false", "SystemdCgroup = true")
	if err != nil {
		return nil, fmt.Errorf("containerd configuration: %w", err)
	}
	fs := map[string]file{
		"etc/containerd/config.toml":                           {data: containerdConfig, mode: 0o644},
		"var/lib/kubelet/config.yaml":                          {data: kubeletConfig, mode: 0o644},
		"etc/kubernetes/manifests/.keep":                       {mode: 0o644},
		"etc/systemd/system/containerd.service":                {data: []byte(containerdUnit), mode: 0o644},
		"etc/systemd/system/kubelet.service":                   {data: []byte(kubeletUnit), mode: 0o644},
		"etc/systemd/system/kubelet.service.d/10-kubeadm.conf": {data: []byte(kubeadmDropin), mode: 0o644},
		"etc/systemd/network/20-wired.network":                 {data: []byte(networkdConfig), mode: 0o644},
		"etc/sysctl.d/90-kubernetes.conf":                      {data: []byte(sysctlConfig), mode: 0o644},
		"etc/modules-load.d/kubernetes.conf":                   {data: []byte(modulesConfig), mode: 0o644},
		"etc/hostname":                                         {data: []byte(Hostname + "\n"), mode: 0o644},
		"etc/hosts":                                            {data: []byte("127.0.0.1 localhost\n127.0.1.1 " + Hostname + "\n"), mode: 0o644},
		// A node that has booted before: a fixed machine-id, so systemd
		// does not run its first-boot setup on every benchmark boot.
		"etc/machine-id":  {data: []byte("6b1e4a1c0b5e4c1a9e00000000000001\n"), mode: 0o444},
		"etc/resolv.conf": {data: []byte("nameserver 10.88.0.1\n"), mode: 0o644},
		"etc/fstab":       {data: []byte("UUID=" + RootUUID + " / ext4 rw,errors=remount-ro 0 1\n"), mode: 0o644},
	}
	for _, b := range []string{"kubelet", "containerd", "containerd-shim-runc-v2", "runc"} {
		src := filepath.Join(o.Parts, "bin", b)
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("baseline needs kiOS's %s: %w", b, err)
		}
		fs["usr/bin/"+b] = file{data: data, mode: 0o755}
	}
	for p, data := range o.Files {
		fs[strings.TrimPrefix(p, "/")] = file{data: data, mode: 0o644}
	}
	return fs, nil
}

type file struct {
	data []byte
	mode os.FileMode
}

// cutBlock removes the one block from begin to end, both included.
func cutBlock(b []byte, begin, end string) ([]byte, error) {
	s := string(b)
	i := strings.Index(s, begin)
	j := strings.Index(s, end)
	if i < 0 || j < i || strings.Count(s, begin) != 1 {
		return nil, fmt.Errorf("want exactly one block %q ... %q", strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	return []byte(s[:i] + s[j+len(end):]), nil
}

func replaceOnce(b []byte, old, new string) ([]byte, error) {
	if n := bytes.Count(b, []byte(old)); n != 1 {
		return nil, fmt.Errorf("expected %q once, found it %d times", old, n)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1), nil
}

// key hashes every input: the root's build stamp, the added files, the
// stub, the command line and the disk size.
func (o Options) key(files map[string]file) (string, error) {
	h := sha256.New()
	root, err := filepath.EvalSymlinks(o.Root)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "root %s\ncmdline %s\ndisk %d\n", root, cmdline(), o.DiskMiB)
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		f := files[p]
		fmt.Fprintf(h, "%s %o %d\n", p, f.mode, len(f.data))
		h.Write(f.data)
	}
	stub, err := os.ReadFile(filepath.Join(o.Parts, "stub.efi"))
	if err != nil {
		return "", fmt.Errorf("read EFI stub: %w", err)
	}
	h.Write(stub)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// cmdline is kiOS's command line plus the root file system.
func cmdline() string {
	return image.DefaultCmdline + " root=UUID=" + RootUUID + " rw"
}

func (o Options) build(dir string, files map[string]file, n Node) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	stage := filepath.Join(dir, "stage")
	defer os.RemoveAll(stage)
	if out, err := exec.Command("cp", "-a", o.Root, stage).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the baseline root: %v: %s", err, out)
	}
	for p, f := range files {
		dst := filepath.Join(stage, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		os.Remove(dst) // e.g. /etc/resolv.conf may be a symlink
		if err := os.WriteFile(dst, f.data, f.mode); err != nil {
			return fmt.Errorf("baseline file %s: %w", p, err)
		}
		if err := os.Chmod(dst, f.mode); err != nil {
			return err
		}
	}
	enable := exec.Command("systemctl", "--root="+stage, "enable", "containerd.service", "kubelet.service",
		"systemd-networkd.service", "systemd-networkd-wait-online.service")
	if out, err := enable.CombinedOutput(); err != nil {
		return fmt.Errorf("enable the baseline's services: %v: %s", err, out)
	}
	if err := writeUKI(stage, filepath.Join(o.Parts, "stub.efi"), n.EFI); err != nil {
		return err
	}
	f, err := os.Create(n.Root)
	if err != nil {
		return err
	}
	err = f.Truncate(int64(o.DiskMiB) << 20)
	f.Close()
	if err != nil {
		return err
	}
	mkfs := exec.Command("mkfs.ext4", "-q", "-F", "-L", "root", "-U", RootUUID, "-d", stage, n.Root)
	mkfs.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1700000000")
	if out, err := mkfs.CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4 the baseline root: %v: %s", err, out)
	}
	return os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644)
}

// writeUKI joins systemd-stub with Debian's kernel and the initramfs
// that the kernel package's postinst made in the root.
func writeUKI(root, stubPath, out string) error {
	kernels, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(kernels) != 1 {
		return fmt.Errorf("baseline root: want one /boot/vmlinuz-*, found %d", len(kernels))
	}
	release := strings.TrimPrefix(filepath.Base(kernels[0]), "vmlinuz-")
	vmlinuz, err := os.ReadFile(kernels[0])
	if err != nil {
		return err
	}
	initrd, err := os.ReadFile(filepath.Join(root, "boot", "initrd.img-"+release))
	if err != nil {
		return fmt.Errorf("baseline initramfs: %w", err)
	}
	stub, err := os.ReadFile(stubPath)
	if err != nil {
		return err
	}
	osrel, err := os.ReadFile(filepath.Join(root, "usr", "lib", "os-release"))
	if err != nil {
		return err
	}
	efi, err := uki.Build(stub, []uki.Section{
		{Name: ".osrel", Data: osrel},
		{Name: ".cmdline", Data: []byte(cmdline())},
		{Name: ".uname", Data: []byte(release)},
		{Name: ".initrd", Data: initrd},
		{Name: ".linux", Data: vmlinuz},
	})
	if err != nil {
		return fmt.Errorf("assemble the baseline UKI: %w", err)
	}
	return atomicfile.Write(out, efi, 0o644)
}

// allocated is the bytes a sparse file really occupies.
func allocated(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Blocks * 512
	}
	return st.Size()
}

// Session writes a copy of the node's root disk to dst with the files
// of one cluster (path in the image -> content, mode 0600), e.g. the
// bootstrap kubeconfig and CA of a lab: a kubeadm join done ahead.
func (n Node) Session(dst string, files map[string][]byte) error {
	if out, err := exec.Command("cp", "--sparse=always", n.Root, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the baseline root disk: %v: %s", err, out)
	}
	tmp, err := os.MkdirTemp("", "kios-baseline-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var script strings.Builder
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	for i, p := range names {
		p = "/" + strings.TrimPrefix(p, "/")
		src := filepath.Join(tmp, fmt.Sprint(i))
		if err := os.WriteFile(src, files[names[i]], 0o600); err != nil {
			return err
		}
		dirs := parents(p)
		for _, d := range dirs {
			fmt.Fprintf(&script, "mkdir %s\n", d)
		}
		fmt.Fprintf(&script, "rm %s\nwrite %s %s\nsif %s mode 0100600\n", p, src, p, p)
	}
	cmd := exec.Command("debugfs", "-w", "-f", "-", dst)
	cmd.Stdin = strings.NewReader(script.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err != nil {
		return fmt.Errorf("debugfs on the baseline disk: %v: %s%s", err, out, stderr.Bytes())
	}
	// debugfs reports a failed command only on stderr and exits 0. A
	// directory that exists and a file not there to remove are expected.
	for _, l := range strings.Split(stderr.String(), "\n") {
		switch {
		case l == "", strings.HasPrefix(l, "debugfs "), strings.Contains(l, "directory already exists"),
			strings.Contains(l, "File not found by ext2_lookup"):
		default:
			return fmt.Errorf("debugfs on the baseline disk: %s", l)
		}
	}
	return nil
}

func parents(p string) []string {
	var out []string
	for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}
