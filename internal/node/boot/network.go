package boot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"

	"kios.dev/kios/internal/shared/events"
)

// LinksUp brings lo up and every ethernet-like interface (eth*, en*) up,
// so IPv6 SLAAC works before any DHCP client runs. It returns the names
// of the interfaces brought up.
func LinksUp() ([]string, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var up []string
	var errs []error
	for _, l := range links {
		name := l.Attrs().Name
		if name != "lo" && !strings.HasPrefix(name, "eth") && !strings.HasPrefix(name, "en") {
			continue
		}
		if err := netlink.LinkSetUp(l); err != nil {
			errs = append(errs, fmt.Errorf("set %s up: %w", name, err))
			continue
		}
		up = append(up, name)
	}
	return up, errors.Join(errs...)
}

// watchRoutes calls changed on every route the kernel adds or removes,
// for as long as PID 1 runs (a few a boot: the DHCP lease, CNI's bridge).
func watchRoutes(log Logger, changed func()) {
	updates := make(chan netlink.RouteUpdate, 16)
	if err := netlink.RouteSubscribe(updates, make(chan struct{})); err != nil {
		events.Emit(log, events.RouteWatchFailed, "err", err)
		return
	}
	// A route added before the subscription would be missed.
	changed()
	for range updates {
		changed()
	}
	events.Emit(log, events.RouteWatchStopped)
}

func (n *Node) network(context.Context) error {
	up, err := LinksUp()
	events.Emit(n.Log, events.LinksUp, "links", strings.Join(up, ","))
	return err
}
