// Package ntp is the SNTP client (RFC 4330) of the ntp system pod: it
// queries servers, computes the clock offset and steps or slews the clock.
package ntp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ntpEpochOffset is the seconds from 1900 (NTP's epoch) to 1970.
const ntpEpochOffset = 2208988800

// PacketSize is the size of an NTP header without extensions.
const PacketSize = 48

// ErrBadReply is returned for a reply that must not set the clock.
var ErrBadReply = errors.New("bad NTP reply")

// toNTP converts a time to the 64-bit NTP timestamp format.
func toNTP(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

func fromNTP(v uint64) time.Time {
	secs := int64(v>>32) - ntpEpochOffset
	nanos := (int64(v&0xffffffff) * 1e9) >> 32
	return time.Unix(secs, nanos)
}

// Request builds a client request whose transmit timestamp is t.
func Request(t time.Time) []byte {
	b := make([]byte, PacketSize)
	b[0] = 0<<6 | 4<<3 | 3 // no leap warning, version 4, client mode
	binary.BigEndian.PutUint64(b[40:], toNTP(t))
	return b
}

// Reply is the part of a server reply the client uses.
type Reply struct {
	Stratum  uint8
	Receive  time.Time // T2, server receive
	Transmit time.Time // T3, server transmit
}

// ParseReply validates a server reply to the request sent with
// transmit timestamp sent (RFC 4330 section 5 checks).
func ParseReply(b []byte, sent time.Time) (Reply, error) {
	if len(b) < PacketSize {
		return Reply{}, fmt.Errorf("%w: %d bytes", ErrBadReply, len(b))
	}
	li, vn, mode := b[0]>>6, (b[0]>>3)&7, b[0]&7
	if mode != 4 && mode != 5 {
		return Reply{}, fmt.Errorf("%w: mode %d", ErrBadReply, mode)
	}
	if vn < 1 || vn > 4 {
		return Reply{}, fmt.Errorf("%w: version %d", ErrBadReply, vn)
	}
	if li == 3 {
		return Reply{}, fmt.Errorf("%w: server clock not synchronized", ErrBadReply)
	}
	stratum := b[1]
	if stratum == 0 || stratum > 15 {
		return Reply{}, fmt.Errorf("%w: stratum %d (kiss-o'-death or unsynchronized)", ErrBadReply, stratum)
	}
	origin := binary.BigEndian.Uint64(b[24:])
	if origin != toNTP(sent) {
		return Reply{}, fmt.Errorf("%w: origin timestamp does not match the request", ErrBadReply)
	}
	rx, tx := binary.BigEndian.Uint64(b[32:]), binary.BigEndian.Uint64(b[40:])
	if rx == 0 || tx == 0 {
		return Reply{}, fmt.Errorf("%w: zero server timestamp", ErrBadReply)
	}
	return Reply{Stratum: stratum, Receive: fromNTP(rx), Transmit: fromNTP(tx)}, nil
}

// Offset returns the clock offset (server minus local) and the round
// trip delay, from T1 sent, T2/T3 from the reply and T4 received.
func Offset(t1 time.Time, r Reply, t4 time.Time) (offset, delay time.Duration) {
	offset = (r.Receive.Sub(t1) + r.Transmit.Sub(t4)) / 2
	delay = t4.Sub(t1) - r.Transmit.Sub(r.Receive)
	return offset, delay
}
