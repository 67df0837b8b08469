package lab

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"k8s.io/client-go/kubernetes"

	"kios.dev/kios/internal/host/lab/controlplane"
	"kios.dev/kios/internal/host/lab/labnet"
	"kios.dev/kios/internal/shared/join"
)

// Env is what nodes join: a lab network with an upstream control plane,
// the CNI installed, a bootstrap token and an image registry. kios up
// and the comparison benchmark both boot their nodes into one.
type Env struct {
	Lab    *labnet.Lab
	CP     *controlplane.ControlPlane
	Client kubernetes.Interface
	Token  string
	CAHash string
	Dir    string // holds Kubeconfig and RegistryFile (for Load)

	cleanups []func()
}

// StartEnv creates the lab network (named after dir), starts the control
// plane from the binaries under cache, bootstraps joining and serves the
// registry. say reports each part as it comes up. On error the parts
// already started are stopped; the caller closes a returned Env.
func StartEnv(ctx context.Context, dir, cache string, say func(format string, args ...any)) (env *Env, err error) {
	e := &Env{Dir: dir}
	defer func() {
		if err != nil {
			e.Close()
			env = nil
		}
	}()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return e, err
	}
	l, err := labnet.Create(nsName(dir))
	if err != nil {
		return e, err
	}
	e.Lab = l
	e.cleanups = append(e.cleanups, func() { l.Close() })
	say("lab network %s: bridge %s, gateway %s", l.Name, labnet.BridgeName, labnet.Gateway)

	bins := controlplane.Binaries{
		Etcd: glob(cache, "etcd-*/etcd"), APIServer: glob(cache, "controlplane-*/kube-apiserver"),
		ControllerManager: glob(cache, "controlplane-*/kube-controller-manager"), Scheduler: glob(cache, "controlplane-*/kube-scheduler"),
	}
	cp, err := controlplane.Start(ctx, l, controlplane.Layout{Dir: filepath.Join(dir, "controlplane")}, labnet.Gateway, bins)
	if err != nil {
		return e, err
	}
	e.CP = cp
	e.cleanups = append(e.cleanups, cp.Stop)
	say("control plane ready at https://%s:6443", labnet.Gateway)

	fwd, err := l.Forward("127.0.0.1:0", labnet.Gateway.String()+":6443")
	if err != nil {
		return e, err
	}
	e.cleanups = append(e.cleanups, func() { fwd.Close() })
	host := "https://" + fwd.Addr().String()
	admin, err := os.ReadFile(cp.Layout.Conf("admin"))
	if err != nil {
		return e, err
	}
	kc := strings.Replace(string(admin), fmt.Sprintf("https://%s:6443", labnet.Gateway), host, 1)
	if err := os.WriteFile(filepath.Join(dir, Kubeconfig), []byte(kc), 0o600); err != nil {
		return e, err
	}
	cs, _, err := cp.ClientAt(host)
	if err != nil {
		return e, err
	}
	e.Client = cs
	if e.Token, e.CAHash, err = cp.Bootstrap(ctx, cs, 24*time.Hour); err != nil {
		return e, err
	}
	if err := controlplane.InstallCNI(ctx, cs, labnet.Gateway.String(), "6443"); err != nil {
		return e, err
	}

	// The registry the nodes pull from; kios load pushes through a forward.
	ln, err := l.Listen(RegistryLab)
	if err != nil {
		return e, err
	}
	blobs := filepath.Join(dir, "registry-blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return e, err
	}
	srv := &http.Server{Handler: registry.New(registry.WithBlobHandler(registry.NewDiskBlobHandler(blobs)),
		registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(ln)
	e.cleanups = append(e.cleanups, func() { srv.Close() })
	rfwd, err := l.Forward("127.0.0.1:0", RegistryLab)
	if err != nil {
		return e, err
	}
	e.cleanups = append(e.cleanups, func() { rfwd.Close() })
	if err := os.WriteFile(filepath.Join(dir, RegistryFile), []byte(rfwd.Addr().String()), 0o644); err != nil {
		return e, err
	}
	say("registry at %s (from this machine: %s)", RegistryLab, rfwd.Addr())
	return e, nil
}

// Close stops everything StartEnv started, last first.
func (e *Env) Close() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	e.cleanups = nil
}

// KubeadmJoin does what kubeadm join does before it starts the kubelet:
// discover the cluster with the token, pinned to the CA's hash, and make
// the bootstrap kubeconfig and the CA (by path under /etc/kubernetes).
// The comparison benchmark gives it to both its systems and kios-dev up
// --baseline to its Debian nodes, so their boots start where a joined
// kubeadm node's do.
func (env *Env) KubeadmJoin(ctx context.Context) (map[string][]byte, error) {
	p := join.Params{API: labnet.Gateway.String() + ":6443", Token: env.Token, CAHash: env.CAHash, Dial: env.Lab.DialContext}
	// The controller manager signs cluster-info for a new token a little
	// after it is stored: retry for a while, as kubeadm join does.
	var r join.Result
	var err error
	for try := 0; try < 60; try++ {
		if r, err = join.Discover(ctx, p); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		return nil, fmt.Errorf("discover the lab cluster: %w", err)
	}
	return join.Files(r, env.Token), nil
}

// Wrap is what runs a VM's QEMU in the lab's network namespace, where
// its TAPs are (vm.Config.Wrap).
func (e *Env) Wrap() []string { return []string{"ip", "netns", "exec", e.Lab.Name} }
