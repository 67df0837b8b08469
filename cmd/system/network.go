package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"kios.dev/kios/internal/node/network"
	"kios.dev/kios/internal/shared/reportsock"
)

// runNetwork is the network system pod: the host's links, addresses,
// routes, DHCP leases and resolv.conf, from the node's network section
// and the kernel's ip= (docs/network.md).
func runNetwork(args []string) error {
	fs := flag.NewFlagSet("network", flag.ExitOnError)
	section := fs.String("section", "/host/run/kios/config/network.json", "the network section PID 1 writes (absent: none)")
	resolv := fs.String("resolv-conf", "/host/etc/resolv.conf", "resolv.conf to write")
	sysctl := fs.String("sysctl-net", "/host/proc/sys/net", "the node's /proc/sys/net (IPv6 autoconfiguration switches)")
	socket := fs.String("report", filepath.Join("/host", reportsock.SocketDir, reportsock.SocketName), "PID 1's report socket (the console)")
	fs.Parse(args)
	cl, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return fmt.Errorf("read the kernel command line: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger := log.New(os.Stdout, "", log.LstdFlags)
	return network.Run(ctx, network.Config{
		Section: *section, Cmdline: string(cl), ResolvConf: *resolv, SysctlNet: *sysctl,
		Log: logger, LinkWait: 30 * time.Second,
		Report: func(r reportsock.Report) {
			if err := reportsock.Send(*socket, r); err != nil {
				logger.Printf("network: tell PID 1: %v", err)
			}
		},
	})
}
