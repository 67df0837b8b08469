package ntp

import (
	"context"
	"net"
	"testing"
	"time"
)

func TestAnswerRoundTrip(t *testing.T) {
	t1 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	server := t1.Add(24 * time.Hour) // the client's clock is a day behind
	b, err := Answer(Request(t1), server, server.Add(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseReply(b, t1)
	if err != nil {
		t.Fatalf("the client refuses the server's answer: %v", err)
	}
	off, delay := Offset(t1, r, t1.Add(2*time.Millisecond))
	if d := off - 24*time.Hour; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("offset %s, want a day", off)
	}
	if delay < 0 || delay > 2*time.Millisecond {
		t.Errorf("delay %s, want at most the 2 ms round trip", delay)
	}
	for _, bad := range [][]byte{nil, make([]byte, PacketSize), b /* a server reply */} {
		if _, err := Answer(bad, server, server); err == nil {
			t.Errorf("answered % x", bad[:min(len(bad), 1)])
		}
	}
}

// The client sets its clock from the server over UDP on loopback.
func TestServeAndQuery(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ahead := time.Hour
	done := make(chan error, 1)
	go func() { done <- Serve(conn, func() time.Time { return time.Now().Add(ahead) }) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	off, _, stratum, err := Query(ctx, conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if d := off - ahead; stratum != 1 || d < -time.Second || d > time.Second {
		t.Errorf("offset %s stratum %d, want about %s from a stratum-1 server", off, stratum, ahead)
	}
	conn.Close()
	if err := <-done; err != nil {
		t.Errorf("Serve after its socket closed: %v", err)
	}
}
