// Package components checks that the pins in components/versions.env
// and the wrapper modules' go.mod files agree.
package components

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

func readEnv(t *testing.T) map[string]string {
	f, err := os.Open("../../components/versions.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env
}

func TestPinsAgree(t *testing.T) {
	env := readEnv(t)
	for _, tt := range []struct{ gomod, require, key string }{
		{"kubernetes", "k8s.io/kubernetes ", "KUBERNETES_VERSION"},
		{"containerd", "github.com/containerd/containerd/v2 ", "CONTAINERD_VERSION"},
		{"runc", "github.com/opencontainers/runc ", "RUNC_VERSION"},
	} {
		b, err := os.ReadFile("../../components/" + tt.gomod + "/go.mod")
		if err != nil {
			t.Fatal(err)
		}
		want := tt.require + env[tt.key]
		if !strings.Contains(string(b), want) {
			t.Errorf("components/%s/go.mod does not require %q (versions.env %s=%s)", tt.gomod, want, tt.key, env[tt.key])
		}
	}
	if minor := strings.Split(env["KUBERNETES_VERSION"], ".")[1]; minor != "35" {
		t.Errorf("kubelet minor %s: the N-2 policy pins 1.35 while 1.37 is newest", minor)
	}
	b, _ := os.ReadFile("../../components/kubernetes/go.mod")
	if !strings.Contains(string(b), "k8s.io/api => k8s.io/api v0"+strings.TrimPrefix(env["KUBERNETES_VERSION"], "v1")) {
		t.Error("staging replaces do not match the kubernetes version")
	}
	for _, k := range []string{"KERNEL_SHA256", "STUB_SHA256"} {
		if len(env[k]) != 64 {
			t.Errorf("%s is not a SHA-256: %q", k, env[k])
		}
	}
}
