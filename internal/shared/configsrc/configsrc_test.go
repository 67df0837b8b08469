package configsrc

import (
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
