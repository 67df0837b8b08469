package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"kios.dev/kios/internal/host/cli"
)

func run(args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	err = cli.Execute(newRoot(), args, &o, &e)
	return o.String(), e.String(), err
}

// Every flag these commands had as kios commands keeps its name (-o is
// --output's shorthand); the lab commands have --baseline, lab-daemon
// the hidden --system it is started with.
func TestFlagsKept(t *testing.T) {
	lab := []string{"baseline", "cache", "dir", "efi", "nodes", "parts", "ram-only"}
	want := map[string][]string{
		"bench": {"baseline", "baseline-root", "boots", "cluster", "config-sources", "efi", "floor", "floor-from", "floor-hold", "floor-min", "floor-pods", "floor-step",
			"image", "memory", "no-shutdown", "out", "pairs", "pods", "probe", "report-from", "systems"},
		"conformance": {"busybox", "debs", "dir", "e2e", "focus", "kubeconfig", "node", "out", "passes", "pause", "procs", "report-only", "timeout"},
		"mkimage":     {"add", "args", "binary", "name", "o", "uncompressed"},
		"up":          lab,
		"load":        lab,
		"down":        lab,
		"lab-daemon":  append(slices.Clone(lab), "system"),
		"version":     nil,
	}
	got := map[string][]string{}
	for _, c := range newRoot().Commands() {
		var names []string
		c.Flags().VisitAll(func(f *pflag.Flag) {
			switch {
			case f.Name == "help":
			case f.Name == "output" && f.Shorthand == "o":
				names = append(names, "o")
			default:
				names = append(names, f.Name)
			}
		})
		slices.Sort(names)
		got[c.Name()] = names
	}
	for _, names := range want {
		slices.Sort(names)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flags by command (-want +got):\n%s", diff)
	}
}

func TestHelp(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Short == "" {
			t.Errorf("%s has no Short help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
	for _, c := range newRoot().Commands() {
		if c.Hidden {
			continue
		}
		out, _, err := run("help", c.Name())
		if err != nil || !strings.Contains(out, "Usage:\n  kios-dev "+c.Name()) {
			t.Errorf("kios-dev help %s: error %v, output:\n%s", c.Name(), err, out)
		}
	}
	out, _, err := run()
	if err != nil || !strings.Contains(out, "Usage:\n  kios-dev [command]") || strings.Contains(out, "lab-daemon") {
		t.Errorf("kios-dev: error %v, output:\n%s", err, out)
	}
	if _, _, err := run("build"); err == nil || !strings.Contains(err.Error(), `unknown command "build" for "kios-dev"`) {
		t.Errorf("kios-dev build: error %v, want an unknown command (build is kios's)", err)
	}
}

func TestMkimageErrors(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"mkimage", "--binary", "b"}, "mkimage: --binary, --name and -o are required"},
		{[]string{"mkimage", "--binary", "b", "--name", "n", "-o", "o.tar", "--add", "/abs"}, `mkimage: --add "/abs": want SRC:DEST with a relative DEST`},
		{[]string{"mkimage", "-binary", "b"}, "unknown shorthand flag: 'b' in -binary (long flags take two dashes: --binary)"},
	} {
		if _, _, err := run(tc.args...); err == nil || err.Error() != tc.wantErr {
			t.Errorf("kios-dev %q: error %v, want %q", tc.args, err, tc.wantErr)
		}
	}
}
