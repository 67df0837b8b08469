package components

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	got := parse("# a comment\n\nKUBERNETES_VERSION=v1.35.4\n  RUNC_VERSION = v1.5.3 \nno equals sign\nLIST=a,b=c\n")
	want := map[string]string{"KUBERNETES_VERSION": "v1.35.4", "RUNC_VERSION": "v1.5.3", "LIST": "a,b=c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parse (-want +got):\n%s", diff)
	}
}

// The embedded file is the pins' file: the versions kios version reports
// are there, each a release tag.
func TestPinsEmbedded(t *testing.T) {
	pins := Pins()
	for _, k := range []string{"KUBERNETES_VERSION", "CONTAINERD_VERSION", "RUNC_VERSION"} {
		if v := pins[k]; !strings.HasPrefix(v, "v") {
			t.Errorf("%s = %q, want a version tag", k, v)
		}
	}
}
