package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"kios.dev/kios/internal/host/vm"
)

func runVM(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("vm", stderr)
	var c vm.Config
	var fwd multi
	var serial string
	var timeline bool
	fs.StringVar(&c.EFI, "efi", defaultOutput(), "EFI file to boot")
	fs.StringVar(&c.Disk, "disk", "", "disk image to boot instead of an EFI file")
	fs.IntVar(&c.MemoryMiB, "memory", 2048, "memory in MiB")
	fs.IntVar(&c.CPUs, "cpus", 2, "virtual CPUs")
	fs.Var(&fwd, "forward", "HOSTPORT:GUESTPORT TCP forward on 127.0.0.1; repeatable")
	fs.StringVar(&serial, "serial", "", "write the serial console to this file instead of the terminal")
	fs.BoolVar(&timeline, "timeline", false, "print the boot timeline once the first static pod runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
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
