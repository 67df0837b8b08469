// Package fetch is the config pod's work (system config): fetch the
// node's configuration from the network sources, a kios.config= URL and
// an EC2-compatible instance metadata service, with short timeouts,
// bounded bodies and few redirects, and hand each answer to PID 1
// (internal/shared/configsock), which checks and applies it.
package fetch

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	// Go's copy of the Mozilla roots, used when the node has none.
	_ "golang.org/x/crypto/x509roots/fallback"

	"kios.dev/kios/internal/shared/configsrc"
)

// Errors callers branch on.
var (
	ErrHashMismatch = errors.New("document does not match kios.config-sha256")
	ErrNotFound     = errors.New("the source has no document for this node")
)

// MaxRedirects is how many redirects a fetch follows.
const MaxRedirects = 5

// Client is the HTTP client of the fetches: caPEM, when given, is the
// only trust for https (kios build --config-ca); otherwise the system's
// roots, with Go's copy of the Mozilla roots as the fallback (the node
// has no CA bundle).
func Client(caPEM []byte, timeout time.Duration) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a node has no proxy settings; none from the environment
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("the image's config CA file holds no certificate")
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	tr.ResponseHeaderTimeout = timeout
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= MaxRedirects {
				return fmt.Errorf("more than %d redirects", MaxRedirects)
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return errors.New("an https URL redirected to plain http")
			}
			return nil
		},
	}, nil
}

// get reads one answer of at most configsrc.MaxSize bytes.
func get(ctx context.Context, c *http.Client, req *http.Request) ([]byte, error) {
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return nil, redact(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, ErrNotFound
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, configsrc.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", redact(err))
	}
	if len(b) > configsrc.MaxSize {
		return nil, configsrc.ErrTooLarge
	}
	return b, nil
}

// redact takes the URL out of net/http's errors, which quote it whole
// (it may carry a credential).
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("timed out")
		}
		return ue.Err
	}
	return err
}

// URL fetches kios.config=URL. A plain-http document must match sha
// when one is given.
func URL(ctx context.Context, c *http.Client, rawURL, sha string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, errors.New("kios.config: not a URL")
	}
	b, err := get(ctx, c, req)
	if err != nil {
		return nil, err
	}
	if sha != "" {
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != sha {
			return nil, ErrHashMismatch
		}
	}
	return b, nil
}

// IMDS is the instance metadata service's address.
const IMDS = "http://169.254.169.254"

// Metadata reads the instance metadata service at endpoint the IMDSv2
// way: a session token first, then user-data, local-hostname and
// instance-id. A service without user-data answers an empty document.
func Metadata(ctx context.Context, c *http.Client, endpoint string) ([]byte, configsrc.Meta, error) {
	var meta configsrc.Meta
	req, _ := http.NewRequest(http.MethodPut, endpoint+"/latest/api/token", nil)
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "300")
	tok, err := get(ctx, c, req)
	if err != nil {
		return nil, meta, fmt.Errorf("IMDSv2 session token: %w", err)
	}
	read := func(path string) ([]byte, error) {
		req, _ := http.NewRequest(http.MethodGet, endpoint+path, nil)
		req.Header.Set("X-aws-ec2-metadata-token", strings.TrimSpace(string(tok)))
		return get(ctx, c, req)
	}
	doc, err := read("/latest/user-data")
	if errors.Is(err, ErrNotFound) {
		doc, err = []byte{}, nil
	}
	if err != nil {
		return nil, meta, fmt.Errorf("user-data: %w", err)
	}
	for path, dst := range map[string]*string{"/latest/meta-data/local-hostname": &meta.Hostname, "/latest/meta-data/instance-id": &meta.InstanceID} {
		b, err := read(path)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, meta, fmt.Errorf("%s: %w", path, err)
		}
		*dst = strings.TrimSpace(string(b))
	}
	return doc, meta, nil
}
