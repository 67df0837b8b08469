// Package cli is the `kios` command (spf13/cobra): build images, write
// disks, boot them in QEMU, run a local cluster, upgrade its nodes. The
// development command (dev/cmd/kios-dev) reuses its lab commands, its
// version command and Execute.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Commands are listed in the order they are added (build, disk, vm; up,
// load, down), not by name.
func init() { cobra.EnableCommandSorting = false }

// NewRoot is the kios command tree.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "kios",
		Short: "kiOS: build Kubernetes node images, boot them, run and upgrade clusters of them",
		Long: `kios builds kiOS images (a single EFI file that boots a Kubernetes node),
writes them to disks, boots them in QEMU, runs a local cluster of kiOS nodes
and upgrades nodes in place. See docs/README.md.`,
	}
	root.AddGroup(&cobra.Group{ID: "image", Title: "Images:"},
		&cobra.Group{ID: "lab", Title: "Local cluster:"},
		&cobra.Group{ID: "nodes", Title: "Nodes of a cluster:"})
	for _, c := range []*cobra.Command{buildCommand(), configCommand(), diskCommand(), vmCommand()} {
		c.GroupID = "image"
		root.AddCommand(c)
	}
	for _, c := range LabCommands() {
		c.GroupID = "lab"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{upgradeCommand(), rollbackCommand()} {
		c.GroupID = "nodes"
		root.AddCommand(c)
	}
	root.AddCommand(VersionCommand())
	return root
}

// Run runs the kios command line (args without the program name).
func Run(args []string, stdout, stderr io.Writer) error {
	err := Execute(NewRoot(), args, stdout, stderr)
	if err != nil && len(args) > 0 && slices.Contains(devCommands, args[0]) && strings.HasPrefix(err.Error(), "unknown command ") {
		return fmt.Errorf("%w\n%s is a command of kios-dev, the development command, now: out/kios-dev %s (make build makes it)", err, args[0], args[0])
	}
	return err
}

// devCommands were kios commands before they went to kios-dev.
var devCommands = []string{"bench", "conformance", "mkimage"}

// Execute runs the command tree root on args: help and results on
// stdout, progress on stderr. It returns the error for the caller to
// print (no usage after a failure at run time); a command line that
// does not parse (an unknown flag, a missing argument) shows the
// command's usage on stderr first.
func Execute(root *cobra.Command, args []string, stdout, stderr io.Writer) error {
	root.SilenceErrors, root.SilenceUsage = true, true
	root.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{c, flagHint(c, err)}
	})
	// -o FILE has always been the output flag; --o still works.
	root.SetGlobalNormalizationFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "o" {
			name = "output"
		}
		return pflag.NormalizedName(name)
	})
	_, err := root.ExecuteC()
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprint(stderr, ue.cmd.UsageString())
	case err != nil && strings.HasPrefix(err.Error(), "unknown command "):
		return fmt.Errorf("%w\nRun '%s --help' for usage.", err, root.Name())
	}
	return err
}

// usageError is a command line that does not parse: Execute shows
// cmd's usage with it.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// UsageErrorf is an error in cmd's command line (Execute shows cmd's
// usage with it).
func UsageErrorf(cmd *cobra.Command, format string, a ...any) error {
	return &usageError{cmd, fmt.Errorf(format, a...)}
}

// NoArgs is the Args of a command that takes flags only.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return UsageErrorf(cmd, "%s: unexpected argument %q", cmd.Name(), args[0])
	}
	return nil
}

var singleDash = regexp.MustCompile(`in -([^-\s=][^\s=]+)`)

// flagHint adds to pflag's "unknown shorthand flag: 'd' in -dir" that
// long flags take two dashes (the standard flag package of earlier
// kios versions took one).
func flagHint(cmd *cobra.Command, err error) error {
	m := singleDash.FindStringSubmatch(err.Error())
	if m != nil && strings.HasPrefix(err.Error(), "unknown shorthand flag") && cmd.Flags().Lookup(m[1]) != nil {
		return fmt.Errorf("%w (long flags take two dashes: --%s)", err, m[1])
	}
	return err
}

// DefaultParts is out/parts next to the kios binary (out/kios), so the
// built CLI finds the components `make` staged wherever it runs from.
func DefaultParts() string {
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "parts"); isDir(p) {
			return p
		}
	}
	return filepath.Join("out", "parts")
}

// DefaultOutput is the EFI kios build writes: out/kios-amd64.efi, next
// to the kios binary when it runs from out/.
func DefaultOutput() string {
	if exe, err := os.Executable(); err == nil {
		if d := filepath.Dir(exe); isDir(filepath.Join(d, "parts")) {
			return filepath.Join(d, "kios-amd64.efi")
		}
	}
	return filepath.Join("out", "kios-amd64.efi")
}

// DefaultCache is build/cache, where components/build.sh keeps what it
// builds, found from the kios binary in out/ when it can be.
func DefaultCache() string {
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "..", "build", "cache"); isDir(p) {
			return p
		}
	}
	return filepath.Join("build", "cache")
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
