package image

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/go-dmverity/pkg/verity"

	kcmdline "kios.dev/kios/internal/shared/cmdline"
	"kios.dev/kios/internal/shared/rootimg"

	"kios.dev/kios/internal/host/cpio"
	"kios.dev/kios/internal/host/ociimage"
	"kios.dev/kios/internal/shared/join"
	"kios.dev/kios/internal/shared/nodeconfig"
	"kios.dev/kios/internal/shared/osrelease"
	"kios.dev/kios/internal/shared/testenv"
	"kios.dev/kios/internal/shared/uki"
)

// fakeParts is a parts directory with tiny stand-ins for the programs
// and the real kernel and stub that `make components` unpacked.
func fakeParts(t *testing.T) string {
	t.Helper()
	kernel := []string{testenv.Component(t, "kernel-*/root")}
	stub := []string{testenv.Component(t, "stub-*/root/usr/lib/systemd/boot/efi/linuxx64.efi.stub")}
	dir := t.TempDir()
	for _, d := range []string{"bin", "images"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	for _, b := range Binaries {
		os.WriteFile(filepath.Join(dir, "bin", b), []byte("#binary "+b), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "initramfs-init"), []byte("#initramfs init"), 0o755)
	abs, _ := filepath.Abs(kernel[0])
	os.Symlink(abs, filepath.Join(dir, "kernel"))
	abs, _ = filepath.Abs(stub[0])
	os.Symlink(abs, filepath.Join(dir, "stub.efi"))
	os.Symlink(filepath.Join(filepath.Dir(abs), "systemd-bootx64.efi"), filepath.Join(dir, "loader.efi"))
	return dir
}

// testImage writes a valid docker-archive for name.
func testImage(t *testing.T, dir, name string) string {
	t.Helper()
	bin := filepath.Join(dir, "prog")
	os.WriteFile(bin, []byte("program"), 0o755)
	img, tag, err := ociimage.FromBinary(bin, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(name)+".tar")
	if err := ociimage.WriteArchive(out, tag, img); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBuildIsReproducibleAndComplete(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two images")
	}
	parts := fakeParts(t)
	cfg := t.TempDir()
	os.MkdirAll(filepath.Join(cfg, "kubernetes", "manifests"), 0o755)
	os.WriteFile(filepath.Join(cfg, "hostname"), []byte("node-a\n"), 0o600)
	os.WriteFile(filepath.Join(cfg, "kubernetes", "manifests", "web.yaml"), []byte(goodPod), 0o755)
	img := testImage(t, t.TempDir(), "localhost/test/web:v1")
	out := t.TempDir()
	var efis [][]byte
	for i := 0; i < 2; i++ {
		o := Options{Parts: parts, Config: cfg, Images: []string{img}, Cmdline: "kios.debug=meminfo",
			Output: filepath.Join(out, "kios.efi"), Version: "2026.12~rc1"}
		if err := Build(o); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(o.Output)
		if err != nil {
			t.Fatal(err)
		}
		efis = append(efis, b)
		os.Remove(o.Output)
	}
	if !bytes.Equal(efis[0], efis[1]) {
		t.Fatal("two builds of the same inputs differ")
	}
	names, err := uki.SectionNames(efis[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".osrel", ".cmdline", ".uname", ".linux", ".initrd", ".sbat", uki.LoaderSection} {
		if !contains(names, want) {
			t.Errorf("UKI lacks section %s (has %v)", want, names)
		}
	}
	cmdline, _ := uki.SectionData(efis[0], ".cmdline")
	k, problems := kcmdline.Parse(string(cmdline))
	if !strings.HasPrefix(string(cmdline), DefaultCmdline) || !strings.Contains(string(cmdline), " kios.debug=meminfo ") || len(problems) > 0 || k.RootHash == nil {
		t.Errorf(".cmdline = %q (%v), want the default, the given words and kios.root-hash", cmdline, problems)
	}
	osrel, _ := uki.SectionData(efis[0], ".osrel")
	if info, err := osrelease.Parse(osrel); err != nil || info != (osrelease.Info{ID: "kios", Version: "2026.12~rc1", PrettyName: "kiOS 2026.12~rc1"}) {
		t.Errorf(".osrel: %+v, %v:\n%s", info, err, osrel)
	}
	sbat, _ := uki.SectionData(efis[0], ".sbat")
	if !strings.HasPrefix(string(sbat), "sbat,1,") || !strings.Contains(string(sbat), "systemd") || !strings.HasSuffix(string(sbat), sbatLine("2026.12~rc1")) {
		t.Errorf(".sbat keeps the stub's entries and adds kiOS's: %q", sbat)
	}
	initrd, _ := uki.SectionData(efis[0], ".initrd")
	entries, err := cpio.Read(bytes.NewReader(initrd))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name != "root.squashfs" || string(entries[0].Data[:4]) != "hsqs" {
		t.Fatalf("first initramfs archive should hold the squashfs root image only")
	}
	// The image and its tree verify against the command line's hash.
	img = filepath.Join(t.TempDir(), "root")
	os.WriteFile(img, entries[0].Data, 0o600)
	size, err := rootimg.DataSize(entries[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if p := treeParams(size); verity.Verify(&p, img, img, k.RootHash) != nil || uint64(len(entries[0].Data)) != size+rootimg.TreeSize(size) {
		t.Errorf("the root image (%d bytes, squashfs %d) does not verify against kios.root-hash %x", len(entries[0].Data), size, k.RootHash)
	}
	leftovers, _ := filepath.Glob(filepath.Join(out, ".*"))
	if len(leftovers) > 0 {
		t.Errorf("build left temporary files: %v", leftovers)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	parts := fakeParts(t)
	osrelCfg := t.TempDir()
	os.WriteFile(filepath.Join(osrelCfg, "os-release"), []byte("ID=other\n"), 0o644)
	good := testImage(t, t.TempDir(), "localhost/test/ok:v1")
	corrupt := filepath.Join(t.TempDir(), "corrupt.tar")
	b, _ := os.ReadFile(good)
	os.WriteFile(corrupt, b[:len(b)/2], 0o644)
	garbage := filepath.Join(t.TempDir(), "garbage.tar")
	os.WriteFile(garbage, []byte("this is not a tar file at all"), 0o644)
	symCfg := t.TempDir()
	os.Symlink("/bin/sh", filepath.Join(symCfg, "shell"))
	unreadable := t.TempDir()
	os.WriteFile(filepath.Join(unreadable, "secret"), []byte("x"), 0o000)
	noParts := t.TempDir()
	badEnv := t.TempDir()
	os.MkdirAll(filepath.Join(badEnv, "kios", "env"), 0o755)
	os.WriteFile(filepath.Join(badEnv, "kios", "env", "kubelet"), []byte("GOGC 50\n"), 0o644)

	tests := []struct {
		name string
		o    Options
		want string // the error names this
	}{
		{"missing archive", Options{Images: []string{"/nonexistent/img.tar"}}, "/nonexistent/img.tar"},
		{"corrupt archive", Options{Images: []string{corrupt}}, corrupt},
		{"not an archive", Options{Images: []string{garbage}}, garbage},
		{"same image twice", Options{Images: []string{good, good}}, "localhost/test/ok:v1"},
		{"missing config dir", Options{Config: "/nonexistent/config"}, "/nonexistent/config"},
		{"config is a file", Options{Config: good}, good},
		{"config with a symlink", Options{Config: symCfg}, filepath.Join(symCfg, "shell")},
		{"missing parts", Options{Parts: noParts}, noParts},
		{"unknown kios key on the command line", Options{Cmdline: "quiet kios.dta=tmpfs"}, "kios.dta=tmpfs"},
		{"bad kios.data value", Options{Cmdline: "kios.data=somewhere"}, "kios.data=somewhere"},
		{"a malformed ip=", Options{Cmdline: "ip=10.0.0.5::10.9.0.1:255.255.255.0::eth0:off"}, "gateway 10.9.0.1 is not in 10.0.0.0/24"},
		{"a root hash of one's own", Options{Cmdline: "kios.root-hash=" + strings.Repeat("00", 32)}, "kios.root-hash is the image's own"},
		{"version with a plus", Options{Version: "1.0+build"}, "1.0+build"},
		{"os-release in the config", Options{Config: osrelCfg}, filepath.Join(osrelCfg, "os-release")},
		{"bad service environment", Options{Config: badEnv}, filepath.Join(badEnv, "kios", "env", "kubelet") + " (the environment PID 1 gives kubelet): line 1"},
	}
	if os.Getuid() != 0 { // root reads mode-0 files
		tests = append(tests, struct {
			name string
			o    Options
			want string
		}{"unreadable config file", Options{Config: unreadable}, "secret"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			o := tt.o
			if o.Parts == "" {
				o.Parts = parts
			}
			o.Output = filepath.Join(out, "kios.efi")
			err := Build(o)
			if err == nil {
				t.Fatal("build succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
			left, _ := os.ReadDir(out)
			if len(left) != 0 {
				t.Errorf("failed build left %v in the output directory", left)
			}
		})
	}
}

func TestTreeProtectsSystemFiles(t *testing.T) {
	tr := NewTree()
	if err := tr.CopyFile("bin/kubelet", 0o555, "/x"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"bin/kubelet", "bin/sh", "lib/modules/x.ko", "lib/kios/images/index.json"} {
		err := tr.put(p, &Entry{Mode: 0o644, Data: []byte("x"), User: true})
		if !errors.Is(err, ErrProtected) {
			t.Errorf("user file at /%s: err = %v, want ErrProtected", p, err)
		}
	}
	if err := tr.put("etc/../bin/kubelet", &Entry{Mode: 0o644, User: true}); !errors.Is(err, ErrProtected) {
		t.Errorf("path with .. reached /bin: %v", err)
	}
	if err := tr.put("etc/hostname", &Entry{Mode: 0o644, User: true}); err != nil {
		t.Errorf("user file in /etc refused: %v", err)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestJoinPod(t *testing.T) {
	parts := fakeParts(t)
	km, err := openKernelModules(filepath.Join(parts, "kernel", "lib", "modules", releaseOf(t, parts)))
	if err != nil {
		t.Fatal(err)
	}
	p := join.Params{API: "10.88.0.1:6443", Token: "abcdef.0123456789abcdef", CAHash: "sha256:" + strings.Repeat("b", 64)}
	tr, _, err := rootTree(Options{Parts: parts, Join: &p}, km, releaseOf(t, parts))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := tr.Get("etc/kubernetes/manifests/join.yaml")
	if !ok {
		t.Fatal("no join manifest")
	}
	if e.Mode.Perm() != 0o600 || !strings.Contains(string(e.Data), `"--token=abcdef.0123456789abcdef"`) || !strings.Contains(string(e.Data), "image: localhost/kios/system:v1") {
		t.Errorf("join manifest mode %v:\n%s", e.Mode, e.Data)
	}
	bad := p
	bad.Token = "not-a-token"
	out := t.TempDir()
	err = Build(Options{Parts: parts, Join: &bad, Output: filepath.Join(out, "x.efi")})
	if err == nil || !strings.Contains(err.Error(), "--join") || !strings.Contains(err.Error(), "token") {
		t.Errorf("bad token: err = %v", err)
	}
}

func releaseOf(t *testing.T, parts string) string {
	_, rel, err := findKernel(filepath.Join(parts, "kernel"))
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// kios build --config FILE bakes the document (0600: it may hold a
// token) and the trusted sources into the root image.
func TestNodeConfigFile(t *testing.T) {
	parts := fakeParts(t)
	km, err := openKernelModules(filepath.Join(parts, "kernel", "lib", "modules", releaseOf(t, parts)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	doc := filepath.Join(dir, "node.yaml")
	os.WriteFile(doc, []byte("apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\nhostname: n1\n"), 0o644)
	tr, _, err := rootTree(Options{Parts: parts, Config: doc, ConfigSources: "data,url"}, km, releaseOf(t, parts))
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := tr.Get(nodeconfig.ImageConfigFile); !ok || e.Mode.Perm() != 0o600 || !strings.Contains(string(e.Data), "hostname: n1") {
		t.Errorf("%s: present %v, entry %+v", nodeconfig.ImageConfigFile, ok, e)
	}
	if e, ok := tr.Get(nodeconfig.ImageSourcesFile); !ok || string(e.Data) != "url,data\n" {
		t.Errorf("%s: present %v, %q; want url,data", nodeconfig.ImageSourcesFile, ok, e.Data)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\nhostnme: n1\n"), 0o644)
	notCA := filepath.Join(dir, "ca.pem")
	os.WriteFile(notCA, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o644)
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Config: bad}, bad + ": document 1 (NodeConfig): hostnme: unknown field"},
		{Options{ConfigSources: "url,floppy"}, `--config-sources: config source "floppy"`},
		{Options{ConfigCA: notCA}, "--config-ca " + notCA + `: a PEM "PRIVATE KEY" block`},
	} {
		tc.o.Parts, tc.o.Output = parts, filepath.Join(t.TempDir(), "x.efi")
		if err := Build(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%+v) = %v, want %q", tc.o, err, tc.want)
		}
	}
}
