// Package configsock is the root-only socket over which the config pod
// (system config) hands PID 1 what a network source answered: the
// document as received, its source and meta-data. PID 1 checks and
// applies it (internal/node/nodecfg) and answers whether it did. Both
// sides link it.
package configsock

import (
	"fmt"
	"net"
	"time"

	"kios.dev/kios/internal/shared/configsrc"
	"kios.dev/kios/internal/shared/rootsock"
)

// SocketDir holds the socket; the config pod mounts it.
const SocketDir = "/run/kios/configsock"

// SocketName is the socket in SocketDir.
const SocketName = "config.sock"

// maxRequest bounds a request: a document of configsrc.MaxSize,
// escaped in JSON, and its description.
const maxRequest = 3*configsrc.MaxSize + 64<<10

// Request is one source's answer, or why it gave none (Failed): PID 1
// logs that on the console and in init.log, where the node's other
// configuration errors are.
type Request struct {
	Source   configsrc.Source `json:"source"`
	Meta     configsrc.Meta   `json:"meta"`
	Document string           `json:"document"`
	Failed   string           `json:"failed,omitempty"`
}

// Result is PID 1's answer.
type Result struct {
	Applied bool   `json:"applied"`
	Reason  string `json:"reason,omitempty"` // why not, when it was valid but not applied
}

// Handler applies a request (PID 1).
type Handler interface {
	ApplyConfig(Request) (Result, error)
}

// Listen makes the root-only socket at path.
func Listen(path string) (*net.UnixListener, error) { return rootsock.Listen(path) }

// Serve answers root clients one at a time until ln is closed.
func Serve(ln *net.UnixListener, h Handler) error {
	return rootsock.ServeJSON(ln, maxRequest, h.ApplyConfig)
}

// Send hands PID 1 a source's answer over the socket at path.
func Send(path string, req Request) (Result, error) {
	if len(req.Document) > configsrc.MaxSize {
		return Result{}, configsrc.ErrTooLarge
	}
	res, err := rootsock.SendJSON[Request, Result](path, req, 2*time.Minute)
	if err != nil {
		return res, fmt.Errorf("config socket: %w", err)
	}
	return res, nil
}
