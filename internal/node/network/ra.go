package network

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
)

// watchRA reads the name servers and search domains that router
// advertisements offer (RDNSS and DNSSL, RFC 8106) on links that take
// SLAAC, for resolv.conf. The kernel does the addresses and routes.
func watchRA(ctx context.Context, links []string, r *resolver, log Logger) {
	var wg sync.WaitGroup
	for _, link := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raLink(ctx, link, r, log, 30*time.Second)
		}()
	}
	wg.Wait()
}

// raLink listens on link, solicits an advertisement and records what
// each one offers until ctx ends; every tick it writes resolv.conf again
// so offers whose lifetime ended leave it.
func raLink(ctx context.Context, link string, r *resolver, log Logger, tick time.Duration) {
	var c *ndp.Conn
	var last string
	for c == nil {
		ifi, err := net.InterfaceByName(link)
		if err == nil {
			// The link-local address is tentative until duplicate
			// address detection ends: binding it fails until then.
			c, _, err = ndp.Listen(ifi, ndp.LinkLocal)
		}
		if err != nil {
			if err.Error() != last {
				log.Printf("network: %s: router advertisements: %v; trying again", link, err)
				last = err.Error()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
	defer c.Close()
	defer context.AfterFunc(ctx, func() { c.Close() })() // ends a read
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeRouterAdvertisement)
	if err := c.SetICMPFilter(&f); err != nil {
		log.Printf("network: %s: router advertisements: filter: %v", link, err)
	}
	if err := c.WriteTo(&ndp.RouterSolicitation{}, nil, netip.MustParseAddr("ff02::2")); err != nil {
		log.Printf("network: %s: router solicitation: %v", link, err)
	}
	for ctx.Err() == nil {
		if err := c.SetReadDeadline(time.Now().Add(tick)); err != nil {
			log.Printf("network: %s: router advertisements: %v", link, err)
			return
		}
		m, _, from, err := c.ReadFrom()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			r.write()
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Printf("network: %s: router advertisements: %v", link, err)
			}
			return
		}
		ra, ok := m.(*ndp.RouterAdvertisement)
		if !ok {
			continue
		}
		// One write for the whole advertisement.
		var servers, search = []net.IP(nil), []string(nil)
		var serversLife, searchLife time.Duration
		for _, o := range ra.Options {
			switch o := o.(type) {
			case *ndp.RecursiveDNSServer:
				servers, serversLife = []net.IP{}, o.Lifetime
				for _, a := range o.Servers {
					servers = append(servers, net.IP(a.AsSlice()))
				}
				log.Printf("network: %s: router %s offers name servers %v for %s", link, from, o.Servers, o.Lifetime)
			case *ndp.DNSSearchList:
				search, searchLife = append([]string{}, o.DomainNames...), o.Lifetime
				log.Printf("network: %s: router %s offers search domains %v for %s", link, from, o.DomainNames, o.Lifetime)
			}
		}
		if servers != nil || search != nil {
			r.offerRA(link, servers, serversLife, search, searchLife)
		}
	}
}
