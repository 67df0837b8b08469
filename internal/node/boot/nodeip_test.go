package boot

import (
	"net/netip"
	"testing"
)

func TestDualPair(t *testing.T) {
	v4, v6 := netip.MustParseAddr("10.0.0.100"), netip.MustParseAddr("fd00::1:5")
	for _, tc := range []struct {
		name   string
		static string
		first  map[string]netip.Addr
		want   string
	}{
		{"both leased", "", map[string]netip.Addr{"ipv4": v4, "ipv6": v6}, "10.0.0.100,fd00::1:5"},
		{"IPv4 only: the kubelet finds it", "", map[string]netip.Addr{"ipv4": v4}, ""},
		{"static IPv4, leased IPv6", "10.0.0.5", map[string]netip.Addr{"ipv4": v4, "ipv6": v6}, "10.0.0.5,fd00::1:5"},
		{"static IPv4, nothing of IPv6 yet", "10.0.0.5", map[string]netip.Addr{"ipv4": v4}, ""},
		{"static IPv6, leased IPv4", "fd00::5", map[string]netip.Addr{"ipv4": v4}, "10.0.0.100,fd00::5"},
		{"both static: the configuration decided", "10.0.0.5,fd00::5", map[string]netip.Addr{"ipv4": v4, "ipv6": v6}, ""},
	} {
		if got := dualPair(tc.static, tc.first); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
