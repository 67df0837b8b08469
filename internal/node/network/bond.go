package network

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"

	"kios.dev/kios/internal/shared/events"
)

// watchBonds reports each bond's state when it changes: the active
// member of an active-backup bond (a failover), the ports and partner
// of an 802.3ad bond's aggregator (LACP agreed with the switch, or not).
func watchBonds(ctx context.Context, bonds []BondPlan, c Config) {
	last := map[string]string{}
	for {
		for _, b := range bonds {
			kv, err := bondState(b.Name)
			if err != nil {
				kv = []any{"err", err}
			}
			if s := fmt.Sprint(kv...); s != last[b.Name] {
				last[b.Name] = s
				c.report(events.NetworkBond, append([]any{"link", b.Name}, kv...)...)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// bondState is a bond's mode and what its mode makes worth knowing.
func bondState(name string) ([]any, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil, err
	}
	b, ok := l.(*netlink.Bond)
	if !ok {
		return nil, fmt.Errorf("%s is a %s, not a bond", name, l.Type())
	}
	kv := []any{"mode", b.Mode.String()}
	switch b.Mode {
	case netlink.BOND_MODE_ACTIVE_BACKUP:
		active := "none"
		if m, err := netlink.LinkByIndex(b.ActiveSlave); err == nil && b.ActiveSlave > 0 {
			active = m.Attrs().Name
		}
		kv = append(kv, "active", active)
	case netlink.BOND_MODE_802_3AD:
		ports, partner := "0", "none"
		if ad := b.AdInfo; ad != nil {
			ports = strconv.Itoa(ad.NumPorts)
			if len(ad.PartnerMac) == 6 && ad.PartnerMac.String() != "00:00:00:00:00:00" {
				partner = ad.PartnerMac.String()
			}
		}
		kv = append(kv, "ports", ports, "partner", partner)
	}
	return kv, nil
}
