// Package dhcp is the host's DHCPv4 client, run by the network system
// pod (internal/node/network): it gets and renews leases with
// insomniacslk/dhcp, applies them with netlink (address, default route,
// MTU) and tells its caller each lease, for resolv.conf.
package dhcp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Lease is what an ACK tells the host to configure.
type Lease struct {
	Interface string
	Address   net.IPNet
	Router    net.IP // nil when the server offers none
	DNS       []net.IP
	Search    []string
	MTU       int // 0: leave as is
	Duration  time.Duration
	Renew     time.Duration // T1
	Rebind    time.Duration // T2
	Server    net.IP
}

// ErrBadLease is returned for an ACK a host cannot use.
var ErrBadLease = errors.New("unusable lease")

// FromACK reads the lease an ACK grants.
func FromACK(iface string, ack *dhcpv4.DHCPv4) (Lease, error) {
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		return Lease{}, fmt.Errorf("%w: not an ACK", ErrBadLease)
	}
	ip := ack.YourIPAddr.To4()
	if ip == nil || ip.IsUnspecified() || ip.IsMulticast() || ip.Equal(net.IPv4bcast) {
		return Lease{}, fmt.Errorf("%w: address %v", ErrBadLease, ack.YourIPAddr)
	}
	mask := ack.SubnetMask()
	if mask == nil {
		mask = ip.DefaultMask()
	}
	if ones, bits := mask.Size(); bits != 32 || ones == 0 {
		return Lease{}, fmt.Errorf("%w: subnet mask %v", ErrBadLease, net.IP(mask))
	}
	l := Lease{Interface: iface, Address: net.IPNet{IP: ip, Mask: mask}, Server: ack.ServerIdentifier()}
	if r := ack.Router(); len(r) > 0 && r[0].To4() != nil && !r[0].IsUnspecified() {
		l.Router = r[0].To4()
	}
	for _, d := range ack.DNS() {
		if d.To4() != nil && !d.IsUnspecified() {
			l.DNS = append(l.DNS, d.To4())
		}
	}
	if s := ack.DomainSearch(); s != nil {
		l.Search = append(l.Search, s.Labels...)
	} else if d := ack.DomainName(); d != "" {
		l.Search = []string{d}
	}
	if mtu, err := dhcpv4.GetUint16(dhcpv4.OptionInterfaceMTU, ack.Options); err == nil && mtu >= 576 {
		l.MTU = int(mtu)
	}
	l.Duration = ack.IPAddressLeaseTime(0)
	if l.Duration <= 0 || l.Duration == time.Duration(0xffffffff)*time.Second {
		l.Duration = 0 // infinite
	}
	l.Renew = ack.IPAddressRenewalTime(l.Duration / 2)
	l.Rebind = ack.IPAddressRebindingTime(l.Duration * 7 / 8)
	if l.Duration > 0 && (l.Renew <= 0 || l.Renew >= l.Duration) {
		l.Renew = l.Duration / 2
	}
	if l.Duration > 0 && (l.Rebind <= l.Renew || l.Rebind >= l.Duration) {
		l.Rebind = l.Duration * 7 / 8
	}
	return l, nil
}

// ResolvConf renders resolv.conf: the configured name servers and
// search domains first, then the leases' of all interfaces.
func ResolvConf(servers, search []string, leases []Lease) []byte {
	return FormatResolvConf(Resolvers(servers, search, leases))
}

// Resolvers are the name servers (at most three: the resolver reads no
// more) and search domains resolv.conf gets: the configured ones first,
// then the leases' of all interfaces, each once.
func Resolvers(servers, search []string, leases []Lease) (ns, domains []string) {
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] && len(ns) < 3 {
			seen[s] = true
			ns = append(ns, s)
		}
	}
	for _, s := range servers {
		add(s)
	}
	domains = slices.Clone(search)
	for _, s := range domains {
		seen["search:"+s] = true
	}
	for _, l := range leases {
		for _, d := range l.DNS {
			add(d.String())
		}
		for _, s := range l.Search {
			if !seen["search:"+s] {
				seen["search:"+s] = true
				domains = append(domains, s)
			}
		}
	}
	return ns, domains
}

// FormatResolvConf is resolv.conf's text for these name servers and
// search domains.
func FormatResolvConf(ns, domains []string) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by the kiOS network pod.\n")
	for _, s := range ns {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(domains) > 0 {
		b.WriteString("search " + strings.Join(domains, " ") + "\n")
	}
	return b.Bytes()
}
