package image

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"kios.dev/kios/internal/shared/nodeconfig"
)

// IsConfigFile tells a --config FILE (a node configuration document)
// from a --config DIR (laid over /etc).
func IsConfigFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// ReadConfigFile reads and checks a node configuration document with the
// code PID 1 runs (internal/shared/nodeconfig); the error lists every
// problem with its document and field.
func ReadConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	_, raw, err := nodeconfig.Read(f)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return raw, nil
}

// addNodeConfig bakes the image's own document, the sources it trusts
// and the CAs of an https config URL into the (signed) root image.
func addNodeConfig(t *Tree, o Options) error {
	if o.Config != "" && IsConfigFile(o.Config) {
		raw, err := ReadConfigFile(o.Config)
		if err != nil {
			return err
		}
		// 0600: it may hold a join token.
		if err := t.File(nodeconfig.ImageConfigFile, 0o600, raw); err != nil {
			return err
		}
	}
	if o.ConfigSources != "" {
		list, err := nodeconfig.ParseSources(o.ConfigSources)
		if err != nil {
			return fmt.Errorf("--config-sources: %w", err)
		}
		if err := t.File(nodeconfig.ImageSourcesFile, 0o644, []byte(nodeconfig.FormatSources(list)+"\n")); err != nil {
			return err
		}
	}
	if o.ConfigCA != "" {
		b, err := os.ReadFile(o.ConfigCA)
		if err != nil {
			return fmt.Errorf("--config-ca: %w", err)
		}
		if err := checkCAs(b); err != nil {
			return fmt.Errorf("--config-ca %s: %w", o.ConfigCA, err)
		}
		if err := t.File(nodeconfig.ImageCAFile, 0o644, b); err != nil {
			return err
		}
	}
	return nil
}

func checkCAs(b []byte) error {
	n := 0
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("a PEM %q block: want CERTIFICATE blocks only", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("certificate %d: %w", n+1, err)
		}
		if !c.IsCA {
			return fmt.Errorf("certificate %d (%s) is not a CA", n+1, c.Subject)
		}
		n++
	}
	if n == 0 {
		return errors.New("no PEM certificate")
	}
	return nil
}
