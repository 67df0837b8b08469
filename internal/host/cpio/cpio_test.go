package cpio

import (
	"bytes"
	"io/fs"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoundTrip(t *testing.T) {
	in := []Entry{
		{Name: "dev", Mode: TypeDir | 0o755},
		{Name: "dev/console", Mode: TypeChar | 0o600, DevMajor: 5, DevMinor: 1},
		{Name: "init", Mode: TypeRegular | 0o500, Data: []byte("hello, odd length")},
		{Name: "bin/sh-link", Mode: TypeSymlink | 0o777, Data: []byte("init")},
		{Name: "empty", Mode: TypeRegular | 0o644, Data: []byte{}},
	}
	var b bytes.Buffer
	w := NewWriter(&b)
	for _, e := range in {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if b.Len()%4 != 0 {
		t.Errorf("archive length %d is not a multiple of 4", b.Len())
	}
	out, err := Read(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if out[i].Data == nil {
			out[i].Data = []byte{}
		}
	}
	want := append([]Entry(nil), in...)
	want[0].Data, want[1].Data = []byte{}, []byte{}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// Same input, same bytes.
	var b2 bytes.Buffer
	w2 := NewWriter(&b2)
	for _, e := range in {
		w2.Write(e)
	}
	w2.Close()
	if !bytes.Equal(b.Bytes(), b2.Bytes()) {
		t.Error("two writes of the same entries differ")
	}
}

func TestWriterRejectsBadNames(t *testing.T) {
	for _, n := range []string{"", "/abs"} {
		w := NewWriter(&bytes.Buffer{})
		if err := w.Write(Entry{Name: n, Mode: TypeRegular}); err == nil {
			t.Errorf("name %q accepted", n)
		}
	}
	w := NewWriter(&bytes.Buffer{})
	w.Close()
	if err := w.Write(Entry{Name: "late", Mode: TypeRegular}); err == nil {
		t.Error("write after Close accepted")
	}
}

func TestReadRejectsGarbage(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("070701zzzz"), bytes.Repeat([]byte("x"), 200)} {
		if _, err := Read(bytes.NewReader(in)); err == nil {
			t.Errorf("garbage %q parsed", in)
		}
	}
}

func TestModeOf(t *testing.T) {
	tests := []struct {
		in   fs.FileMode
		want uint32
	}{
		{fs.ModeDir | 0o755, TypeDir | 0o755},
		{0o644, TypeRegular | 0o644},
		{fs.ModeSymlink | 0o777, TypeSymlink | 0o777},
		{fs.ModeSticky | fs.ModeDir | 0o777, TypeDir | 0o1777},
	}
	for _, tt := range tests {
		if got := ModeOf(tt.in); got != tt.want {
			t.Errorf("ModeOf(%v) = %o, want %o", tt.in, got, tt.want)
		}
	}
}
