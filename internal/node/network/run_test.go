package network

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/reportsock"
	"kios.dev/kios/internal/shared/testenv"
)

// TestRunFollowsSection: the pod applies the section, and when a network
// source rewrites it during the boot takes the old settings away and
// applies the new ones; a section naming a link the machine lacks falls
// back and says so.
func TestRunFollowsSection(t *testing.T) {
	section := filepath.Join(t.TempDir(), "network.json")
	write := func(s string) {
		if err := os.WriteFile(section, []byte(s), 0o644); err != nil {
			t.Error(err)
		}
	}
	const off = `"otherLinks":{"dhcp4":false,"slaac":false}`
	write(`{"links":[{"name":"d0","addresses":["10.0.0.5/24"]}],` + off + `}`)

	testenv.InNetns(t, func() {
		testenv.VethPair(t, "d0", "d1")
		ns, err := netns.Get()
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Close()
		// The checks run on other threads, so they name the namespace.
		h, err := netlink.NewHandleAt(ns)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()

		var mu sync.Mutex
		var reports []reportsock.Report
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// waitFor polls d0's IPv4 addresses for up to 10 s until they are
		// want, and the reports until one named name has a field holding
		// part.
		waitFor := func(step string, want []string, name events.Name, part string) {
			var have []string
			var seen bool
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				have = nil
				if l, err := h.LinkByName("d0"); err != nil {
					t.Errorf("%s: d0: %v", step, err)
					return
				} else if as, err := h.AddrList(l, netlink.FAMILY_V4); err != nil {
					t.Errorf("%s: d0's addresses: %v", step, err)
					return
				} else {
					for _, a := range as {
						have = append(have, a.IPNet.String())
					}
				}
				mu.Lock()
				seen = slices.ContainsFunc(reports, func(r reportsock.Report) bool {
					return r.Event == name && slices.ContainsFunc(r.Fields, func(f events.Field) bool { return strings.Contains(f.Value, part) })
				})
				mu.Unlock()
				if seen && slices.Equal(have, want) {
					return
				}
			}
			t.Errorf("%s: after 10 s d0 has %v (want %v), %s event with %q reported: %v", step, have, want, name, part, seen)
		}

		done := make(chan struct{})
		go func() {
			defer close(done)
			defer cancel()
			waitFor("first section", []string{"10.0.0.5/24"}, events.NetworkLink, "addresses=10.0.0.5/24")
			write(`{"links":[{"name":"d0","addresses":["10.0.0.6/24"]}],` + off + `}`)
			waitFor("rewritten section", []string{"10.0.0.6/24"}, events.NetworkLink, "addresses=10.0.0.6/24")
			write(`{"links":[{"name":"eth9","addresses":["10.0.0.7/24"]}]}`)
			waitFor("section naming eth9", nil, events.NetworkFallback, "network.links[0]: eth9: no such link")
		}()
		start := time.Now()
		err = Run(ctx, Config{
			Section:  section,
			Log:      testLog{t},
			Poll:     50 * time.Millisecond,
			LinkWait: 200 * time.Millisecond,
			Report: func(r reportsock.Report) {
				mu.Lock()
				reports = append(reports, r)
				mu.Unlock()
			},
		})
		<-done
		if err != nil {
			t.Errorf("Run after its context ended: %v, want nil", err)
		}
		t.Logf("Run returned %v after it began", time.Since(start).Round(time.Millisecond))
	})
}

type testLog struct{ t *testing.T }

func (l testLog) Printf(format string, args ...any) { l.t.Logf(format, args...) }
