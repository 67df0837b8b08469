package uki

import (
	"bytes"
	"debug/pe"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/shared/testenv"
)

// stubPath finds the Debian stub that `make components` unpacks; tests of
// real PE layout need a real stub, and the Makefile always provides it.
func stubPath(t *testing.T) string {
	t.Helper()
	return testenv.Component(t, "stub-*/root/usr/lib/systemd/boot/efi/linuxx64.efi.stub")
}

func TestBuildAddsSections(t *testing.T) {
	stub, err := os.ReadFile(stubPath(t))
	if err != nil {
		t.Fatal(err)
	}
	secs := []Section{
		{".osrel", []byte("ID=kios\n")},
		{".cmdline", []byte("console=ttyS0")},
		{".uname", []byte("6.1.0-test")},
		{".sbat", []byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n")},
		{".initrd", bytes.Repeat([]byte{7}, 5000)},
		{".linux", bytes.Repeat([]byte{9}, 12345)},
	}
	img, err := Build(stub, secs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := pe.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("Go's debug/pe cannot read the UKI: %v", err)
	}
	count := map[string]int{}
	ours := map[string]bool{}
	for _, s := range secs {
		ours[s.Name] = true
	}
	for _, s := range f.Sections {
		count[s.Name]++
	}
	for _, s := range secs {
		if count[s.Name] != 1 {
			t.Errorf("section %s appears %d times", s.Name, count[s.Name])
		}
		got, err := SectionData(img, s.Name)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.Data, got); diff != "" {
			t.Errorf("%s contents differ (-want +got):\n%.300s", s.Name, diff)
		}
	}
	oh := f.OptionalHeader.(*pe.OptionalHeader64)
	var end uint32
	// The stub's own sections keep the stub's layout; only ours are checked.
	for _, s := range f.Sections {
		if ours[s.Name] && s.VirtualAddress%oh.SectionAlignment != 0 || s.Offset%oh.FileAlignment != 0 {
			t.Errorf("section %s misaligned: va %#x raw %#x", s.Name, s.VirtualAddress, s.Offset)
		}
		end = max(end, s.VirtualAddress+s.VirtualSize)
	}
	// In address order without overlaps: the PE format asks for it, and
	// systemd's stub warns ("Overlapping PE sections") when it is not.
	for i := 1; i < len(f.Sections); i++ {
		prev, s := f.Sections[i-1], f.Sections[i]
		if s.VirtualAddress < prev.VirtualAddress+prev.VirtualSize {
			t.Errorf("section %s at %#x overlaps or precedes %s (%#x-%#x)", s.Name, s.VirtualAddress,
				prev.Name, prev.VirtualAddress, prev.VirtualAddress+prev.VirtualSize)
		}
	}
	if oh.SizeOfImage < end || oh.SizeOfImage%oh.SectionAlignment != 0 {
		t.Errorf("SizeOfImage %#x does not cover sections ending at %#x", oh.SizeOfImage, end)
	}
	checksumOff := bytes.Index(img, []byte("PE\x00\x00")) + 4 + 20 + optCheckSum
	if got, want := oh.CheckSum, Checksum(img, checksumOff); got != want {
		t.Errorf("checksum %#x, want %#x", got, want)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	stub, err := os.ReadFile(stubPath(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		stub []byte
		secs []Section
	}{
		{"not a PE", []byte("hello world, this is not an EFI binary at all.........................."), nil},
		{"long name", stub, []Section{{".waytoolong", nil}}},
		{"no dot", stub, []Section{{"linux", nil}}},
		{"duplicate", stub, []Section{{".linux", nil}, {".linux", nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Build(tt.stub, tt.secs); err == nil {
				t.Error("Build succeeded, want an error")
			}
		})
	}
}
