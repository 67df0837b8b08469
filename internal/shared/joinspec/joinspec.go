// Package joinspec is what describes a kubeadm-style join without doing
// it: the parameters, their check and the join pod's manifest. The node
// configuration (internal/shared/nodeconfig) and PID 1 use it; the join
// itself (internal/shared/join) and its dependencies run in the join pod.
package joinspec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
)

// ErrBadInput: the parameters do not have the right shape.
var ErrBadInput = errors.New("invalid join parameters")

// TokenRE is a bootstrap token's shape: ID.SECRET.
var TokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)

// Params are the values `kubeadm token create --print-join-command` prints.
type Params struct {
	API    string // host:port of the API server
	Token  string // ID.SECRET
	CAHash string // sha256:HEX
	// Dial, when set, replaces the network dialer (the lab harness dials
	// inside its namespace).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Validate checks the parameters' syntax.
func (p Params) Validate() error {
	if p.API == "" {
		return fmt.Errorf("%w: no API server address", ErrBadInput)
	}
	if !TokenRE.MatchString(p.Token) {
		return fmt.Errorf("%w: token must look like abcdef.0123456789abcdef", ErrBadInput)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(p.CAHash) {
		return fmt.Errorf("%w: CA hash must be sha256: and 64 hex digits", ErrBadInput)
	}
	return nil
}
