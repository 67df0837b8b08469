package join

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// Logger is the one method Run needs.
type Logger interface {
	Printf(format string, args ...any)
}

// Run joins, retrying until it succeeds or ctx ends, then stays up so
// the pod's status shows the outcome. Bad parameters end it at once.
// notify, when not nil, asks PID 1 to restart the kubelet after a join.
func Run(ctx context.Context, p Params, dir string, log Logger, notify func() error) error {
	if err := p.Validate(); err != nil {
		return err
	}
	delay := 2 * time.Second
	for {
		r, err := Discover(ctx, p)
		if err == nil {
			if same(dir, r) {
				log.Printf("already joined to %s; nothing to do", r.Server)
			} else if err = Write(dir, r, p.Token); err == nil {
				log.Printf("joined: trusted %s (CA %s), wrote %s; the kubelet restarts in cluster mode",
					r.Server, p.CAHash, filepath.Join(dir, "bootstrap-kubelet.conf"))
				if notify != nil {
					if nerr := notify(); nerr != nil {
						// PID 1 also restarts the kubelet on its own when the file appears.
						log.Printf("could not ask PID 1 to restart the kubelet: %v", nerr)
					}
				}
			}
		}
		if err == nil {
			<-ctx.Done()
			return nil
		}
		switch {
		case errors.Is(err, ErrBadToken), errors.Is(err, ErrCAMismatch):
			log.Printf("not joining %s: %v; the node stays standalone (retrying in %s)", p.API, err, delay)
		default:
			log.Printf("cannot reach the cluster yet: %v (retrying in %s)", err, delay)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Minute)
	}
}

func same(dir string, r Result) bool {
	ca, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil || !bytes.Equal(ca, r.CAPEM) {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "bootstrap-kubelet.conf"))
	return err == nil
}
