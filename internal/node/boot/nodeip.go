package boot

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"kios.dev/kios/internal/shared/atomicfile"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/kubelet"
	"kios.dev/kios/internal/shared/reportsock"
)

// leasedIPs are the first address of each family the network pod
// reported (DHCPv4, DHCPv6 or SLAAC): a kubelet reports two node IPs
// only when told both, and finds one by itself.
type leasedIPs struct {
	mu    sync.Mutex
	first map[string]netip.Addr // "ipv4", "ipv6"
}

// noteLease tells the kubelet a dual-stack node's pair once the network
// pod has reported an address of each family the configuration's static
// addresses (kubelet.ConfigNodeIPFile) do not give, on links the
// configuration names (node_ip=yes); the kubelet is restarted when the
// pair changes.
func (n *Node) noteLease(r reportsock.Report) {
	if (events.Event{Fields: r.Fields}).Get("node_ip") != "yes" {
		return // a link the configuration does not name
	}
	changed, err := n.writePair(r)
	if err != nil {
		events.Emit(n.Log, events.NetworkError, "err", err)
		return
	}
	if changed {
		if err := n.RestartKubelet(); err != nil {
			events.Emit(n.Log, events.KubeletRestartFailed, "err", err)
		}
	}
}

// writePair records r's address and writes the kubelet's pair when it
// changed (true).
func (n *Node) writePair(r reportsock.Report) (bool, error) {
	e := events.Event{Name: r.Event, Fields: r.Fields}
	ip, err := netip.ParsePrefix(e.Get("address"))
	if err != nil {
		a, aerr := netip.ParseAddr(e.Get("address"))
		if aerr != nil {
			return false, fmt.Errorf("network-lease: address %q", e.Get("address"))
		}
		ip = netip.PrefixFrom(a, a.BitLen())
	}
	root := n.configRoot()
	n.leased.mu.Lock()
	if n.leased.first == nil {
		n.leased.first = map[string]netip.Addr{}
	}
	fam := "ipv4"
	if ip.Addr().Is6() {
		fam = "ipv6"
	}
	if _, ok := n.leased.first[fam]; !ok {
		n.leased.first[fam] = ip.Addr()
	}
	first := map[string]netip.Addr{"ipv4": n.leased.first["ipv4"], "ipv6": n.leased.first["ipv6"]}
	n.leased.mu.Unlock()
	static, _ := os.ReadFile(filepath.Join(root, kubelet.ConfigNodeIPFile))
	pair := dualPair(strings.TrimSpace(string(static)), first)
	path := filepath.Join(root, kubelet.LeasedNodeIPFile)
	old, err := os.ReadFile(path)
	if pair == "" || (err == nil && strings.TrimSpace(string(old)) == pair) {
		return false, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("the kubelet's node IPs: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("the kubelet's node IPs: %w", err)
	}
	if err := atomicfile.Write(path, []byte(pair+"\n"), 0o644); err != nil {
		return false, fmt.Errorf("the kubelet's node IPs: %w", err)
	}
	return true, nil
}

// dualPair is the kubelet's --node-ip for a dual-stack node: the static
// address of each family the configuration gives (static, as written
// for the kubelet), else the first one reported; "" while a family has
// none, or when the configuration gives both.
func dualPair(static string, first map[string]netip.Addr) string {
	pick := map[string]netip.Addr{}
	for _, s := range strings.Split(static, ",") {
		if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
			if a.Is4() {
				pick["ipv4"] = a
			} else {
				pick["ipv6"] = a
			}
		}
	}
	if len(pick) == 2 {
		return "" // the configuration decided
	}
	for fam, a := range first {
		if _, ok := pick[fam]; !ok && a.IsValid() {
			pick[fam] = a
		}
	}
	if !pick["ipv4"].IsValid() || !pick["ipv6"].IsValid() {
		return ""
	}
	return pick["ipv4"].String() + "," + pick["ipv6"].String()
}
