package image

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"

	"kios.dev/kios/internal/host/cpio"
	"kios.dev/kios/internal/host/ociimage"
	"kios.dev/kios/internal/shared/atomicfile"
	"kios.dev/kios/internal/shared/cmdline"
	"kios.dev/kios/internal/shared/join"
	"kios.dev/kios/internal/shared/osrelease"
	"kios.dev/kios/internal/shared/primed"
	"kios.dev/kios/internal/shared/uki"
)

//go:embed rootfs modules-hardware
var defaults embed.FS

// Binaries are the only programs of the node, all in /bin.
var Binaries = []string{"init", "containerd", "containerd-shim-runc-v2", "runc", "kubelet"}

// DefaultCmdline is the kernel command line every image starts with.
const DefaultCmdline = "console=tty0 console=ttyS0,115200n8 loglevel=6 printk.devkmsg=on panic=10 transparent_hugepage=madvise"

// Options says what to build.
type Options struct {
	Parts   string   // directory with bin/, kernel/, stub.efi, loader.efi, images/
	Config  string   // a directory laid over /etc, or a node configuration document (docs/config.md); optional
	Images  []string // extra image archives to prime
	Cmdline string   // appended to DefaultCmdline
	Output  string   // the EFI file
	Version string   // stamped into os-release; osrelease.DefaultVersion when empty
	Report  io.Writer
	// Join, when set, adds the join pod with these kubeadm join values.
	Join *join.Params
	// ConfigSources are the configuration sources the image trusts
	// (nodeconfig.ParseSources; empty: all). ConfigCA is a PEM file of
	// the CAs an https kios.config= URL must chain to.
	ConfigSources, ConfigCA string
	// SignKey and SignCert, when set, sign the EFI for Secure Boot.
	SignKey, SignCert string
}

// Build writes the EFI. Nothing is left at Output when it fails.
func Build(o Options) error {
	if o.Report == nil {
		o.Report = io.Discard
	}
	// PID 1 would log and ignore these words at every boot.
	if k, problems := cmdline.Parse(o.Cmdline); len(problems) > 0 {
		return fmt.Errorf("--cmdline: %w", errors.Join(problems...))
	} else if k.RootHash != nil {
		return errors.New("--cmdline: kios.root-hash is the image's own (kios build computes it from the root image); leave it out")
	}
	if o.Version == "" {
		o.Version = osrelease.DefaultVersion
	}
	if err := osrelease.CheckVersion(o.Version); err != nil {
		return fmt.Errorf("--version: %w", err)
	}
	work, err := os.MkdirTemp(filepath.Dir(o.Output), ".kios-build-")
	if err != nil {
		return fmt.Errorf("create work directory next to %s: %w", o.Output, err)
	}
	defer os.RemoveAll(work)

	kernel, release, err := findKernel(filepath.Join(o.Parts, "kernel"))
	if err != nil {
		return err
	}
	modDir := filepath.Join(o.Parts, "kernel", "lib", "modules", release)
	km, err := openKernelModules(modDir)
	if err != nil {
		return err
	}
	t, sizes, err := rootTree(o, km, release)
	if err != nil {
		return err
	}
	stage := filepath.Join(work, "root")
	if err := t.Stage(stage); err != nil {
		return fmt.Errorf("stage root tree: %w", err)
	}
	sqfs := filepath.Join(work, "root.squashfs")
	if err := squash(stage, sqfs); err != nil {
		return err
	}
	rootHash, err := appendHashTree(sqfs)
	if err != nil {
		return err
	}
	initrd, err := initramfs(o.Parts, sqfs, km, release)
	if err != nil {
		return err
	}
	vmlinuz, err := os.ReadFile(kernel)
	if err != nil {
		return fmt.Errorf("read kernel: %w", err)
	}
	stub, err := os.ReadFile(filepath.Join(o.Parts, "stub.efi"))
	if err != nil {
		return fmt.Errorf("read EFI stub: %w", err)
	}
	osrel := osrelease.Render(o.Version)
	// systemd-boot rides in the image: kios disk and upgrades take the
	// loader from it, signed with the same key.
	loader, err := os.ReadFile(filepath.Join(o.Parts, "loader.efi"))
	if err != nil {
		return fmt.Errorf("read the boot loader (systemd-boot): %w", err)
	}
	var signer crypto.Signer
	var cert *x509.Certificate
	if o.SignKey != "" || o.SignCert != "" {
		if o.SignKey == "" || o.SignCert == "" {
			return errors.New("signing needs both --sign-key and --sign-cert")
		}
		if signer, cert, err = uki.LoadSigner(o.SignKey, o.SignCert); err != nil {
			return err
		}
		if loader, err = uki.Sign(loader, signer, cert); err != nil {
			return fmt.Errorf("sign the boot loader: %w", err)
		}
	}
	// The root hash rides on the signed command line: PID 1 serves the
	// image from a disk copy only through dm-verity against it.
	kernelArgs := strings.TrimSpace(DefaultCmdline + " " + o.Cmdline + " kios.root-hash=" + hex.EncodeToString(rootHash))
	stubSbat, _ := uki.SectionData(stub, ".sbat")
	sbat := append(bytes.TrimRight(append([]byte(nil), stubSbat...), "\x00"), []byte(sbatLine(o.Version))...)
	efi, err := uki.Build(stub, []uki.Section{
		{Name: ".osrel", Data: osrel},
		{Name: ".cmdline", Data: []byte(kernelArgs)},
		{Name: ".uname", Data: []byte(release)},
		{Name: ".sbat", Data: sbat},
		{Name: uki.LoaderSection, Data: loader},
		{Name: ".initrd", Data: initrd},
		{Name: ".linux", Data: vmlinuz},
	})
	if err != nil {
		return fmt.Errorf("assemble UKI: %w", err)
	}
	if signer != nil {
		if efi, err = uki.Sign(efi, signer, cert); err != nil {
			return fmt.Errorf("sign the EFI: %w", err)
		}
	}
	if err := atomicfile.Write(o.Output, efi, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", o.Output, err)
	}
	sq, _ := os.Stat(sqfs)
	sizes = append(sizes,
		sizeLine{"root tree (uncompressed)", t.Size("")},
		sizeLine{"kernel (vmlinuz)", int64(len(vmlinuz))},
		sizeLine{"root image (squashfs, zstd)", sq.Size()},
		sizeLine{"initramfs (total)", int64(len(initrd))},
		sizeLine{"EFI total", int64(len(efi))})
	fmt.Fprintf(o.Report, "kios build: wrote %s (version %s)\n", o.Output, o.Version)
	for _, s := range sizes {
		fmt.Fprintf(o.Report, "  %-34s %8.1f MiB\n", s.what, float64(s.bytes)/(1<<20))
	}
	return nil
}

// sbatLine is kiOS's SBAT entry: generation 1 until a kiOS image is
// ever revoked for a Secure Boot bypass.
func sbatLine(version string) string {
	return "kios,1,kiOS,kios," + version + ",https://kios.dev/\n"
}

type sizeLine struct {
	what  string
	bytes int64
}

func findKernel(dir string) (path, release string, err error) {
	m, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if len(m) != 1 {
		return "", "", fmt.Errorf("want one kernel at %s/boot/vmlinuz-*, found %d", dir, len(m))
	}
	return m[0], strings.TrimPrefix(filepath.Base(m[0]), "vmlinuz-"), nil
}

// rootTree assembles the node's root filesystem.
func rootTree(o Options, km *kernelModules, release string) (*Tree, []sizeLine, error) {
	t := NewTree()
	var sizes []sizeLine
	for _, d := range []struct {
		p    string
		perm fs.FileMode
	}{
		{"bin", 0o755}, {"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"run", 0o755},
		{"tmp", fs.ModeSticky | 0o777}, {"etc", 0o755}, {"var/cache", 0o755}, {"var/tmp", fs.ModeSticky | 0o777},
		{"var/log", 0o755}, {"var/lib/kubelet", 0o700}, {"var/lib/containerd", 0o700},
		{"var/lib/cni", 0o700}, {"opt/cni/bin", 0o755}, {"lib/kios/images", 0o700},
	} {
		if err := t.Dir(d.p, d.perm); err != nil {
			return nil, nil, err
		}
	}
	if err := t.Symlink("var/run", "../run"); err != nil {
		return nil, nil, err
	}
	// The version lives on the read-only root; /etc/os-release, which
	// the kubelet reports, points at it.
	if err := t.File(osrelease.Path, 0o644, osrelease.Render(o.Version)); err != nil {
		return nil, nil, err
	}
	if err := t.Symlink("etc/os-release", "../"+osrelease.Path); err != nil {
		return nil, nil, err
	}
	for _, b := range Binaries {
		src := filepath.Join(o.Parts, "bin", b)
		st, err := os.Stat(src)
		if err != nil {
			return nil, nil, fmt.Errorf("binary %s: %w", b, err)
		}
		if err := t.CopyFile("bin/"+b, 0o500, src); err != nil { // root-only: only root runs programs on the host
			return nil, nil, err
		}
		sizes = append(sizes, sizeLine{"/bin/" + b, st.Size()})
	}
	for _, a := range []string{"modprobe", "mount", "umount"} {
		if err := t.Symlink("bin/"+a, "init"); err != nil {
			return nil, nil, err
		}
	}
	// /etc defaults shipped in the image.
	err := fs.WalkDir(defaults, "rootfs", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "rootfs" {
			return err
		}
		rel := strings.TrimPrefix(p, "rootfs/")
		if d.IsDir() {
			return t.Dir(rel, 0o755)
		}
		b, err := defaults.ReadFile(p)
		if err != nil {
			return err
		}
		return t.File(rel, 0o644, b)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("image defaults: %w", err)
	}
	if err := addNodeConfig(t, o); err != nil {
		return nil, nil, err
	}
	if o.Config != "" && !IsConfigFile(o.Config) {
		if err := layConfig(t, o.Config); err != nil {
			return nil, nil, err
		}
	}
	// Kernel modules: the boot list, the hardware list, their dependencies.
	boot, _ := defaults.ReadFile("rootfs/etc/kios/modules")
	if e, ok := t.Get("etc/kios/modules"); ok && e.User {
		boot = e.Data
	}
	hw, _ := defaults.ReadFile("modules-hardware")
	if _, err := addModules(t, km, release, append(moduleNames(boot), moduleNames(hw)...), initramfsModules); err != nil {
		return nil, nil, fmt.Errorf("kernel modules: %w", err)
	}
	sizes = append(sizes, sizeLine{"kernel modules", t.Size("lib/modules/")})
	// Primed images: the system pods' own, then the user's.
	system, _ := filepath.Glob(filepath.Join(o.Parts, "images", "*.tar"))
	sort.Strings(system)
	if o.Join != nil {
		if err := addJoin(t, *o.Join); err != nil {
			return nil, nil, err
		}
	}
	if err := primeImages(t, append(system, o.Images...)); err != nil {
		return nil, nil, err
	}
	sizes = append(sizes, sizeLine{"primed images", t.Size("lib/kios/images/")})
	return t, sizes, nil
}

// layConfig lays the user's directory over /etc. Only directories and
// regular files are taken, and files lose any execute bit: the image has
// no executables outside /bin.
func layConfig(t *Tree, dir string) error {
	return WalkConfig(dir, func(e ConfigEntry) error {
		if e.Dir {
			return t.put("etc/"+e.Rel, &Entry{Mode: fs.ModeDir | 0o755, User: true})
		}
		return t.put("etc/"+e.Rel, &Entry{Mode: e.Mode, Data: e.Data, User: true})
	})
}

// primeImages validates each archive and adds it with the index PID 1
// imports from.
func primeImages(t *Tree, files []string) error {
	idx, err := PrimedIndex(files)
	if err != nil {
		return err
	}
	for i, p := range idx {
		if err := t.CopyFile("lib/kios/images/"+p.File, 0o400, files[i]); err != nil {
			return err
		}
	}
	b, err := primed.Marshal(idx)
	if err != nil {
		return err
	}
	return t.File("lib/kios/images/"+primed.IndexFile, 0o400, b)
}

// PrimedIndex checks image archives (readable, each image name in one
// only) and returns the index PID 1 imports them by: entry i names
// files[i], numbered to keep the order.
func PrimedIndex(files []string) ([]primed.Entry, error) {
	var idx []primed.Entry
	seen := map[string]string{}
	for i, f := range files {
		a, err := ociimage.Inspect(f)
		if err != nil {
			return nil, err
		}
		for _, n := range a.Names {
			if prev, dup := seen[n]; dup {
				return nil, fmt.Errorf("image %s is in both %s and %s", n, prev, f)
			}
			seen[n] = f
		}
		sum, err := fileSHA256(f)
		if err != nil {
			return nil, fmt.Errorf("image archive %s: %w", f, err)
		}
		idx = append(idx, primed.Entry{File: fmt.Sprintf("%02d-%s", i, filepath.Base(f)), SHA256: sum, Names: a.Names})
	}
	return idx, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// squash makes the root image with Debian's mksquashfs, reproducibly.
func squash(dir, out string) error {
	cmd := exec.Command("mksquashfs", dir, out, "-noappend", "-quiet", "-no-progress",
		"-comp", "zstd", "-Xcompression-level", "19", "-b", "1M",
		"-all-root", "-reproducible", "-mkfs-time", "0", "-all-time", "0", "-no-xattrs")
	if o, err := cmd.CombinedOutput(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return errors.New("mksquashfs not found: install Debian's squashfs-tools (make deps)")
		}
		return fmt.Errorf("mksquashfs: %w: %s", err, o)
	}
	return nil
}

// initramfs is two concatenated cpio archives: the root image, stored
// uncompressed (it is compressed already), then a zstd archive with the
// init binary and the modules needed to mount the root image.
func initramfs(parts, sqfs string, km *kernelModules, release string) ([]byte, error) {
	var out bytes.Buffer
	img, err := os.ReadFile(sqfs)
	if err != nil {
		return nil, err
	}
	w := cpio.NewWriter(&out)
	if err := w.Write(cpio.Entry{Name: "root.squashfs", Mode: cpio.TypeRegular | 0o400, Data: img}); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	for out.Len()%4 != 0 {
		out.WriteByte(0)
	}
	early := NewTree()
	if _, err := addModules(early, km, release, initramfsModules, nil); err != nil {
		return nil, fmt.Errorf("early modules: %w", err)
	}
	initBin, err := os.ReadFile(filepath.Join(parts, "initramfs-init"))
	if err != nil {
		return nil, fmt.Errorf("init binary: %w", err)
	}
	var arch bytes.Buffer
	w = cpio.NewWriter(&arch)
	entries := []cpio.Entry{
		{Name: "dev", Mode: cpio.TypeDir | 0o755},
		{Name: "dev/console", Mode: cpio.TypeChar | 0o600, DevMajor: 5, DevMinor: 1},
		{Name: "init", Mode: cpio.TypeRegular | 0o500, Data: initBin},
	}
	for _, p := range early.Paths() {
		e, _ := early.Get(p)
		if e.Mode.IsDir() {
			entries = append(entries, cpio.Entry{Name: p, Mode: cpio.TypeDir | 0o755})
			continue
		}
		data := e.Data
		if e.Src != "" {
			if data, err = os.ReadFile(e.Src); err != nil {
				return nil, err
			}
		}
		entries = append(entries, cpio.Entry{Name: p, Mode: cpio.TypeRegular | 0o444, Data: data})
	}
	for _, e := range entries {
		if err := w.Write(e); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	enc, err := zstd.NewWriter(&out, zstd.WithEncoderLevel(zstd.SpeedBestCompression),
		zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<22))
	if err != nil {
		return nil, err
	}
	if _, err := enc.Write(arch.Bytes()); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Default returns one of the files every image ships, by its path in
// the image (e.g. "etc/kubernetes/config.yaml"), so other node builds
// (the benchmark's baseline) can use the very same configuration.
func Default(path string) ([]byte, error) {
	return defaults.ReadFile("rootfs/" + path)
}
