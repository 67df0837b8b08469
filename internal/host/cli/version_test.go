package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/components"
	"kios.dev/kios/internal/shared/osrelease"
)

func TestVersionOutput(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    versions
		want []string
	}{
		{"all", versions{KiOS: "0.1.0", Kubelet: "v1.35.4", Containerd: "v2.4.2", Runc: "v1.5.3"},
			[]string{"kiOS        0.1.0", "kubelet     v1.35.4", "containerd  v2.4.2", "runc        v1.5.3"}},
		{"missing", versions{KiOS: "2.0.0~rc1", Kubelet: "v1.36.0"},
			[]string{"kiOS        2.0.0~rc1", "kubelet     v1.36.0", "containerd  unknown (not in components/versions.env)", "runc        unknown (not in components/versions.env)"}},
	} {
		var b bytes.Buffer
		tc.v.write(&b)
		if diff := cmp.Diff(tc.want, strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

// kios version reports the version kios build stamps by default and the
// pins of components/versions.env, which make builds into out/parts.
func TestVersionCommand(t *testing.T) {
	p := components.Pins()
	want := versions{KiOS: osrelease.DefaultVersion, Kubelet: p["KUBERNETES_VERSION"], Containerd: p["CONTAINERD_VERSION"], Runc: p["RUNC_VERSION"]}
	if diff := cmp.Diff(want, current()); diff != "" {
		t.Errorf("current (-want +got):\n%s", diff)
	}
	var b bytes.Buffer
	want.write(&b)
	out, _, err := run("version")
	if err != nil || out != b.String() {
		t.Errorf("kios version: error %v, output:\n%s\nwant:\n%s", err, out, b.String())
	}
}
