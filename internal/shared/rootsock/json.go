package rootsock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// ErrTooLarge is a request over the server's limit.
var ErrTooLarge = errors.New("request too large")

// answer is what ServeJSON writes back: the handler's result, or its
// error's text.
type answer[Res any] struct {
	Result Res    `json:"result"`
	Error  string `json:"error,omitempty"`
}

// ServeJSON answers root clients one at a time until ln is closed: each
// sends one JSON request of at most max bytes and half-closes; handle's
// result (or error) goes back as JSON. A request that does not decode is
// refused without quoting it (it may hold a secret).
func ServeJSON[Req, Res any](ln *net.UnixListener, max int, handle func(Req) (Res, error)) error {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return err
		}
		var a answer[Res]
		res, err := serveOne(c, max, handle)
		a.Result = res
		if err != nil {
			a.Error = err.Error()
		}
		b, _ := json.Marshal(a)
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Write(append(b, '\n'))
		c.Close()
	}
}

func serveOne[Req, Res any](c *net.UnixConn, max int, handle func(Req) (Res, error)) (Res, error) {
	var zero Res
	if err := RequireRoot(c); err != nil {
		return zero, err
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(io.LimitReader(c, int64(max)+1))
	if err != nil {
		return zero, fmt.Errorf("read the request: %w", err)
	}
	if len(b) > max {
		return zero, ErrTooLarge
	}
	var req Req
	if err := json.Unmarshal(b, &req); err != nil {
		return zero, errors.New("request: not JSON")
	}
	return handle(req)
}

// SendJSON sends req to the socket at path and reads the answer; the
// server's error comes back as an error.
func SendJSON[Req, Res any](path string, req Req, timeout time.Duration) (Res, error) {
	var res Res
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return res, fmt.Errorf("socket %s: %w", path, err)
	}
	defer c.Close()
	uc := c.(*net.UnixConn)
	b, err := json.Marshal(req)
	if err != nil {
		return res, err
	}
	uc.SetDeadline(time.Now().Add(timeout))
	if _, err := uc.Write(b); err != nil {
		return res, fmt.Errorf("send: %w", err)
	}
	if err := uc.CloseWrite(); err != nil {
		return res, fmt.Errorf("send: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(uc, 1<<20))
	if err != nil {
		return res, fmt.Errorf("read the answer: %w", err)
	}
	var a answer[Res]
	if err := json.Unmarshal(out, &a); err != nil {
		return res, fmt.Errorf("answer %q: %w", out, err)
	}
	if a.Error != "" {
		return a.Result, errors.New(a.Error)
	}
	return a.Result, nil
}
