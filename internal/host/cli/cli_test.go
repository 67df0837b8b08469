package cli

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// run runs the kios command line as main does.
func run(args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	err = Run(args, &o, &e)
	return o.String(), e.String(), err
}

// commands are the kios commands, hidden ones too (lab-daemon), but not
// help and completion, which cobra adds when it runs.
func commands(root *cobra.Command) map[string]*cobra.Command {
	m := map[string]*cobra.Command{}
	for _, c := range root.Commands() {
		m[c.Name()] = c
	}
	return m
}

// flagNames are a command's flags by the names they had before kios
// used cobra: -o is the shorthand of --output.
func flagNames(c *cobra.Command) []string {
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
	return names
}

// Every flag of the standard-flag kios (before cobra) keeps its name,
// and no command has a flag it did not have (lab-daemon's hidden
// --system aside; --baseline went to kios-dev; build's --config-sources
// and --config-ca came with the node configuration).
func TestFlagsKept(t *testing.T) {
	lab := []string{"cache", "dir", "efi", "nodes", "parts", "ram-only"}
	want := map[string][]string{
		"build":      {"ca-cert-hash", "cmdline", "config", "config-ca", "config-sources", "image", "join", "o", "parts", "sign-cert", "sign-key", "token", "version"},
		"disk":       {"ca-cert-hash", "config", "efi", "format", "image", "join", "o", "parts", "size", "token"},
		"vm":         {"cpus", "disk", "efi", "forward", "memory", "serial", "timeline"},
		"up":         lab,
		"load":       lab,
		"down":       lab,
		"lab-daemon": append(slices.Clone(lab), "system"),
		"upgrade":    {"allow-downgrade", "dir", "drain-timeout", "kubeconfig", "max-unavailable", "nodes", "parts", "registry", "stage-only", "timeout", "to", "tries"},
		"rollback":   {"dir", "drain-timeout", "image", "kubeconfig", "timeout"},
		"version":    nil,
		"config":     nil,
	}
	got := map[string][]string{}
	for name, c := range commands(NewRoot()) {
		got[name] = flagNames(c)
	}
	for _, names := range want {
		slices.Sort(names)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flags by command (-want +got):\n%s", diff)
	}
}

func TestShortHelp(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Short == "" {
			t.Errorf("%s has no Short help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRoot())
}

// kios help CMD and kios CMD --help print the command's usage on
// stdout and succeed; so do kios, kios help and kios --help, for all
// commands.
func TestHelp(t *testing.T) {
	for name, c := range commands(NewRoot()) {
		if c.Hidden {
			continue
		}
		desc := c.Long // what help shows, else Short
		if desc == "" {
			desc = c.Short
		}
		for _, args := range [][]string{{"help", name}, {name, "--help"}, {name, "-h"}} {
			out, _, err := run(args...)
			if err != nil || !strings.Contains(out, "Usage:\n  kios "+name) || !strings.Contains(out, desc) {
				t.Errorf("kios %s: error %v, output:\n%s", strings.Join(args, " "), err, out)
			}
		}
	}
	for _, args := range [][]string{nil, {"help"}, {"--help"}} {
		out, _, err := run(args...)
		if err != nil || !strings.Contains(out, "Usage:\n  kios [command]") {
			t.Errorf("kios %s: error %v, output:\n%s", strings.Join(args, " "), err, out)
		}
		for _, want := range []string{"build", "disk", "vm", "up", "load", "down", "upgrade", "rollback", "version", "completion", "help"} {
			if !strings.Contains(out, "\n  "+want+" ") {
				t.Errorf("kios %s does not list %s:\n%s", strings.Join(args, " "), want, out)
			}
		}
		if strings.Contains(out, "lab-daemon") {
			t.Errorf("kios %s lists the hidden lab-daemon:\n%s", strings.Join(args, " "), out)
		}
	}
}

// A command line that does not parse fails with an error that says why
// and the command's usage on stderr; an error at run time shows no
// usage.
func TestCommandLineErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args      []string
		wantErr   string
		wantUsage string // on stderr; "" for none
	}{
		{[]string{"nope"}, "unknown command \"nope\" for \"kios\"\nRun 'kios --help' for usage.", ""},
		{[]string{"buidl"}, "Did you mean this?\n\tbuild", ""},
		{[]string{"bench", "--boots", "3"}, "unknown command \"bench\" for \"kios\"\nRun 'kios --help' for usage.\nbench is a command of kios-dev, the development command, now: out/kios-dev bench", ""},
		{[]string{"build", "extra"}, `build: unexpected argument "extra"`, "kios build [flags]"},
		{[]string{"build", "--nope"}, "unknown flag: --nope", "kios build [flags]"},
		{[]string{"up", "-dir", dir}, "unknown shorthand flag: 'd' in -dir (long flags take two dashes: --dir)", "kios up [flags]"},
		{[]string{"vm", "--memory", "lots"}, `invalid argument "lots" for "--memory" flag`, "kios vm [flags]"},
		{[]string{"load", "--dir", dir}, "load: give an image archive: kios load [--dir DIR] FILE", "kios load FILE [flags]"},
		{[]string{"load", "a.tar", "b.tar"}, `load: one image archive at a time: unexpected argument "b.tar"`, "kios load FILE [flags]"},
		{[]string{"rollback", "--dir", dir}, "usage: kios rollback [--dir DIR | --kubeconfig FILE] NODE", "kios rollback NODE [flags]"},
		{[]string{"disk"}, "disk: -o FILE is required", "kios disk -o FILE [flags]"},
		{[]string{"upgrade", "--dir", dir}, "upgrade: --to FILE.efi|IMAGE is required", "kios upgrade --to FILE.efi|IMAGE [flags]"},
		{[]string{"up", "--nodes", "9", "--dir", dir}, "--nodes must be 1 to 8", ""},
		{[]string{"rollback", "--dir", dir, "node-1"}, "rollback: kubeconfig " + filepath.Join(dir, "kubeconfig"), ""},
	} {
		_, stderr, err := run(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("kios %q: error %v, want %q", tc.args, err, tc.wantErr)
		}
		if tc.wantUsage == "" && stderr != "" {
			t.Errorf("kios %q: stderr %q, want nothing", tc.args, stderr)
		}
		if tc.wantUsage != "" && !strings.Contains(stderr, "Usage:\n  "+tc.wantUsage) {
			t.Errorf("kios %q: stderr %q, want the usage %q", tc.args, stderr, tc.wantUsage)
		}
	}
}

// -o FILE, as before; --o too (the standard flag package took either).
func TestOutputFlag(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []string{"-o", "--o", "--output"} {
		out := filepath.Join(dir, "x"+o+".efi")
		root := NewRoot()
		// Fails at run time: no kernel in the empty --parts.
		err := Execute(root, []string{"build", o, out, "--parts", dir}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "kernel") {
			t.Errorf("kios build %s: error %v, want one about the kernel", o, err)
		}
		if got := commands(root)["build"].Flags().Lookup("output").Value.String(); got != out {
			t.Errorf("kios build %s %s: output %q", o, out, got)
		}
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, _, err := run("completion", shell)
		if err != nil || !strings.Contains(out, "kios") || len(out) < 1000 {
			t.Errorf("kios completion %s: error %v, %d bytes", shell, err, len(out))
		}
	}
}

// A system flag of LabCommands chooses the registered node system up
// boots; lab-daemon takes it as --system.
func TestSystemFlags(t *testing.T) {
	systems := []SystemFlag{{"one", "boot system one"}, {"two", "boot system two"}}
	for _, tc := range []struct {
		args       []string
		wantSystem string
		wantErr    string
	}{
		{nil, "", ""},
		{[]string{"--one"}, "one", ""},
		{[]string{"--two", "--nodes", "3"}, "two", ""},
		{[]string{"--one", "--two"}, "", "give one of --one, --two"},
	} {
		cmd := &cobra.Command{Use: "up"}
		o := labFlags(cmd, systems, false)
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		c, err := o.config()
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || c.System != tc.wantSystem {
			t.Errorf("%q: System %q, error %v; want %q", tc.args, c.System, err, tc.wantSystem)
		}
	}
	for _, c := range LabCommands(systems...) {
		for _, s := range systems {
			if c.Flags().Lookup(s.Name) == nil {
				t.Errorf("%s has no --%s", c.Name(), s.Name)
			}
		}
		if f := c.Flags().Lookup("system"); (f != nil) != (c.Name() == "lab-daemon") || f != nil && !f.Hidden {
			t.Errorf("%s: --system %+v; want it hidden, on lab-daemon only", c.Name(), f)
		}
	}
}
