package reportsock

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/testenv"
)

func TestRoundTrip(t *testing.T) {
	testenv.NeedRoot(t) // the server answers root clients only
	path := filepath.Join(t.TempDir(), SocketName)
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan Report, 4)
	refused := make(chan error, 8)
	go Serve(ln, func(r Report) { got <- r }, func(err error) { refused <- err })
	for _, tc := range []struct {
		name string
		r    Report
		err  string
	}{
		{"a link", New(events.NetworkLink, "link", "eth0", "from", "network.links[0]", "does", "addresses=10.0.0.5/24"), ""},
		{"a lease", New(events.NetworkLease, "link", "eth0", "family", "ipv6", "address", "fd00::5"), ""},
		{"an event pods may not report", New(events.ShutdownStart), `event "shutdown-start" is not one a pod may report`},
		{"a key that is no key", Report{Event: events.NetworkError, Fields: []events.Field{{Key: "err x", Value: "v"}}}, `field key "err x"`},
		{"too many fields", New(events.NetworkError, "a", 1, "b", 2, "c", 3, "d", 4, "e", 5, "f", 6, "g", 7, "h", 8, "i", 9), "9 fields, at most 8"},
		{"an over-long value", New(events.NetworkError, "err", strings.Repeat("x", 1025)), "field err: over 1024 bytes"},
	} {
		err := Send(path, tc.r)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.r, <-got); diff != "" {
			t.Errorf("%s: PID 1 got (-sent +got):\n%s", tc.name, diff)
		}
	}
	if len(got) != 0 || len(refused) != 4 {
		t.Errorf("%d refused reports reached the log, %d were logged as refused; want 0 and 4", len(got), len(refused))
	}
}
