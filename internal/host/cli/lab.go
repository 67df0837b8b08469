package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	devbaseline "kios.dev/kios/dev/baseline"
	"kios.dev/kios/internal/host/lab"
)

func init() { lab.RegisterSystem(devbaseline.LabSystem, devbaseline.LabNodes) }

func defaultCache() string {
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "..", "build", "cache"); isDir(p) {
			return p
		}
	}
	return filepath.Join("build", "cache")
}

func labFlags(name string, stderr io.Writer) (*lab.Config, func([]string) error) {
	fs := newFlags(name, stderr)
	c := &lab.Config{}
	fs.StringVar(&c.Dir, "dir", filepath.Join("out", "lab"), "directory for all the lab's state")
	fs.IntVar(&c.Nodes, "nodes", 1, "number of kiOS nodes")
	fs.StringVar(&c.Parts, "parts", defaultParts(), "built components (make build)")
	fs.StringVar(&c.Cache, "cache", defaultCache(), "component cache with the control plane (make controlplane)")
	fs.BoolVar(&c.RAMOnly, "ram-only", false, "boot the kiOS nodes from the EFI alone (no disk: nothing kept across reboots, no upgrades in place)")
	fs.StringVar(&c.EFI, "efi", "", "the kiOS EFI to install the disk nodes with (default: built from --parts)")
	baseline := fs.Bool("baseline", false, "boot the benchmark's Debian node (components/build.sh baseline) instead of kiOS, to compare")
	fs.StringVar(&c.System, "system", "", "the node system (lab-daemon)")
	return c, func(args []string) error {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *baseline {
			c.System = devbaseline.LabSystem
		}
		if c.Nodes < 1 || c.Nodes > 8 {
			return fmt.Errorf("--nodes must be 1 to 8")
		}
		return nil
	}
}

func runUp(args []string, stdout, stderr io.Writer) error {
	c, parse := labFlags("up", stderr)
	if err := parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return lab.Up(self, *c, stdout, 15*time.Minute)
}

func runLabDaemon(args []string, stderr io.Writer) error {
	c, parse := labFlags("lab-daemon", stderr)
	if err := parse(args); err != nil {
		return err
	}
	return lab.Daemon(*c)
}

func runDown(args []string, stdout, stderr io.Writer) error {
	c, parse := labFlags("down", stderr)
	if err := parse(args); err != nil {
		return err
	}
	return lab.Down(c.Dir, stdout)
}

func runLoad(args []string, stdout, stderr io.Writer) error {
	c, parse := labFlags("load", stderr)
	if err := parse(args); err != nil {
		return err
	}
	if len(args) == 0 || len(args[len(args)-1]) == 0 || args[len(args)-1][0] == '-' {
		return fmt.Errorf("load: give an image archive: kios load [--dir DIR] FILE")
	}
	return lab.Load(c.Dir, args[len(args)-1], stdout)
}
