package dhcp

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// Logger is the one method the client needs.
type Logger interface {
	Printf(format string, args ...any)
}

// Client keeps a lease on each interface.
type Client struct {
	Interfaces []string
	// OnLease is told every interface's current lease after each new one
	// (the network pod writes resolv.conf from them).
	OnLease func(all []Lease)
	Log     Logger
	// Retry is the wait after a failed attempt (short in tests).
	Retry time.Duration

	leases book[Lease]
}

// Run keeps leases until ctx ends.
func (c *Client) Run(ctx context.Context) error {
	if len(c.Interfaces) == 0 {
		return fmt.Errorf("no interfaces to configure")
	}
	c.leases = book[Lease]{order: c.Interfaces}
	each(ctx, c.Interfaces, c.keep)
	return nil
}

// each runs keep for every interface at once and waits for them all.
func each(ctx context.Context, ifaces []string, keep func(context.Context, string)) {
	var wg sync.WaitGroup
	for _, ifc := range ifaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keep(ctx, ifc)
		}()
	}
	wg.Wait()
}

func (c *Client) keep(ctx context.Context, ifc string) {
	retry := c.Retry
	if retry == 0 {
		retry = 5 * time.Second
	}
	for ctx.Err() == nil {
		cl, err := nclient4.New(ifc, nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(3))
		if err != nil {
			c.Log.Printf("dhcp: %s: open client: %v", ifc, err)
			sleep(ctx, retry)
			continue
		}
		c.session(ctx, cl, ifc, retry)
		cl.Close()
	}
}

// session gets a lease, then renews it at T1 until renewing fails past
// the lease's end; then it returns to start over with a discover.
func (c *Client) session(ctx context.Context, cl *nclient4.Client, ifc string, retry time.Duration) {
	lease, err := cl.Request(ctx)
	if err != nil {
		c.Log.Printf("dhcp: %s: no lease: %v", ifc, err)
		sleep(ctx, retry)
		return
	}
	for {
		l, err := FromACK(ifc, lease.ACK)
		if err != nil {
			c.Log.Printf("dhcp: %s: %v", ifc, err)
			sleep(ctx, retry)
			return
		}
		c.apply(l)
		if l.Duration == 0 {
			<-ctx.Done()
			return
		}
		expires := time.Now().Add(l.Duration)
		sleep(ctx, l.Renew)
		for {
			if ctx.Err() != nil {
				return
			}
			next, err := cl.Renew(ctx, lease)
			if err == nil {
				lease = next
				c.Log.Printf("dhcp: %s: renewed", ifc)
				break
			}
			if time.Now().After(expires) {
				c.Log.Printf("dhcp: %s: lease on %s expired: %v", ifc, l.Address.String(), err)
				if err := Remove(l); err != nil {
					c.Log.Printf("dhcp: %s: remove address: %v", ifc, err)
				}
				return
			}
			c.Log.Printf("dhcp: %s: renew failed, retrying: %v", ifc, err)
			sleep(ctx, min(retry*2, time.Until(expires)/2+time.Second))
		}
	}
}

func (c *Client) apply(l Lease) {
	if err := Apply(l); err != nil {
		c.Log.Printf("dhcp: %s: apply lease: %v", l.Interface, err)
		return
	}
	var dns []string
	for _, d := range l.DNS {
		dns = append(dns, d.String())
	}
	router := "none"
	if l.Router != nil {
		router = l.Router.String()
	}
	c.Log.Printf("dhcp: %s: lease address=%s router=%s dns=%s mtu=%d duration=%s renew=%s server=%v",
		l.Interface, l.Address.String(), router, strings.Join(dns, ","), l.MTU, l.Duration, l.Renew, l.Server)
	all := c.leases.put(l.Interface, l)
	if c.OnLease != nil {
		c.OnLease(all)
	}
}

// book keeps each interface's current lease, for the clients' OnLease.
type book[L any] struct {
	mu    sync.Mutex
	order []string // the interfaces, in the order leases are listed
	m     map[string]L
}

// put records ifc's lease and returns every interface's, in order.
func (b *book[L]) put(ifc string, l L) []L {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]L{}
	}
	b.m[ifc] = l
	var all []L
	for _, i := range b.order {
		if x, ok := b.m[i]; ok {
			all = append(all, x)
		}
	}
	return all
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
