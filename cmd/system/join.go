package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"kios.dev/kios/internal/node/syssock"
	"kios.dev/kios/internal/shared/join"
)

// runJoin is the join pod: it trusts a cluster as kubeadm join does and
// writes the kubelet's CA and bootstrap kubeconfig.
func runJoin(args []string) error {
	fs := flag.NewFlagSet("join", flag.ExitOnError)
	var p join.Params
	fs.StringVar(&p.API, "api", "", "API server host:port")
	fs.StringVar(&p.Token, "token", "", "bootstrap token ID.SECRET")
	tokenFile := fs.String("token-file", "", "file holding the bootstrap token (instead of --token)")
	fs.StringVar(&p.CAHash, "ca-cert-hash", "", "sha256:HEX of the cluster CA's public key")
	dir := fs.String("kubernetes-dir", "/host/etc/kubernetes", "the node's /etc/kubernetes")
	sock := fs.String("system-socket", "/host/run/system.sock", "PID 1's system socket (empty: do not ask)")
	fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger := log.New(os.Stdout, "join: ", log.LstdFlags)
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("read the token: %w", err)
		}
		p.Token = strings.TrimSpace(string(b))
	}
	var notify func() error
	if *sock != "" {
		notify = func() error { return syssock.Send(*sock, syssock.RestartKubelet) }
	}
	return join.Run(ctx, p, *dir, logger, notify)
}
