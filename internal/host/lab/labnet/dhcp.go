package labnet

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// LeaseTime is what the lab DHCP server grants.
const LeaseTime = time.Hour

// dhcpServer hands out lab addresses: reserved ones by MAC, else the
// next free one from .100.
type dhcpServer struct {
	srv   *server4.Server
	mu    sync.Mutex
	fixed map[string]net.IP
	given map[string]net.IP
	deaf  map[string]int         // clients not answered: how many requests each sent
	acks  map[string][]time.Time // when each client was sent an ACK
	next  byte
}

func startDHCP(l *Lab) (*dhcpServer, error) {
	d := &dhcpServer{fixed: map[string]net.IP{}, given: map[string]net.IP{}, deaf: map[string]int{}, acks: map[string][]time.Time{}, next: 100}
	err := inNS(l.ns, func() error {
		srv, err := server4.NewServer(BridgeName, &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ServerPort}, d.handle)
		if err != nil {
			return fmt.Errorf("lab DHCP server: %w", err)
		}
		d.srv = srv
		return nil
	})
	if err != nil {
		return nil, err
	}
	go d.srv.Serve()
	return d, nil
}

func (d *dhcpServer) reserve(mac net.HardwareAddr, ip net.IP) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fixed[mac.String()] = ip.To4()
}

func (d *dhcpServer) close() {
	if d.srv != nil {
		d.srv.Close()
	}
}

// address picks the address for a client.
func (d *dhcpServer) address(mac net.HardwareAddr) net.IP {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ip, ok := d.fixed[mac.String()]; ok {
		return ip
	}
	if ip, ok := d.given[mac.String()]; ok {
		return ip
	}
	ip := net.IPv4(10, 88, 0, d.next).To4()
	d.next++
	d.given[mac.String()] = ip
	return ip
}

// Reply builds the server's answer to a DISCOVER or REQUEST; nil means
// no answer.
func (d *dhcpServer) Reply(req *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, error) {
	var typ dhcpv4.MessageType
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		typ = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		typ = dhcpv4.MessageTypeAck
	default:
		return nil, nil
	}
	ip := d.address(req.ClientHWAddr)
	if typ == dhcpv4.MessageTypeAck {
		if want := req.RequestedIPAddress(); want != nil && !want.IsUnspecified() && !want.Equal(ip) {
			return dhcpv4.NewReplyFromRequest(req, dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
				dhcpv4.WithServerIP(Gateway), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(Gateway)))
		}
	}
	return dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithYourIP(ip),
		dhcpv4.WithServerIP(Gateway),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(Gateway)),
		dhcpv4.WithNetmask(Subnet.Mask),
		dhcpv4.WithRouter(Gateway),
		dhcpv4.WithLeaseTime(uint32(LeaseTime.Seconds())),
	)
}

func (d *dhcpServer) handle(conn net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
	d.mu.Lock()
	n, deaf := d.deaf[m.ClientHWAddr.String()]
	if deaf {
		d.deaf[m.ClientHWAddr.String()] = n + 1
	}
	d.mu.Unlock()
	if deaf {
		return
	}
	reply, err := d.Reply(m)
	if err != nil || reply == nil {
		return
	}
	// Clients without an address yet get the reply by broadcast.
	dst := peer
	if u, ok := peer.(*net.UDPAddr); ok && (u.IP.IsUnspecified() || u.IP.Equal(net.IPv4zero)) {
		dst = &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
	}
	if _, err := conn.WriteTo(reply.ToBytes(), dst); err == nil && reply.MessageType() == dhcpv4.MessageTypeAck {
		d.mu.Lock()
		d.acks[m.ClientHWAddr.String()] = append(d.acks[m.ClientHWAddr.String()], time.Now())
		d.mu.Unlock()
	}
}

// firstAck is when the client was first sent an ACK after since.
func (d *dhcpServer) firstAck(mac net.HardwareAddr, since time.Time) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range d.acks[mac.String()] {
		if !t.Before(since) {
			return t, true
		}
	}
	return time.Time{}, false
}
