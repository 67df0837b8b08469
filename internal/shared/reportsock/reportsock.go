// Package reportsock is the root-only socket over which the network pod
// tells PID 1 what the console must show: each link's settings, a
// fallback and why, each lease. A node without an address has no other
// place to show it; PID 1 logs each report as its own typed event, from
// a fixed list, so the pod cannot write arbitrary console lines.
package reportsock

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"time"

	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/rootsock"
)

// SocketDir holds the socket; the network pod mounts it.
const SocketDir = "/run/kios/reportsock"

// SocketName is the socket in SocketDir.
const SocketName = "report.sock"

// Reportable are the events a pod may report.
var Reportable = []events.Name{events.NetworkLink, events.NetworkFallback, events.NetworkLease, events.NetworkError, events.NetworkDNS, events.NetworkBond}

// Report is one event.
type Report struct {
	Event  events.Name    `json:"event"`
	Fields []events.Field `json:"fields"`
}

const (
	maxReport = 8 << 10
	maxFields = 8
	maxValue  = 1024
)

var keyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Check refuses a report PID 1 must not log: an event not in
// Reportable, too many fields, a bad key or an over-long value.
func (r Report) Check() error {
	if !slices.Contains(Reportable, r.Event) {
		return fmt.Errorf("event %q is not one a pod may report", string(r.Event))
	}
	if len(r.Fields) > maxFields {
		return fmt.Errorf("%d fields, at most %d", len(r.Fields), maxFields)
	}
	for _, f := range r.Fields {
		if !keyRE.MatchString(f.Key) {
			return fmt.Errorf("field key %q", f.Key)
		}
		if len(f.Value) > maxValue {
			return fmt.Errorf("field %s: over %d bytes", f.Key, maxValue)
		}
	}
	return nil
}

// New makes a report from alternating keys and values, as events.New.
func New(name events.Name, kv ...any) Report {
	e := events.New(name, kv...)
	return Report{Event: e.Name, Fields: e.Fields}
}

// Listen makes the root-only socket at path.
func Listen(path string) (*net.UnixListener, error) { return rootsock.Listen(path) }

// Serve hands each checked report to log, and each refused one's error
// to refused, until ln is closed.
func Serve(ln *net.UnixListener, log func(Report), refused func(error)) error {
	return rootsock.ServeJSON(ln, maxReport, func(r Report) (struct{}, error) {
		if err := r.Check(); err != nil {
			refused(err)
			return struct{}{}, err
		}
		log(r)
		return struct{}{}, nil
	})
}

// Send reports r to PID 1 over the socket at path.
func Send(path string, r Report) error {
	_, err := rootsock.SendJSON[Report, struct{}](path, r, 10*time.Second)
	return err
}
