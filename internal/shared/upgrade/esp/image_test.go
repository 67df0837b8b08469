package esp

import (
	"errors"
	"strings"
	"testing"

	"kios.dev/kios/internal/shared/osrelease"
	"kios.dev/kios/internal/shared/uki"
	"kios.dev/kios/internal/shared/uki/ukitest"
)

// ukiWith builds a UKI on the real stub with this os-release.
func ukiWith(t *testing.T, osrel []byte, extra ...uki.Section) []byte {
	t.Helper()
	b, err := uki.Build(ukitest.Stub(t), append([]uki.Section{{Name: ".osrel", Data: osrel}}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadImage(t *testing.T) {
	kernel := []uki.Section{{Name: ".initrd", Data: []byte("initrd")}, {Name: ".linux", Data: []byte("kernel")}}
	loader := uki.Section{Name: uki.LoaderSection, Data: []byte("systemd-boot")}
	good := ukiWith(t, osrelease.Render("v2"), append([]uki.Section{loader}, kernel...)...)
	img, err := ReadImage(good)
	if err != nil {
		t.Fatal(err)
	}
	if img.Version != "v2" || string(img.Loader) != "systemd-boot" {
		t.Errorf("ReadImage = %+v", img)
	}
	for _, tt := range []struct {
		name string
		b    []byte
		want string
		is   error
	}{
		{"not an EFI", []byte("#!/bin/sh\necho hello\n"), "not an EFI program", uki.ErrNotPE},
		{"another OS's UKI", ukiWith(t, []byte("ID=debian\nPRETTY_NAME=\"Debian\"\nVERSION_ID=12\n"), kernel...), `ID="debian"`, ErrNotKios},
		{"no kernel", ukiWith(t, osrelease.Render("v2")), "no .linux", ErrNotKios},
		{"a version that cannot name an entry", ukiWith(t, []byte("ID=kios\nVERSION_ID=1+2\n"), kernel...), "1+2", ErrNotKios},
	} {
		_, err := ReadImage(tt.b)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, tt.is) {
			t.Errorf("%s: err = %v, want one saying %q and being %v", tt.name, err, tt.want, tt.is)
		}
	}
}
