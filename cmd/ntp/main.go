// Command ntp is the kiOS ntp system pod: an SNTP client for the host clock.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"kios.dev/kios/internal/ntp"
)

type servers []string

func (s *servers) String() string     { return "" }
func (s *servers) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	var list servers
	flag.Var(&list, "server", "NTP server (host or host:port); repeatable")
	minPoll := flag.Duration("min-poll", 32*time.Second, "shortest polling interval")
	maxPoll := flag.Duration("max-poll", 1024*time.Second, "longest polling interval")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	c := &ntp.Client{Servers: list, Log: log.New(os.Stdout, "", log.LstdFlags), MinPoll: *minPoll, MaxPoll: *maxPoll}
	if err := c.Run(ctx); err != nil {
		log.Fatalf("ntp: %v", err)
	}
}
