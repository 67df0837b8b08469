package boot

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
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
