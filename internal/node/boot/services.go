package boot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"kios.dev/kios/internal/node/route"

	"kios.dev/kios/internal/node/containerd"
	"kios.dev/kios/internal/node/supervise"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/kubelet"
	"kios.dev/kios/internal/shared/mounts"
	"kios.dev/kios/internal/shared/primed"
	"kios.dev/kios/internal/shared/svcenv"
)

func (n *Node) startContainerd(context.Context) error {
	if n.overlay != nil {
		if err := <-n.overlay; err != nil {
			// The kernel may still load it on demand: start anyway.
			events.Emit(n.Log, events.ModuleFailed, "name", "overlay", "err", err)
		}
	}
	return n.Sup.Add(supervise.Service{
		Name: "containerd",
		Args: func() ([]string, error) { return []string{"/bin/containerd", "--config", ContainerdConf}, nil },
		Env:  n.serviceEnv("containerd"),
	})
}

func (n *Node) waitContainerd(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := containerd.WaitSocket(ctx, containerd.Socket); err != nil {
		return err
	}
	events.Emit(n.Log, events.ContainerdReady)
	return nil
}

// importImages imports the images primed into the image, then those
// primed on the data partition (kios disk --image).
func (n *Node) importImages(ctx context.Context) error {
	idx, err := primed.Read(filepath.Join(PrimedImagesDir, primed.IndexFile))
	if err != nil {
		return err
	}
	c, err := containerd.Connect(containerd.Socket)
	if err != nil {
		return err
	}
	// The container watch has its own client; this one is done after.
	defer c.Close()
	ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	err = containerd.Import(ictx, c, PrimedImagesDir, idx, containerd.SandboxImage, n.Log)
	dataImages := filepath.Join(mounts.DataDir, mounts.DataImages)
	if n.dataDevice != "" {
		if didx, derr := primed.Read(filepath.Join(dataImages, primed.IndexFile)); derr == nil {
			err = errors.Join(err, containerd.Import(ictx, c, dataImages, didx, "", n.Log))
		} else if !errors.Is(derr, os.ErrNotExist) {
			err = errors.Join(err, derr)
		}
	}
	return err
}

// watchContainers reports pod container starts (the boot timeline uses
// the first), resubscribing after containerd restarts. It runs before
// the imports: a pod whose image is already there starts while they go
// on, and an event before the subscription is lost.
func (n *Node) watchContainers(context.Context) error {
	c, err := containerd.Connect(containerd.Socket)
	if err != nil {
		return err
	}
	Go(n.Log, "container-watch", func() {
		for {
			if err := containerd.LogStarts(context.Background(), c, n.Log); err != nil {
				events.Emit(n.Log, events.ContainerWatchInterrupted, "err", err)
			}
			wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = containerd.WaitSocket(wctx, containerd.Socket)
			cancel()
			time.Sleep(time.Second)
		}
	})
	return nil
}

func (n *Node) startKubelet(context.Context) error {
	return n.Sup.Add(supervise.Service{
		Name: "kubelet",
		Args: func() ([]string, error) {
			// One read of /etc gives both the flags and what a later
			// change is compared with.
			snap, err := n.takeKubelet()
			if err != nil {
				return nil, err
			}
			n.kubelet.starting(snap)
			if snap.Held {
				events.Emit(n.Log, events.KubeletMode, "mode", snap.Mode, "held", "cluster", "api", strings.Join(snap.APIServers, ","), "reason", "no route to the API server yet")
				n.kubelet.routeWatch.Do(func() {
					Go(n.Log, "route-watch", func() { watchRoutes(n.Log, n.releaseHeldKubelet) })
				})
			} else {
				events.Emit(n.Log, events.KubeletMode, "mode", snap.Mode)
			}
			return append([]string{"/bin/kubelet"}, snap.Flags...), nil
		},
		Env: n.serviceEnv("kubelet"),
	})
}

// serviceEnv is what program starts with: PID 1's environment and
// /etc/kios/env/<program>. A file that does not parse is reported once
// and left out: the program runs with the Go runtime's own defaults.
func (n *Node) serviceEnv(program string) []string {
	extra, err := svcenv.Read("/", program)
	if err != nil {
		events.Emit(n.Log, events.ServiceEnvInvalid, "name", program, "err", err, "fallback", "none")
	} else if len(extra) > 0 {
		events.Emit(n.Log, events.ServiceEnv, "name", program, "env", strings.Join(extra, " "))
	}
	return append(append([]string{}, n.Env...), extra...)
}

// takeKubelet reads what the kubelet is to start with; a cluster-mode
// kubelet is held standalone while no API server is routable
// (kubelet.Hold).
func (n *Node) takeKubelet() (kubelet.Snapshot, error) {
	return kubelet.Hold("/", n.Log, route.Routable)
}

// releaseHeldKubelet restarts a held kubelet in cluster mode once a
// route to its API server exists.
func (n *Node) releaseHeldKubelet() {
	if n.kubelet.held() {
		n.restartKubeletIfNeeded()
	}
}
