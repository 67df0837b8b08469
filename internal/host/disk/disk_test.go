package disk

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"kios.dev/kios/internal/host/ociimage"
	"kios.dev/kios/internal/shared/gpt"
	"kios.dev/kios/internal/shared/join"
	"kios.dev/kios/internal/shared/nodeconfig"
	"kios.dev/kios/internal/shared/testenv"
	"kios.dev/kios/internal/shared/uki/ukitest"
	"kios.dev/kios/internal/shared/upgrade/esp"
)

// testEFI writes a kiOS-shaped UKI of version, carrying loader unless
// it is nil.
func testEFI(t *testing.T, path, version string, loader []byte) {
	t.Helper()
	if err := os.WriteFile(path, ukitest.Kios(t, version, loader), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWriteDisk(t *testing.T) {
	testenv.NeedRoot(t) // losetup, to read the data partition back
	dir := t.TempDir()
	efi := filepath.Join(dir, "kios.efi")
	testEFI(t, efi, "v1", []byte("systemd-boot"))
	cfg := filepath.Join(dir, "config")
	os.MkdirAll(filepath.Join(cfg, "kubernetes"), 0o755)
	os.WriteFile(filepath.Join(cfg, "hostname"), []byte("disk-node\n"), 0o644)
	archive := filepath.Join(dir, "app.tar")
	appImg, tag, err := ociimage.FromBinary(efi, "localhost/test/app:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ociimage.WriteArchive(archive, tag, appImg); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "disk.img")
	jp := &join.Params{API: "10.88.0.1:6443", Token: "abcdef.0123456789abcdef", CAHash: "sha256:" + strings.Repeat("ab", 32)}
	if err := Write(Options{EFI: efi, Config: cfg, Images: []string{archive}, Size: 1 << 30, Output: out, Join: jp}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := gpt.Read(f, 1<<30, 512)
	if err != nil {
		t.Fatal(err)
	}
	data, ok := tab.Find(gpt.DataPartitionType)
	espPart, ok2 := tab.Find(gpt.ESPType)
	if !ok || !ok2 {
		t.Fatalf("partitions: %+v", tab.Partitions)
	}
	// The ESP, read with mtools: the loader where firmware looks, its
	// configuration, and the EFI as the one (good) boot entry.
	img := out + "@@" + itoa(int64(espPart.FirstLBA)*512)
	want, _ := os.ReadFile(efi)
	for path, data := range map[string][]byte{
		esp.LoaderFile:                  []byte("systemd-boot"),
		esp.LoaderConfFile:              esp.LoaderConf,
		esp.EntriesDir + "/kios-v1.efi": want,
	} {
		got := filepath.Join(dir, "back")
		if o, err := exec.Command("mcopy", "-o", "-i", img, "::"+path, got).CombinedOutput(); err != nil {
			t.Fatalf("mcopy %s: %v %s", path, err, o)
		}
		if b, _ := os.ReadFile(got); !bytes.Equal(b, data) {
			t.Errorf("%s read back from the ESP differs", path)
		}
	}
	if size := int64(espPart.LastLBA-espPart.FirstLBA+1) * 512; size != 256<<20 {
		t.Errorf("ESP is %d MiB, want 256 (the minimum; the test EFI is small)", size>>20)
	}
	// The data partition: a clean ext4 with the layout and the config.
	o, err := exec.Command("losetup", "--find", "--show", "--read-only", "--offset", itoa(int64(data.FirstLBA)*512),
		"--sizelimit", itoa(int64(data.LastLBA-data.FirstLBA+1)*512), out).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	loop := strings.TrimSpace(string(o))
	defer exec.Command("losetup", "-d", loop).Run()
	if o, err := exec.Command("e2fsck", "-n", "-f", loop).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck: %v\n%s", err, o)
	}
	o, _ = exec.Command("debugfs", "-R", "cat /meta/etc/hostname", loop).Output()
	if string(o) != "disk-node\n" {
		t.Errorf("/meta/etc/hostname = %q", o)
	}
	o, _ = exec.Command("debugfs", "-R", "cat /data/images/index.json", loop).Output()
	if !strings.Contains(string(o), `"00-app.tar"`) || !strings.Contains(string(o), "localhost/test/app:v1") {
		t.Errorf("/data/images/index.json = %s", o)
	}
	// The join lives on the data partition, not in the EFI.
	o, _ = exec.Command("debugfs", "-R", "cat /meta/etc/kubernetes/manifests/join.yaml", loop).Output()
	if !strings.Contains(string(o), "--api=10.88.0.1:6443") || !strings.Contains(string(o), "--token=abcdef.0123456789abcdef") {
		t.Errorf("/meta/etc/kubernetes/manifests/join.yaml = %s", o)
	}
	o, _ = exec.Command("debugfs", "-R", "stat /meta/etc/kubernetes/manifests/join.yaml", loop).Output()
	if !strings.Contains(string(o), "Mode:  0600") {
		t.Errorf("the join manifest holds the token and should be 0600:\n%s", o)
	}
	o, _ = exec.Command("debugfs", "-R", "ls -l /", loop).CombinedOutput()
	for _, d := range []string{"meta", "data", "modules"} {
		if !strings.Contains(string(o), d) {
			t.Errorf("data partition lacks /%s:\n%s", d, o)
		}
	}
}

func TestWriteRejects(t *testing.T) {
	dir := t.TempDir()
	efi := filepath.Join(dir, "kios.efi")
	testEFI(t, efi, "v1", []byte("systemd-boot"))
	noLoader := filepath.Join(dir, "old.efi")
	testEFI(t, noLoader, "v1", nil)
	notEFI := filepath.Join(dir, "not.efi")
	os.WriteFile(notEFI, []byte("efi"), 0o644)
	notArchive := filepath.Join(dir, "not.tar")
	os.WriteFile(notArchive, []byte("not a tar"), 0o644)
	big := filepath.Join(dir, "big")
	os.MkdirAll(big, 0o755)
	os.WriteFile(filepath.Join(big, "blob"), bytes.Repeat([]byte{1}, 300<<20), 0o644) // not zeros: mkfs would leave holes
	// kios disk reads --config as kios build does (image.WalkConfig).
	badHost := filepath.Join(dir, "badhost")
	os.MkdirAll(badHost, 0o755)
	os.WriteFile(filepath.Join(badHost, "hostname"), []byte("not_a_host\n"), 0o644)
	badPod := filepath.Join(dir, "badpod")
	os.MkdirAll(filepath.Join(badPod, "kubernetes", "manifests"), 0o755)
	os.WriteFile(filepath.Join(badPod, "kubernetes", "manifests", "x.yaml"), []byte("kind: Pod\nspec: [\n"), 0o644)
	for name, tt := range map[string]struct {
		o    Options
		want string
	}{
		"bad hostname in config": {Options{EFI: efi, Size: 1 << 30, Config: badHost}, "hostname"},
		"bad manifest in config": {Options{EFI: efi, Size: 1 << 30, Config: badPod}, "x.yaml"},
		"not an image":           {Options{EFI: efi, Size: 1 << 30, Images: []string{notArchive}}, "not.tar"},
		"contents do not fit":    {Options{EFI: efi, Size: 600 << 20, Config: big}, "contents"},
		"too small":              {Options{EFI: efi, Size: 200 << 20}, "too small"},
		"missing EFI":            {Options{EFI: filepath.Join(dir, "none.efi"), Size: 1 << 30}, "none.efi"},
		"not an EFI":             {Options{EFI: notEFI, Size: 1 << 30}, "not an EFI program"},
		"EFI without a loader":   {Options{EFI: noLoader, Size: 1 << 30}, "no boot loader"},
		"bad format":             {Options{EFI: efi, Size: 1 << 30, Format: "vmdk"}, "vmdk"},
		"missing config":         {Options{EFI: efi, Size: 1 << 30, Config: filepath.Join(dir, "nope")}, "nope"},
		"bad join token":         {Options{EFI: efi, Size: 1 << 30, Join: &join.Params{API: "x:6443", Token: "secret", CAHash: "sha256:00"}}, "token"},
	} {
		o := tt.o
		o.Output = filepath.Join(dir, "out.img")
		if err := Write(o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one saying %q", name, err, tt.want)
		}
		if _, err := os.Stat(o.Output); err == nil {
			t.Errorf("%s: left a file at the output path", name)
		}
	}
	if _, err := ParseSize("8G"); err != nil {
		t.Error(err)
	}
	if n, _ := ParseSize("512M"); n != 512<<20 {
		t.Errorf("512M = %d", n)
	}
	if _, err := ParseSize("lots"); err == nil {
		t.Error("bad size accepted")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// kios disk --config FILE stores the document where PID 1 reads the
// data partition's configuration, 0600 in a 0700 directory.
func TestLayoutNodeConfigFile(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "node.yaml")
	os.WriteFile(doc, []byte("apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\nhostname: n1\n"), 0o644)
	stage := t.TempDir()
	if err := layout(stage, doc); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(stage, "root", nodeconfig.StoreFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var s nodeconfig.Stored
	if err := json.Unmarshal(b, &s); err != nil || s.Source != nodeconfig.SourceData || !strings.Contains(s.Document, "hostname: n1") {
		t.Errorf("stored %+v, %v", s, err)
	}
	for path, want := range map[string]os.FileMode{p: 0o600, filepath.Dir(p): 0o700} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: %v, want mode %v", path, err, want)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("kind: Nope\n"), 0o644)
	if err := layout(t.TempDir(), bad); err == nil || !strings.Contains(err.Error(), bad+": document 1") {
		t.Errorf("bad document: %v", err)
	}
}
