package esp

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseEntry(t *testing.T) {
	for _, tt := range []struct {
		name string
		want Entry
		ok   bool
	}{
		{"kios-v1.efi", Entry{Version: "v1"}, true},
		{"kios-v2+3.efi", Entry{Version: "v2", Counting: true, Left: 3}, true},
		{"kios-v2+2-1.efi", Entry{Version: "v2", Counting: true, Left: 2, Done: 1}, true},
		{"kios-v3+0-1.efi", Entry{Version: "v3", Counting: true, Left: 0, Done: 1}, true},
		{"KIOS-1.0~RC1.EFI", Entry{Version: "1.0~RC1"}, true},
		{"kios-2026-12-05+1.efi", Entry{Version: "2026-12-05", Counting: true, Left: 1}, true},
		{"debian.efi", Entry{}, false},
		{".kios-v2.tmp", Entry{}, false},
		{"kios-v2+x.efi", Entry{}, false},
		{"kios-v2+-1.efi", Entry{}, false},
		{"kios-v2+1-.efi", Entry{}, false},
		{"kios-.efi", Entry{}, false},
		{"kios-v2.efi.tmp", Entry{}, false},
	} {
		got, ok := ParseEntry(tt.name)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseEntry(%q) = %+v, %t; want %+v, %t", tt.name, got, ok, tt.want, tt.ok)
		}
		if ok && got.Name() != tt.name && !(tt.name == "KIOS-1.0~RC1.EFI") {
			t.Errorf("%q names itself %q", tt.name, got.Name())
		}
	}
}

func TestNext(t *testing.T) {
	e := func(names ...string) []Entry { return entries(t, names...) }
	for _, tt := range []struct {
		entries []Entry
		want    string
	}{
		{e("kios-v1.efi", "kios-v2+1.efi"), "kios-v2+1.efi"},     // a staged upgrade is tried
		{e("kios-v1.efi", "kios-v2+0-1.efi"), "kios-v1.efi"},     // its tries ran out: back to v1
		{e("kios-v9.efi", "kios-v10.efi"), "kios-v10.efi"},       // versions as numbers
		{e("kios-v2+0.efi", "kios-v1+1.efi"), "kios-v1+1.efi"},   // a downgrade on trial
		{e("kios-v2+0.efi", "kios-v1+0-1.efi"), "kios-v2+0.efi"}, // all bad: the newest
	} {
		got, ok := Next(tt.entries)
		if !ok || got.Name() != tt.want {
			t.Errorf("Next(%v) = %s, want %s", tt.entries, got.Name(), tt.want)
		}
	}
	if _, ok := Next(nil); ok {
		t.Error("Next of no entries found one")
	}
}

func TestStateNames(t *testing.T) {
	got := []string{Entry{Version: "a"}.State(), Staged("a", 2).State(), Entry{Version: "a", Counting: true, Done: 2}.State()}
	if diff := cmp.Diff([]string{"good", "trial", "bad"}, got); diff != "" {
		t.Error(diff)
	}
}
