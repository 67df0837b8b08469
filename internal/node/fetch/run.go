package fetch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

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
	urlFailed := false
	if slices.Contains(c.Sources, configsrc.SourceURL) && k.ConfigURL != "" {
		where := cmdline.RedactURL(k.ConfigURL)
		wait := c.Backoff
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
				failed(configsrc.SourceURL, fmt.Errorf("%s: %d tries: %w", where, i, err))
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait = min(2*wait, 30*time.Second)
		}
	}
	if slices.Contains(c.Sources, configsrc.SourceMetadata) {
		var err error
		const tries = 5
		for i := 1; i <= tries; i++ {
			var doc []byte
			var meta configsrc.Meta
			if doc, meta, err = Metadata(ctx, client, c.IMDS); err == nil {
				c.Log.Printf("config: metadata %s answered (%d bytes, instance %s)", c.IMDS, len(doc), meta.InstanceID)
				send(configsrc.SourceMetadata, doc, meta)
				break
			}
			c.Log.Printf("config: metadata %s: try %d: %v", c.IMDS, i, err)
			if i == tries {
				failed(configsrc.SourceMetadata, fmt.Errorf("%s: %d tries: %w", c.IMDS, i, err))
				break
			}
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
