package ntp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
)

// Answer builds a server's reply to a client request that arrived at
// received and leaves at now, from a stratum-1 clock (the lab's, which
// is the host's).
func Answer(req []byte, received, now time.Time) ([]byte, error) {
	if len(req) < PacketSize {
		return nil, fmt.Errorf("not an NTP request: %d bytes", len(req))
	}
	vn, mode := (req[0]>>3)&7, req[0]&7
	if mode != 3 || vn < 1 || vn > 4 {
		return nil, fmt.Errorf("not an NTP client request: version %d, mode %d", vn, mode)
	}
	b := make([]byte, PacketSize)
	b[0] = 0<<6 | vn<<3 | 4 // no leap warning, the client's version, server mode
	b[1] = 1                // stratum 1: a reference clock
	b[2] = req[2]           // the client's poll interval
	b[3] = 0xec             // precision 2^-20 s
	copy(b[12:16], "LOCL")
	binary.BigEndian.PutUint64(b[16:], toNTP(received)) // reference time
	copy(b[24:32], req[40:48])                          // origin: the client's transmit time
	binary.BigEndian.PutUint64(b[32:], toNTP(received))
	binary.BigEndian.PutUint64(b[40:], toNTP(now))
	return b, nil
}

// Serve answers the requests conn receives with now's time until conn
// is closed; packets that are not client requests are dropped.
func Serve(conn net.PacketConn, now func() time.Time) error {
	buf := make([]byte, 512)
	for {
		n, peer, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("ntp server: %w", err)
		}
		received := now()
		b, err := Answer(buf[:n], received, now())
		if err != nil {
			continue
		}
		_, _ = conn.WriteTo(b, peer)
	}
}
