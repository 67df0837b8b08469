package disk

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"kios.dev/kios/internal/gpt"
	"kios.dev/kios/internal/ociimage"
)

func TestWriteDisk(t *testing.T) {
	dir := t.TempDir()
	efi := filepath.Join(dir, "kios.efi")
	os.WriteFile(efi, bytes.Repeat([]byte("EFI!"), 1<<18), 0o644)
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
	if err := Write(Options{EFI: efi, Config: cfg, Images: []string{archive}, Size: 1 << 30, Output: out}); err != nil {
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
	esp, ok2 := tab.Find(gpt.ESPType)
	if !ok || !ok2 {
		t.Fatalf("partitions: %+v", tab.Partitions)
	}
	// The ESP: the EFI at \EFI\BOOT\BOOTX64.EFI, read with mtools.
	got := filepath.Join(dir, "back.efi")
	img := out + "@@" + itoa(int64(esp.FirstLBA)*512)
	if o, err := exec.Command("mcopy", "-i", img, "::EFI/BOOT/BOOTX64.EFI", got).CombinedOutput(); err != nil {
		t.Fatalf("mcopy: %v %s", err, o)
	}
	want, _ := os.ReadFile(efi)
	if b, _ := os.ReadFile(got); !bytes.Equal(b, want) {
		t.Error("EFI read back from the ESP differs")
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
	os.WriteFile(efi, []byte("efi"), 0o644)
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
	for name, o := range map[string]Options{
		"bad hostname in config": {EFI: efi, Size: 1 << 30, Config: badHost},
		"bad manifest in config": {EFI: efi, Size: 1 << 30, Config: badPod},
		"not an image":           {EFI: efi, Size: 1 << 30, Images: []string{notArchive}},
		"contents do not fit":    {EFI: efi, Size: 400 << 20, Config: big},
		"too small":              {EFI: efi, Size: 200 << 20},
		"missing EFI":            {EFI: filepath.Join(dir, "none.efi"), Size: 1 << 30},
		"bad format":             {EFI: efi, Size: 1 << 30, Format: "vmdk"},
		"missing config":         {EFI: efi, Size: 1 << 30, Config: filepath.Join(dir, "nope")},
	} {
		o.Output = filepath.Join(dir, "out.img")
		if err := Write(o); err == nil {
			t.Errorf("%s: accepted", name)
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
