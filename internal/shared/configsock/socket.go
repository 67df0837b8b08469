// Package configsock is the root-only socket over which the config pod
// (system config) hands PID 1 what a network source answered: the
// document as received, its source and meta-data. PID 1 checks and
// applies it (internal/node/nodecfg) and answers whether it did. Both
// sides link it.
package configsock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	Error   string `json:"error,omitempty"`  // why it was refused
}

// Handler applies a request (PID 1).
type Handler interface {
	ApplyConfig(Request) (Result, error)
}

// Logger is where the server reports refused clients.
type Logger interface {
	Printf(format string, args ...any)
}

// Listen makes the root-only socket at path.
func Listen(path string) (*net.UnixListener, error) { return rootsock.Listen(path) }

// Serve answers root clients one at a time until ln is closed.
func Serve(ln *net.UnixListener, h Handler, log Logger) error {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return err
		}
		res, err := answer(c, h)
		if err != nil {
			res.Error = err.Error()
		}
		b, _ := json.Marshal(res)
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Write(append(b, '\n'))
		c.Close()
	}
}

func answer(c *net.UnixConn, h Handler) (Result, error) {
	if err := rootsock.RequireRoot(c); err != nil {
		return Result{}, err
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(io.LimitReader(c, maxRequest+1))
	if err != nil {
		return Result{}, fmt.Errorf("read the request: %w", err)
	}
	if len(b) > maxRequest {
		return Result{}, fmt.Errorf("request: %w", configsrc.ErrTooLarge)
	}
	var req Request
	if err := json.Unmarshal(b, &req); err != nil {
		return Result{}, errors.New("request: not JSON") // never quote it: it may hold a token
	}
	return h.ApplyConfig(req)
}

// Send hands PID 1 a source's answer over the socket at path.
func Send(path string, req Request) (Result, error) {
	if len(req.Document) > configsrc.MaxSize {
		return Result{}, configsrc.ErrTooLarge
	}
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return Result{}, fmt.Errorf("config socket %s: %w", path, err)
	}
	defer c.Close()
	uc := c.(*net.UnixConn)
	b, _ := json.Marshal(req)
	uc.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := uc.Write(b); err != nil {
		return Result{}, fmt.Errorf("send the configuration: %w", err)
	}
	if err := uc.CloseWrite(); err != nil {
		return Result{}, fmt.Errorf("send the configuration: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(uc, 1<<20))
	if err != nil {
		return Result{}, fmt.Errorf("read the answer: %w", err)
	}
	var res Result
	if err := json.Unmarshal(out, &res); err != nil {
		return Result{}, fmt.Errorf("answer %q: %w", out, err)
	}
	if res.Error != "" {
		return res, errors.New(res.Error)
	}
	return res, nil
}
