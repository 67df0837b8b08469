package network

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/ndp"

	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/testenv"
)

// TestRouterAdvertisedDNS: a router on the other end of a veth answers
// the pod's solicitation with RDNSS and DNSSL; resolv.conf takes them
// after the configured server, reports each change, and drops the
// server when the router withdraws it (lifetime 0) and the search
// domain when its lifetime ends.
func TestRouterAdvertisedDNS(t *testing.T) {
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	testenv.InNetns(t, func() {
		testenv.VethPair(t, "d0", "d1")
		// The router's socket is made here, in the namespace; it is used
		// from another goroutine (another thread, the test's namespace).
		var router *ndp.Conn
		for deadline := time.Now().Add(10 * time.Second); router == nil; time.Sleep(100 * time.Millisecond) {
			ifi, err := net.InterfaceByName("d1")
			if err != nil {
				t.Fatal(err)
			}
			if router, _, err = ndp.Listen(ifi, ndp.LinkLocal); err != nil && time.Now().After(deadline) {
				t.Fatalf("router's socket on d1: %v", err)
			}
		}
		defer router.Close()
		if err := router.JoinGroup(netip.MustParseAddr("ff02::2")); err != nil {
			t.Fatalf("router joins all-routers: %v", err)
		}

		var mu sync.Mutex
		var reported []events.Event
		r := &resolver{file: resolv, servers: []string{"10.0.0.53"}, log: testLog{t}, told: map[string]string{}, declared: map[string]bool{},
			report: func(n events.Name, kv ...any) {
				mu.Lock()
				reported = append(reported, events.New(n, kv...))
				mu.Unlock()
			}}
		r.write() // as keepers does with configured servers
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer cancel()
			if err := router.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Error(err)
				return
			}
			for { // the pod solicits
				m, _, _, err := router.ReadFrom()
				if err != nil {
					t.Errorf("no router solicitation from d0 within 10 s: %v", err)
					return
				}
				if _, ok := m.(*ndp.RouterSolicitation); ok {
					break
				}
			}
			advertise := func(serverLife, searchLife time.Duration) {
				ra := &ndp.RouterAdvertisement{CurrentHopLimit: 64, Options: []ndp.Option{
					&ndp.RecursiveDNSServer{Lifetime: serverLife, Servers: []netip.Addr{netip.MustParseAddr("fd00::53")}},
					&ndp.DNSSearchList{Lifetime: searchLife, DomainNames: []string{"lab.example"}},
				}}
				if err := router.WriteTo(ra, nil, netip.MustParseAddr("ff02::1")); err != nil {
					t.Errorf("advertise: %v", err)
				}
			}
			advertise(time.Hour, 2*time.Second)
			waitResolv(t, resolv, "nameserver 10.0.0.53\nnameserver fd00::53\nsearch lab.example\n")
			advertise(0, 2*time.Second) // withdraws the server
			waitResolv(t, resolv, "nameserver 10.0.0.53\nsearch lab.example\n")
			waitResolv(t, resolv, "nameserver 10.0.0.53\n") // the search domain's 2 s end
		}()
		raLink(ctx, "d0", r, testLog{t}, 200*time.Millisecond)
		<-done
		mu.Lock()
		defer mu.Unlock()
		var got []string
		for _, e := range reported {
			got = append(got, e.String())
		}
		want := []string{
			"event=network-dns servers=10.0.0.53 search=\"\"",
			"event=network-dns servers=10.0.0.53,fd00::53 search=lab.example",
			"event=network-dns servers=10.0.0.53 search=lab.example",
			"event=network-dns servers=10.0.0.53 search=\"\"",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("reports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// waitResolv waits up to 10 s for resolv.conf to say want (after its
// comment line).
func waitResolv(t *testing.T, path, want string) {
	var have string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		_, have, _ = strings.Cut(string(b), "\n")
		if have == want {
			return
		}
	}
	t.Errorf("after 10 s resolv.conf says %q, want %q", have, want)
}
