package ntp

import (
	"testing"
	"time"
)

func FuzzParseReply(f *testing.F) {
	t1 := time.Unix(1800000000, 0)
	f.Add(reply(Request(t1), 2, t1, t1))
	f.Add([]byte{0x24})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseReply(b, t1); err == nil {
			if r.Stratum == 0 || r.Stratum > 15 || r.Receive.IsZero() || r.Transmit.IsZero() {
				t.Errorf("accepted a reply a client must refuse: %+v", r)
			}
			// Sent and received at once: no delay but the server's own.
			if _, delay := Offset(t1, r, t1); delay != -r.Transmit.Sub(r.Receive) {
				t.Errorf("delay %s, want %s", delay, -r.Transmit.Sub(r.Receive))
			}
		}
	})
}
