package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"kios.dev/kios/internal/host/vm"
)

func vmCommand() *cobra.Command {
	var c vm.Config
	var fwd []string
	var serial string
	var timeline bool
	cmd := &cobra.Command{
		Use:   "vm",
		Short: "boot an EFI image (or disk) in QEMU",
		Long: `Boot a kiOS EFI image, or a disk made by kios disk, in QEMU with its serial
console on the terminal; Ctrl-C powers the VM off (docs/vm.md).`,
		Example: `  kios vm --efi node.efi --forward 8080:80 --timeline
  kios vm --disk disk.img`,
		Args: NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVM(c, fwd, serial, timeline, cmd)
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.EFI, "efi", DefaultOutput(), "EFI file to boot")
	f.StringVar(&c.Disk, "disk", "", "disk image to boot instead of an EFI file")
	f.IntVar(&c.MemoryMiB, "memory", 2048, "memory in MiB")
	f.IntVar(&c.CPUs, "cpus", 2, "virtual CPUs")
	f.StringArrayVar(&fwd, "forward", nil, "HOSTPORT:GUESTPORT TCP forward on 127.0.0.1; repeatable")
	f.StringVar(&serial, "serial", "", "write the serial console to this file instead of the terminal")
	f.BoolVar(&timeline, "timeline", false, "print the boot timeline once the first static pod runs")
	return cmd
}

func runVM(c vm.Config, fwd []string, serial string, timeline bool, cmd *cobra.Command) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if c.Disk != "" {
		c.EFI = ""
	}
	for _, f := range fwd {
		p, err := vm.ParseForward(f)
		if err != nil {
			return err
		}
		c.Forwards = append(c.Forwards, p)
	}
	c.Console = stdout
	if serial != "" {
		f, err := os.Create(serial)
		if err != nil {
			return fmt.Errorf("serial file: %w", err)
		}
		defer f.Close()
		c.Console = f
	}
	dir, err := os.MkdirTemp("", "kios-vm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c.Dir = dir
	v, err := vm.Start(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "kios vm: %s\n", v.Command())
	fmt.Fprintln(stderr, "kios vm: Ctrl-C powers the VM off")
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var tick <-chan time.Time
	if timeline {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	}
	printed := false
	for {
		select {
		case <-v.Done():
			if timeline && !printed {
				vm.TimelineOf(v.Lines()).Print(stderr)
			}
			return nil
		case <-sigs:
			fmt.Fprintln(stderr, "\nkios vm: powering off")
			go func() { <-sigs; v.Kill() }()
			v.Stop(60 * time.Second)
		case <-tick:
			tl := vm.TimelineOf(v.Lines())
			if _, ok := tl.At["first static pod running"]; ok && !printed {
				printed = true
				tl.Print(stderr)
			}
		}
	}
}
