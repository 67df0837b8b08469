package dhcp

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"golang.org/x/net/ipv6"
)

// udp6Raw is a DHCPv6 client's connection over a raw IPv6 socket, so
// the network pod needs NET_RAW (which it has for DHCPv4) and not
// NET_BIND_SERVICE for the client's port 546. It sends and receives the
// UDP datagrams itself; the kernel computes their checksum.
type udp6Raw struct {
	*net.IPConn
	ifc  string
	port int
}

// listenUDP6Raw opens the connection on ifc's link-local address for
// port.
func listenUDP6Raw(ifc string, port int) (*udp6Raw, error) {
	ll, err := dhcpv6.GetLinkLocalAddr(ifc)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenIP("ip6:udp", &net.IPAddr{IP: ll, Zone: ifc})
	if err != nil {
		return nil, fmt.Errorf("raw IPv6 socket on %s: %w", ifc, err)
	}
	// The UDP checksum is at offset 6 of what this socket sends.
	if err := ipv6.NewPacketConn(c).SetChecksum(true, 6); err != nil {
		c.Close()
		return nil, fmt.Errorf("raw IPv6 socket on %s: checksum: %w", ifc, err)
	}
	return &udp6Raw{IPConn: c, ifc: ifc, port: port}, nil
}

// ReadFrom returns the next datagram to the client's port.
func (u *udp6Raw) ReadFrom(b []byte) (int, net.Addr, error) {
	buf := make([]byte, 8+len(b))
	for {
		n, from, err := u.IPConn.ReadFrom(buf)
		if err != nil {
			return 0, nil, err
		}
		if n < 8 || int(binary.BigEndian.Uint16(buf[2:4])) != u.port {
			continue // another program's UDP
		}
		src := from.(*net.IPAddr)
		return copy(b, buf[8:n]), &net.UDPAddr{IP: src.IP, Zone: src.Zone, Port: int(binary.BigEndian.Uint16(buf[0:2]))}, nil
	}
}

// WriteTo sends b from the client's port to a *net.UDPAddr.
func (u *udp6Raw) WriteTo(b []byte, addr net.Addr) (int, error) {
	to, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("dhcp6: send to %v: not a UDP address", addr)
	}
	if len(b) > 0xffff-8 {
		return 0, fmt.Errorf("dhcp6: send to %v: %d bytes is too long", addr, len(b))
	}
	pkt := make([]byte, 8, 8+len(b))
	binary.BigEndian.PutUint16(pkt[0:2], uint16(u.port))
	binary.BigEndian.PutUint16(pkt[2:4], uint16(to.Port))
	binary.BigEndian.PutUint16(pkt[4:6], uint16(8+len(b)))
	pkt = append(pkt, b...)
	zone := to.Zone
	if zone == "" {
		zone = u.ifc // the multicast group of servers is link-scoped
	}
	if _, err := u.IPConn.WriteTo(pkt, &net.IPAddr{IP: to.IP, Zone: zone}); err != nil {
		return 0, err
	}
	return len(b), nil
}
