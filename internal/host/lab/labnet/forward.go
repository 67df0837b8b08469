package labnet

import (
	"context"
	"io"
	"net"
	"sync"
)

// Forward listens on a host address (e.g. 127.0.0.1:0) and connects each
// client to target inside the lab, so host tools (kubectl) reach the
// control plane without any host route. It returns the listener; close
// it to stop forwarding.
func (l *Lab) Forward(listen, target string) (net.Listener, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go l.pipe(c, target)
		}
	}()
	return ln, nil
}

func (l *Lab) pipe(c net.Conn, target string) {
	defer c.Close()
	u, err := l.DialContext(context.Background(), "tcp", target)
	if err != nil {
		return
	}
	defer u.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(u, c); u.(*net.TCPConn).CloseWrite() }()
	go func() { defer wg.Done(); io.Copy(c, u); c.(*net.TCPConn).CloseWrite() }()
	wg.Wait()
}
