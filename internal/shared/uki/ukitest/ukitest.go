// Package ukitest makes small UKIs on Debian's real systemd stub for
// tests: kiOS-shaped ones (an os-release, a loader, a kernel and an
// initrd that are not real) that kiOS's checks take for kiOS images.
package ukitest

import (
	"os"
	"sync"
	"testing"

	"kios.dev/kios/internal/shared/osrelease"
	"kios.dev/kios/internal/shared/testenv"
	"kios.dev/kios/internal/shared/uki"
)

var (
	once sync.Once
	stub []byte
	err  error
)

// Stub is the systemd stub `make components` unpacks under build/cache.
func Stub(t testing.TB) []byte {
	t.Helper()
	p := testenv.Component(t, "stub-*/root/usr/lib/systemd/boot/efi/linuxx64.efi.stub")
	once.Do(func() { stub, err = os.ReadFile(p) })
	if err != nil {
		t.Fatalf("the systemd stub under build/cache (run `make components`): %v", err)
	}
	return stub
}

// Kios is a kiOS-shaped UKI of version carrying loader (none when nil).
func Kios(t testing.TB, version string, loader []byte) []byte {
	t.Helper()
	secs := []uki.Section{{Name: ".osrel", Data: osrelease.Render(version)}}
	if loader != nil {
		secs = append(secs, uki.Section{Name: uki.LoaderSection, Data: loader})
	}
	secs = append(secs, uki.Section{Name: ".initrd", Data: []byte("initrd " + version)}, uki.Section{Name: ".linux", Data: []byte("kernel")})
	b, err := uki.Build(Stub(t), secs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
