package joinspec_test

import (
	"strings"
	"testing"

	"kios.dev/kios/internal/shared/joinspec"
	"kios.dev/kios/internal/shared/nodeconfig"
)

func TestManifestIsAStaticPod(t *testing.T) {
	p := joinspec.Params{API: "10.0.0.1:6443", Token: "abcdef.0123456789abcdef", CAHash: "sha256:" + strings.Repeat("a", 64)}
	for _, file := range []bool{false, true} {
		b, err := joinspec.Manifest(p, file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nodeconfig.Parse(b); err != nil {
			t.Errorf("token file %v: %v", file, err)
		}
		if has := strings.Contains(string(b), p.Token); has == file {
			t.Errorf("token file %v: manifest carries the token: %v", file, has)
		}
	}
	if _, err := joinspec.Manifest(joinspec.Params{API: "a:1", Token: "bad"}, false); err == nil {
		t.Errorf("a bad token was accepted")
	}
}
