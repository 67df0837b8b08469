package netconf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// KernelIP is the kernel's ip= argument, in its nfsroot syntax:
//
//	ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>:<ntp0>
//	ip=dhcp (or on, any, bootp, off, none)
//
// Debian's kernel is built without IP_PNP, so the kernel ignores it; the
// network pod applies it (docs/network.md). IPv4 only, as the kernel's.
type KernelIP struct {
	// Device is the interface; empty: the first ethernet link that is up.
	Device string
	// Static is the address with its prefix (no DHCP); invalid: DHCPv4.
	Static netip.Prefix
	// Gateway is the default route's; invalid: none.
	Gateway     netip.Addr
	Nameservers []netip.Addr
	// Hostname is the node's name when its configuration gives none.
	Hostname string
	// Off: ip=off or ip=none without an address: nothing is configured
	// from the argument.
	Off bool
}

// ParseKernelIP reads ip='s value.
func ParseKernelIP(v string) (KernelIP, error) {
	var k KernelIP
	switch v {
	case "dhcp", "on", "any", "bootp", "both":
		return k, nil
	case "off", "none":
		k.Off = true
		return k, nil
	case "rarp":
		return k, fmt.Errorf("ip=rarp: kiOS speaks DHCP, not RARP")
	}
	if a, err := netip.ParseAddr(v); (err == nil && a.Is6()) || strings.Contains(v, "[") {
		return k, fmt.Errorf("ip=%s: the kernel's ip= is IPv4 only; give IPv6 settings in the network section (docs/network.md)", v)
	}
	f := strings.Split(v, ":")
	if len(f) > 10 {
		return k, fmt.Errorf("ip=: want at most 10 fields (client:server:gw:netmask:hostname:device:autoconf:dns0:dns1:ntp0), got %d", len(f))
	}
	field := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	auto := field(6)
	switch auto {
	case "", "off", "none", "dhcp", "on", "any", "bootp", "both":
	default:
		return k, fmt.Errorf("ip=: autoconf (field 7) %q: want off, none, dhcp, on or any", auto)
	}
	k.Device, k.Hostname = field(5), strings.ToLower(field(4))
	if k.Hostname != "" {
		if e := validation.IsDNS1123Subdomain(k.Hostname); len(e) > 0 || len(k.Hostname) > 63 {
			return k, fmt.Errorf("ip=: hostname (field 5) %q is not a node name (a DNS-1123 subdomain of at most 63 characters)", field(4))
		}
	}
	if k.Device != "" && !ifnameRE.MatchString(k.Device) {
		return k, fmt.Errorf("ip=: device (field 6) %q is not an interface name", k.Device)
	}
	parseAddr := func(i int, what string) (netip.Addr, error) {
		s := field(i)
		if s == "" {
			return netip.Addr{}, nil
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return netip.Addr{}, fmt.Errorf("ip=: %s (field %d) %q: want an IPv4 address", what, i+1, s)
		}
		return a, nil
	}
	client, err := parseAddr(0, "client address")
	if err != nil {
		return k, err
	}
	if k.Gateway, err = parseAddr(2, "gateway"); err != nil {
		return k, err
	}
	for _, i := range []int{7, 8} {
		a, err := parseAddr(i, "name server")
		if err != nil {
			return k, err
		}
		if a.IsValid() {
			k.Nameservers = append(k.Nameservers, a)
		}
	}
	static := auto == "off" || auto == "none" || (auto == "" && client.IsValid())
	if !static {
		if k.Gateway.IsValid() || client.IsValid() {
			return k, fmt.Errorf("ip=: autoconf %s with a client address or gateway: give autoconf off for static settings", auto)
		}
		return k, nil
	}
	if !client.IsValid() {
		return k, fmt.Errorf("ip=: static settings (autoconf %q) need a client address (field 1)", auto)
	}
	bits, err := maskBits(field(3))
	if err != nil {
		return k, err
	}
	k.Static = netip.PrefixFrom(client, bits)
	if k.Gateway.IsValid() && !k.Static.Masked().Contains(k.Gateway) {
		return k, fmt.Errorf("ip=: gateway %s is not in %s", k.Gateway, k.Static.Masked())
	}
	return k, nil
}

// maskBits reads a netmask (255.255.255.0) or a prefix length (24); an
// empty one is the kernel's default for a single address on the link.
func maskBits(s string) (int, error) {
	if s == "" {
		return 32, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 32 {
			return 0, fmt.Errorf("ip=: netmask (field 4) /%d: want 1-32", n)
		}
		return n, nil
	}
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() {
		return 0, fmt.Errorf("ip=: netmask (field 4) %q: want 255.255.255.0 or 24", s)
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bits := 0
	for v&(1<<31) != 0 {
		bits++
		v <<= 1
	}
	if v != 0 || bits == 0 {
		return 0, fmt.Errorf("ip=: netmask (field 4) %s is not contiguous", s)
	}
	return bits, nil
}

// Link is the argument as a link of the network section (its Device
// resolved by the caller when empty).
func (k KernelIP) Link(device string) Link {
	l := Link{Name: device}
	if !k.Static.IsValid() {
		l.DHCP4 = true
		return l
	}
	l.Addresses = []string{k.Static.String()}
	if k.Gateway.IsValid() {
		l.Routes = []Route{{To: "default", Via: k.Gateway.String()}}
	}
	return l
}
