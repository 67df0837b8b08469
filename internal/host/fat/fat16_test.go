package fat

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadableByDosfstools writes an ESP and checks it with fsck.fat and
// reads the files back with mtools: two independent FAT implementations.
func TestReadableByDosfstools(t *testing.T) {
	for _, tool := range []string{"fsck.fat", "mcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (make deps installs dosfstools and mtools)", tool)
		}
	}
	efi := make([]byte, 5<<20+123)
	rand.Read(efi)
	img := filepath.Join(t.TempDir(), "esp.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	f.Truncate(size)
	err = Write(f, size, "KIOS-ESP", []File{
		{Path: "EFI/BOOT/BOOTX64.EFI", Data: efi},
		{Path: "EFI/KIOS/README.TXT", Data: []byte("kiOS\n")},
		{Path: "EMPTY.TXT", Data: nil},
		// Long names: boot counting's, and two that share an alias stem.
		{Path: "EFI/Linux/kios-v1+3.efi", Data: efi[:1<<20]},
		{Path: "EFI/Linux/kios-v2-with-a-name-longer-than-thirteen-units.efi", Data: []byte("v2")},
		{Path: "loader/loader.conf", Data: []byte("timeout 0\n")},
	})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("fsck.fat", "-n", "-v", img).CombinedOutput(); err != nil {
		t.Fatalf("fsck.fat: %v\n%s", err, out)
	}
	got := filepath.Join(t.TempDir(), "out.efi")
	if out, err := exec.Command("mcopy", "-i", img, "::EFI/BOOT/BOOTX64.EFI", got).CombinedOutput(); err != nil {
		t.Fatalf("mcopy: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(got)
	if !bytes.Equal(b, efi) {
		t.Errorf("file read back differs (%d bytes, want %d)", len(b), len(efi))
	}
	out, _ := exec.Command("mdir", "-i", img, "::EFI/KIOS").CombinedOutput()
	if !strings.Contains(string(out), "README") {
		t.Errorf("mdir: %s", out)
	}
	for name, want := range map[string][]byte{
		"::EFI/Linux/kios-v1+3.efi":                                      efi[:1<<20],
		"::EFI/Linux/kios-v2-with-a-name-longer-than-thirteen-units.efi": []byte("v2"),
		"::loader/loader.conf":                                           []byte("timeout 0\n"),
	} {
		got := filepath.Join(t.TempDir(), "f")
		if out, err := exec.Command("mcopy", "-i", img, name, got).CombinedOutput(); err != nil {
			t.Errorf("mcopy %s: %v\n%s", name, err, out)
			continue
		}
		if b, _ := os.ReadFile(got); !bytes.Equal(b, want) {
			t.Errorf("%s read back: %d bytes, want %d", name, len(b), len(want))
		}
	}
	out, err = exec.Command("mdir", "-i", img, "::EFI/Linux").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kios-v1+3.efi") || !strings.Contains(string(out), "KIOS-V~1") || !strings.Contains(string(out), "KIOS-V~2") {
		t.Errorf("mdir ::EFI/Linux (want the long names and aliases KIOS-V~1, KIOS-V~2): %v\n%s", err, out)
	}
}

func TestWriteRejects(t *testing.T) {
	var buf fakeDisk
	for name, tt := range map[string]struct {
		size  int64
		files []File
	}{
		"too small":         {1 << 20, nil},
		"colon":             {32 << 20, []File{{Path: "EFI/a:b.efi"}}},
		"too long":          {32 << 20, []File{{Path: strings.Repeat("n", 256)}}},
		"control character": {32 << 20, []File{{Path: "a\tb"}}},
		"given twice":       {32 << 20, []File{{Path: "A.TXT"}, {Path: "A.TXT"}}},
		"twice, any case":   {32 << 20, []File{{Path: "kios.efi"}, {Path: "KIOS.EFI"}}},
		"does not fit":      {32 << 20, []File{{Path: "BIG.BIN", Data: make([]byte, 40<<20)}}},
	} {
		if err := Write(&buf, tt.size, "X", tt.files); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type fakeDisk struct{}

func (fakeDisk) WriteAt(p []byte, off int64) (int, error) { return len(p), nil }
