// Package cmdline reads the kiOS keys of the kernel command line
// (kios.*) into one typed value. PID 1 reads /proc/cmdline once, at its
// start; `kios build --cmdline` refuses what PID 1 would ignore.
package cmdline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"kios.dev/kios/internal/shared/datapart"
	"kios.dev/kios/internal/shared/netconf"
)

// Kios is what the command line asks of kiOS.
type Kios struct {
	Data         datapart.Spec // kios.data=: where the data partition is (Auto: searched)
	LogConsole   bool          // kios.log=console: services' output also on the console
	DebugMeminfo bool          // kios.debug=meminfo: PID 1 logs all of /proc/meminfo
	// kios.bless-after=DURATION: how long the kubelet runs without a
	// restart before an image on trial is blessed (0: the default).
	BlessAfter time.Duration
	// kios.trial-timeout=DURATION: how long an image on trial has to
	// pass the health gate before PID 1 reboots, a failed try (0: the
	// default).
	TrialTimeout time.Duration
	// kios.watchdog=off: PID 1 leaves the hardware watchdog alone.
	WatchdogOff bool
	// kios.config=URL: where the node fetches its configuration (http
	// or https), docs/config.md. It may carry a credential: log it only
	// through RedactURL.
	ConfigURL string
	// kios.config-sha256=HEX: what a plain-http ConfigURL's document
	// must hash to.
	ConfigSHA256 string
	// kios.metadata=ec2 asks for the EC2 instance metadata service
	// whatever the firmware says; kios.metadata=off never asks it.
	Metadata string
	// IP is the kernel's ip= argument (docs/network.md); nil: none.
	IP *netconf.KernelIP
	// RootHash is kios.root-hash=HEX, the root image's dm-verity root
	// hash, which kios build puts on the EFI's command line
	// (docs/root.md); nil: none.
	RootHash []byte
}

// Defaults of the keys whose zero value means "the default".
const (
	DefaultBlessAfter   = time.Minute
	DefaultTrialTimeout = 10 * time.Minute
)

// Bless is the kubelet's stable time before a blessing.
func (k Kios) Bless() time.Duration {
	if k.BlessAfter > 0 {
		return k.BlessAfter
	}
	return DefaultBlessAfter
}

// Trial is how long an image on trial has to become healthy.
func (k Kios) Trial() time.Duration {
	if k.TrialTimeout > 0 {
		return k.TrialTimeout
	}
	return DefaultTrialTimeout
}

func duration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a positive duration such as 90s or 10m")
	}
	return d, nil
}

// Error is one kios.* word that is not understood; PID 1 logs it and
// goes on as if the word were not there.
type Error struct {
	Word   string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("kernel command line %q: %s", e.Word, e.Reason) }

// keys are the kios.* keys and how each value is applied.
var keys = map[string]func(k *Kios, v string) error{
	"kios.data": func(k *Kios, v string) error {
		s, err := datapart.ParseSpec(v)
		if err != nil {
			return err
		}
		k.Data = s
		return nil
	},
	"kios.log": func(k *Kios, v string) error {
		if v != "console" {
			return fmt.Errorf("want kios.log=console")
		}
		k.LogConsole = true
		return nil
	},
	"kios.bless-after": func(k *Kios, v string) (err error) {
		k.BlessAfter, err = duration(v)
		return err
	},
	"kios.trial-timeout": func(k *Kios, v string) (err error) {
		k.TrialTimeout, err = duration(v)
		return err
	},
	"kios.watchdog": func(k *Kios, v string) error {
		if v != "off" {
			return fmt.Errorf("want kios.watchdog=off")
		}
		k.WatchdogOff = true
		return nil
	},
	"kios.config": func(k *Kios, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("want an http:// or https:// URL")
		}
		k.ConfigURL = v
		return nil
	},
	"kios.config-sha256": func(k *Kios, v string) error {
		if b, err := hex.DecodeString(v); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("want 64 hex digits")
		}
		k.ConfigSHA256 = strings.ToLower(v)
		return nil
	},
	"kios.root-hash": func(k *Kios, v string) error {
		b, err := hex.DecodeString(v)
		if err != nil || len(b) != sha256.Size {
			return fmt.Errorf("want 64 hex digits")
		}
		k.RootHash = b
		return nil
	},
	"kios.metadata": func(k *Kios, v string) error {
		if v != "ec2" && v != "off" {
			return fmt.Errorf("want kios.metadata=ec2 or kios.metadata=off")
		}
		k.Metadata = v
		return nil
	},
	"kios.debug": func(k *Kios, v string) error {
		if v != "meminfo" {
			return fmt.Errorf("want kios.debug=meminfo")
		}
		k.DebugMeminfo = true
		return nil
	},
}

// Keys are the known kios.* keys, sorted.
func Keys() []string {
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Parse reads the kios.* words of a command line; other words are the
// kernel's and are left alone. Each word it cannot use is returned as
// an *Error and leaves that key at its default; a key given twice keeps
// its last value, as the kernel does with its own, and says so.
func Parse(line string) (Kios, []error) {
	var k Kios
	var errs []error
	seen := map[string]bool{}
	for _, w := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(w, "ip="); ok {
			// The kernel's own ip= (nfsroot syntax), which Debian's kernel
			// does not act on: the network pod does.
			kip, err := netconf.ParseKernelIP(v)
			if err != nil {
				errs = append(errs, &Error{w, err.Error()})
				continue
			}
			if seen["ip"] {
				errs = append(errs, &Error{w, "ip= given more than once: the last one counts"})
			}
			seen["ip"] = true
			k.IP = &kip
			continue
		}
		if !strings.HasPrefix(w, "kios.") {
			continue
		}
		key, v, ok := strings.Cut(w, "=")
		if key == "kios.config" {
			w = key + "=" + RedactURL(v) // errors quote the word
		}
		apply, known := keys[key]
		switch {
		case !known:
			errs = append(errs, &Error{w, "unknown key (known: " + strings.Join(Keys(), ", ") + ")"})
			continue
		case !ok || v == "":
			errs = append(errs, &Error{w, "no value"})
			continue
		}
		if seen[key] {
			errs = append(errs, &Error{w, key + " given more than once: the last one counts"})
		}
		seen[key] = true
		if err := apply(&k, v); err != nil {
			errs = append(errs, &Error{w, err.Error()})
		}
	}
	return k, errs
}

// RedactURL is u without what may be a credential: user information and
// the query (a presigned URL's signature).
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(a URL that does not parse)"
	}
	p.User = nil
	if p.RawQuery != "" {
		p.RawQuery = "..."
	}
	p.Fragment = ""
	return p.String()
}
