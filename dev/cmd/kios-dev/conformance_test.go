package main

import (
	"io"
	"strings"
	"testing"

	"kios.dev/kios/internal/host/cli"
)

// A run of a few tests (--focus) writes under out/conformance-smoke
// unless told where, so it never replaces a full run's result; the
// directory shows in --report-only's error when it holds no result.
func TestConformanceOutDefault(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		args    []string
		wantDir string
	}{
		{[]string{"--report-only"}, "out/conformance"},
		{[]string{"--report-only", "--focus", "Pods should get a host IP"}, "out/conformance-smoke"},
		{[]string{"--report-only", "--focus", "Pods", "--out", "mine"}, "mine"},
	} {
		err := cli.Execute(conformanceCommand(), tc.args, io.Discard, io.Discard)
		if err == nil || !strings.HasSuffix(err.Error(), "no result.json under "+tc.wantDir) {
			t.Errorf("kios conformance %q: got %v, want it to read %s", tc.args, err, tc.wantDir)
		}
	}
}
