package gpt

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mem is an in-memory disk.
type mem struct{ b []byte }

func (m *mem) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(m.b)) {
		return 0, errors.New("EOF")
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, errors.New("short read")
	}
	return n, nil
}
func (m *mem) WriteAt(p []byte, off int64) (int, error) { return copy(m.b[off:], p), nil }

func TestGUIDRoundTrip(t *testing.T) {
	b, err := GUIDBytes(DataPartitionType)
	if err != nil {
		t.Fatal(err)
	}
	if got := GUIDString(b); got != DataPartitionType {
		t.Errorf("got %s", got)
	}
	if _, err := GUIDBytes("not-a-guid"); err == nil {
		t.Error("bad GUID accepted")
	}
}

func TestWriteRead(t *testing.T) {
	d := &mem{b: make([]byte, 64<<20)}
	parts := []Spec{
		{Type: ESPType, GUID: "11111111-2222-3333-4444-555555555555", Name: "EFI", FirstLBA: 2048, LastLBA: 4095},
		{Type: DataPartitionType, GUID: "66666666-7777-8888-9999-aaaaaaaaaaaa", Name: "kios-data", FirstLBA: 4096, LastLBA: 131038},
	}
	if err := Write(d, int64(len(d.b)), "abcdefab-cdef-abcd-efab-cdefabcdefab", parts); err != nil {
		t.Fatal(err)
	}
	tab, err := Read(d, int64(len(d.b)), 512)
	if err != nil {
		t.Fatal(err)
	}
	want := []Partition{
		{Index: 1, Type: ESPType, GUID: parts[0].GUID, FirstLBA: 2048, LastLBA: 4095, Name: "EFI"},
		{Index: 2, Type: DataPartitionType, GUID: parts[1].GUID, FirstLBA: 4096, LastLBA: 131038, Name: "kios-data"},
	}
	if diff := cmp.Diff(want, tab.Partitions); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if p, ok := tab.Find(strings.ToUpper(DataPartitionType)); !ok || p.Index != 2 {
		t.Errorf("Find data partition: %v %v", p, ok)
	}
	// A damaged primary header: the backup is used.
	d.b[512+20] ^= 0xff
	if tab, err := Read(d, int64(len(d.b)), 512); err != nil || len(tab.Partitions) != 2 {
		t.Errorf("backup GPT not used: %v", err)
	}
	// Both damaged: an error, never a panic.
	d.b[len(d.b)-512+20] ^= 0xff
	if _, err := Read(d, int64(len(d.b)), 512); !errors.Is(err, ErrCorrupt) {
		t.Errorf("err = %v, want ErrCorrupt", err)
	}
	if _, err := Read(&mem{b: make([]byte, 1<<20)}, 1<<20, 512); !errors.Is(err, ErrNoGPT) {
		t.Errorf("blank disk: err = %v, want ErrNoGPT", err)
	}
}

// TestAgainstSfdisk checks the tables with an independent reader when
// Debian's sfdisk is present (fdisk is in every Debian base system).
func TestAgainstSfdisk(t *testing.T) {
	sf, err := exec.LookPath("sfdisk")
	if err != nil {
		t.Fatal("sfdisk (util-linux) not found")
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	f, _ := os.Create(img)
	f.Truncate(32 << 20)
	err = Write(f, 32<<20, "abcdefab-cdef-abcd-efab-cdefabcdefab", []Spec{
		{Type: DataPartitionType, GUID: "66666666-7777-8888-9999-aaaaaaaaaaaa", Name: "kios-data", FirstLBA: 2048, LastLBA: 65502},
	})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sf, "--dump", img).CombinedOutput()
	if err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	if !bytes.Contains(bytes.ToLower(out), []byte("type="+DataPartitionType)) || !bytes.Contains(out, []byte("start=        2048")) {
		t.Errorf("sfdisk sees:\n%s", out)
	}
}

func FuzzRead(f *testing.F) {
	d := &mem{b: make([]byte, 1<<20)}
	Write(d, int64(len(d.b)), "abcdefab-cdef-abcd-efab-cdefabcdefab", []Spec{{Type: DataPartitionType, GUID: DataPartitionType, FirstLBA: 34, LastLBA: 100}})
	f.Add(d.b[:64*512])
	f.Fuzz(func(t *testing.T, data []byte) {
		Read(&mem{b: data}, int64(len(data)), 512)
	})
}
