package network

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
		// netlink's library does not parse the bond's 802.3ad info yet;
		// the bonding driver's sysfs files say the same.
		dir := filepath.Join(sysNet, name, "bonding")
		ports, perr := readTrim(filepath.Join(dir, "ad_num_ports"))
		partner, merr := readTrim(filepath.Join(dir, "ad_partner_mac"))
		if err := errors.Join(perr, merr); err != nil {
			return nil, err
		}
		if partner == "" || partner == "00:00:00:00:00:00" {
			partner = "none"
		}
		if ports == "" {
			ports = "0" // no active aggregator
		}
		kv = append(kv, "ports", ports, "partner", partner)
	}
	return kv, nil
}

// sysNet is where the links' sysfs directories are.
var sysNet = "/sys/class/net"

func readTrim(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}
