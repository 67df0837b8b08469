package ntp

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Logger is the one method the client needs.
type Logger interface {
	Printf(format string, args ...any)
}

// Query asks one server for the time.
func Query(ctx context.Context, server string) (offset, delay time.Duration, stratum uint8, err error) {
	addr := server
	if _, _, e := net.SplitHostPort(server); e != nil {
		addr = net.JoinHostPort(server, "123")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	t1 := time.Now()
	if _, err := conn.Write(Request(t1)); err != nil {
		return 0, 0, 0, fmt.Errorf("send to %s: %w", addr, err)
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	t4 := time.Now()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read from %s: %w", addr, err)
	}
	r, err := ParseReply(buf[:n], t1)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%s: %w", addr, err)
	}
	off, del := Offset(t1, r, t4)
	return off, del, r.Stratum, nil
}

// StepThreshold is the offset above which the clock is stepped rather
// than slewed.
const StepThreshold = 128 * time.Millisecond

// Adjust corrects the clock by offset: a step when it is large, a slew
// (adjtimex single-shot offset) when small.
func Adjust(offset time.Duration) (stepped bool, err error) {
	if offset > StepThreshold || offset < -StepThreshold {
		ts := unix.NsecToTimespec(time.Now().Add(offset).UnixNano())
		if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
			return false, fmt.Errorf("step clock: %w", err)
		}
		return true, nil
	}
	tx := unix.Timex{Modes: unix.ADJ_OFFSET_SINGLESHOT, Offset: offset.Microseconds()}
	if _, err := unix.Adjtimex(&tx); err != nil {
		return false, fmt.Errorf("slew clock: %w", err)
	}
	return false, nil
}

// Client keeps the clock in step with the first server that answers.
type Client struct {
	Servers []string
	// ServersFile, when it exists and lists servers (one a line),
	// replaces Servers; it is read before every round, so a node
	// configuration applied after the pod started takes effect.
	ServersFile string
	Log         Logger
	MinPoll     time.Duration
	MaxPoll     time.Duration
	// Adjust is the clock seam; nil means Adjust.
	Adjust func(time.Duration) (bool, error)
}

// Run polls until ctx ends, doubling the interval while the clock is
// in step and going back to the minimum after a failure.
func (c *Client) Run(ctx context.Context) error {
	if len(c.Servers) == 0 && c.ServersFile == "" {
		return fmt.Errorf("no NTP servers given")
	}
	adjust := c.Adjust
	if adjust == nil {
		adjust = Adjust
	}
	poll := c.MinPoll
	for {
		ok := false
		for _, s := range c.servers() {
			qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			off, delay, stratum, err := Query(qctx, s)
			cancel()
			if err != nil {
				c.Log.Printf("ntp: %v", err)
				continue
			}
			stepped, err := adjust(off)
			if err != nil {
				c.Log.Printf("ntp: %v", err)
				continue
			}
			action := "slewed"
			if stepped {
				action = "stepped"
			}
			c.Log.Printf("ntp: server=%s stratum=%d offset=%s delay=%s clock=%s", s, stratum, off, delay, action)
			ok = true
			break
		}
		if ok {
			poll = min(poll*2, c.MaxPoll)
		} else {
			poll = c.MinPoll
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
}

func (c *Client) servers() []string {
	if c.ServersFile == "" {
		return c.Servers
	}
	b, err := os.ReadFile(c.ServersFile)
	if err != nil {
		return c.Servers
	}
	if list := strings.Fields(string(b)); len(list) > 0 {
		return list
	}
	return c.Servers
}
