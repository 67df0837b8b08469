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
			Offset(t1, r, t1)
		}
	})
}
