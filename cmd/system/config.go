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

	"kios.dev/kios/internal/node/fetch"
	"kios.dev/kios/internal/shared/configsock"
	"kios.dev/kios/internal/shared/configsrc"
)

// runConfig is the config pod: it fetches the node's configuration from
// the network sources PID 1 names and hands it to PID 1.
func runConfig(args []string) error {
	fs := flag.NewFlagSet("config", flag.ExitOnError)
	sources := fs.String("sources", "url,metadata", "network sources to ask, in order")
	socket := fs.String("socket", filepath.Join("/host", configsock.SocketDir, configsock.SocketName), "PID 1's config socket")
	ca := fs.String("ca", "/host/"+configsrc.ImageCAFile, "the image's CAs for an https URL (absent: the system's roots)")
	imds := fs.String("imds", fetch.IMDS, "the instance metadata service")
	tries := fs.Int("url-tries", 8, "tries of kios.config= before the pod exits (the kubelet starts it again)")
	fs.Parse(args)
	list, err := configsrc.ParseSources(*sources)
	if err != nil {
		return err
	}
	cl, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return fmt.Errorf("read the kernel command line: %w", err)
	}
	caPEM, err := fetch.ReadCA(*ca)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return fetch.Run(ctx, fetch.Config{
		Cmdline: string(cl), Sources: list, CA: caPEM, IMDS: *imds,
		Send:    func(r configsock.Request) (configsock.Result, error) { return configsock.Send(*socket, r) },
		Log:     log.New(os.Stdout, "", log.LstdFlags),
		Timeout: 5 * time.Second, URLTries: *tries, Backoff: 2 * time.Second,
	})
}
