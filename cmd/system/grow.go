package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"kios.dev/kios/internal/node/grow"
)

// runGrow is the grow system pod: it extends the data partition to the
// end of its disk and resizes ext4 online, now and whenever the disk
// grows.
func runGrow(args []string) error {
	fs := flag.NewFlagSet("grow", flag.ExitOnError)
	socket := fs.String("socket", filepath.Join(grow.SocketDir, grow.SocketName), "PID 1's grant socket")
	interval := fs.Duration("interval", time.Minute, "how often to look for a larger disk")
	fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	grow.Watch(ctx, *socket, *interval, log.New(os.Stdout, "", log.LstdFlags))
	return nil
}
