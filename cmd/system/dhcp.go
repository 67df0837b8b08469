package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"kios.dev/kios/internal/node/dhcp"
)

// runDHCP is the dhcp system pod: a DHCPv4 client for the host.
func runDHCP(args []string) error {
	fs := flag.NewFlagSet("dhcp", flag.ExitOnError)
	ifaces := fs.String("interfaces", "", "comma-separated interfaces (default: every ethernet interface that is up)")
	resolv := fs.String("resolv-conf", "", "resolv.conf to write the offered name servers to")
	fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var list []string
	if *ifaces != "" {
		list = strings.Split(*ifaces, ",")
	} else {
		// Interfaces come up as PID 1 boots; wait briefly for one.
		for i := 0; i < 30 && len(list) == 0 && ctx.Err() == nil; i++ {
			l, err := dhcp.EthernetUp()
			if err != nil {
				return err
			}
			list = l
			if len(list) == 0 {
				time.Sleep(time.Second)
			}
		}
	}
	logger := log.New(os.Stdout, "", log.LstdFlags)
	logger.Printf("dhcp: configuring %s", strings.Join(list, ","))
	c := &dhcp.Client{Interfaces: list, ResolvConf: *resolv, Log: logger}
	return c.Run(ctx)
}
