// Command join is the kiOS join pod: it trusts a cluster the way
// `kubeadm join` does (bootstrap token and CA hash) and writes the
// kubelet's CA and bootstrap kubeconfig; PID 1 then restarts the kubelet.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"kios.dev/kios/internal/node/syssock"
	"kios.dev/kios/internal/shared/join"
)

func main() {
	var p join.Params
	flag.StringVar(&p.API, "api", "", "API server host:port")
	flag.StringVar(&p.Token, "token", "", "bootstrap token ID.SECRET")
	tokenFile := flag.String("token-file", "", "file holding the bootstrap token (instead of --token)")
	flag.StringVar(&p.CAHash, "ca-cert-hash", "", "sha256:HEX of the cluster CA's public key")
	dir := flag.String("kubernetes-dir", "/host/etc/kubernetes", "the node's /etc/kubernetes")
	sock := flag.String("system-socket", "/host/run/system.sock", "PID 1's system socket (empty: do not ask)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger := log.New(os.Stdout, "join: ", log.LstdFlags)
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			logger.Fatalf("read the token: %v", err)
		}
		p.Token = strings.TrimSpace(string(b))
	}
	var notify func() error
	if *sock != "" {
		notify = func() error { return syssock.Send(*sock, syssock.RestartKubelet) }
	}
	if err := join.Run(ctx, p, *dir, logger, notify); err != nil {
		logger.Fatal(err)
	}
}
