// Package lab is a private network on this machine for kiOS VMs and a
// control plane: a network namespace with a bridge, one TAP per VM, a
// DHCP server, an NTP server (the host's clock, on the gateway), and a way to run programs and dial addresses inside it.
// Nothing outside the namespace is ever addressed, and Close removes it.
package labnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Addresses of the lab network.
var (
	Gateway = net.IPv4(10, 88, 0, 1)
	Subnet  = net.IPNet{IP: net.IPv4(10, 88, 0, 0).To4(), Mask: net.CIDRMask(24, 32)}
)

// BridgeName is the lab bridge inside the namespace.
const BridgeName = "kioslab0"

// Lab is a running lab network.
type Lab struct {
	Name string // network namespace name
	ns   netns.NsHandle
	dhcp *dhcpServer
	ntp  net.PacketConn
}

// inNS runs f on a thread switched into ns, then switches back.
func inNS(ns netns.NsHandle, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		return fmt.Errorf("enter lab namespace: %w", err)
	}
	defer netns.Set(orig)
	return f()
}

// Create makes the namespace, the bridge with the gateway address and
// the DHCP server. A namespace left behind by a crashed run with the same
// name is removed first.
func Create(name string) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the lab network needs root (network namespaces, bridges, TAP devices)")
	}
	_ = netns.DeleteNamed(name)
	removeOrphans()
	var ns netns.NsHandle
	err := func() error {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			return err
		}
		defer orig.Close()
		defer netns.Set(orig)
		ns, err = netns.NewNamed(name) // also switches this thread into it
		if err != nil {
			return fmt.Errorf("create network namespace %s: %w", name, err)
		}
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: BridgeName}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge: %w", err)
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: Gateway.To4(), Mask: Subnet.Mask}}
		if err := netlink.AddrAdd(br, addr); err != nil {
			return fmt.Errorf("address the bridge: %w", err)
		}
		return netlink.LinkSetUp(br)
	}()
	if err != nil {
		if ns.IsOpen() {
			ns.Close()
		}
		_ = netns.DeleteNamed(name)
		return nil, err
	}
	l := &Lab{Name: name, ns: ns}
	if l.dhcp, err = startDHCP(l); err != nil {
		l.Close()
		return nil, err
	}
	if l.ntp, err = startNTP(l); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// removeOrphans deletes test lab namespaces (kios-e2e-PID,
// kios-labtest-PID, kios-cptest-PID) whose process is gone: what a
// killed test run left behind. kios up's own lab is named by a hash and
// removed by kios down or the next kios up.
func removeOrphans() {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		n := e.Name()
		i := strings.LastIndexByte(n, '-')
		test := strings.HasPrefix(n, "kios-e2e-") || strings.HasPrefix(n, "kios-labtest-") || strings.HasPrefix(n, "kios-cptest-")
		if !test || i < 0 {
			continue
		}
		pid, err := strconv.Atoi(n[i+1:])
		if err != nil || pid <= 0 {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			_ = netns.DeleteNamed(n)
		}
	}
}

// AddTAP makes a TAP device on the bridge for a VM, returns its name.
func (l *Lab) AddTAP(name string) error {
	return inNS(l.ns, func() error {
		br, err := netlink.LinkByName(BridgeName)
		if err != nil {
			return err
		}
		tap := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: name, MasterIndex: br.Attrs().Index},
			Mode: netlink.TUNTAP_MODE_TAP, Flags: netlink.TUNTAP_DEFAULTS | netlink.TUNTAP_NO_PI}
		if err := netlink.LinkAdd(tap); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
		return netlink.LinkSetUp(tap)
	})
}

// Reserve gives a MAC address a fixed lab address in DHCP.
func (l *Lab) Reserve(mac net.HardwareAddr, ip net.IP) { l.dhcp.reserve(mac, ip) }

// NoDHCP makes the lab's DHCP server ignore mac, as a segment without
// DHCP would; the count is how many requests it ignored so far.
func (l *Lab) NoDHCP(mac net.HardwareAddr) (ignored func() int) {
	d := l.dhcp
	d.mu.Lock()
	d.deaf[mac.String()] = 0
	d.mu.Unlock()
	return func() int {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.deaf[mac.String()]
	}
}

// FirstLease is when the lab's DHCP server first acknowledged a lease
// to mac at or after since: the moment that client has its address,
// measured the same way whatever DHCP client it runs.
func (l *Lab) FirstLease(mac net.HardwareAddr, since time.Time) (time.Time, bool) {
	return l.dhcp.firstAck(mac, since)
}

// Command returns a command that runs inside the lab namespace.
func (l *Lab) Command(ctx context.Context, argv ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.Name}, argv...)...)
}

// DialContext dials an address inside the lab, for the harness's clients.
func (l *Lab) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNS(l.ns, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Close stops the DHCP and NTP servers and deletes the namespace with every
// device in it.
func (l *Lab) Close() error {
	if l.dhcp != nil {
		l.dhcp.close()
	}
	if l.ntp != nil {
		l.ntp.Close()
	}
	if l.ns.IsOpen() {
		l.ns.Close()
	}
	if err := netns.DeleteNamed(l.Name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete namespace %s: %w", l.Name, err)
	}
	return nil
}
