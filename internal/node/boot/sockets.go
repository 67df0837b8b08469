package boot

import (
	"context"
	"path/filepath"
	"time"

	"kios.dev/kios/internal/node/logind"
	"kios.dev/kios/internal/node/syssock"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/reportsock"
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

// reportSocket logs, as PID 1's own events, what the network pod reports
// (internal/shared/reportsock): the console is where a node without an
// address shows why.
func (n *Node) reportSocket(context.Context) error {
	ln, err := reportsock.Listen(filepath.Join(reportsock.SocketDir, reportsock.SocketName))
	if err != nil {
		return err
	}
	Go(n.Log, "report-socket", func() {
		_ = reportsock.Serve(ln,
			func(r reportsock.Report) {
				n.Log.Printf("%s", events.Event{Name: r.Event, Fields: r.Fields, T: -1})
				if r.Event == events.NetworkLease {
					n.noteLease(r)
				}
			},
			func(err error) { events.Emit(n.Log, events.ReportRefused, "err", err) })
	})
	return nil
}
