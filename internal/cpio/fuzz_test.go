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
		Read(bytes.NewReader(data))
	})
}
