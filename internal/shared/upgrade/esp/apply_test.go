package esp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func espWith(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, EntriesDir), 0o755)
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(root, EntriesDir, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func dirNames(t *testing.T, root string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(root, EntriesDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range des {
		out = append(out, d.Name())
	}
	return out
}

func TestApplyStage(t *testing.T) {
	root := espWith(t, "kios-v0.efi", "kios-v1.efi", "kios-v2.efi", "other-os.efi")
	list, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := PlanStage(list, Stage{Running: "v2", Version: "v3", Tries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(root, ops, bytes.NewReader([]byte("new image"))); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"kios-v1.efi", "kios-v2.efi", "kios-v3+1.efi", "other-os.efi"}, dirNames(t, root)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if b, _ := os.ReadFile(filepath.Join(root, EntriesDir, "kios-v3+1.efi")); string(b) != "new image" {
		t.Errorf("new entry holds %q", b)
	}
}

// A write that fails midway leaves no entry and no temporary file.
func TestApplyFailedWrite(t *testing.T) {
	root := espWith(t, "kios-v1.efi")
	broken := iotest.ErrReader(errors.New("the image pod went away"))
	err := Apply(root, []Op{{Kind: Write, To: "kios-v2+1.efi"}}, broken)
	if err == nil {
		t.Fatal("a failed read was not reported")
	}
	if diff := cmp.Diff([]string{"kios-v1.efi"}, dirNames(t, root)); diff != "" {
		t.Errorf("entries after a failed write (-want +got):\n%s", diff)
	}
}

// What a power cut leaves (a temporary file) is not an entry, and is
// removed at the next boot.
func TestRemoveTemp(t *testing.T) {
	root := espWith(t, "kios-v1.efi", ".kios-v2+1.efi.tmp-123456")
	os.MkdirAll(filepath.Join(root, "EFI", "BOOT"), 0o755)
	os.WriteFile(filepath.Join(root, "EFI", "BOOT", ".BOOTX64.EFI.tmp-42"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "EFI", "BOOT", "BOOTX64.EFI"), nil, 0o644)
	list, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"kios-v1.efi"}, names(list)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	removed, err := RemoveTemp(root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"EFI/Linux/.kios-v2+1.efi.tmp-123456", "EFI/BOOT/.BOOTX64.EFI.tmp-42"}, removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"kios-v1.efi"}, dirNames(t, root)); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
}
