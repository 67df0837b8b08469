package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"time"

	"kios.dev/kios/internal/node/route"

	"kios.dev/kios/internal/shared/cmdline"
	"kios.dev/kios/internal/shared/configsock"
	"kios.dev/kios/internal/shared/configsrc"
)

// Logger is where the pod says what it does.
type Logger interface {
	Printf(format string, args ...any)
}

// Config is what the config pod is told by PID 1 (its arguments) and
// reads itself (the kernel command line).
type Config struct {
	Cmdline  string             // /proc/cmdline's text
	Sources  []configsrc.Source // the network sources to ask, trusted and plausible
	CA       []byte             // the image's CAs for https, if any
	IMDS     string             // the metadata service's address
	Send     func(configsock.Request) (configsock.Result, error)
	Log      Logger
	Timeout  time.Duration // one request's
	URLTries int           // how long the URL is asked before the pod gives up (and the kubelet restarts it)
	Backoff  time.Duration
	// Routable tells whether the kernel has a route to a host
	// (route.Routable when nil; a seam for tests).
	Routable func(host string) bool
}

// ErrURLUnanswered: kios.config= did not answer; the pod exits non-zero
// so the kubelet starts it again later.
var ErrURLUnanswered = errors.New("kios.config did not answer")

// Run asks the sources in their order and hands PID 1 each answer; PID 1
// applies it unless a source before it answered. The URL is asked
// first, a few times with a growing wait; then the metadata service.
func Run(ctx context.Context, c Config) error {
	k, _ := cmdline.Parse(c.Cmdline) // PID 1 logged the bad words
	client, err := Client(c.CA, c.Timeout)
	if err != nil {
		return err
	}
	send := func(src configsrc.Source, doc []byte, meta configsrc.Meta) {
		res, err := c.Send(configsock.Request{Source: src, Meta: meta, Document: string(doc)})
		switch {
		case err != nil:
			c.Log.Printf("config: %s: PID 1 refused it: %v", src, err)
		case res.Applied:
			c.Log.Printf("config: %s: applied", src)
		default:
			c.Log.Printf("config: %s: not applied: %s", src, res.Reason)
		}
	}
	failed := func(src configsrc.Source, err error) {
		if _, serr := c.Send(configsock.Request{Source: src, Failed: err.Error()}); serr != nil {
			c.Log.Printf("config: %s: tell PID 1: %v", src, serr)
		}
	}
	routable := c.Routable
	if routable == nil {
		routable = route.Routable
	}
	routed := func(rawURL string) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return // URL says why
		}
		wctx, cancel := context.WithTimeout(ctx, RouteWait)
		defer cancel()
		if err := waitRoute(wctx, routable, u.Hostname(), time.Second); err != nil {
			c.Log.Printf("config: %v after %s; asking anyway", err, RouteWait)
		}
	}
	// Every unanswered try is reported: each is a bad answer the
	// operator may need to see on the console, not only the last.
	urlFailed := false
	if slices.Contains(c.Sources, configsrc.SourceURL) && k.ConfigURL != "" {
		where := cmdline.RedactURL(k.ConfigURL)
		wait := c.Backoff
		routed(k.ConfigURL)
		for i := 1; ; i++ {
			doc, err := URL(ctx, client, k.ConfigURL, k.ConfigSHA256)
			if err == nil {
				c.Log.Printf("config: url %s answered (%d bytes)", where, len(doc))
				send(configsrc.SourceURL, doc, configsrc.Meta{})
				return nil
			}
			c.Log.Printf("config: url %s: try %d: %v", where, i, err)
			if errors.Is(err, ErrHashMismatch) || errors.Is(err, configsrc.ErrTooLarge) || i >= c.URLTries {
				urlFailed = true
				failed(configsrc.SourceURL, fmt.Errorf("%s: try %d of %d: %w; the pod exits and asks again when the kubelet restarts it", where, i, c.URLTries, err))
				break
			}
			failed(configsrc.SourceURL, fmt.Errorf("%s: try %d of %d: %w; asking again in %s", where, i, c.URLTries, err, wait))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait = min(2*wait, 30*time.Second)
		}
	}
	if slices.Contains(c.Sources, configsrc.SourceMetadata) {
		const tries = 5
		routed(c.IMDS)
		for i := 1; i <= tries; i++ {
			doc, meta, err := Metadata(ctx, client, c.IMDS)
			if err == nil {
				c.Log.Printf("config: metadata %s answered (%d bytes, instance %s)", c.IMDS, len(doc), meta.InstanceID)
				send(configsrc.SourceMetadata, doc, meta)
				break
			}
			c.Log.Printf("config: metadata %s: try %d: %v", c.IMDS, i, err)
			if i == tries {
				failed(configsrc.SourceMetadata, fmt.Errorf("%s: try %d of %d: %w; not asked again this boot", c.IMDS, i, tries, err))
				break
			}
			failed(configsrc.SourceMetadata, fmt.Errorf("%s: try %d of %d: %w; asking again in %s", c.IMDS, i, tries, err, c.Backoff))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(c.Backoff):
			}
		}
	}
	if urlFailed {
		return ErrURLUnanswered
	}
	return nil
}

// ReadCA reads the image's CA file; a missing file is no CA.
func ReadCA(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the image's config CA: %w", err)
	}
	return b, nil
}

// RouteWait is how long Run waits for a route to a source before it asks
// anyway (and the answer says why it failed).
const RouteWait = 2 * time.Minute

// waitRoute waits until the kernel has a route to host: the pod starts
// before the network pod's first lease, and a source asked before then
// answers only "network is unreachable".
func waitRoute(ctx context.Context, routable func(string) bool, host string, every time.Duration) error {
	for !routable(host) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("no route to %s", host)
		case <-time.After(every):
		}
	}
	return nil
}
