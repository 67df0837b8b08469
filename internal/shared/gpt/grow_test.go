package gpt

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const mib = 1 << 20

// twoPartitions is a kios disk's layout: an ESP and the data partition.
func twoPartitions(size int64) []Spec {
	return []Spec{
		{Type: ESPType, GUID: "11111111-2222-3333-4444-555555555555", Name: "esp", FirstLBA: 2048, LastLBA: 4095},
		{Type: DataPartitionType, GUID: "66666666-7777-8888-9999-aaaaaaaaaaaa", Name: "kios-data", FirstLBA: 4096, LastLBA: uint64(size-mib)/512 - 1},
	}
}

func TestGrow(t *testing.T) {
	tests := []struct {
		name          string
		written, disk int64
		index         int
		want          Growth
		wantErr       string
	}{
		{name: "disk grew", written: 8 * mib, disk: 32 * mib, index: 2,
			want: Growth{Index: 2, FirstLBA: 4096, OldLastLBA: 14335, NewLastLBA: 63487, BackupMoved: true, PartitionChanged: true}},
		{name: "partition already fills the disk", written: 32 * mib, disk: 32 * mib, index: 2,
			want: Growth{Index: 2, FirstLBA: 4096, OldLastLBA: 63487, NewLastLBA: 63487}},
		{name: "grew by less than the alignment", written: 32 * mib, disk: 32*mib + 4096, index: 2,
			want: Growth{Index: 2, FirstLBA: 4096, OldLastLBA: 63487, NewLastLBA: 63487, BackupMoved: true}},
		{name: "not the last partition", written: 8 * mib, disk: 32 * mib, index: 1, wantErr: "partition 1 is not the last one"},
		{name: "no such partition", written: 8 * mib, disk: 32 * mib, index: 3, wantErr: "partition 3: not in the table"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &mem{b: make([]byte, tc.disk)}
			if err := Write(d, tc.written, "abcdefab-cdef-abcd-efab-cdefabcdefab", twoPartitions(tc.written)); err != nil {
				t.Fatal(err)
			}
			got, err := Grow(d, tc.disk, 512, tc.index)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("growth (-want +got):\n%s", diff)
			}
			again, err := Grow(d, tc.disk, 512, tc.index)
			if err != nil || again.Changed() {
				t.Errorf("second Grow changed something: %+v, %v", again, err)
			}
			// Both copies of the table must now describe the grown disk.
			for _, lba := range []uint64{1, uint64(tc.disk)/512 - 1} {
				tb, err := readAt(d, lba, 512)
				if err != nil {
					t.Fatalf("table at LBA %d: %v", lba, err)
				}
				if p, _ := tb.Find(DataPartitionType); p.LastLBA != tc.want.NewLastLBA {
					t.Errorf("table at LBA %d: data partition ends at %d, want %d", lba, p.LastLBA, tc.want.NewLastLBA)
				}
			}
		})
	}
}

// TestGrowAgainstSfdisk has util-linux check the rewritten table.
func TestGrowAgainstSfdisk(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Truncate(8 * mib)
	if err := Write(f, 8*mib, "abcdefab-cdef-abcd-efab-cdefabcdefab", twoPartitions(8*mib)); err != nil {
		t.Fatal(err)
	}
	f.Truncate(64 * mib)
	if _, err := Grow(f, 64*mib, 512, 2); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sfdisk", "--verify", img).CombinedOutput(); err != nil || strings.Contains(string(out), "corrupt") {
		t.Errorf("sfdisk --verify: %v\n%s", err, out)
	}
	out, err := exec.Command("sfdisk", "--json", img).Output()
	if err != nil {
		t.Fatalf("sfdisk --json: %v", err)
	}
	var dump struct {
		PartitionTable struct {
			LastLBA    uint64 `json:"lastlba"`
			Partitions []struct {
				Start, Size uint64
			}
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal(out, &dump); err != nil {
		t.Fatal(err)
	}
	pt := dump.PartitionTable
	if pt.LastLBA != 64*mib/512-34 || len(pt.Partitions) != 2 || pt.Partitions[1].Start+pt.Partitions[1].Size != 63*mib/512 {
		t.Errorf("sfdisk sees %+v; want the data partition to end at the last whole MiB, LBA %d", pt, 63*mib/512-1)
	}
}
