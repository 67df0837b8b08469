package upgrade

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/shared/osrelease"
	"kios.dev/kios/internal/shared/uki"
	"kios.dev/kios/internal/shared/uki/ukitest"
	"kios.dev/kios/internal/shared/upgrade/esp"
	"kios.dev/kios/internal/shared/upgrade/upgradesock"
)

func loadStub(t *testing.T) []byte { return ukitest.Stub(t) }

type signer struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func newSigner(t *testing.T, name string) signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return signer{key, cert}
}

// kiosImage is a kiOS UKI of version on the real stub, with a loader;
// signed (image and loader) by s when s is set, only the image when
// loaderUnsigned.
func kiosImage(t *testing.T, version string, loader []byte, s *signer, loaderUnsigned bool) []byte {
	t.Helper()
	var err error
	if s != nil && !loaderUnsigned {
		// The loader is a PE too: sign a stub-sized stand-in.
		if loader, err = uki.Sign(loader, s.key, s.cert); err != nil {
			t.Fatal(err)
		}
	}
	img, err := uki.Build(loadStub(t), []uki.Section{
		{Name: ".osrel", Data: osrelease.Render(version)},
		{Name: uki.LoaderSection, Data: loader},
		{Name: ".initrd", Data: []byte("initrd " + version)},
		{Name: ".linux", Data: []byte("kernel")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s != nil {
		if img, err = uki.Sign(img, s.key, s.cert); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// loaderPE is a PE file standing in for systemd-boot (signable).
func loaderPE(t *testing.T, tag string) []byte {
	t.Helper()
	b, err := uki.Build(loadStub(t), []uki.Section{{Name: ".tag", Data: []byte(tag)}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// installed is an ESP as kios disk writes it, mounted at a directory.
func installed(t *testing.T, version string, img, loader []byte) string {
	t.Helper()
	root := t.TempDir()
	for rel, b := range map[string][]byte{
		esp.LoaderFile:     loader,
		esp.LoaderConfFile: esp.LoaderConf,
		esp.EntriesDir + "/" + esp.Entry{Version: version}.Name(): img,
	} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(rel)), 0o755)
		if err := os.WriteFile(filepath.Join(root, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// tree is every file under root with a digest of its contents.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out = append(out, fmt.Sprintf("%s %x", rel, sha256.Sum256(b)))
		return nil
	})
	sort.Strings(out)
	return out
}

func plenty(string) (int64, error) { return 1 << 30, nil }

func TestStage(t *testing.T) {
	loader := loaderPE(t, "systemd-boot 252")
	root := installed(t, "v1", kiosImage(t, "v1", loader, nil, false), loader)
	tg := Target{Root: root, Running: "v1", Free: plenty}
	v2 := kiosImage(t, "v2", loader, nil, false)
	res, err := tg.Stage(v2, upgradesock.Request{Op: upgradesock.OpStage, Tries: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := upgradesock.Result{Running: "v1", Entries: []string{"kios-v1.efi", "kios-v2+1.efi"}, Next: "kios-v2+1.efi",
		Done: []string{"write kios-v2+1.efi"}, Written: int64(len(v2))}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Stage (-want +got):\n%s", diff)
	}
	if b, _ := os.ReadFile(filepath.Join(root, esp.EntriesDir, "kios-v2+1.efi")); string(b) != string(v2) {
		t.Error("the staged entry is not the image")
	}
}

// Every refused stage leaves the ESP as it was, and says why.
func TestStageRefusals(t *testing.T) {
	loader := loaderPE(t, "systemd-boot 252")
	owner, stranger := newSigner(t, "kios owner db key"), newSigner(t, "someone else")
	v1 := kiosImage(t, "v1", loader, nil, false)
	v2Signed := kiosImage(t, "v2", loader, &owner, false)
	for _, tt := range []struct {
		name    string
		running []byte
		img     []byte
		req     upgradesock.Request
		free    int64
		sb      bool
		want    error
	}{
		{name: "not an EFI", img: []byte("#!/bin/sh\n"), want: uki.ErrNotPE},
		{name: "an EFI that is not kiOS", img: loaderPE(t, "grub"), want: esp.ErrNotKios},
		{name: "the same version", img: kiosImage(t, "v2", loader, nil, false), want: esp.ErrSameVersion},
		{name: "a downgrade without the flag", img: v1, want: esp.ErrDowngrade},
		{name: "too large for the ESP", img: kiosImage(t, "v3", loader, nil, false), free: 1 << 20, want: ErrNoRoom},
		{name: "unsigned on a Secure Boot node", running: v2Signed, img: kiosImage(t, "v3", loader, nil, false), sb: true, want: ErrUnsigned},
		{name: "signed by another key", running: v2Signed, img: kiosImage(t, "v3", loader, &stranger, false), sb: true, want: ErrUnsigned},
		{name: "its loader unsigned", running: v2Signed, img: kiosImage(t, "v3", loader, &owner, true), sb: true, want: ErrUnsigned},
	} {
		t.Run(tt.name, func(t *testing.T) {
			running := tt.running
			if running == nil {
				running = kiosImage(t, "v2", loader, nil, false)
			}
			root := installed(t, "v2", running, loader)
			before := tree(t, root)
			free := tt.free
			if free == 0 {
				free = 1 << 30
			}
			tg := Target{Root: root, Running: "v2", SecureBoot: tt.sb, Free: func(string) (int64, error) { return free, nil }}
			_, err := tg.Stage(tt.img, upgradesock.Request{Op: upgradesock.OpStage})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if diff := cmp.Diff(before, tree(t, root)); diff != "" {
				t.Errorf("the ESP changed (-before +after):\n%s", diff)
			}
		})
	}
	// Signed by the running image's key, loader included: accepted.
	root := installed(t, "v2", v2Signed, loader)
	tg := Target{Root: root, Running: "v2", SecureBoot: true, Free: plenty}
	if _, err := tg.Stage(kiosImage(t, "v3", loader, &owner, false), upgradesock.Request{Op: upgradesock.OpStage}); err != nil {
		t.Errorf("an image signed like the running one: %v", err)
	}
}

// An ESP of kios disk's first layout (the image at the loader's path)
// is converted on the first upgrade, and the new loader installed.
func TestStageConvertsFirstLayout(t *testing.T) {
	root := t.TempDir()
	v1 := kiosImage(t, "v1", loaderPE(t, "old loader"), nil, false)
	os.MkdirAll(filepath.Join(root, "EFI", "BOOT"), 0o755)
	os.WriteFile(filepath.Join(root, esp.LoaderFile), v1, 0o644)
	newLoader := loaderPE(t, "systemd-boot 252")
	v2 := kiosImage(t, "v2", newLoader, nil, false)
	tg := Target{Root: root, Running: "v1", Free: plenty}
	res, err := tg.Stage(v2, upgradesock.Request{Op: upgradesock.OpStage, Tries: 2})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"kios-v1.efi", "kios-v2+2.efi"}, res.Entries); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	for rel, want := range map[string][]byte{
		esp.LoaderFile:                    newLoader,
		esp.LoaderConfFile:                esp.LoaderConf,
		esp.EntriesDir + "/kios-v1.efi":   v1,
		esp.EntriesDir + "/kios-v2+2.efi": v2,
	} {
		if b, _ := os.ReadFile(filepath.Join(root, rel)); string(b) != string(want) {
			t.Errorf("%s is not what it should be (%d bytes)", rel, len(b))
		}
	}
	// The first layout needs room for a copy of the running image.
	root2 := t.TempDir()
	os.MkdirAll(filepath.Join(root2, "EFI", "BOOT"), 0o755)
	os.WriteFile(filepath.Join(root2, esp.LoaderFile), v1, 0o644)
	tight := Target{Root: root2, Running: "v1", Free: func(string) (int64, error) { return int64(len(v1)), nil }}
	if _, err := tight.Stage(v2, upgradesock.Request{Op: upgradesock.OpStage}); !errors.Is(err, ErrNoRoom) {
		t.Errorf("conversion without room: %v", err)
	}
}

// An ESP without room for three images (kios disk's first layout had
// 128 MiB) gives up the older fallback, and only when that makes room.
func TestStageTightESP(t *testing.T) {
	loader := loaderPE(t, "systemd-boot 252")
	v1, v2, v3 := kiosImage(t, "v1", loader, nil, false), kiosImage(t, "v2", loader, nil, false), kiosImage(t, "v3", loader, nil, false)
	setup := func() string {
		root := installed(t, "v1", v1, loader)
		os.WriteFile(filepath.Join(root, esp.EntriesDir, "kios-v2.efi"), v2, 0o644)
		return root
	}
	for _, tt := range []struct {
		name    string
		free    int64
		done    []string
		entries []string
		err     error
	}{
		{name: "room for three", free: 1 << 30, done: []string{"write kios-v3+1.efi"}, entries: []string{"kios-v1.efi", "kios-v2.efi", "kios-v3+1.efi"}},
		{name: "room once the older fallback goes", free: int64(len(v3)) + slack - 1, done: []string{"remove kios-v1.efi", "write kios-v3+1.efi"}, entries: []string{"kios-v2.efi", "kios-v3+1.efi"}},
		{name: "no room even then", free: int64(len(v3)) + slack - int64(len(v1)) - 1, err: ErrNoRoom},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := setup()
			before := tree(t, root)
			tg := Target{Root: root, Running: "v2", Free: func(string) (int64, error) { return tt.free, nil }}
			res, err := tg.Stage(v3, upgradesock.Request{Op: upgradesock.OpStage, Tries: 1})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if diff := cmp.Diff(before, tree(t, root)); diff != "" {
					t.Errorf("a refused stage changed the ESP (-before +after):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.done, res.Done); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.entries, res.Entries); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBlessAndRollback(t *testing.T) {
	loader := loaderPE(t, "systemd-boot 252")
	root := installed(t, "v1", kiosImage(t, "v1", loader, nil, false), loader)
	os.WriteFile(filepath.Join(root, esp.EntriesDir, "kios-v2+0-1.efi"), kiosImage(t, "v2", loader, nil, false), 0o644)
	v2 := Target{Root: root, Running: "v2", Free: plenty}
	res, err := v2.Bless()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"kios-v1.efi", "kios-v2.efi"}, res.Entries); diff != "" || res.Next != "kios-v2.efi" {
		t.Errorf("after blessing: next %s, entries (-want +got):\n%s", res.Next, diff)
	}
	res, err = v2.Rollback()
	if err != nil {
		t.Fatal(err)
	}
	if res.Next != "kios-v1.efi" {
		t.Errorf("after rollback the loader boots %s, want kios-v1.efi (entries %v)", res.Next, res.Entries)
	}
	if _, err := (Target{Root: root, Running: "v1", Free: plenty}).Rollback(); !errors.Is(err, esp.ErrNoPrevious) {
		t.Errorf("rollback with nothing good to go back to: %v", err)
	}
}
