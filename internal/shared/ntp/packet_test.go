package ntp

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

func reply(req []byte, stratum uint8, rx, tx time.Time) []byte {
	b := make([]byte, PacketSize)
	b[0] = 0<<6 | 4<<3 | 4
	b[1] = stratum
	copy(b[24:32], req[40:48])
	binary.BigEndian.PutUint64(b[32:], toNTP(rx))
	binary.BigEndian.PutUint64(b[40:], toNTP(tx))
	return b
}

func TestTimestampRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC)
	if d := fromNTP(toNTP(now)).Sub(now); d > time.Microsecond || d < -time.Microsecond {
		t.Errorf("round trip off by %s", d)
	}
}

func TestParseReplyAndOffset(t *testing.T) {
	t1 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	req := Request(t1)
	// The server is 2 s ahead; the network takes 10 ms each way.
	rx := t1.Add(2*time.Second + 10*time.Millisecond)
	tx := rx.Add(time.Millisecond)
	t4 := t1.Add(21 * time.Millisecond)
	r, err := ParseReply(reply(req, 2, rx, tx), t1)
	if err != nil {
		t.Fatal(err)
	}
	off, delay := Offset(t1, r, t4)
	if d := off - 2*time.Second; d > time.Millisecond || d < -time.Millisecond {
		t.Errorf("offset %s, want 2s", off)
	}
	if d := delay - 20*time.Millisecond; d > time.Millisecond || d < -time.Millisecond {
		t.Errorf("delay %s, want 20ms", delay)
	}
}

func TestParseReplyRejects(t *testing.T) {
	t1 := time.Now()
	req := Request(t1)
	good := reply(req, 2, t1, t1)
	mut := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	for name, b := range map[string][]byte{
		"short":         good[:40],
		"client mode":   mut(func(b []byte) { b[0] = 4<<3 | 3 }),
		"kiss of death": mut(func(b []byte) { b[1] = 0 }),
		"unsynced":      mut(func(b []byte) { b[0] |= 3 << 6 }),
		"wrong origin":  mut(func(b []byte) { b[30]++ }),
		"zero transmit": mut(func(b []byte) { copy(b[40:], make([]byte, 8)) }),
	} {
		if _, err := ParseReply(b, t1); !errors.Is(err, ErrBadReply) {
			t.Errorf("%s: err = %v, want ErrBadReply", name, err)
		}
	}
}

// TestClientAgainstLocalServer runs the client against an SNTP server on
// loopback that is 3 s ahead, with the clock seam recording adjustments.
func TestClientAgainstLocalServer(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			now := time.Now().Add(3 * time.Second)
			pc.WriteTo(reply(buf[:n], 1, now, now), addr)
		}
	}()
	var mu sync.Mutex
	var offsets []time.Duration
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{Servers: []string{"127.0.0.1:1", pc.LocalAddr().String()}, Log: tlog{t},
		MinPoll: 10 * time.Millisecond, MaxPoll: 20 * time.Millisecond,
		Adjust: func(d time.Duration) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			offsets = append(offsets, d)
			if len(offsets) == 2 {
				cancel()
			}
			return d > StepThreshold, nil
		}}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for _, o := range offsets {
		if o < 2900*time.Millisecond || o > 3100*time.Millisecond {
			t.Errorf("offset %s, want about 3s", o)
		}
	}
}

type tlog struct{ t *testing.T }

func (l tlog) Printf(f string, a ...any) { l.t.Logf(f, a...) }
