package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"kios.dev/kios/internal/host/lab"
)

// SystemFlag is a boolean flag of the lab commands that boots the node
// system registered under the same Name (lab.RegisterSystem) instead of
// kiOS, e.g. kios-dev's --baseline.
type SystemFlag struct {
	Name, Usage string
}

// LabCommands are up, down and load, and the hidden lab-daemon: the
// background process up starts by running this program again (`SELF
// lab-daemon`), so a program that registers node systems (systems, one
// flag each) boots them through its own lab-daemon.
func LabCommands(systems ...SystemFlag) []*cobra.Command {
	up := &cobra.Command{
		Use:   "up",
		Short: "start a local cluster: control plane, lab network, kiOS nodes",
		Long: `Start a local cluster in the background: an upstream control plane and an
image registry on a lab network, and kiOS nodes in QEMU, each installed on
a disk of its own (or booted from the EFI alone with --ram-only). It
returns when every node is Ready and prints the kubeconfig; kios down stops
it (docs/up.md).`,
		Example: `  kios up --nodes 2
  export KUBECONFIG=out/lab/kubeconfig
  kios load app.tar
  kios down`,
		Args: NoArgs,
	}
	upOpts := labFlags(up, systems, false)
	up.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := upOpts.config()
		if err != nil {
			return err
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		return lab.Up(self, c, cmd.OutOrStdout(), 15*time.Minute)
	}

	down := &cobra.Command{
		Use:   "down",
		Short: "stop the local cluster and remove everything it made",
		Args:  NoArgs,
	}
	downOpts := labFlags(down, systems, true)
	down.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := downOpts.config()
		if err != nil {
			return err
		}
		return lab.Down(c.Dir, cmd.OutOrStdout())
	}

	load := &cobra.Command{
		Use:   "load FILE",
		Short: "push an image archive to the lab registry",
		Long: `Push the images of a docker-archive (docker save, crane save) to the lab
registry, where the lab's nodes pull them by the names inside the archive.`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return UsageErrorf(cmd, "load: give an image archive: %s [--dir DIR] FILE", cmd.CommandPath())
			case len(args) > 1:
				return UsageErrorf(cmd, "load: one image archive at a time: unexpected argument %q", args[1])
			}
			return nil
		},
	}
	loadOpts := labFlags(load, systems, true)
	load.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := loadOpts.config()
		if err != nil {
			return err
		}
		return lab.Load(c.Dir, args[0], cmd.OutOrStdout())
	}

	daemon := &cobra.Command{
		Use:    "lab-daemon",
		Short:  "the background process of kios up, which runs the lab until kios down",
		Hidden: true,
		Args:   NoArgs,
	}
	daemonOpts := labFlags(daemon, systems, false)
	daemon.Flags().StringVar(&daemonOpts.c.System, "system", "", "the node system to boot (registered with lab.RegisterSystem; default kiOS)")
	daemon.Flags().MarkHidden("system")
	daemon.RunE = func(*cobra.Command, []string) error {
		c, err := daemonOpts.config()
		if err != nil {
			return err
		}
		return lab.Daemon(c)
	}
	return []*cobra.Command{up, load, down, daemon}
}

// labOptions are the flags every lab command takes (down and load use
// only --dir and hide the others).
type labOptions struct {
	c       lab.Config
	systems map[string]*bool
}

func labFlags(cmd *cobra.Command, systems []SystemFlag, dirOnly bool) *labOptions {
	o := &labOptions{systems: map[string]*bool{}}
	f := cmd.Flags()
	f.StringVar(&o.c.Dir, "dir", filepath.Join("out", "lab"), "directory for all the lab's state")
	f.IntVar(&o.c.Nodes, "nodes", 1, "number of kiOS nodes")
	f.StringVar(&o.c.Parts, "parts", DefaultParts(), "built components (make build)")
	f.StringVar(&o.c.Cache, "cache", DefaultCache(), "component cache with the control plane (make controlplane)")
	f.BoolVar(&o.c.RAMOnly, "ram-only", false, "boot the kiOS nodes from the EFI alone (no disk: nothing kept across reboots, no upgrades in place)")
	f.StringVar(&o.c.EFI, "efi", "", "the kiOS EFI to install the disk nodes with (default: built from --parts)")
	for _, s := range systems {
		o.systems[s.Name] = f.Bool(s.Name, false, s.Usage)
	}
	if dirOnly {
		f.VisitAll(func(fl *pflag.Flag) {
			if fl.Name != "dir" {
				fl.Hidden = true
			}
		})
	}
	return o
}

// config checks the flags and gives the lab's Config.
func (o *labOptions) config() (lab.Config, error) {
	c := o.c
	if c.Nodes < 1 || c.Nodes > 8 {
		return c, fmt.Errorf("--nodes must be 1 to 8")
	}
	var chosen []string
	for name, on := range o.systems {
		if *on {
			chosen = append(chosen, "--"+name)
			c.System = name
		}
	}
	if len(chosen) > 1 {
		slices.Sort(chosen)
		return c, fmt.Errorf("give one of %s", strings.Join(chosen, ", "))
	}
	return c, nil
}
