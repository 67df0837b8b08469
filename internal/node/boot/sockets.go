package boot

import (
	"context"
	"time"

	"kios.dev/kios/internal/node/logind"
	"kios.dev/kios/internal/node/syssock"
)

// systemSocket serves /run/system.sock (root-only) for restart and
// shutdown requests, e.g. from the join pod.
func (n *Node) systemSocket(context.Context) error {
	ln, err := syssock.Listen(syssock.Path)
	if err != nil {
		return err
	}
	s := &syssock.Server{H: n, Log: n.Log}
	Go(n.Log, "system-socket", func() { _ = s.Serve(ln) })
	return nil
}

// systemBus serves the part of D-Bus and logind the kubelet's graceful
// node shutdown uses (internal/node/logind), root-only.
func (n *Node) systemBus(context.Context) error {
	ln, err := logind.Listen(logind.SocketPath)
	if err != nil {
		return err
	}
	n.bus = &logind.Server{Log: n.Log, DelayMax: func() time.Duration { return logind.ReadDelayMax("/etc") }, Slack: logind.DefaultSlack}
	Go(n.Log, "system-bus", func() { _ = n.bus.Serve(ln) })
	return nil
}
