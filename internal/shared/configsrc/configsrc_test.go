package configsrc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSources(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Source
		err  string
	}{
		{"", Order, ""},
		{"all", Order, ""},
		{"none", []Source{}, ""},
		{"data", []Source{SourceData}, ""},
		{"data,url,data", []Source{SourceURL, SourceData}, ""},
		{"url,floppy", nil, `config source "floppy": want some of url,volume,metadata,data`},
		{"image", nil, `config source "image"`},
	} {
		got, err := ParseSources(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSources(%q) = %v, want error %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSources(%q): %v", tc.in, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseSources(%q) (-want +got):\n%s", tc.in, diff)
		}
		if back, _ := ParseSources(FormatSources(got)); !cmp.Equal(back, got) {
			t.Errorf("FormatSources(%v) = %q does not read back", got, FormatSources(got))
		}
	}
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err != ErrNoneStored {
		t.Errorf("Load(empty) = %v, want ErrNoneStored", err)
	}
	s := Stored{Source: SourceVolume, Meta: Meta{InstanceID: "i-1"}, Document: "apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\n"}
	if err := Store(dir, s); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil || !cmp.Equal(got, s) {
		t.Errorf("Load = %+v, %v; want %+v", got, err, s)
	}
	for _, p := range []string{StoreFile, filepath.Dir(StoreFile)} {
		st, _ := os.Stat(filepath.Join(dir, p))
		if want := map[bool]os.FileMode{true: 0o700, false: 0o600}[st.IsDir()]; st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
}
