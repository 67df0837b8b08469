// Package route tells whether the kernel can reach a host now: PID 1
// holds the kubelet until its API server is routable, and the config pod
// asks a source only once it is.
package route

import (
	"net"

	"github.com/vishvananda/netlink"
)

// Routable tells whether the kernel has a route to host: an IP address,
// or, for a name, any default route (its DNS lookup needs one too).
func Routable(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		routes, err := netlink.RouteGet(ip)
		return err == nil && len(routes) > 0
	}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return false
	}
	for _, r := range routes {
		if r.Dst == nil {
			return true
		}
		if ones, _ := r.Dst.Mask.Size(); ones == 0 {
			return true
		}
	}
	return false
}
