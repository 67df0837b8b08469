package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"kios.dev/kios/internal/shared/ntp"
)

type servers []string

func (s *servers) String() string     { return "" }
func (s *servers) Set(v string) error { *s = append(*s, v); return nil }

// runNTP is the ntp system pod: an SNTP client for the host clock.
func runNTP(args []string) error {
	fs := flag.NewFlagSet("ntp", flag.ExitOnError)
	var list servers
	fs.Var(&list, "server", "NTP server (host or host:port); repeatable")
	file := fs.String("servers-file", "", "file listing servers that replace --server when it exists (the node configuration's ntpServers)")
	minPoll := fs.Duration("min-poll", 32*time.Second, "shortest polling interval")
	maxPoll := fs.Duration("max-poll", 1024*time.Second, "longest polling interval")
	fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	c := &ntp.Client{Servers: list, ServersFile: *file, Log: log.New(os.Stdout, "", log.LstdFlags), MinPoll: *minPoll, MaxPoll: *maxPoll}
	return c.Run(ctx)
}
