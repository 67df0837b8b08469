package network

import (
	"bytes"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"kios.dev/kios/internal/node/dhcp"
	"kios.dev/kios/internal/shared/atomicfile"
	"kios.dev/kios/internal/shared/events"
)

// resolver writes resolv.conf: the configuration's name servers and
// search domains first, then what the leases and router advertisements
// offer.
type resolver struct {
	file    string
	servers []string
	search  []string
	log     Logger

	report func(events.Name, ...any)

	mu   sync.Mutex
	v4   []dhcp.Lease
	v6   []dhcp.Lease      // DHCPv6's name servers and search domains
	told map[string]string // link/source -> the address last reported
	// declared: the configuration names the link. Its addresses are
	// node IP candidates (PID 1 tells the kubelet a dual-stack pair);
	// a default link's SLAAC address on a network with router
	// advertisements does not make the node dual-stack.
	declared map[string]bool
	ra       map[string]raOffer // link -> what its routers' RDNSS and DNSSL say
	written  []byte             // what resolv.conf holds
}

// raOffer is what router advertisements on one link offer, each part
// until its lifetime ends.
type raOffer struct {
	servers       []net.IP
	search        []string
	serversExpire time.Time
	searchExpire  time.Time
}

// tell reports an address a link got from source, when it is new.
func (r *resolver) tell(link, source, address string) {
	family := "ipv4"
	if strings.Contains(address, ":") {
		family = "ipv6"
	}
	r.mu.Lock()
	old := r.told[link+"/"+source]
	r.told[link+"/"+source] = address
	r.mu.Unlock()
	if old != address {
		nodeIP := "no"
		if r.declared[link] {
			nodeIP = "yes"
		}
		r.report(events.NetworkLease, "link", link, "family", family, "source", source, "address", address, "node_ip", nodeIP)
	}
}

func (r *resolver) leases6(all []dhcp.Lease6) {
	r.mu.Lock()
	r.v6 = nil
	for _, l := range all {
		r.v6 = append(r.v6, dhcp.Lease{Interface: l.Interface, DNS: l.DNS, Search: l.Search})
	}
	r.mu.Unlock()
	for _, l := range all {
		r.tell(l.Interface, "dhcp6", l.Address.String()+"/128")
	}
	r.write()
}

func (r *resolver) leases4(all []dhcp.Lease) {
	r.mu.Lock()
	r.v4 = all
	r.mu.Unlock()
	for _, l := range all {
		r.tell(l.Interface, "dhcp4", l.Address.String())
	}
	r.write()
}

func (r *resolver) write() {
	r.mu.Lock()
	now := time.Now()
	leases := append(slices.Clone(r.v4), r.v6...)
	for _, link := range slices.Sorted(maps.Keys(r.ra)) {
		o := r.ra[link]
		l := dhcp.Lease{Interface: link}
		if now.Before(o.serversExpire) {
			l.DNS = o.servers
		}
		if now.Before(o.searchExpire) {
			l.Search = o.search
		}
		leases = append(leases, l)
	}
	servers, search := dhcp.Resolvers(r.servers, r.search, leases)
	b := dhcp.FormatResolvConf(servers, search)
	same := bytes.Equal(b, r.written)
	r.mu.Unlock()
	if same || r.file == "" {
		return
	}
	if err := atomicfile.Write(r.file, b, 0o644); err != nil {
		r.log.Printf("network: write %s: %v", r.file, err)
		return // the next write tries again
	}
	r.mu.Lock()
	r.written = b
	r.mu.Unlock()
	r.report(events.NetworkDNS, "servers", servers, "search", search)
}

// offerRA records what a router advertisement on link offers (a
// lifetime of zero withdraws it) and writes resolv.conf.
func (r *resolver) offerRA(link string, servers []net.IP, serversLife time.Duration, search []string, searchLife time.Duration) {
	r.mu.Lock()
	if r.ra == nil {
		r.ra = map[string]raOffer{}
	}
	o := r.ra[link]
	now := time.Now()
	if servers != nil {
		o.servers, o.serversExpire = servers, now.Add(serversLife)
	}
	if search != nil {
		o.search, o.searchExpire = search, now.Add(searchLife)
	}
	r.ra[link] = o
	r.mu.Unlock()
	r.write()
}
