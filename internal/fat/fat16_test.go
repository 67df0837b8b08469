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
}

func TestWriteRejects(t *testing.T) {
	var buf fakeDisk
	for name, tt := range map[string]struct {
		size  int64
		files []File
	}{
		"too small":    {1 << 20, nil},
		"lower case":   {32 << 20, []File{{Path: "efi/boot.efi"}}},
		"long name":    {32 << 20, []File{{Path: "VERYLONGNAME.EFI"}}},
		"given twice":  {32 << 20, []File{{Path: "A.TXT"}, {Path: "A.TXT"}}},
		"does not fit": {32 << 20, []File{{Path: "BIG.BIN", Data: make([]byte, 40<<20)}}},
	} {
		if err := Write(&buf, tt.size, "X", tt.files); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type fakeDisk struct{}

func (fakeDisk) WriteAt(p []byte, off int64) (int, error) { return len(p), nil }
