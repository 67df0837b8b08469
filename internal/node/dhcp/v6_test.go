package dhcp

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

func TestFromReply(t *testing.T) {
	hw, _ := net.ParseMAC("52:54:00:00:00:01")
	sol, err := dhcpv6.NewSolicit(hw, dhcpv6.WithRapidCommit)
	if err != nil {
		t.Fatal(err)
	}
	addr := func(ip string, pref, valid time.Duration) dhcpv6.Option {
		return &dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP(ip), PreferredLifetime: pref, ValidLifetime: valid}
	}
	reply := func(t1 time.Duration, opts ...dhcpv6.Option) *dhcpv6.Message {
		ia := &dhcpv6.OptIANA{IaId: [4]byte{0, 0, 0, 1}, T1: t1}
		for _, o := range opts {
			ia.Options.Add(o)
		}
		m, err := dhcpv6.NewReplyFromMessage(sol, dhcpv6.WithOption(ia), dhcpv6.WithDNS(net.ParseIP("fd00::53")), dhcpv6.WithDomainSearchList("lab.example"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name string
		msg  *dhcpv6.Message
		want Lease6
		err  string
	}{
		{"an address with T1", reply(30*time.Minute, addr("fd00::1:5", time.Hour, 2*time.Hour)), Lease6{Interface: "eth0", Address: net.ParseIP("fd00::1:5"),
			Preferred: time.Hour, Valid: 2 * time.Hour, Renew: 30 * time.Minute, DNS: []net.IP{net.ParseIP("fd00::53")}, Search: []string{"lab.example"}}, ""},
		{"no T1: half the preferred lifetime", reply(0, addr("fd00::1:5", time.Hour, 2*time.Hour)), Lease6{Interface: "eth0", Address: net.ParseIP("fd00::1:5"),
			Preferred: time.Hour, Valid: 2 * time.Hour, Renew: 30 * time.Minute, DNS: []net.IP{net.ParseIP("fd00::53")}, Search: []string{"lab.example"}}, ""},
		{"no address", reply(0, &dhcpv6.OptStatusCode{StatusCode: iana.StatusNoAddrsAvail, StatusMessage: "pool empty"}), Lease6{}, "NoAddrsAvail"},
		{"a link-local address", reply(0, addr("fe80::5", time.Hour, time.Hour)), Lease6{}, "no usable address"},
		{"preferred beyond valid", reply(0, addr("fd00::1:5", 2*time.Hour, time.Hour)), Lease6{}, "lifetimes"},
		{"not a reply", sol, Lease6{}, "not a Reply"},
	} {
		got, err := FromReply("eth0", tc.msg)
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
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}
