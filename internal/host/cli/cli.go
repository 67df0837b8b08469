// Package cli is the `kios` command: build images, boot them in QEMU.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

const usage = `usage: kios COMMAND [flags]

commands:
  build     build the node's EFI image
  disk      write a bootable disk image (GPT, EFI System Partition, data partition)
  vm        boot an EFI image (or disk) in QEMU
  up        start a local cluster: control plane, lab network, kiOS nodes
  load      push an image archive to the lab registry (kios load [--dir DIR] FILE)
  down      stop the local cluster and remove everything it made
  bench     boot an image several times and report timeline, size, RAM
  mkimage   make a single-binary OCI image archive (used by make)
  upgrade   upgrade kiOS nodes in place, one at a time (kios upgrade --to FILE.efi --dir DIR)
  rollback  boot a node's previous good version (kios rollback --dir DIR NODE)
  conformance  run the upstream [NodeConformance] tests against a lab or cluster (make conformance)
`

// Run runs the kios command line.
func Run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "build":
		return build(args[1:], stdout, stderr)
	case "vm":
		return runVM(args[1:], stdout, stderr)
	case "disk":
		return runDisk(args[1:], stdout, stderr)
	case "up":
		return runUp(args[1:], stdout, stderr)
	case "down":
		return runDown(args[1:], stdout, stderr)
	case "load":
		return runLoad(args[1:], stdout, stderr)
	case "lab-daemon":
		return runLabDaemon(args[1:], stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "upgrade":
		return runUpgrade(args[1:], stdout, stderr)
	case "rollback":
		return runRollback(args[1:], stdout, stderr)
	case "conformance":
		return runConformance(args[1:], stdout, stderr)
	case "mkimage":
		return mkimage(args[1:], stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// defaultParts is out/parts next to the kios binary (out/kios), so the
// built CLI finds the components `make` staged wherever it runs from.
func defaultParts() string {
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "parts"); isDir(p) {
			return p
		}
	}
	return filepath.Join("out", "parts")
}

func defaultOutput() string {
	if exe, err := os.Executable(); err == nil {
		if d := filepath.Dir(exe); isDir(filepath.Join(d, "parts")) {
			return filepath.Join(d, "kios-amd64.efi")
		}
	}
	return filepath.Join("out", "kios-amd64.efi")
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kios "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
