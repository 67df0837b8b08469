package osrelease

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompare(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"1", "1", 0},
		{"v1", "v2", -1},
		{"v9", "v10", -1},
		{"1.9", "1.10", -1},
		{"1.0", "1.0.1", -1},
		{"1.0~rc1", "1.0", -1},
		{"1.0~rc1", "1.0~rc2", -1},
		{"1.0", "1.0-1", -1},
		{"1.01", "1.1", 0},
		{"1.0a", "1.0", 1},
		{"2026.12.05", "2026.12.4", 1},
		{"0.1.0", "0.2.0", -1},
	} {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Compare(tt.b, tt.a); got != -tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"0.1.0": true, "v2": true, "1.0~rc1": true, "2026-12-05": true,
		"": false, "1.0+build": false, "-1": false, "a b": false, "v/1": false, "ü": false,
		"1234567890123456789012345678901234567890123456789012345678901234":  true,
		"12345678901234567890123456789012345678901234567890123456789012345": false,
	} {
		if err := CheckVersion(v); (err == nil) != ok {
			t.Errorf("CheckVersion(%q) = %v, want ok %t", v, err, ok)
		}
	}
}

func TestRenderParse(t *testing.T) {
	got, err := Parse(Render("v2"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Info{ID: "kios", Version: "v2", PrettyName: "kiOS v2"}, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	got, err = Parse([]byte("# Debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Info{ID: "debian", Version: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"}, got); diff != "" {
		t.Errorf("Debian's (-want +got):\n%s", diff)
	}
	if _, err := Parse([]byte("ID=kios\nnot a line\n")); err == nil {
		t.Error("a line without '=' was accepted")
	}
}
