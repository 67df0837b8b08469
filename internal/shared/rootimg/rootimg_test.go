package rootimg

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestDataSize(t *testing.T) {
	sb := func(magic uint32, used uint64) []byte {
		b := make([]byte, SuperblockSize)
		binary.LittleEndian.PutUint32(b, magic)
		binary.LittleEndian.PutUint64(b[40:], used)
		return b
	}
	for _, tc := range []struct {
		name string
		sb   []byte
		want uint64
		err  error
	}{
		{"whole blocks", sb(0x73717368, 8192), 8192, nil},
		{"rounded up", sb(0x73717368, 8193), 12288, nil},
		{"one byte", sb(0x73717368, 1), 4096, nil},
		{"not squashfs", sb(0x12345678, 8192), 0, ErrNotSquashfs},
		{"empty", sb(0x73717368, 0), 0, ErrNotSquashfs},
		{"short", []byte("hsqs"), 0, ErrNotSquashfs},
	} {
		got, err := DataSize(tc.sb)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: DataSize = %d, %v; want %d, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}
