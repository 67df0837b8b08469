package labnet

import "net"

// Listen opens a TCP listener inside the lab (e.g. the registry on the
// gateway address).
func (l *Lab) Listen(addr string) (net.Listener, error) {
	var ln net.Listener
	err := inNS(l.ns, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}
