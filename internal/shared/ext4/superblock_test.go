package ext4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadMkfs reads superblocks that Debian's mkfs.ext4 wrote.
func TestReadMkfs(t *testing.T) {
	img := filepath.Join(t.TempDir(), "fs.img")
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-b", "4096", "-L", "kios-data", img, "8192").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Read(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Superblock{Label: "kios-data", BlockSize: 4096, Blocks: 8192}, got); diff != "" {
		t.Errorf("superblock (-want +got):\n%s", diff)
	}
}

func TestReadFields(t *testing.T) {
	sb := make([]byte, 4096)
	le := binary.LittleEndian
	le.PutUint16(sb[1024+0x38:], 0xef53)
	le.PutUint32(sb[1024+0x18:], 0) // 1 KiB blocks
	le.PutUint32(sb[1024+0x04:], 7)
	le.PutUint32(sb[1024+0x60:], 0x4|0x80)
	le.PutUint32(sb[1024+0x150:], 1)
	got, err := Read(bytes.NewReader(sb), 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Superblock{BlockSize: 1024, Blocks: 1<<32 | 7, NeedsRecovery: true}, got); diff != "" {
		t.Errorf("superblock (-want +got):\n%s", diff)
	}
	if _, err := Read(bytes.NewReader(make([]byte, 4096)), 0); !errors.Is(err, ErrNotExt4) {
		t.Errorf("zeros: %v", err)
	}
	le.PutUint32(sb[1024+0x18:], 9)
	if _, err := Read(bytes.NewReader(sb), 0); err == nil {
		t.Error("absurd block size accepted")
	}
	if _, err := Read(bytes.NewReader(sb[:100]), 0); err == nil {
		t.Error("short read accepted")
	}
}
