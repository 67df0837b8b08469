package datapart

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/shared/gpt"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
		bad  bool
	}{
		{"tmpfs", Spec{Kind: TmpFS}, false},
		{"PARTUUID=ABC-1", Spec{Kind: PartUUID, Value: "abc-1"}, false},
		{"LABEL=kios-data", Spec{Kind: Label, Value: "kios-data"}, false},
		{"/dev/vdb1", Spec{Kind: Path, Value: "/dev/vdb1"}, false},
		{"somewhere", Spec{}, true},
		{"LABEL=", Spec{}, true},
		{"/dev/", Spec{}, true},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("%q: err = %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" && !tt.bad {
			t.Errorf("%q (-want +got):\n%s", tt.in, diff)
		}
	}
}

type memDisk struct {
	b    []byte
	open int // opened minus closed
}

func (m *memDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, errors.New("out of range")
	}
	return copy(p, m.b[off:]), nil
}
func (m *memDisk) WriteAt(p []byte, off int64) (int, error) { return copy(m.b[off:], p), nil }
func (m *memDisk) Size() int64                              { return int64(len(m.b)) }
func (m *memDisk) Close() error                             { m.open--; return nil }

// fakeSys makes /sys/class/block entries: disks and partitions.
func fakeSys(t *testing.T, entries map[string]int) string {
	dir := t.TempDir()
	for name, part := range entries {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		if part > 0 {
			os.WriteFile(filepath.Join(dir, name, "partition"), []byte(strconv.Itoa(part)+"\n"), 0o444)
		}
	}
	return dir
}

func TestFind(t *testing.T) {
	disk := &memDisk{b: make([]byte, 8<<20)}
	err := gpt.Write(disk, disk.Size(), "abcdefab-cdef-abcd-efab-cdefabcdefab", []gpt.Spec{
		{Type: gpt.ESPType, GUID: "11111111-1111-1111-1111-111111111111", FirstLBA: 34, LastLBA: 2047},
		{Type: gpt.DataPartitionType, GUID: "22222222-2222-2222-2222-222222222222", FirstLBA: 2048, LastLBA: 16000},
	})
	if err != nil {
		t.Fatal(err)
	}
	label := &memDisk{b: make([]byte, 4096)}
	binary.LittleEndian.PutUint16(label.b[1024+0x38:], 0xef53)
	copy(label.b[1024+0x78:], "my-data")
	blank := &memDisk{b: make([]byte, 1<<20)}
	sys := fakeSys(t, map[string]int{"vda": 0, "vda1": 1, "vda2": 2, "vdb": 0, "vdb1": 1, "loop0": 0})
	open := func(name string) (Disk, error) {
		d := map[string]*memDisk{"vda": disk, "vdb": blank, "vdb1": label}[name]
		if d == nil {
			return nil, errors.New("no such device")
		}
		d.open++
		return d, nil
	}
	for _, tt := range []struct {
		spec Spec
		want string
		none bool
	}{
		{Spec{Kind: Auto}, "/dev/vda2", false},
		{Spec{Kind: PartUUID, Value: "22222222-2222-2222-2222-222222222222"}, "/dev/vda2", false},
		{Spec{Kind: PartUUID, Value: "99999999-2222-2222-2222-222222222222"}, "", true},
		{Spec{Kind: Label, Value: "my-data"}, "/dev/vdb1", false},
		{Spec{Kind: Label, Value: "other"}, "", true},
		{Spec{Kind: Path, Value: "/dev/sdz9"}, "/dev/sdz9", false},
		{Spec{Kind: TmpFS}, "", true},
	} {
		got, err := Find(sys, tt.spec, open)
		if tt.none {
			if !errors.Is(err, ErrNone) {
				t.Errorf("%+v: err = %v, want ErrNone", tt.spec, err)
			}
			continue
		}
		if err != nil || got.Device != tt.want {
			t.Errorf("%+v: got %+v, %v; want %s", tt.spec, got, err, tt.want)
		}
	}
	for name, d := range map[string]*memDisk{"vda": disk, "vdb": blank, "vdb1": label} {
		if d.open != 0 {
			t.Errorf("%s left open %d times", name, d.open)
		}
	}
	// A disk whose GPT is corrupt: RAM-only, with the reason.
	disk.b[512+20] ^= 0xff
	disk.b[len(disk.b)-512+20] ^= 0xff
	_, err = Find(sys, Spec{Kind: Auto}, open)
	if !errors.Is(err, ErrNone) || !strings.Contains(err.Error(), "corrupt GPT") {
		t.Errorf("corrupt GPT: err = %v", err)
	}
}

func TestParent(t *testing.T) {
	// sysfs: /sys/class/block/NAME links into the device tree, where a
	// partition's directory sits inside its disk's.
	sys := t.TempDir()
	devs := filepath.Join(sys, "devices", "pci0000:00", "virtio2", "block")
	for _, d := range []string{"vda/vda2", "nvme0n1/nvme0n1p3"} {
		os.MkdirAll(filepath.Join(devs, d), 0o755)
	}
	os.WriteFile(filepath.Join(devs, "vda/vda2/partition"), []byte("2\n"), 0o644)
	os.WriteFile(filepath.Join(devs, "nvme0n1/nvme0n1p3/partition"), []byte("3\n"), 0o644)
	class := filepath.Join(sys, "class", "block")
	os.MkdirAll(class, 0o755)
	for _, l := range []string{"vda", "vda/vda2", "nvme0n1/nvme0n1p3", "nvme0n1"} {
		os.Symlink(filepath.Join(devs, l), filepath.Join(class, filepath.Base(l)))
	}
	for _, tt := range []struct {
		disk  string
		index int
		want  string
	}{{"/dev/vda", 2, "/dev/vda2"}, {"/dev/nvme0n1", 3, "/dev/nvme0n1p3"}, {"/dev/vda", 1, ""}, {"/dev/sdz", 1, ""}} {
		got, err := Child(class, tt.disk, tt.index)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("Child(%s, %d) = %q, %v; want %q", tt.disk, tt.index, got, err, tt.want)
		}
	}
	tests := []struct {
		dev, disk string
		part      int
		bad       bool
	}{
		{dev: "/dev/vda2", disk: "/dev/vda", part: 2},
		{dev: "/dev/nvme0n1p3", disk: "/dev/nvme0n1", part: 3},
		{dev: "/dev/vda", bad: true},
		{dev: "/dev/sdz1", bad: true},
	}
	for _, tt := range tests {
		disk, part, err := Parent(class, tt.dev)
		if (err != nil) != tt.bad {
			t.Errorf("%s: err = %v", tt.dev, err)
			continue
		}
		if !tt.bad && (disk != tt.disk || part != tt.part) {
			t.Errorf("%s: got %s partition %d, want %s partition %d", tt.dev, disk, part, tt.disk, tt.part)
		}
	}
}
