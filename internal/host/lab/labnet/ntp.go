package labnet

import (
	"fmt"
	"net"
	"time"

	"kios.dev/kios/internal/shared/ntp"
)

// startNTP serves the host's clock on the gateway's NTP port, as a
// site's time server does: a node booting with a wrong clock (a board
// without a battery-backed one) is put right by its ntp pod.
func startNTP(l *Lab) (net.PacketConn, error) {
	var conn net.PacketConn
	err := inNS(l.ns, func() error {
		var err error
		conn, err = net.ListenPacket("udp4", net.JoinHostPort(Gateway.String(), "123"))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab NTP server: %w", err)
	}
	go ntp.Serve(conn, time.Now)
	return conn, nil
}
