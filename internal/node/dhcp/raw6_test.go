package dhcp

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/dhcpv6/server6"
	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/testenv"
)

// TestExchange6WithoutBindCapability: the DHCPv6 exchange works with the
// network pod's capabilities, which lack NET_BIND_SERVICE (no socket on
// port 546), against insomniacslk's DHCPv6 server over a veth pair.
func TestExchange6WithoutBindCapability(t *testing.T) {
	testenv.InNetns(t, func() {
		testenv.VethPair(t, "d0", "d1")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		waitLinkLocal(ctx, "d0", 10*time.Second)
		waitLinkLocal(ctx, "d1", 10*time.Second)

		var peerPort atomic.Int32
		srv, err := server6.NewServer("d1", nil, func(conn net.PacketConn, peer net.Addr, m dhcpv6.DHCPv6) {
			msg, err := m.GetInnerMessage()
			if err != nil || msg.MessageType != dhcpv6.MessageTypeSolicit {
				return
			}
			peerPort.Store(int32(peer.(*net.UDPAddr).Port))
			ia := &dhcpv6.OptIANA{IaId: [4]byte{0, 0, 0, 1}, T1: 30 * time.Minute}
			ia.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP("fd00::1:5"), PreferredLifetime: time.Hour, ValidLifetime: 2 * time.Hour})
			reply, err := dhcpv6.NewReplyFromMessage(msg, dhcpv6.WithOption(ia), dhcpv6.WithDNS(net.ParseIP("fd00::53")))
			if err != nil {
				t.Errorf("server: reply: %v", err)
				return
			}
			if _, err := conn.WriteTo(reply.ToBytes(), peer); err != nil {
				t.Errorf("server: send: %v", err)
			}
		})
		if err != nil {
			t.Fatalf("DHCPv6 server on d1: %v", err)
		}
		go srv.Serve()
		defer srv.Close()

		// This thread drops NET_BIND_SERVICE, as the pod's container has
		// it not; binding port 546 must now fail, or the test proves
		// nothing.
		restore := dropEffective(t, unix.CAP_NET_BIND_SERVICE)
		defer restore()
		ll, err := dhcpv6.GetLinkLocalAddr("d0")
		if err != nil {
			t.Fatal(err)
		}
		if c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: ll, Port: dhcpv6.DefaultClientPort, Zone: "d0"}); err == nil {
			c.Close()
			t.Fatal("bound port 546 without NET_BIND_SERVICE: the capability was not dropped")
		} else if !errors.Is(err, unix.EACCES) {
			t.Fatalf("bind port 546 without NET_BIND_SERVICE: %v, want EACCES", err)
		}

		l, err := (&Client6{}).exchange(ctx, "d0")
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if !l.Address.Equal(net.ParseIP("fd00::1:5")) || l.Renew != 30*time.Minute || len(l.DNS) != 1 {
			t.Errorf("lease %+v, want fd00::1:5 renewed at 30m with one name server", l)
		}
		if p := peerPort.Load(); p != dhcpv6.DefaultClientPort {
			t.Errorf("the server heard the client from port %d, want %d", p, dhcpv6.DefaultClientPort)
		}
	})
}

// dropEffective takes capability c out of this thread's effective set
// and returns what puts it back (the thread goes back to the pool).
func dropEffective(t *testing.T, c int) (restore func()) {
	t.Helper()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Fatalf("capget: %v", err)
	}
	saved := data
	data[c/32].Effective &^= 1 << (c % 32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		t.Fatalf("capset: %v", err)
	}
	return func() {
		if err := unix.Capset(&hdr, &saved[0]); err != nil {
			panic(err) // this thread must not go back to the pool without it
		}
	}
}
