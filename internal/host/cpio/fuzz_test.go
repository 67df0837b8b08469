package cpio

import (
	"bytes"
	"testing"
)

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Write(Entry{Name: "init", Mode: TypeRegular | 0o500, Data: []byte("x")})
	w.Close()
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		// What was read writes back and reads the same (round trip).
		var b bytes.Buffer
		w := NewWriter(&b)
		for _, e := range entries {
			if err := w.Write(e); err != nil {
				return // a name the writer refuses (empty, absolute)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		again, err := Read(&b)
		if err != nil {
			t.Fatalf("reading back what was read: %v", err)
		}
		if len(again) != len(entries) {
			t.Fatalf("%d entries read back, %d written", len(again), len(entries))
		}
		for i := range entries {
			if again[i].Name != entries[i].Name || again[i].Mode != entries[i].Mode {
				t.Errorf("entry %d: %q %o read back as %q %o", i, entries[i].Name, entries[i].Mode, again[i].Name, again[i].Mode)
			}
		}
	})
}
