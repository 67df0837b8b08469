package network

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/node/dhcp"
	"kios.dev/kios/internal/shared/cmdline"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/netconf"
	"kios.dev/kios/internal/shared/reportsock"
)

// Logger is where the pod says what it does.
type Logger interface {
	Printf(format string, args ...any)
}

// Config is the network pod's.
type Config struct {
	// Section is the file PID 1 writes the network section to (JSON;
	// absent: no section).
	Section    string
	Cmdline    string // /proc/cmdline's text, for ip=
	ResolvConf string // the node's resolv.conf; empty: not written
	SysctlNet  string // the node's /proc/sys/net
	Log        Logger
	// LinkWait is how long links the configuration names may take to
	// appear (drivers probe as PID 1 boots) before the fallback.
	LinkWait time.Duration
	// Poll is how often the section file is checked for a change.
	Poll time.Duration
	// Links lists the machine's links (Links when nil; a seam for tests).
	Links func() ([]Host, error)
	// Report hands PID 1 an event for the console (nil: none).
	Report func(reportsock.Report)
}

func (c Config) report(name events.Name, kv ...any) {
	if c.Report != nil {
		c.Report(reportsock.New(name, kv...))
	}
}

// Run applies the configuration and keeps it until ctx ends; when the
// section file changes (a network source answered later in the boot), it
// takes the old plan away and applies the new one.
func Run(ctx context.Context, c Config) error {
	k, _ := cmdline.Parse(c.Cmdline) // PID 1 logged the bad words
	if c.Links == nil {
		c.Links = Links
	}
	a := &Applier{SysctlNet: c.SysctlNet}
	for {
		raw, sec, err := readSection(c.Section)
		if err != nil {
			c.Log.Printf("network: %v; configuring as without a network section", err)
			c.report(events.NetworkFallback, "err", err)
		}
		plan := c.plan(ctx, sec, k.IP)
		for _, err := range a.Apply(plan) {
			c.Log.Printf("network: %v", err)
			c.report(events.NetworkError, "err", err)
		}
		for _, t := range plan.Links {
			c.Log.Printf("network: %s (%s): %s", t.Name, t.From, describe(t.Addressing))
			c.report(events.NetworkLink, "link", t.Name, "from", t.From, "does", describe(t.Addressing))
		}
		kctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		keepers(kctx, &wg, c, plan)
		changed := c.waitChange(ctx, raw)
		stop()
		wg.Wait()
		if !changed {
			return nil
		}
		c.Log.Printf("network: %s changed; taking the old settings away", c.Section)
		for _, err := range a.Undo() {
			c.Log.Printf("network: %v", err)
		}
	}
}

// plan waits up to LinkWait for the links the configuration names, then
// falls back to DHCPv4 on every link and says why.
func (c Config) plan(ctx context.Context, sec *netconf.Network, kip *netconf.KernelIP) Plan {
	deadline := time.Now().Add(c.LinkWait)
	for {
		hosts, err := c.Links()
		if err != nil {
			c.Log.Printf("network: %v", err)
		}
		p, err := MakePlan(sec, kip, hosts)
		waiting := time.Now().Before(deadline) && ctx.Err() == nil
		switch {
		case err == nil && (len(p.Links) > 0 || !waiting):
			return p
		case waiting && (err == nil || errors.Is(err, ErrMissing)):
			// Nothing to configure yet (no link is up) or a named link
			// missing: drivers may still be probing.
			time.Sleep(time.Second)
			continue
		}
		c.Log.Printf("network: %v; falling back to DHCPv4 and SLAAC on every link", err)
		c.report(events.NetworkFallback, "err", err)
		return p
	}
}

// keepers starts the DHCP clients of the plan, which write resolv.conf
// with the static name servers first.
func keepers(ctx context.Context, wg *sync.WaitGroup, c Config, p Plan) {
	r := &resolver{file: c.ResolvConf, servers: p.Nameservers, search: p.SearchDomains, log: c.Log, report: c.report, told: map[string]string{}, declared: map[string]bool{}}
	var v4, v6, slaac []string
	for _, t := range p.Links {
		r.declared[t.Name] = strings.HasPrefix(t.From, "network.") || t.From == "ip="
		if t.DHCP4 {
			v4 = append(v4, t.Name)
		}
		if t.DHCP6 {
			v6 = append(v6, t.Name)
		}
		if t.SLAAC {
			slaac = append(slaac, t.Name)
		}
	}
	if len(p.Nameservers)+len(p.SearchDomains) > 0 {
		r.write()
	}
	if len(p.Bonds) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			watchBonds(ctx, p.Bonds, c)
		}()
	}
	if len(v4) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &dhcp.Client{Interfaces: v4, Log: c.Log, OnLease: r.leases4}
			_ = cl.Run(ctx)
		}()
	}
	if len(slaac) > 0 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			watchSLAAC(ctx, slaac, r, c.Log)
		}()
		go func() {
			defer wg.Done()
			watchRA(ctx, slaac, r, c.Log)
		}()
	}
	if len(v6) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &dhcp.Client6{Interfaces: v6, Log: c.Log, OnLease: r.leases6,
				OnFail: func(link string, err error) {
					c.report(events.NetworkError, "link", link, "source", "dhcp6", "err", err)
				}}
			cl.Run(ctx)
		}()
	}
}

// waitChange waits until ctx ends (false) or the section file no longer
// holds raw (true).
func (c Config) waitChange(ctx context.Context, raw []byte) bool {
	poll := c.Poll
	if poll == 0 {
		poll = 2 * time.Second
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(poll):
		}
		now, err := os.ReadFile(c.Section)
		if errors.Is(err, os.ErrNotExist) {
			now, err = nil, nil
		}
		if err == nil && !bytes.Equal(now, raw) {
			return true
		}
	}
}

// readSection reads the section PID 1 wrote; a missing file is none.
func readSection(path string) ([]byte, *netconf.Network, error) {
	if path == "" {
		return nil, nil, nil
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	var n netconf.Network
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		return raw, nil, fmt.Errorf("%s: %w", path, err)
	}
	return raw, &n, nil
}

func describe(a netconf.Addressing) string {
	var w []string
	if a.DHCP4 {
		w = append(w, "dhcp4")
	}
	if a.DHCP6 {
		w = append(w, "dhcp6")
	}
	if a.SLAAC {
		w = append(w, "slaac")
	}
	if len(a.Addresses) > 0 {
		w = append(w, "addresses="+strings.Join(a.Addresses, ","))
	}
	for _, r := range a.Routes {
		w = append(w, fmt.Sprintf("route=%s via %s metric %d", r.To, r.Via, r.Metric))
	}
	if a.MTU > 0 {
		w = append(w, fmt.Sprintf("mtu=%d", a.MTU))
	}
	if len(w) == 0 {
		return "up, no addresses"
	}
	return strings.Join(w, " ")
}

// watchSLAAC reports the addresses the kernel's SLAAC gives links
// (global IPv6 addresses with a lifetime and a prefix shorter than /128:
// not static, not DHCPv6's).
func watchSLAAC(ctx context.Context, links []string, r *resolver, log Logger) {
	ch := make(chan netlink.AddrUpdate, 16)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{ListExisting: true}); err != nil {
		log.Printf("network: watch addresses: %v", err)
		return
	}
	names := map[int]string{}
	for _, n := range links {
		if l, err := netlink.LinkByName(n); err == nil {
			names[l.Attrs().Index] = n
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-ch:
			if !ok {
				return
			}
			name, mine := names[u.LinkIndex]
			ones, bits := u.LinkAddress.Mask.Size()
			if !mine || !u.NewAddr || bits != 128 || ones == 128 || !u.LinkAddress.IP.IsGlobalUnicast() ||
				u.Flags&unix.IFA_F_PERMANENT != 0 || u.Flags&unix.IFA_F_TENTATIVE != 0 {
				continue
			}
			r.tell(name, "slaac", u.LinkAddress.String())
		}
	}
}
