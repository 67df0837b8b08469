package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kios.dev/kios/internal/host/lab/labnet"
	"kios.dev/kios/internal/shared/join"
	"kios.dev/kios/internal/shared/testenv"
)

// Binaries built by `make controlplane` into build/cache.
func binaries(t *testing.T) Binaries {
	t.Helper()
	find := func(pattern string) string {
		abs, _ := filepath.Abs(testenv.Component(t, pattern))
		return abs
	}
	return Binaries{Etcd: find("etcd-*/etcd"), APIServer: find("controlplane-*/kube-apiserver"),
		ControllerManager: find("controlplane-*/kube-controller-manager"), Scheduler: find("controlplane-*/kube-scheduler")}
}

// TestControlPlaneAndDiscovery starts the real control plane in a lab
// network and joins it the way a node's join pod does: cluster-info is
// signed by the controller manager for the token, and discovery accepts
// the right token and CA hash and refuses a wrong one.
func TestControlPlaneAndDiscovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	testenv.NeedRoot(t) // the lab network
	l, err := labnet.Create(fmt.Sprintf("kios-cptest-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	cp, err := Start(ctx, l, Layout{Dir: t.TempDir()}, labnet.Gateway, binaries(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Stop()
	cs, _, err := cp.Client(l)
	if err != nil {
		t.Fatal(err)
	}
	token, hash, err := cp.Bootstrap(ctx, cs, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	api := labnet.Gateway.String() + ":6443"
	// The bootstrap signer adds the token's signature within seconds.
	var r join.Result
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r, err = join.Discover(ctx, join.Params{API: api, Token: token, CAHash: hash, Dial: l.DialContext})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if err != nil {
		t.Fatalf("discovery with the right token and hash: %v", err)
	}
	if r.Server != "https://"+api {
		t.Errorf("cluster-info names %s", r.Server)
	}
	wrongSecret := token[:7] + strings.Repeat("0", 16)
	if _, err := join.Discover(ctx, join.Params{API: api, Token: wrongSecret, CAHash: hash, Dial: l.DialContext}); !errors.Is(err, join.ErrBadToken) {
		t.Errorf("wrong token: err = %v, want ErrBadToken", err)
	}
	wrongHash := "sha256:" + strings.Repeat("0", 64)
	if _, err := join.Discover(ctx, join.Params{API: api, Token: token, CAHash: wrongHash, Dial: l.DialContext}); !errors.Is(err, join.ErrCAMismatch) {
		t.Errorf("wrong hash: err = %v, want ErrCAMismatch", err)
	}
	// The scheduler and the controller manager are up and talking.
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil || ns.Name != "kube-system" {
		t.Errorf("kube-system: %v", err)
	}
}
