// Command cni-installer is the pod that installs kiOS's CNI plugins and
// network configuration on its node, then stays to keep them in place.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"kios.dev/kios/internal/node/cni"
)

func main() {
	src := flag.String("plugins", "/plugins", "directory of the CNI plugins in this image")
	bin := flag.String("bin-dir", "/host/opt/cni/bin", "the node's CNI plugin directory")
	conf := flag.String("conf-dir", "/host/etc/cni/net.d", "the node's CNI configuration directory")
	flag.Parse()
	api := os.Getenv("KUBERNETES_SERVICE_HOST") + ":" + os.Getenv("KUBERNETES_SERVICE_PORT")
	node := os.Getenv("NODE_NAME")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	done := false
	for ctx.Err() == nil {
		cidr, err := cni.PodCIDR(ctx, api, node, cni.ServiceAccount)
		if err == nil {
			err = cni.Install(*src, *bin, *conf, cidr)
		}
		switch {
		case err != nil:
			log.Printf("cni-installer: %v (retrying)", err)
		case !done:
			log.Printf("cni-installer: installed %v and %s for pod CIDR %s on %s", cni.Plugins, cni.ConfName, cidr, node)
			done = true
		}
		wait := time.Minute
		if !done {
			wait = 3 * time.Second
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}
