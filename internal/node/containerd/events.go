package containerd

import (
	"context"
	"fmt"

	eventtypes "github.com/containerd/containerd/api/events"
	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/typeurl/v2"

	"kios.dev/kios/internal/shared/events"
)

func withNS(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, Namespace)
}

// Connect opens a client on the socket.
func Connect(socket string) (*client.Client, error) {
	c, err := client.New(socket, client.WithDefaultNamespace(Namespace))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd: %w", err)
	}
	return c, nil
}

// LogStarts logs one line per started pod container (sandboxes aside)
// until ctx ends; the boot timeline uses the first of them.
func LogStarts(ctx context.Context, c *client.Client, log Logger) error {
	ch, errs := c.Subscribe(ctx, `topic=="/tasks/start"`)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			return fmt.Errorf("containerd events: %w", err)
		case env := <-ch:
			if env == nil || env.Event == nil {
				continue
			}
			v, err := typeurl.UnmarshalAny(env.Event)
			if err != nil {
				continue
			}
			start, ok := v.(*eventtypes.TaskStart)
			if !ok {
				continue
			}
			cctx := namespaces.WithNamespace(ctx, env.Namespace)
			info, err := c.ContainerService().Get(cctx, start.ContainerID)
			if err != nil {
				continue
			}
			if info.Labels["io.cri-containerd.kind"] == "sandbox" {
				continue
			}
			events.Emit(log, events.ContainerStarted, "pod", info.Labels["io.kubernetes.pod.name"], "container", info.Labels["io.kubernetes.container.name"], "pid", start.Pid)
		}
	}
}
