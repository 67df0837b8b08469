package labnet

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"kios.dev/kios/internal/shared/ntp"
	"kios.dev/kios/internal/shared/testenv"
)

func TestReply(t *testing.T) {
	d := &dhcpServer{fixed: map[string]net.IP{}, given: map[string]net.IP{}, next: 100}
	mac, _ := net.ParseMAC("52:54:00:00:00:01")
	d.reserve(mac, net.IPv4(10, 88, 0, 11))
	disc, _ := dhcpv4.NewDiscovery(mac)
	offer, err := d.Reply(disc)
	if err != nil {
		t.Fatal(err)
	}
	if offer.MessageType() != dhcpv4.MessageTypeOffer || !offer.YourIPAddr.Equal(net.IPv4(10, 88, 0, 11)) ||
		!offer.Router()[0].Equal(Gateway) || offer.IPAddressLeaseTime(0) != LeaseTime {
		t.Errorf("offer %s", offer.Summary())
	}
	other, _ := net.ParseMAC("52:54:00:00:00:02")
	disc2, _ := dhcpv4.NewDiscovery(other)
	o2, _ := d.Reply(disc2)
	if !o2.YourIPAddr.Equal(net.IPv4(10, 88, 0, 100)) {
		t.Errorf("unreserved client got %v", o2.YourIPAddr)
	}
	req, _ := dhcpv4.NewRequestFromOffer(offer)
	ack, _ := d.Reply(req)
	if ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Errorf("request answered with %s", ack.MessageType())
	}
	bad, _ := dhcpv4.NewRequestFromOffer(offer, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 88, 0, 50))))
	if nak, _ := d.Reply(bad); nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("request for another client's address answered with %s", nak.MessageType())
	}
	rel, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease))
	if r, _ := d.Reply(rel); r != nil {
		t.Error("a release was answered")
	}
}

// TestLabGivesLeases makes a lab, plugs a veth "machine" from another
// namespace into its bridge, and gets a lease with the node's own client
// library. Everything is removed at the end.
func TestLabGivesLeases(t *testing.T) {
	testenv.NeedRoot(t) // network namespaces
	name := fmt.Sprintf("kios-labtest-%d", os.Getpid())
	l, err := Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat("/run/netns/" + name); !os.IsNotExist(err) {
			t.Errorf("namespace %s left behind", name)
		}
	}()
	if err := l.AddTAP("tapx"); err != nil {
		t.Fatal(err)
	}
	client, err := netns.New() // an unnamed namespace for the "machine"
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// netns.New switched this thread: go back before anything else.
	runtime.LockOSThread()
	origNS, _ := netns.GetFromPid(os.Getpid())
	netns.Set(origNS)
	runtime.UnlockOSThread()
	err = inNS(l.ns, func() error {
		br, err := netlink.LinkByName(BridgeName)
		if err != nil {
			return err
		}
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vlab", MasterIndex: br.Attrs().Index}, PeerName: "vmach"}
		if err := netlink.LinkAdd(veth); err != nil {
			return err
		}
		peer, err := netlink.LinkByName("vmach")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetNsFd(peer, int(client)); err != nil {
			return err
		}
		return netlink.LinkSetUp(veth)
	})
	if err != nil {
		t.Fatal(err)
	}
	var lease *nclient4.Lease
	var hw net.HardwareAddr
	asked := time.Now()
	err = inNS(client, func() error {
		link, err := netlink.LinkByName("vmach")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(link); err != nil {
			return err
		}
		hw = link.Attrs().HardwareAddr
		c, err := nclient4.New("vmach", nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(5))
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		lease, err = c.Request(ctx)
		return err
	})
	if err != nil {
		t.Fatalf("no lease from the lab: %v", err)
	}
	if got := lease.ACK.YourIPAddr; !got.Equal(net.IPv4(10, 88, 0, 100)) {
		t.Errorf("leased %v, want 10.88.0.100", got)
	}
	at, ok := l.FirstLease(hw, asked)
	if !ok || at.Before(asked) || time.Since(at) > time.Minute {
		t.Errorf("FirstLease(%s) = %v, %v; want the ACK's time, after %v", hw, at, ok, asked)
	}
	if _, ok := l.FirstLease(hw, time.Now()); ok {
		t.Errorf("FirstLease after the only ACK found one")
	}
	// The gateway serves the host's clock over NTP.
	var offset time.Duration
	var stratum uint8
	err = inNS(client, func() error {
		link, err := netlink.LinkByName("vmach")
		if err != nil {
			return err
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: lease.ACK.YourIPAddr, Mask: Subnet.Mask}}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		offset, _, stratum, err = ntp.Query(ctx, Gateway.String())
		return err
	})
	if err != nil {
		t.Fatalf("no time from the lab's NTP server: %v", err)
	}
	if stratum != 1 || offset > time.Second || offset < -time.Second {
		t.Errorf("lab NTP: offset %s stratum %d, want the host's clock (offset under 1 s) at stratum 1", offset, stratum)
	}
}

// The gateway routes each node's pod network to the node, so pods on two
// nodes reach each other; routing again is not an error.
func TestRoutePods(t *testing.T) {
	testenv.NeedRoot(t) // network namespaces
	l, err := Create(fmt.Sprintf("kios-labtest-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	}()
	_, n1, _ := net.ParseCIDR("10.244.1.0/24")
	_, n2, _ := net.ParseCIDR("10.244.2.0/24")
	for _, r := range []struct {
		cidr *net.IPNet
		node net.IP
	}{{n1, net.IPv4(10, 88, 0, 11)}, {n2, net.IPv4(10, 88, 0, 12)}, {n1, net.IPv4(10, 88, 0, 11)}} {
		if err := l.RoutePods(r.cidr, r.node); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.PodRoutes()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"10.244.1.0/24": "10.88.0.11", "10.244.2.0/24": "10.88.0.12"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("lab routes (-want +got):\n%s", d)
	}
}
