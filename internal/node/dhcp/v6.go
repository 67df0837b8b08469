package dhcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/dhcpv6/nclient6"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Lease6 is what a DHCPv6 Reply grants: one address of an IA_NA (the
// on-link prefix comes from router advertisements, so it is a /128).
type Lease6 struct {
	Interface        string
	Address          net.IP
	Preferred, Valid time.Duration
	Renew            time.Duration // T1
	DNS              []net.IP
	Search           []string
}

// FromReply reads the lease a Reply grants.
func FromReply(iface string, reply *dhcpv6.Message) (Lease6, error) {
	if reply == nil || reply.MessageType != dhcpv6.MessageTypeReply {
		return Lease6{}, fmt.Errorf("%w: not a Reply", ErrBadLease)
	}
	if s := reply.Options.Status(); s != nil && s.StatusCode != iana.StatusSuccess {
		return Lease6{}, fmt.Errorf("%w: %s: %s", ErrBadLease, s.StatusCode, s.StatusMessage)
	}
	ia := reply.Options.OneIANA()
	if ia == nil {
		return Lease6{}, fmt.Errorf("%w: no IA_NA", ErrBadLease)
	}
	if s := ia.Options.Status(); s != nil && s.StatusCode != iana.StatusSuccess {
		return Lease6{}, fmt.Errorf("%w: IA_NA: %s: %s", ErrBadLease, s.StatusCode, s.StatusMessage)
	}
	a := ia.Options.OneAddress()
	if a == nil || a.IPv6Addr.To16() == nil || a.IPv6Addr.To4() != nil || !a.IPv6Addr.IsGlobalUnicast() {
		return Lease6{}, fmt.Errorf("%w: no usable address in the IA_NA", ErrBadLease)
	}
	if a.ValidLifetime == 0 || a.PreferredLifetime > a.ValidLifetime {
		return Lease6{}, fmt.Errorf("%w: lifetimes preferred %s, valid %s", ErrBadLease, a.PreferredLifetime, a.ValidLifetime)
	}
	l := Lease6{Interface: iface, Address: a.IPv6Addr, Preferred: a.PreferredLifetime, Valid: a.ValidLifetime, Renew: ia.T1}
	if l.Renew <= 0 || l.Renew >= l.Valid {
		l.Renew = l.Preferred / 2
	}
	if l.Renew <= 0 {
		l.Renew = l.Valid / 2
	}
	for _, d := range reply.Options.DNS() {
		if d.To16() != nil && !d.IsUnspecified() {
			l.DNS = append(l.DNS, d)
		}
	}
	if s := reply.Options.DomainSearchList(); s != nil {
		l.Search = append(l.Search, s.Labels...)
	}
	return l, nil
}

// Client6 keeps a DHCPv6 address on each interface. A renewal is a new
// exchange with the same client ID, which the server answers with the
// same address.
type Client6 struct {
	Interfaces []string
	OnLease    func(all []Lease6)
	// OnFail is told why an interface has no lease, each time the
	// reason changes.
	OnFail func(iface string, err error)
	Log    Logger
	Retry  time.Duration

	leases book[Lease6]
}

// Run keeps leases until ctx ends.
func (c *Client6) Run(ctx context.Context) {
	c.leases = book[Lease6]{order: c.Interfaces}
	each(ctx, c.Interfaces, c.keep)
}

func (c *Client6) keep(ctx context.Context, ifc string) {
	retry := c.Retry
	if retry == 0 {
		retry = 5 * time.Second
	}
	var held *Lease6
	expires := time.Time{}
	last := ""
	// The client binds the link-local address, which is tentative until
	// duplicate address detection ends: wait for it rather than fail.
	waitLinkLocal(ctx, ifc, 30*time.Second)
	for ctx.Err() == nil {
		l, err := c.exchange(ctx, ifc)
		if err != nil {
			c.Log.Printf("dhcp6: %s: %v", ifc, err)
			if err.Error() != last && c.OnFail != nil {
				c.OnFail(ifc, err)
			}
			last = err.Error()
			if held != nil && time.Now().After(expires) {
				c.Log.Printf("dhcp6: %s: lease on %s expired", ifc, held.Address)
				if err := remove6(*held); err != nil {
					c.Log.Printf("dhcp6: %s: remove address: %v", ifc, err)
				}
				held = nil
			}
			sleep(ctx, retry)
			continue
		}
		if err := apply6(l); err != nil {
			c.Log.Printf("dhcp6: %s: apply lease: %v", ifc, err)
			sleep(ctx, retry)
			continue
		}
		held, expires, last = &l, time.Now().Add(l.Valid), ""
		c.Log.Printf("dhcp6: %s: lease address=%s preferred=%s valid=%s renew=%s dns=%v", ifc, l.Address, l.Preferred, l.Valid, l.Renew, l.DNS)
		all := c.leases.put(ifc, l)
		if c.OnLease != nil {
			c.OnLease(all)
		}
		sleep(ctx, l.Renew)
	}
}

// exchange solicits (with rapid commit, or the four messages) from the
// interface's link-local address, which exists once duplicate address
// detection is done.
func (c *Client6) exchange(ctx context.Context, ifc string) (Lease6, error) {
	link, err := net.InterfaceByName(ifc)
	if err != nil {
		return Lease6{}, err
	}
	conn, err := listenUDP6Raw(ifc, dhcpv6.DefaultClientPort)
	if err != nil {
		return Lease6{}, fmt.Errorf("open client (no link-local address yet?): %w", err)
	}
	cl, err := nclient6.NewWithConn(conn, link.HardwareAddr, nclient6.WithTimeout(2*time.Second), nclient6.WithRetry(3))
	if err != nil {
		conn.Close()
		return Lease6{}, fmt.Errorf("open client: %w", err)
	}
	defer cl.Close()
	duid := &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: link.HardwareAddr}
	reply, err := cl.RapidSolicit(ctx, dhcpv6.WithClientID(duid))
	if err != nil {
		return Lease6{}, fmt.Errorf("no lease: %w", err)
	}
	return FromReply(ifc, reply)
}

func apply6(l Lease6) error {
	link, err := netlink.LinkByName(l.Interface)
	if err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: l.Address, Mask: net.CIDRMask(128, 128)},
		ValidLft: int(l.Valid.Seconds()), PreferedLft: int(l.Preferred.Seconds())}
	if err := netlink.AddrReplace(link, a); err != nil {
		return fmt.Errorf("add %s: %w", l.Address, err)
	}
	return nil
}

func remove6(l Lease6) error {
	link, err := netlink.LinkByName(l.Interface)
	if err != nil {
		return err
	}
	err = netlink.AddrDel(link, &netlink.Addr{IPNet: &net.IPNet{IP: l.Address, Mask: net.CIDRMask(128, 128)}})
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		return nil
	}
	return err
}

// waitLinkLocal waits up to limit for ifc to have a link-local IPv6
// address that is no longer tentative.
func waitLinkLocal(ctx context.Context, ifc string, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if link, err := netlink.LinkByName(ifc); err == nil {
			as, _ := netlink.AddrList(link, netlink.FAMILY_V6)
			for _, a := range as {
				if a.IP.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 && a.Flags&unix.IFA_F_DADFAILED == 0 {
					return
				}
			}
		}
		sleep(ctx, 200*time.Millisecond)
	}
}
