package dhcp

import (
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func FuzzFromACK(f *testing.F) {
	m, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(net.IPv4(10, 0, 2, 15)),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)), dhcpv4.WithRouter(net.IPv4(10, 0, 2, 2)), dhcpv4.WithLeaseTime(60))
	f.Add(m.ToBytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		pkt, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		if l, err := FromACK("eth0", pkt); err == nil {
			ResolvConf(nil, nil, []Lease{l})
			if l.Renew < 0 || (l.Duration > 0 && l.Renew >= l.Duration) {
				t.Errorf("renewal %s outside lease %s", l.Renew, l.Duration)
			}
		}
	})
}
